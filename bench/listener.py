"""5. Listener throughput: 10,000 notifications about a few hundred real sandbox stacks at once.

``heatseeker listen`` (the CLI under ``bench.listener_proc``, which only counts and timestamps)
starts on an empty data dir with its own queue. The notifications are built from a real captured
Heat envelope (``tests/fixtures/heat-27/notifications.jsonl``: oslo.messaging v2 wire format,
``{"oslo.version": "2.0", "oslo.message": "<json>"}``, context keys and all), one
``orchestration.stack.<action>.start`` / ``.end`` pair after another for every bench stack (roots and
nested stacks; ~34 notifications each), interleaved as a burst of Heat activity is (16 stacks in
progress at any moment, the next starting when one finishes), and published to the listener's queue
at once (RabbitMQ's default exchange, routed by queue name: no other consumer sees them).

Measured: the time to publish; until the listener has handled them all (drained); until the index
matches the API (every stack indexed with the status the API lists); how many stack reads the
listener made against how many it would make handling each notification alone (every ``end``, and
the first event of a stack it does not know) — the reads coalescing saved; its memory (RSS before,
peak).
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from datetime import UTC, datetime, timedelta

from bench import common, listener_proc, sandbox
from bench.freshness import start_listener, stop_listener, wait_queue

POOL = "heatseeker-bench-drain"
FIXTURE = os.path.join(common.ROOT, "tests", "fixtures", "heat-27", "notifications.jsonl")
ACTIONS = ("UPDATE", "UPDATE", "UPDATE", "CHECK", "CREATE")
ACTIVE = 16  # stacks with events in flight at any moment of the burst


def _template() -> dict:
    with open(FIXTURE) as fh:
        for line in fh:
            msg = json.loads(line)
            if msg.get("event_type") == "orchestration.stack.update.end":
                return msg
    raise RuntimeError(f"no update.end notification in {FIXTURE}")


def build(stacks: list[dict], n: int, seed: int) -> tuple[list[dict], int]:
    """``n`` wire messages about ``stacks``; also the reads handling each one alone would cost."""
    rng = random.Random(seed)
    tpl = _template()
    per_stack = max(2, (n // len(stacks)) // 2 * 2)
    streams = []
    for s in stacks:
        events = []
        for k in range(per_stack // 2):
            action = ACTIONS[rng.randrange(len(ACTIONS))] if k else "CREATE"
            events += [(s, action, "start"), (s, action, "end")]
        streams.append(events)
    # a burst as Heat makes it: a few stacks in progress at a time (ACTIVE), their events
    # interleaved; when one is done the next starts
    rng.shuffle(streams)
    order = []
    waiting = list(range(len(streams)))[::-1]
    live = [waiting.pop() for _ in range(min(ACTIVE, len(waiting)))]
    cursors = [0] * len(streams)
    while live and len(order) < n:
        j = rng.randrange(len(live))
        i = live[j]
        order.append(streams[i][cursors[i]])
        cursors[i] += 1
        if cursors[i] == len(streams[i]):
            if waiting:
                live[j] = waiting.pop()
            else:
                live[j] = live[-1]
                live.pop()
    base = datetime.now(UTC) - timedelta(seconds=60)
    wire = []
    known: set[str] = set()
    uncoalesced = 0
    for k, (s, action, phase) in enumerate(order):
        if phase == "end" or s["id"] not in known:
            uncoalesced += 1
        known.add(s["id"])
        msg = dict(tpl)
        msg["event_type"] = f"orchestration.stack.{action.lower()}.{phase}"
        msg["message_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        msg["_unique_id"] = uuid.UUID(int=rng.getrandbits(128), version=4).hex
        msg["timestamp"] = (base + timedelta(milliseconds=k)).strftime("%Y-%m-%d %H:%M:%S.%f")
        state = f"{action}_IN_PROGRESS" if phase == "start" else f"{action}_COMPLETE"
        msg["payload"] = {
            **tpl["payload"],
            "stack_identity": s["id"],
            "stack_name": s["stack_name"],
            "tenant_id": s.get("project"),
            "state": state,
            "state_reason": f"Stack {action} {'started' if phase == 'start' else 'completed successfully'}",
            "description": s.get("description") or "",
        }  # fmt: skip
        wire.append({"oslo.version": "2.0", "oslo.message": json.dumps(msg)})
    return wire, uncoalesced


def _publish(wire: list[dict]) -> None:
    from kombu import Connection

    with Connection(common.AMQP) as conn:
        producer = conn.Producer(serializer="json")
        for body in wire:
            producer.publish(body, exchange="", routing_key=POOL, delivery_mode=1)


def _matches(d: str, expected: dict[str, str]) -> int:
    """How many stacks the index holds with the status the API lists."""
    from heatseeker.engines.tantivy import TantivyEngine
    from heatseeker.query import tree as t
    from heatseeker.query.visibility import Visibility
    from heatseeker.searcher import Searcher

    index = os.path.join(d, "data", "index")
    if not os.path.isdir(index):
        return 0
    engine = TantivyEngine(index, read_only=True)
    try:
        found = Searcher(engine).search(t.Ids(tuple(expected)), view=Visibility.everything(),
                                        limit=len(expected), fields=("id", "status"))  # fmt: skip
    finally:
        engine.close()
    return sum(1 for h in found.hits if h.source.get("status") == expected[h.id])


def run(quick: bool, seed: int) -> dict:
    why = sandbox.available()
    if why:
        return {"skipped": f"the Heat sandbox does not answer ({why})"}
    n = 1000 if quick else 10_000
    listed = sandbox.listing(project=sandbox.QUICK_PROJECT) if quick else [
        s for s in sandbox.listing() if s.get("project") in sandbox.PROJECTS]  # fmt: skip
    stacks = [s for s in listed if s["stack_name"].startswith("bench-")
              and not s["stack_status"].endswith("IN_PROGRESS")]  # fmt: skip
    expected = {s["id"]: s["stack_status"] for s in stacks}
    wire, uncoalesced = build(stacks, n, seed)
    d = common.fresh_dir(os.path.join(common.WORK, "listener"))
    conf = common.write_conf(d, POOL)
    events_path = os.path.join(d, "listener-events.jsonl")
    common.delete_queue(POOL)
    proc = start_listener(d, conf, listener_proc.command(conf, events_path))
    out: dict = {"notifications": len(wire), "stacks": len(stacks),
                 "reads_if_each_notification_alone": uncoalesced}  # fmt: skip
    try:
        wait_queue(proc, POOL)
        time.sleep(2.0)
        idle = [e for e in listener_proc.read_events(events_path) if e["kind"] == "counts"]
        out["rss_idle_mb"] = round(idle[-1]["rss"] / 2**20, 1) if idle else None
        common.log(f"listener: publishing {len(wire)} notifications about {len(stacks)} stacks")
        t0 = time.time()
        _publish(wire)
        t_pub = time.time()
        deadline = time.monotonic() + (180 if quick else 900)
        t_drained = t_match = None
        matched = 0
        while time.monotonic() < deadline:
            counts = [e for e in listener_proc.read_events(events_path) if e["kind"] == "counts"]
            handled = counts[-1]["messages"] if counts else 0
            if t_drained is None and handled >= len(wire) and common.queue_depth(POOL) == 0:
                t_drained = time.time()
            if t_drained is not None:
                matched = _matches(d, expected)
                if matched == len(expected):
                    t_match = time.time()
                    break
            if proc.poll() is not None:
                raise RuntimeError(f"the listener exited {proc.returncode}")
            time.sleep(0.25)
    finally:
        stop_listener(proc)
        common.delete_queue(POOL)
    events = listener_proc.read_events(events_path)
    last = next((e for e in reversed(events) if e["kind"] in ("exit", "counts")), {})
    batches = [e for e in events if e["kind"] == "batch"]
    peak = max((e.get("hwm") or 0 for e in events if e["kind"] in ("counts", "exit")), default=0)
    reads = last.get("reads", 0)
    out.update(
        publish_s=round(t_pub - t0, 2),
        drained_s=round(t_drained - t0, 2) if t_drained else None,
        index_matches_api_s=round(t_match - t0, 2) if t_match else None,
        stacks_matching_api=matched,
        notifications_per_s=round(len(wire) / (t_drained - t0), 1) if t_drained else None,
        batches=len(batches),
        batches_at_once_max=common.max_overlap([(b["t0"], b["t1"]) for b in batches]),
        listener_settings=common.listener_defaults(),
        mean_batch_size=round(sum(b["n"] for b in batches) / len(batches), 1) if batches else None,
        mean_stacks_per_batch=round(sum(len(set(b["ids"])) for b in batches) / len(batches), 1)
        if batches else None,
        mean_batch_s=round(sum(b["t1"] - b["t0"] for b in batches) / len(batches), 2)
        if batches else None,
        stack_reads=reads,
        parent_walk_shows=last.get("shows", 0),
        heat_api_calls=reads * 5 + last.get("shows", 0),
        reads_saved=uncoalesced - reads,
        reads_saved_share=round(1 - reads / uncoalesced, 3) if uncoalesced else None,
        peak_rss_mb=round(peak / 2**20, 1) if peak else None,
        handled_messages=last.get("messages"),
        note="handled_messages may exceed notifications: the queue also receives the sandbox's "
        "real notifications while the benchmark runs",
    )
    return out
