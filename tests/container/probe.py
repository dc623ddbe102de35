"""Runs INSIDE the image (its venv's python3, stdlib only), mounted by test_image.py: starts one of
the entrypoint's long-running modes, probes it from inside the same container run, stops it with
SIGTERM as a container runtime would, and prints what it saw as one JSON line on stdout.

    python3 probe.py api PORT       /healthcheck (200; then 503 once the record is moved away),
                                    one search, the uids and the number of gunicorn's processes
    python3 probe.py listener       waits for the listener's "listening" line
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

ENTRYPOINT = "/usr/local/bin/heatseeker-entrypoint"
MEMBER = {"X-Identity-Status": "Confirmed", "X-User-Id": "u-test", "X-Roles": "member",
          "X-Project-Id": "p-alpha", "X-Is-Admin-Project": "False"}


def http(url: str, body: bytes | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url, data=body, headers=dict(MEMBER, **(
        {"Content-Type": "application/json"} if body else {})))
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def uid_of(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Uid:"))


def children_of(pid: int) -> list[int]:
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(entry))
    return kids


def wait_for(predicate, seconds: float):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = predicate()
        if got:
            return got
        time.sleep(0.3)
    return None


def stop(proc: subprocess.Popen) -> int | None:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None  # it did not stop on SIGTERM


def probe_api(port: int) -> dict:
    with open("/tmp/probe-api.log", "w+") as log:
        proc = subprocess.Popen([ENTRYPOINT, "api"], stdout=log, stderr=subprocess.STDOUT,
                                env=dict(os.environ, HEATSEEKER_API_BIND=f"127.0.0.1:{port}",
                                         HEATSEEKER_API_WORKERS="2"))
        base = f"http://127.0.0.1:{port}"
        out: dict = {"pid": proc.pid}

        def up():
            try:
                return http(base + "/healthcheck")
            except OSError:
                return None

        try:
            first = wait_for(up, 120)
            out["healthy"] = list(first) if first else None
            out["workers"] = children_of(proc.pid)
            out["uids"] = sorted({uid_of(p) for p in [proc.pid, *out["workers"]]})
            out["search"] = list(http(base + "/v1/search", b'{"query": {"match_all": {}}}'))
            data_dir = os.environ["PROBE_DATA_DIR"]
            os.rename(os.path.join(data_dir, "state.sqlite"),
                      os.path.join(data_dir, "moved.sqlite"))
            out["record_moved"] = list(http(base + "/healthcheck"))
        finally:
            out["exit"] = stop(proc)
            log.seek(0)
            out["log"] = log.read()[-4000:]
    return out


def probe_listener() -> dict:
    with open("/tmp/probe-listener.log", "w+") as log:
        proc = subprocess.Popen([ENTRYPOINT, "listener"], stdout=log, stderr=subprocess.STDOUT)

        def listening():
            with open(log.name) as f:
                return "listening on exchange" in f.read()

        out: dict = {"listening": bool(wait_for(listening, 120)), "uid": uid_of(proc.pid)}
        out["exit"] = stop(proc)
        log.seek(0)
        out["log"] = log.read()[-4000:]
    return out


if __name__ == "__main__":
    result = probe_api(int(sys.argv[2])) if sys.argv[1] == "api" else probe_listener()
    print(json.dumps(result))
