"""4. Freshness: from Heat's ``end`` notification until a search returns the new state (#14).

On the real sandbox and RabbitMQ, with ``heatseeker listen`` running as an operator runs it (the CLI,
heatseeker's defaults) on the index the query-vs-API benchmark synced:

1. a private queue taps Heat's notifications (``heatlab.NotificationTap``'s binding);
2. single changes first, one at a time on a quiet system (an update, searchable, a pause, the
   next); then bursts: creates of new ``db.yaml`` stacks, updates (PATCH, one parameter changed)
   of existing ones and, from the second burst on, deletes of the previous burst's stacks, all
   sent at once from a thread pool while Heat is busy with them;
3. the index is searched every 20 ms for the stacks of the burst (one ``Ids`` query through the
   ``Searcher``) until each shows its new state (``CREATE_COMPLETE``; ``UPDATE_COMPLETE`` with the
   new parameter value; gone);
4. freshness of a stack = the moment its new state was first returned − the timestamp of its
   ``orchestration.stack.<create|update|delete>.end`` notification (Heat's clock, the same
   machine), p50/p99 per burst and per kind of event.

**The floor**: what the Heat reads of one change cost, measured in the same run: a probe reads a
stack outside the bursts (``HeatSource.read``, as the listener reads) every 0.2 s, on the quiet
system and during each burst. Each figure is also given as a ratio to the floor's p50 measured at
the same time. **Coalescing**: the notifications the listener handled during a burst against the
Heat reads it made (``bench/listener_proc.py`` counts them).

**History fidelity**: a stack updated back to back (each update sent as soon as Heat shows the
last one complete), then twice 2 s apart; the report counts the updates made, the revisions the
listener recorded and the states history marked as never observed. **History off**: the 25 + 25
burst again with ``[history] enabled = false``, so that history's cost on freshness shows.

Full run: singles, 5 + 5, 25 + 25, 100 + 100, then the history-off burst; quick: singles and
4 + 4. The created stacks are deleted afterwards; the listener's queue is removed.
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

# #14's targets: the p50 of a single change on a quiet system, the p99 of each burst
TARGETS = {"single": ("p50_ms", 300.0), (5, 5): ("p99_ms", 500.0), (25, 25): ("p99_ms", 1000.0),
           (100, 100): ("p99_ms", 3000.0)}
POLL_S = 0.02
POOL = "heatseeker-bench-freshness"
SINGLES = 5  # a quick run: 3


class Floor(threading.Thread):
    """The floor: how long the Heat reads of one change take, now. Reads ``stack_id`` as the
    listener does (``HeatSource.read`` with the name the notifications give: the show, then its
    four other calls at once), every 0.2 s, until stopped; ``take()`` returns the durations since
    the last take."""

    def __init__(self, conf_path: str, stack_id: str, stack_name: str) -> None:
        super().__init__(daemon=True, name="floor")
        from heatseeker.config import new_conf
        from heatseeker.heat.client import HeatSource

        conf = new_conf()
        conf(["--config-file", conf_path], default_config_files=[])
        self.source = HeatSource.from_conf(conf)
        self.stack_id, self.stack_name = stack_id, stack_name
        self._samples: list[float] = []
        self._lock = threading.Lock()
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            t0 = time.perf_counter()
            try:
                self.source.know_names({self.stack_id: self.stack_name})
                self.source.read(self.stack_id)
            except Exception:  # noqa: BLE001 - a failed read is no floor
                pass
            else:
                with self._lock:
                    self._samples.append(time.perf_counter() - t0)
            self._halt.wait(0.2)

    def take(self) -> dict:
        with self._lock:
            out, self._samples = self._samples, []
        return common.summary_ms(out)

    def stop(self) -> None:
        self._halt.set()


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
    bursts = [(4, 4)] if quick else [(5, 5), (25, 25), (100, 100)]
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
    results: list[dict] = []
    singles: dict = {}
    fidelity: dict = {}
    history_off: dict = {}
    floor = None
    try:
        wait_queue(listener, POOL)
        tap.start()
        tap.ready.wait(30)
        time.sleep(1.0)  # let the listener finish catching up with the store
        listed = sandbox.listing(project=sandbox.QUICK_PROJECT) if quick else [
            s for s in sandbox.listing() if s.get("project") in sandbox.PROJECTS]
        done = ("CREATE_COMPLETE", "UPDATE_COMPLETE")
        # what an update can change without touching a resource: db.yaml's backup_window,
        # app.yaml's owner_team (neither feeds a resource's properties)
        pool = [(s, "backup_window") for s in listed if s["stack_name"].startswith("bench-db-")
                and not s.get("parent") and s["stack_status"] in done]
        pool += [(s, "owner_team") for s in listed if s["stack_name"].startswith("bench-app-")
                 and not s.get("parent") and s["stack_status"] in done]
        floor_stack, fidelity_target = pool[-1][0], pool[-2]
        pool = pool[:-2]
        floor = Floor(conf, floor_stack["id"], floor_stack["stack_name"])
        floor.start()
        time.sleep(2.0)
        quiet_floor = floor.take()
        n_singles = 3 if quick else SINGLES
        singles = _singles(run_id, pool[:n_singles], d, tap, events_path, floor, quick)
        used = n_singles
        previous: list[str] = []
        for k, (n_create, n_update) in enumerate(bursts):
            time.sleep(3.0)  # the listener idle again between bursts
            targets = [pool[(used + i) % len(pool)] for i in range(min(n_update, len(pool)))]
            used += len(targets)
            burst = _burst(k, run_id, project, n_create, targets, previous[:5], d, tap, created,
                           events_path, floor, quick)
            previous = burst.pop("created_ids")
            results.append(burst)
        time.sleep(2.0)
        fidelity = _fidelity(run_id, fidelity_target, d, quick)
        if not quick:  # the 25 + 25 burst again, history off: what history costs
            stop_listener(listener)
            conf_off = common.write_conf(d, POOL)
            with open(conf_off, "a") as fh:
                fh.write("[history]\nenabled = false\n")
            listener = start_listener(d, conf_off, listener_proc.command(conf_off, events_path))
            wait_queue(listener, POOL)
            time.sleep(3.0)
            targets = [pool[(used + i) % len(pool)] for i in range(25)]
            history_off = _burst(len(bursts), run_id, project, 25, targets, [], d, tap, created,
                                 events_path, floor, quick)
            history_off.pop("created_ids")
            common.write_conf(d, POOL)  # rewritten: the next benchmark's listener keeps history
    finally:
        if floor is not None:
            floor.stop()
        tap.stop()
        stop_listener(listener)
        common.delete_queue(POOL)
        _cleanup(project, created)
    return {
        "singles": singles,
        "bursts": results,
        "history_off": history_off,
        "fidelity": fidelity,
        "floor_quiet": quiet_floor,
        "lag": results[-1]["lag"] if results else None,
        "targets": {("single" if k == "single" else f"{k[0]}+{k[1]}"): v for k, v in TARGETS.items()},
        "meets": all(r.get("meets") is not False for r in [singles, *results]),
        "listener_settings": common.listener_defaults(),
        "poll_interval_ms": POLL_S * 1000,
        "where_the_time_goes": results[-1]["where_the_time_goes"] if results else None,
    }


def _target(key) -> tuple[str, float] | None:
    return TARGETS.get(key)


def _singles(run_id, targets, d, tap, events_path, floor, quick) -> dict:
    """One update at a time on a quiet system: each searchable, then a pause, then the next."""
    common.log(f"freshness: {len(targets)} single changes, one at a time")
    lags, samples = [], {}
    floor.take()
    for i, (s, key) in enumerate(targets):
        value = f"s-{run_id}-{i}"
        hc = sandbox.heatlab.hc_for(s["project"])
        hc.stacks.update(s["id"], existing=True, parameters={key: value})
        want = {s["id"]: {"status": "UPDATE_COMPLETE", "param": (key, value),
                          "event": "orchestration.stack.update.end", "kind": "update"}}
        seen = _poll(d, want, timeout=60)
        time.sleep(0.5)
        end = _ends(tap, want).get(s["id"])
        if s["id"] in seen and end is not None:
            lags.append(seen[s["id"]] - end)
            samples[s["id"]] = {"end_timestamp": end, "seen": seen[s["id"]]}
        time.sleep(1.0)
    lag = common.summary_ms(lags)
    fl = floor.take()
    kind, limit = TARGETS["single"]
    return {"changes": len(targets), "lag": lag, "floor": fl, "ratio": _ratio(lag, fl),
            "target": f"p50 < {limit:.0f} ms",
            "meets": None if quick else (lag[kind] is not None and lag[kind] < limit),
            "samples_raw": samples}


def _ratio(lag: dict, floor: dict) -> dict:
    base = floor.get("p50_ms")
    if not base:
        return {}
    return {k: round(lag[k] / base, 2) for k in ("p50_ms", "p99_ms") if lag.get(k) is not None}


def _ends(tap, wanted: dict[str, dict]) -> dict[str, float]:
    """The timestamp of each wanted stack's end notification, from the tap."""
    ends: dict[str, float] = {}
    for _received, msg in list(tap.messages):
        payload = msg.get("payload") or {}
        sid = payload.get("stack_identity")
        if sid in wanted and msg.get("event_type") == wanted[sid]["event"]:
            ends[sid] = max(ends.get(sid, 0.0), _ts(msg["timestamp"]))
    return ends


