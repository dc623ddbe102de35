"""4. Freshness: from Heat's ``end`` notification until a search returns the new state.

On the real sandbox and RabbitMQ, with ``heatseeker listen`` running as an operator runs it (the CLI,
heatseeker's default ``batch_timeout`` and ``commit_interval``, 0.5 s each) on the index the
query-vs-API benchmark synced:

1. a private queue taps Heat's notifications (``heatlab.NotificationTap``'s binding);
2. a burst: creates of new ``db.yaml`` stacks and updates (PATCH, one parameter changed) of
   existing ones, all sent at once from a thread pool;
3. the index is searched every 20 ms for the stacks of the burst (one ``Ids`` query through the
   ``Searcher``) until each shows its new state (``CREATE_COMPLETE``; ``UPDATE_COMPLETE`` with the
   new parameter value);
4. freshness of a stack = the moment its new state was first returned − the timestamp of its
   ``orchestration.stack.<create|update>.end`` notification (Heat's clock, the same machine); also
   from the moment the tap received it (Heat stamps a notification before it sends it: a busy
   heat-engine sends late).

Two bursts in a full run (5 + 5, then 25 + 25: the listener handles batches one at a time, so the
lag grows with the burst), one of 4 + 4 in a quick run.

The created stacks are deleted afterwards; the listener's queue is removed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
import uuid
from concurrent import futures
from datetime import UTC, datetime

from bench import common, listener_proc, sandbox

TARGET_P99_S = 2.0
POLL_S = 0.02
POOL = "heatseeker-bench-freshness"


class Tap(threading.Thread):
    """Collects Heat's notifications (decoded oslo messages) from a private queue, with their
    arrival time, until stopped."""

    def __init__(self) -> None:
        super().__init__(daemon=True, name="tap")
        self.messages: list[tuple[float, dict]] = []
        self._halt = threading.Event()
        self.ready = threading.Event()

    def run(self) -> None:
        from kombu import Connection, Exchange, Queue

        with Connection(common.AMQP) as conn:
            queue = Queue(f"heatseeker-bench-tap-{uuid.uuid4().hex[:8]}",
                          exchange=Exchange("heat", type="topic", durable=False),
                          routing_key="notifications.#", durable=False, auto_delete=True)  # fmt: skip

            def on_message(body, message):
                self.messages.append((time.time(), sandbox.heatlab.decode_notification(body)))
                message.ack()

            with conn.Consumer([queue], callbacks=[on_message], accept=["json"]):
                self.ready.set()
                while not self._halt.is_set():
                    try:
                        conn.drain_events(timeout=0.2)
                    except TimeoutError:
                        continue

    def stop(self) -> None:
        self._halt.set()


def _ts(text: str) -> float:
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def start_listener(d: str, conf: str, argv: list[str] | None = None) -> subprocess.Popen:
    out = open(os.path.join(d, "listener.out"), "a")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(argv or common.heatseeker_cmd(conf, "listen"), stdout=out,
                            stderr=subprocess.STDOUT, cwd=common.ROOT)  # fmt: skip
    return proc


def wait_queue(proc: subprocess.Popen, pool: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the listener exited {proc.returncode}")
        if common.queue_depth(pool) is not None:
            return
        time.sleep(0.3)
    raise RuntimeError("the listener's queue did not appear")


def stop_listener(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def run(quick: bool) -> dict:
    why = sandbox.available()
    if why:
        return {"skipped": f"the Heat sandbox does not answer ({why})"}
    d = os.path.join(common.WORK, "sandbox-index")
    if not os.path.isdir(os.path.join(d, "data", "index")):
        return {"skipped": "no synced index: the query-vs-API benchmark did not run"}
    bursts = [(4, 4)] if quick else [(5, 5), (25, 25)]
    project = sandbox.QUICK_PROJECT if quick else "bench-c"
    run_id = uuid.uuid4().hex[:6]
    conf = common.write_conf(d, POOL)
    common.delete_queue(POOL)
    events_path = os.path.join(d, "listener-events.jsonl")
    if os.path.exists(events_path):
        os.remove(events_path)
    listener = start_listener(d, conf, listener_proc.command(conf, events_path))
    tap = Tap()
    created: dict[str, str] = {}
    results = []
    try:
        wait_queue(listener, POOL)
        tap.start()
        tap.ready.wait(30)
        time.sleep(1.0)  # let the listener finish catching up with the store
        listed = sandbox.listing(project=sandbox.QUICK_PROJECT) if quick else [
            s for s in sandbox.listing() if s.get("project") in sandbox.PROJECTS]
        dbs = [s for s in listed
               if s["stack_name"].startswith("bench-db-") and not s.get("parent")
               and s["stack_status"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE")]  # fmt: skip
        used = 0
        for k, (n_create, n_update) in enumerate(bursts):
            if k:
                time.sleep(3.0)  # the listener idle again between bursts
            targets = dbs[used : used + n_update]
            used += n_update
            results.append(_burst(k, run_id, project, n_create, targets, d, tap, created,
                                  events_path, quick))  # fmt: skip
    finally:
        tap.stop()
        stop_listener(listener)
        common.delete_queue(POOL)
        _cleanup(project, created)
    main = results[-1]
    return {
        "bursts": results,
        "lag": main["lag"],
        "target_p99_s": TARGET_P99_S,
        "meets_p99": all(r["meets_p99"] for r in results),
        "listener_settings": common.listener_defaults(),
        "poll_interval_ms": POLL_S * 1000,
        "where_the_time_goes": main["where_the_time_goes"],
    }


def _burst(k, run_id, project, n_create, targets, d, tap, created, events_path, quick) -> dict:
    hc = sandbox.heatlab.hc_for(project)
    tpl, files, env = sandbox.heatlab.contents(os.path.join(sandbox.TEMPLATES, "db.yaml"), sandbox.ENV)
    wanted: dict[str, dict] = {}  # stack id -> what the index must show

    def create(i: int) -> tuple[str, dict]:
        name = f"bench-fresh-{run_id}-{k}-{i:02d}"
        sid = hc.stacks.create(stack_name=name, template=tpl, files=files, environment=env,
                               parameters={"image": "cirros-0.6.2"})["stack"]["id"]  # fmt: skip
        created[sid] = name
        return sid, {"status": "CREATE_COMPLETE", "event": "orchestration.stack.create.end"}

    def update(s: dict) -> tuple[str, dict]:
        window = f"w-{run_id}-{k}"
        sandbox.heatlab.hc_for(s["project"]).stacks.update(
            s["id"], existing=True, parameters={"backup_window": window})
        return s["id"], {"status": "UPDATE_COMPLETE", "param": ("backup_window", window),
                         "event": "orchestration.stack.update.end"}  # fmt: skip

    common.log(f"freshness: burst of {n_create} creates and {len(targets)} updates")
    burst_started = time.time()
    with futures.ThreadPoolExecutor(8) as pool:
        jobs = [pool.submit(create, i) for i in range(n_create)]
        jobs += [pool.submit(update, s) for s in targets]
        for job in jobs:
            sid, want = job.result()
            wanted[sid] = want
    seen = _poll(d, wanted, timeout=180 if not quick else 90)
    time.sleep(1.0)
    ends: dict[str, tuple[float, str]] = {}
    arrived: dict[str, float] = {}
    for received, msg in list(tap.messages):
        payload = msg.get("payload") or {}
        sid = payload.get("stack_identity")
        if sid in wanted and msg.get("event_type") == wanted[sid]["event"]:
            ends[sid] = (max(ends.get(sid, (0.0, ""))[0], _ts(msg["timestamp"])), msg["event_type"])
            arrived[sid] = max(arrived.get(sid, 0.0), received)
    both = [sid for sid in wanted if sid in seen and sid in ends]
    samples = {sid: {"end_timestamp": ends[sid][0], "on_the_bus": arrived.get(sid),
                     "seen": seen[sid]} for sid in both}  # fmt: skip
    summary = common.summary_ms([seen[sid] - ends[sid][0] for sid in both])
    from_bus = common.summary_ms([seen[sid] - arrived[sid] for sid in both])
    heat_delay = common.summary_ms([arrived[sid] - ends[sid][0] for sid in both])
    p99 = summary["p99_ms"]
    return {
        "creates": n_create,
        "updates": len(targets),
        "samples": len(both),
        "not_seen": sorted(set(wanted) - set(seen)),
        "no_end_notification": sorted(set(wanted) - set(ends)),
        "heat_busy_seconds": round(max((e[0] for e in ends.values()), default=burst_started)
                                   - burst_started, 2),
        "lag": summary,
        "lag_from_arrival_on_the_bus": from_bus,
        "heat_timestamp_to_bus": heat_delay,
        "meets_p99": p99 is not None and p99 < TARGET_P99_S * 1000,
        "samples_raw": samples,
        "where_the_time_goes": _decompose(listener_proc.read_events(events_path),
                                          {s: ends[s] for s in both}, seen),
    }


def _poll(d: str, wanted: dict[str, dict], timeout: float) -> dict[str, float]:
    from heatseeker.engines.tantivy import TantivyEngine
    from heatseeker.query import tree as t
    from heatseeker.query.visibility import Visibility
    from heatseeker.searcher import Searcher

    engine = TantivyEngine(os.path.join(d, "data", "index"), read_only=True)
    searcher = Searcher(engine)
    view = Visibility.everything()
    seen: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    try:
        while len(seen) < len(wanted) and time.monotonic() < deadline:
            pending = tuple(sid for sid in wanted if sid not in seen)
            found = searcher.search(t.Ids(pending), view=view, limit=len(pending),
                                    fields=("id", "status", "parameters"))  # fmt: skip
            now = time.time()
            for hit in found.hits:
                want = wanted[hit.id]
                if hit.source.get("status") != want["status"]:
                    continue
                if "param" in want:
                    key, value = want["param"]
                    if (hit.source.get("parameters") or {}).get(key) != value:
                        continue
                seen[hit.id] = now
            time.sleep(POLL_S)
    finally:
        engine.close()
    return seen


def _cleanup(project: str, created: dict[str, str]) -> None:
    hc = sandbox.heatlab.hc_for(project)
    for sid in created:
        with contextlib.suppress(Exception):  # best effort
            hc.stacks.delete(sid)
    deadline = time.monotonic() + 120
    for sid in created:
        # a stack still there is left for a later run to see (named bench-fresh-*)
        with contextlib.suppress(Exception):
            sandbox.heatlab.wait_deleted(hc, sid, timeout=max(1.0, deadline - time.monotonic()))


def _decompose(events: list[dict], ends: dict[str, tuple[float, str]], seen: dict[str, float]) -> dict:
    """Per stack: end notification → the listener starts the batch holding it (waiting for the
    batch to fill, or for a free worker) → the batch's handling (its Heat reads, the store
    commit); batch start → the index commit that made the stack visible (the last one before the
    search saw it; with concurrent batches the store commit, not the batch's end, is what it waits
    for) → the first search that returned it. p50 and max in ms."""
    batches = [e for e in events if e.get("kind") == "batch"]
    projections = [e for e in events if e.get("kind") == "projected"]
    waits, handling, to_index, to_search = [], [], [], []
    for sid, (end, etype) in ends.items():
        batch = next((b for b in batches
                      if any(i == sid and t == etype for i, t in zip(b["ids"], b.get("types", []), strict=False))),
                     None)  # fmt: skip
        if batch is None or sid not in seen:
            continue
        # the projection that made the new state visible: the last one begun before the search saw
        # it (its end is noted just after its commit, so a search may see it a moment earlier)
        proj = next((p for p in reversed(projections) if p["t0"] <= seen[sid]), None)
        waits.append(batch["t0"] - end)
        handling.append(batch["t1"] - batch["t0"])
        if proj is not None:
            to_index.append(proj["t1"] - batch["t0"])
            to_search.append(seen[sid] - proj["t1"])

    def m(xs):
        ms = [x * 1000 for x in xs]
        return {"p50_ms": common.pct(ms, 50), "max_ms": max(ms) if ms else None}

    per_batch = [b["t1"] - b["t0"] for b in batches]
    longest = sorted(batches, key=lambda b: b["t0"] - b["t1"])[:3]
    return {
        "longest_batches": [
            {"s": round(b["t1"] - b["t0"], 2), "stacks": len(set(b["ids"])),
             "events": sorted({".".join(t.split(".")[-2:]) for t in b.get("types", []) if t})}
            for b in longest
        ],  # fmt: skip
        "notification_to_batch_start": m(waits),
        "batch_handling_incl_heat_reads": m(handling),
        "batch_start_to_index_commit": m(to_index),
        "index_commit_to_search": m(to_search),
        "batches": len(batches),
        "batches_at_once_max": common.max_overlap([(b["t0"], b["t1"]) for b in batches]),
        "mean_batch_s": round(sum(per_batch) / len(per_batch), 3) if per_batch else None,
        "mean_stacks_per_batch": round(sum(len(set(b["ids"])) for b in batches) / len(batches), 2)
        if batches else None,
        "projections": len(projections),
    }
