"""History: what keeping stack revisions costs, on disk and in store throughput.

``run(quick)`` writes the same generated stacks (``bench.generate``) through ``Store.apply`` into
fresh stores, one per configuration, in the same process on the same machine:

* ``off``: ``[history] enabled = false`` — the store as it was before history;
* ``zlib``: history on, each revision's document zlib-compressed (the default);
* ``raw``: history on, documents stored as plain JSON (what compression saves).

Each configuration runs three workloads, 200 changes per durable transaction (as a sync batch):

* ``create``: every stack appears (revision 1 each);
* ``update``: ``rounds`` rounds in which every stack's content changes (a parameter and a
  template property: a new revision each);
* ``state``: one round of state-only changes (``CHECK_COMPLETE``): no revision, but the digest
  comparison with the latest revision still runs.

Throughput is reported as changes per second (wall clock, fsyncs included) and as CPU microseconds
per change (this process only: less sensitive to the other work on a shared machine); the
``*_slowdown`` (wall) and ``*_cpu_ratio`` (CPU) compare a history configuration with ``off``.

Disk: the bytes of the stored revision bodies per revision, and the growth of the SQLite file
(after a WAL checkpoint) over the ``off`` store per revision (bodies + row + index overhead). The
configurations run in turn, ``repeat`` times in alternating order; each throughput is the best of its
runs (least disturbed by other work on the shared machine).
"""

from __future__ import annotations

import copy
import os
import shutil
import sqlite3
import sys
import tempfile
import time

from bench import common
from bench.generate import stacks

BATCH = 200
CONFIGS = ("off", "zlib", "raw")


def _policy(name: str):
    from heatseeker.record import HistoryPolicy

    if name == "off":
        return HistoryPolicy(enabled=False)
    return HistoryPolicy(enabled=True, max_revisions=0, max_age_days=0, compress=name == "zlib")


def _updated(doc: dict, round_: int) -> dict:
    new = copy.deepcopy(doc)
    params = new.get("parameters") or {}
    key = next((k for k, v in params.items() if v != "******"), None)
    if key is not None:
        params[key] = f"{params[key]}-r{round_}"
    else:
        params["bench_round"] = round_
    resources = (new.get("template") or {}).get("resources") or {}
    for definition in resources.values():
        if isinstance(definition, dict):
            props = definition.setdefault("properties", {})
            if isinstance(props, dict):
                props["bench_round"] = round_
            break
    new.update(status="UPDATE_COMPLETE", action="UPDATE", state="COMPLETE")
    return new


def _apply_all(store, changes: list) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) to apply ``changes`` in batches."""
    started, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(changes), BATCH):
        store.apply(changes[i : i + BATCH])
    return time.perf_counter() - started, time.process_time() - cpu


def _file_bytes(path: str) -> int:
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))


def _one(name: str, docs: list[dict], rounds: int, workdir: str) -> dict:
    from heatseeker.record import Change, Store

    d = os.path.join(workdir, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    path = os.path.join(d, "state.sqlite")
    store = Store(path, _policy(name))
    version = int(time.time() * 1e6) - 10_000_000
    creates = [Change(doc["id"], version, doc) for doc in docs]
    t_create, c_create = _apply_all(store, creates)
    t_update = c_update = 0.0
    n_update = 0
    for r in range(1, rounds + 1):
        version += 1
        ups = [Change(doc["id"], version, _updated(doc, r)) for doc in docs]
        wall, cpu = _apply_all(store, ups)
        t_update, c_update = t_update + wall, c_update + cpu
        n_update += len(ups)
    version += 1
    states = [Change(doc["id"], version,
                     dict(_updated(doc, rounds), status="CHECK_COMPLETE", action="CHECK"))
              for doc in docs]
    t_state, c_state = _apply_all(store, states)
    size = store.history_size()
    store.close()
    return {
        "create_per_s": round(len(creates) / t_create, 1),
        "update_per_s": round(n_update / t_update, 1) if t_update else None,
        "state_only_per_s": round(len(states) / t_state, 1),
        "create_cpu_us": round(c_create / len(creates) * 1e6),
        "update_cpu_us": round(c_update / n_update * 1e6) if n_update else None,
        "state_only_cpu_us": round(c_state / len(states) * 1e6),
        "revisions": size["revisions"],
        "body_bytes": size["body_bytes"],
        "file_bytes": _file_bytes(path),
    }


def run(quick: bool) -> dict:
    n = 500 if quick else 3000
    rounds = 2 if quick else 4
    repeat = 1 if quick else 2
    common.log(f"history: {n} generated stacks, {rounds} update rounds, configs {CONFIGS}")
    docs = list(stacks(n, seed=7))
    doc_json = sum(len(common_json(doc)) for doc in docs)
    workdir = tempfile.mkdtemp(prefix="heatseeker-bench-history-")
    runs: dict[str, list[dict]] = {c: [] for c in CONFIGS}
    try:
        for i in range(repeat):
            order = CONFIGS if i % 2 == 0 else tuple(reversed(CONFIGS))
            for name in order:
                runs[name].append(_one(name, docs, rounds, workdir))
                common.log(f"history: {name} run {i + 1}: {runs[name][-1]}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    def best(name: str, key: str) -> float | None:
        values = [r[key] for r in runs[name] if r[key] is not None]
        if not values:
            return None
        return min(values) if key.endswith("_cpu_us") else max(values)

    configs: dict = {}
    for name in CONFIGS:
        last = runs[name][-1]
        configs[name] = {
            "create_per_s": best(name, "create_per_s"),
            "update_per_s": best(name, "update_per_s"),
            "state_only_per_s": best(name, "state_only_per_s"),
            "create_cpu_us": best(name, "create_cpu_us"),
            "update_cpu_us": best(name, "update_cpu_us"),
            "state_only_cpu_us": best(name, "state_only_cpu_us"),
            "revisions": last["revisions"],
            "file_mb": round(last["file_bytes"] / 2**20, 2),
        }
    off_bytes = runs["off"][-1]["file_bytes"]
    for name in ("zlib", "raw"):
        last = runs[name][-1]
        revs = max(last["revisions"], 1)
        configs[name]["body_bytes_per_revision"] = round(last["body_bytes"] / revs)
        configs[name]["disk_bytes_per_revision"] = round((last["file_bytes"] - off_bytes) / revs)
        for key in ("create", "update", "state_only"):
            on, off = configs[name][f"{key}_per_s"], configs["off"][f"{key}_per_s"]
            configs[name][f"{key}_slowdown"] = round(off / on, 2) if on and off else None
            on, off = configs[name][f"{key}_cpu_us"], configs["off"][f"{key}_cpu_us"]
            configs[name][f"{key}_cpu_ratio"] = round(on / off, 2) if on and off else None
    return {
        "stacks": n,
        "update_rounds": rounds,
        "batch": BATCH,
        "repeat": repeat,
        "mean_doc_json_bytes": round(doc_json / n),
        # every create and update changes content; the few generated stacks that start in
        # UPDATE_IN_PROGRESS have their provisional revision 1 amended by the first update round
        "content_changes": n * (rounds + 1),
        "configs": configs,
        "compression_ratio": round(
            configs["raw"]["body_bytes_per_revision"] / configs["zlib"]["body_bytes_per_revision"], 2)
        if configs["zlib"]["body_bytes_per_revision"] else None,
    }


def common_json(doc: dict) -> bytes:
    import json

    return json.dumps(doc, sort_keys=True, ensure_ascii=False).encode()


if __name__ == "__main__":
    import json

    print(json.dumps(run("--quick" in sys.argv), indent=2))