def _burst(k, run_id, project, n_create, targets, deletes, d, tap, created, events_path, floor,
           quick) -> dict:
    hc = sandbox.heatlab.hc_for(project)
    tpl, files, env = sandbox.heatlab.contents(os.path.join(sandbox.TEMPLATES, "db.yaml"), sandbox.ENV)
    wanted: dict[str, dict] = {}  # stack id -> what the index must show
    mine: list[str] = []

    def create(i: int) -> tuple[str, dict]:
        name = f"bench-fresh-{run_id}-{k}-{i:03d}"
        sid = hc.stacks.create(stack_name=name, template=tpl, files=files, environment=env,
                               parameters={"image": "cirros-0.6.2"})["stack"]["id"]  # fmt: skip
        created[sid] = name
        mine.append(sid)
        return sid, {"status": "CREATE_COMPLETE", "event": "orchestration.stack.create.end",
                     "kind": "create"}

    def update(target) -> tuple[str, dict]:
        s, key = target
        value = f"w-{run_id}-{k}"
        sandbox.heatlab.hc_for(s["project"]).stacks.update(s["id"], existing=True,
                                                            parameters={key: value})
        return s["id"], {"status": "UPDATE_COMPLETE", "param": (key, value),
                         "event": "orchestration.stack.update.end", "kind": "update"}  # fmt: skip

    def delete(sid: str) -> tuple[str, dict]:
        hc.stacks.delete(sid)
        return sid, {"absent": True, "event": "orchestration.stack.delete.end", "kind": "delete"}

    common.log(f"freshness: burst of {n_create} creates, {len(targets)} updates, {len(deletes)} deletes")
    floor.take()
    counts_before = _counts(events_path)
    burst_started = time.time()
    big = n_create + len(targets) > 60
    # the search is polled from the start: a stack that finishes while the burst's other API
    # calls are still being made is seen when it is searchable, not when the last call returned
    # (under a 100 + 100 burst Heat takes ~50 s to accept them all)
    lock, submitted = threading.Lock(), threading.Event()
    with futures.ThreadPoolExecutor(1) as poller:
        polled = poller.submit(_poll, d, wanted, (420 if big else 180) if not quick else 90,
                               lock, submitted)
        try:
            with futures.ThreadPoolExecutor(8) as pool:
                jobs = [pool.submit(create, i) for i in range(n_create)]
                jobs += [pool.submit(update, t) for t in targets]
                jobs += [pool.submit(delete, sid) for sid in deletes]
                for job in futures.as_completed(jobs):
                    sid, want = job.result()
                    with lock:
                        wanted[sid] = want
        finally:
            submitted.set()
        seen = polled.result()
    time.sleep(1.0)
    fl = floor.take()
    counts_after = _counts(events_path)
    ends = _ends(tap, wanted)
    arrived: dict[str, float] = {}
    for received, msg in list(tap.messages):
        sid = (msg.get("payload") or {}).get("stack_identity")
        if sid in wanted and msg.get("event_type") == wanted[sid]["event"]:
            arrived[sid] = max(arrived.get(sid, 0.0), received)
    both = [sid for sid in wanted if sid in seen and sid in ends]
    samples = {sid: {"kind": wanted[sid]["kind"], "end_timestamp": ends[sid],
                     "on_the_bus": arrived.get(sid), "seen": seen[sid]} for sid in both}  # fmt: skip
    summary = common.summary_ms([seen[sid] - ends[sid] for sid in both])
    per_kind = {kind: common.summary_ms([seen[s] - ends[s] for s in both if wanted[s]["kind"] == kind])
                for kind in ("create", "update", "delete") if any(wanted[s]["kind"] == kind for s in both)}
    from_bus = common.summary_ms([seen[sid] - arrived[sid] for sid in both if sid in arrived])
    heat_delay = common.summary_ms([arrived[sid] - ends[sid] for sid in both if sid in arrived])
    target = _target((n_create, len(targets)))
    meets = None
    if target is not None and not quick:
        meets = summary[target[0]] is not None and summary[target[0]] < target[1]
    messages = counts_after.get("messages", 0) - counts_before.get("messages", 0)
    reads = counts_after.get("reads", 0) - counts_before.get("reads", 0)
    calls = counts_after.get("calls", 0) - counts_before.get("calls", 0)
    return {
        "creates": n_create,
        "updates": len(targets),
        "deletes": len(deletes),
        "samples": len(both),
        "not_seen": sorted(set(wanted) - set(seen)),
        "no_end_notification": sorted(set(wanted) - set(ends)),
        "heat_busy_seconds": round(max(ends.values(), default=burst_started) - burst_started, 2),
        "lag": summary,
        "per_kind": per_kind,
        "floor": fl,
        "ratio": _ratio(summary, fl),
        "target": f"{target[0][:3]} < {target[1]:.0f} ms" if target else None,
        "meets": meets,
        "coalescing": {"notifications": messages, "heat_reads": reads,
                       "reads_per_notification": round(reads / messages, 3) if messages else None,
                       "heat_calls": calls,
                       "calls_per_notification": round(calls / messages, 3) if messages else None},
        "lag_from_arrival_on_the_bus": from_bus,
        "heat_timestamp_to_bus": heat_delay,
        "samples_raw": samples,
        "created_ids": list(mine),
        "where_the_time_goes": _decompose(listener_proc.read_events(events_path),
                                          {s: (ends[s], wanted[s]["event"]) for s in both}, seen),
    }


