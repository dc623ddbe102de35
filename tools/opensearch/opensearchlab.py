"""Helpers for tests: start and stop the real OpenSearch test nodes (start.sh / stop.sh).

    import sys; sys.path.insert(0, "<repo>/tools/opensearch"); import opensearchlab
    opensearchlab.start_node(1)                      # a single-node cluster on 127.0.0.1:9210
    opensearchlab.start_cluster([2, 3])              # a two-node cluster (9220, 9230)
    opensearchlab.stop_node(3)
    opensearchlab.url(2)                             # "http://127.0.0.1:9220"
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from collections.abc import Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def sandbox() -> str:
    return os.environ.get("HEATSEEKER_SANDBOX") or os.path.join(REPO, ".sandbox")


def url(n: int) -> str:
    return f"http://127.0.0.1:{9200 + 10 * n}"


def build() -> None:
    subprocess.run(["bash", os.path.join(HERE, "build.sh")], check=True)


def start_node(n: int, cluster: Sequence[int] | None = None, *, fresh: bool = False) -> str:
    """Start node ``n`` (alone, or as a member of ``cluster``); returns its URL."""
    args = ["bash", os.path.join(HERE, "start.sh")]
    if fresh:
        args.append("--fresh")
    args.append(str(n))
    if cluster:
        args.append(",".join(str(m) for m in cluster))
    subprocess.run(args, check=True, timeout=300)
    return url(n)


def stop_node(n: int) -> None:
    subprocess.run(["bash", os.path.join(HERE, "stop.sh"), str(n)], check=True, timeout=120)


def is_running(n: int) -> bool:
    try:
        with urllib.request.urlopen(url(n) + "/", timeout=2):
            return True
    except OSError:
        return False


def health(n: int, wait_for: str = "yellow", timeout: float = 60.0, nodes: int | None = None) -> dict:
    """Cluster health as seen by node ``n``, waiting for ``wait_for`` (and ``nodes`` members)."""
    query = f"wait_for_status={wait_for}&timeout={int(timeout)}s"
    if nodes is not None:
        query += f"&wait_for_nodes={nodes}"
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(
                f"{url(n)}/_cluster/health?{query}", timeout=timeout + 5
            ) as resp:
                body = json.load(resp)
            if not body.get("timed_out"):
                return body
        except OSError as exc:  # not elected yet (503) or not up
            last = exc
        time.sleep(0.5)
    raise TimeoutError(f"node{n}: cluster not {wait_for} in {timeout}s ({last})")


def start_cluster(members: Sequence[int], *, fresh: bool = True) -> list[str]:
    """Start every member of a cluster and wait until all joined and it is green."""
    urls = [start_node(m, members, fresh=fresh) for m in members]
    health(members[0], "green", timeout=120, nodes=len(members))
    return urls
