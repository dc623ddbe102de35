"""Freshness p50/p99 for a burst of N creates + N updates (default 25 + 25), with one listener
process and with two on one pool (#13), as two hosts would run them: a record on MariaDB (a
throw-away database), one OpenSearch index prefix, each listener with its own ``data_dir``.

Freshness of a stack = the moment a search (every 20 ms, ``Ids`` through the ``Searcher``) first
returns its new state − the timestamp of Heat's ``orchestration.stack.<create|update>.end``
notification (a private tap queue; bench/freshness.py's ``Tap``). The updated stacks are made
before the bursts (not measured); each burst updates them to a new image.

    PYTHONPATH=. python -m bench.multihost_freshness      # N=25; the Heat sandbox, RabbitMQ,
                                                          # MariaDB and OpenSearch running
    python -m bench.run --only multihost_freshness        # the same, as a phase of the report
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent import futures
from datetime import UTC, datetime

from bench import common

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEAT = "http://127.0.0.1:8004/v1"
RABBIT = "rabbit://guest:guest@127.0.0.1:5672/"


def _ts(text: str) -> float:
    moment = datetime.fromisoformat(text.strip())
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _consumers(queue: str) -> int:
    import kombu

    try:
        with kombu.Connection(common.AMQP, connect_timeout=2) as c:
            return c.channel().queue_declare(queue=queue, passive=True).consumer_count
    except Exception:  # noqa: BLE001 - not declared yet
        return 0


def run(quick: bool) -> dict:
    """bench.run's phase ``multihost_freshness`` (quick: 3 + 3, one listener then two)."""
    import sqlalchemy as sa

    from bench.freshness import Tap
    from heatseeker.engines.opensearch import OpenSearchEngine
    from heatseeker.query import tree as t
    from heatseeker.query.visibility import Visibility
    from heatseeker.record import migrate
    from heatseeker.searcher import Searcher
    from tests.e2e.conftest import contents, hc_for
    from tests.unit.record_backends import MariaDB, server_url

    n = int(os.environ.get("N", 3 if quick else 25))
    modes = (("one", 1), ("two", 2)) if quick else (("one", 1), ("two", 2), ("one_again", 1))
    os_url = os.environ.get("HEATSEEKER_OPENSEARCH_URL", "http://127.0.0.1:9210")
    server = server_url()
    if server is None:
        raise RuntimeError("no MariaDB: set HEATSEEKER_TEST_MARIADB or start the Heat sandbox")
    db = MariaDB(server)
    run = uuid.uuid4().hex[:6]
    prefix, pool = f"hs-bench-fr-{run}", f"heatseeker-bench-fr-{run}"
    base = tempfile.mkdtemp(prefix="hs-bench-freshness-")
    hc = hc_for("alpha")
    tpl, files, env = contents("slow.yaml")
    made: list[str] = []
    listeners: list[subprocess.Popen] = []
    tap = Tap()
    report: dict = {"n": n, "modes": {}}
    engine = OpenSearchEngine([os_url], index_prefix=prefix)
    try:
        record = db.create()
        e = sa.create_engine(record, poolclass=sa.pool.NullPool)
        migrate.upgrade(e)
        e.dispose()
        confs = []
        for k in range(2):
            d = os.path.join(base, f"host-{k}")
            os.makedirs(os.path.join(d, "data"))
            conf = os.path.join(d, "heatseeker.conf")
            with open(conf, "w") as f:
                f.write(f"[DEFAULT]\ndata_dir = {d}/data\ntransport_url = {RABBIT}\n"
                        f"log_file = {d}/heatseeker.log\n[heat]\nauth_type = none\n"
                        f"endpoint = {HEAT}/admin\n[listener]\npool = {pool}\n"
                        f"[database]\nconnection = {record}\n[engine]\nbackend = opensearch\n"
                        f"[opensearch]\nhosts = {os_url}\nindex_prefix = {prefix}\nreplicas = 0\n")
            confs.append(conf)

        def create(name: str, image: str) -> str:
            sid = hc.stacks.create(stack_name=name, template=tpl, files=files, environment=env,
                                   parameters={"wait": 0, "image": image})["stack"]["id"]
            made.append(sid)
            return sid

        def settle(ids: list[str], want: str) -> None:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                if all(hc.stacks.get(s, resolve_outputs=False).stack_status == want for s in ids):
                    return
                time.sleep(1)
            raise RuntimeError(f"Heat did not finish: {want}")

        common.log(f"freshness: {n} stacks to update, made first")
        with futures.ThreadPoolExecutor(8) as ex:
            old = list(ex.map(lambda i: create(f"bench-fr-{run}-u{i:02d}", "img-0"), range(n)))
        settle(old, "CREATE_COMPLETE")
        tap.start()
        tap.ready.wait(30)
        searcher = Searcher(engine)
        view = Visibility.everything()
        for mode, count in modes:
            for conf in confs[:count]:
                out = open(os.path.join(os.path.dirname(conf), "listener.out"), "a")  # noqa: SIM115
                listeners.append(subprocess.Popen(
                    [sys.executable, "-m", "heatseeker.cli", "--config-file", conf, "listen"],
                    cwd=ROOT, stdout=out, stderr=subprocess.STDOUT))
            deadline = time.monotonic() + 90
            while _consumers(pool) != count:
                if time.monotonic() > deadline:
                    raise RuntimeError("the listeners did not join the pool")
                time.sleep(0.3)
            time.sleep(2)
            image = f"img-{mode}-{run}"
            wanted: dict[str, tuple[str, str, str]] = {}
            common.log(f"freshness: {mode}: {n} creates + {n} updates")

            def update(sid: str, image: str = image) -> str:
                hc.stacks.update(sid, existing=True, parameters={"image": image})
                return sid

            with futures.ThreadPoolExecutor(8) as ex:
                new = [ex.submit(create, f"bench-fr-{run}-{mode}-{i:02d}", image) for i in range(n)]
                upd = [ex.submit(update, sid) for sid in old]
                for job in new:
                    wanted[job.result()] = ("CREATE_COMPLETE", image, "orchestration.stack.create.end")
                for job in upd:
                    wanted[job.result()] = ("UPDATE_COMPLETE", image, "orchestration.stack.update.end")
            seen: dict[str, float] = {}
            deadline = time.monotonic() + 300
            while len(seen) < len(wanted) and time.monotonic() < deadline:
                pending = tuple(s for s in wanted if s not in seen)
                try:
                    found = searcher.search(t.Ids(pending), view=view, limit=len(pending),
                                            fields=("id", "status", "parameters"))
                except Exception:  # noqa: BLE001 - the index is made by the first listener
                    time.sleep(0.1)
                    continue
                now = time.time()
                for hit in found.hits:
                    status, img, _ = wanted[hit.id]
                    if hit.source.get("status") == status and \
                            (hit.source.get("parameters") or {}).get("image") == img:
                        seen[hit.id] = now
                time.sleep(0.02)
            time.sleep(1)
            ends: dict[str, float] = {}
            for _, msg in list(tap.messages):
                payload = msg.get("payload") or {}
                sid = payload.get("stack_identity")
                if sid in wanted and msg.get("event_type") == wanted[sid][2]:
                    ends[sid] = max(ends.get(sid, 0.0), _ts(msg["timestamp"]))
            both = [s for s in wanted if s in seen and s in ends]
            lag = common.summary_ms([seen[s] - ends[s] for s in both])
            report["modes"][mode] = {"listeners": count, "samples": len(both),
                                     "not_seen": len(set(wanted) - set(seen)), "lag": lag}
            common.log(f"freshness: {mode}: p50 {lag['p50_ms']} ms, p99 {lag['p99_ms']} ms")
            for proc in listeners:
                proc.send_signal(signal.SIGTERM)
                proc.wait(60)
            listeners.clear()
        one, two = report["modes"]["one"]["lag"], report["modes"]["two"]["lag"]
        report["p50_ratio_two_over_one"] = common.ratio(two["p50_ms"], one["p50_ms"])
        report["p99_ratio_two_over_one"] = common.ratio(two["p99_ms"], one["p99_ms"])
        report["load_average"] = common.load_average()
        return report
    finally:
        tap.stop()
        for proc in listeners:
            proc.kill()
            proc.wait(10)
        for sid in made:
            with contextlib.suppress(Exception):
                hc.stacks.delete(sid)
        engine.close()
        with contextlib.suppress(Exception):
            common.delete_queue(pool)
        deadline = time.monotonic() + 120
        while made and time.monotonic() < deadline:  # gone from Heat before the database goes
            with contextlib.suppress(Exception):
                if not [s for s in hc.stacks.list() if s.stack_name.startswith(f"bench-fr-{run}")]:
                    break
            time.sleep(2)
        db.drop_all()
        with contextlib.suppress(Exception):
            from opensearchpy import OpenSearch

            client = OpenSearch([os_url])
            client.indices.delete(index=f"{prefix}-*", params={"ignore_unavailable": "true"})
            client.close()


def main() -> None:
    print(json.dumps(run(False), indent=1))


if __name__ == "__main__":
    main()