def _counts(events_path: str) -> dict:
    """The listener's last counters line (messages handled, Heat reads made)."""
    last: dict = {}
    for e in listener_proc.read_events(events_path):
        if e.get("kind") in ("counts", "exit"):
            last = e
    return last


def _fidelity(run_id: str, target, d: str, quick: bool) -> dict:
    """Back-to-back updates of one stack (each sent once Heat shows the last one complete), then
    two 2 s apart; what the listener's history recorded of them."""
    from heatseeker.history.service import History
    from heatseeker.query.visibility import Visibility
    from heatseeker.record import Store

    s, key = target
    hc = sandbox.heatlab.hc_for(s["project"])
    n_fast = 2 if quick else 8
    values = [f"f-{run_id}-{i}" for i in range(n_fast + (1 if quick else 2))]
    common.log(f"freshness: history fidelity, {n_fast} updates back to back, "
               f"{len(values) - n_fast} two seconds apart")
    store = Store(os.path.join(d, "data", "state.sqlite"), create=False)
    # the revisions after this one are this step's (by number: [history] max_revisions prunes the
    # oldest, so a stack at the limit keeps its count while it gains revisions)
    before = max((r.rev for r in store.revisions(s["id"])), default=0)
    for i, value in enumerate(values):
        if i >= n_fast:
            time.sleep(2.0)
        hc.stacks.update(s["id"], existing=True, parameters={key: value})
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            shown = hc.stacks.get(s["id"], resolve_outputs=False)
            if shown.stack_status == "UPDATE_COMPLETE" and shown.parameters.get(key) == value:
                break
            time.sleep(0.05)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until the listener recorded the last one
        last = store.revision(s["id"])
        if last and (last.doc or {}).get("parameters", {}).get(key) == values[-1]:
            break
        time.sleep(0.2)
    time.sleep(1.0)
    history = History(store).history(s["id"], Visibility.everything()) or {"revisions": []}
    new = [r for r in history["revisions"] if r["revision"] > before]
    revs = [r for r in store.revisions(s["id"], with_docs=True) if r.rev > before]
    shown_values = {(r.doc or {}).get("parameters", {}).get(key) for r in revs}
    marked = [u for r in new if r.get("gap") for u in r["gap"]["unobserved"]]
    fast, apart = values[:n_fast], values[n_fast:]
    store.close()
    return {
        "updates": len(values), "back_to_back": n_fast, "two_seconds_apart": len(apart),
        "revisions": len(new), "gaps_marked": len(marked),
        "updates_shown_by_a_revision": sum(v in shown_values for v in values),
        "back_to_back_shown": sum(v in shown_values for v in fast),
        "apart_shown": sum(v in shown_values for v in apart),
        "accounted_for": sum(v in shown_values for v in values) + len(marked) >= len(values),
    }


