"""The same query mix through one API process and through two behind a round-robin client (#13).

Set-up, as two hosts would run it: a record on MariaDB (a throw-away database on
``HEATSEEKER_TEST_MARIADB`` or the Heat sandbox's server), filled with ``N`` synthetic stacks
(bench/generate.py) by ``Store.apply``; ``heatseeker reindex`` projects it into OpenSearch (one
index prefix, ``HEATSEEKER_OPENSEARCH_URL`` or test node 1); two ``heatseeker serve`` processes
(trusted headers, 4 threads each), each with its own ``data_dir``.

The mix (as a member of the biggest project): a search for a parameter value, a status filter, a
name prefix, the facets, a stack's history. ``CLIENTS`` threads send it for ``SECONDS`` seconds,
first all to API 1, then alternating between API 1 and API 2; then the other way round once more
(the machine's other load drifts). Reported: requests/s, p50 and p99 per mode, and the ratios.

    PYTHONPATH=. python -m bench.multihost          # N=2000 SECONDS=20 CLIENTS=8
    python -m bench.run --only multihost            # the same, as a phase of the report

On one machine the two API processes share its cores (and OpenSearch's, and MariaDB's): the ratio
says how much a second process adds here, not what a second host would.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

from bench import common, generate

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _conf(d: str, record: str, prefix: str, os_url: str, port: int) -> str:
    os.makedirs(os.path.join(d, "data"), exist_ok=True)
    path = os.path.join(d, "heatseeker.conf")
    with open(path, "w") as f:
        f.write(f"[DEFAULT]\ndata_dir = {d}/data\nlog_file = {d}/heatseeker.log\n"
                f"[database]\nconnection = {record}\n"
                f"[engine]\nbackend = opensearch\n"
                f"[opensearch]\nhosts = {os_url}\nindex_prefix = {prefix}\nreplicas = 0\n"
                f"[api]\nauth_strategy = trusted-headers\nbind_host = 127.0.0.1\n"
                f"bind_port = {port}\nthreads = 4\n")
    return path


def _cli(conf: str, *args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "heatseeker.cli", "--config-file", conf, *args],
                          cwd=ROOT, capture_output=True, text=True, check=True, **kw)


def _get(port: int, method: str, path: str, project: str, body: dict | None = None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Accept": "application/json", "X-Identity-Status": "Confirmed",
               "X-User-Id": "bench", "X-Project-Id": project, "X-Roles": "reader,member",
               "X-Is-Admin-Project": "False"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def _wait_up(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"heatseeker serve exited {proc.returncode}")
        try:
            _get(port, "GET", "/", "x")
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("heatseeker serve did not answer")


def _drive(ports: list[int], mix: list[tuple], project: str, clients: int, seconds: float) -> dict:
    lat: list[float] = []
    errors: list[int] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    turn = itertools.count()

    def client(k: int) -> None:
        i = k
        while time.monotonic() < stop:
            method, path, body = mix[i % len(mix)]
            port = ports[next(turn) % len(ports)]  # round robin over the processes
            t = time.perf_counter()
            status = _get(port, method, path, project, body)
            dt = time.perf_counter() - t
            with lock:
                lat.append(dt)
                if status != 200:
                    errors.append(status)
            i += 1

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    started = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.monotonic() - started
    s = common.summary_ms(lat)
    return {"requests": len(lat), "rps": round(len(lat) / wall, 1), "p50_ms": s["p50_ms"],
            "p99_ms": s["p99_ms"], "errors": len(errors)}


def run(quick: bool) -> dict:
    """bench.run's phase ``multihost`` (quick: 200 stacks, 3 s per run)."""
    import sqlalchemy as sa

    from heatseeker.record import Change, Store, migrate
    from tests.unit.record_backends import MariaDB, server_url

    n = int(os.environ.get("N", 200 if quick else 2000))
    seconds = float(os.environ.get("SECONDS", 3 if quick else 20))
    clients = int(os.environ.get("CLIENTS", 8))
    os_url = os.environ.get("HEATSEEKER_OPENSEARCH_URL", "http://127.0.0.1:9210")
    server = server_url()
    if server is None:
        raise RuntimeError("no MariaDB: set HEATSEEKER_TEST_MARIADB or start the Heat sandbox")
    db = MariaDB(server)
    base = tempfile.mkdtemp(prefix="hs-bench-multihost-")
    prefix = f"hs-bench-mh-{uuid.uuid4().hex[:8]}"
    servers: list[subprocess.Popen] = []
    try:
        record = db.create()
        engine = sa.create_engine(record, poolclass=sa.pool.NullPool)
        migrate.upgrade(engine)
        engine.dispose()
        docs = list(generate.stacks(n, seed=42))
        st = Store(record, create=False)
        for i in range(0, len(docs), 200):
            st.apply([Change(d["id"], 1_000_000 + k, d) for k, d in enumerate(docs[i : i + 200], i)])
        st.close()
        sizes: dict[str, int] = {}
        for d in docs:
            sizes[d["project_id"]] = sizes.get(d["project_id"], 0) + 1
        project = max(sizes, key=lambda p: sizes[p])
        ports = [_free_port(), _free_port()]
        confs = [_conf(os.path.join(base, f"host-{k}"), record, prefix, os_url, port)
                 for k, port in enumerate(ports)]
        common.log(f"multihost: reindexing {n} stacks into OpenSearch")
        _cli(confs[0], "reindex", timeout=1800)
        for conf, port in zip(confs, ports, strict=True):
            out = open(os.path.join(os.path.dirname(conf), "serve.out"), "w")  # noqa: SIM115
            proc = subprocess.Popen([sys.executable, "-m", "heatseeker.cli", "--config-file", conf,
                                     "serve"], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
            servers.append(proc)
            _wait_up(port, proc)
        own = [d for d in docs if d["project_id"] == project]
        image = next((d.get("parameters") or {}).get("image") for d in own
                     if (d.get("parameters") or {}).get("image"))
        mix = [
            ("POST", "/v1/search", {"query": {"term": {"parameters.image": image}}, "limit": 20}),
            ("POST", "/v1/search", {"query": {"term": {"status": "CREATE_COMPLETE"}}, "limit": 20}),
            ("POST", "/v1/search", {"query": {"prefix": {"name": own[0]["name"][:3]}}, "limit": 20}),
            ("GET", "/v1/search/facets", None),
            ("GET", f"/v1/search/stacks/{own[0]['id']}/history", None),
        ]
        for method, path, body in mix:  # every request of the mix answers
            status = _get(ports[0], method, path, project, body)
            if status != 200:
                raise RuntimeError(f"{method} {path}: {status}")
        _drive(ports, mix, project, clients, 3)  # warm both
        _drive(ports[:1], mix, project, clients, 3)
        runs: dict[str, list[dict]] = {"one": [], "two": []}
        for order in (("one", "two"), ("two", "one")):
            for mode in order:
                runs[mode].append(_drive(ports[:1] if mode == "one" else ports, mix, project,
                                         clients, seconds))
        best = {m: max(r, key=lambda x: x["rps"]) for m, r in runs.items()}
        report = {"stacks": n, "project_stacks": sizes[project], "clients": clients,
                  "seconds": seconds, "runs": runs, "best": best,
                  "rps_ratio_two_over_one": round(best["two"]["rps"] / best["one"]["rps"], 2),
                  "p50_ratio_two_over_one": common.ratio(best["two"]["p50_ms"], best["one"]["p50_ms"]),
                  "p99_ratio_two_over_one": common.ratio(best["two"]["p99_ms"], best["one"]["p99_ms"]),
                  "load_average": common.load_average()}
        return report
    finally:
        for proc in servers:
            proc.terminate()
            proc.wait(30)
        db.drop_all()
        try:
            from opensearchpy import OpenSearch

            client = OpenSearch([os_url])
            client.indices.delete(index=f"{prefix}-*", params={"ignore_unavailable": "true"})
            client.close()
        except Exception as exc:  # noqa: BLE001 - best effort
            common.log(f"multihost: could not delete the {prefix}-* indices: {exc}")


def main() -> None:
    print(json.dumps(run(False), indent=1))


if __name__ == "__main__":
    main()