def _poll(d: str, wanted: dict[str, dict], timeout: float, lock: threading.Lock | None = None,
          submitted: threading.Event | None = None) -> dict[str, float]:
    """When a search first answered each wanted stack's new state. ``wanted`` may still grow
    (under ``lock``) until ``submitted`` is set."""
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
        while time.monotonic() < deadline:
            done = submitted is None or submitted.is_set()  # before the copy: none is missed
            with lock or contextlib.nullcontext():
                now_wanted = dict(wanted)
            pending = tuple(sid for sid in now_wanted if sid not in seen)
            if not pending:
                if done:
                    break
                time.sleep(POLL_S)
                continue
            found = searcher.search(t.Ids(pending), view=view, limit=len(pending),
                                    fields=("id", "status", "parameters"))  # fmt: skip
            now = time.time()
            present = {hit.id for hit in found.hits}
            for sid in pending:
                if now_wanted[sid].get("absent") and sid not in present:
                    seen[sid] = now
            for hit in found.hits:
                want = now_wanted[hit.id]
                if want.get("absent"):
                    continue
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
        batch = next((b for b in batches if b["t1"] >= end
                      and any(i == sid and t == etype for i, t in zip(b["ids"], b.get("types", []), strict=False))),
                     None)  # fmt: skip  (the first batch that handled it after it was sent)
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
