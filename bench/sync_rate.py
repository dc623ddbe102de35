"""Does ``heatseeker sync`` run at Heat's speed? (issue #16, part 3), on the real sandbox, one run.

* **raw reader**: python-heatclient (the client ``HeatSource.from_conf`` builds) lists every
  project's stacks as ``HeatSource.list_stacks`` does, then reads each one with the calls of
  ``HeatSource._read_once`` (show, template, environment, files and
  ``resources?nested_depth=0``, all by ``name/id`` from the listing, as sync asks), one after the
  other, from a thread pool as wide as ``[heat] concurrency``: Heat's own speed for the reads one
  stack needs.
* **sync**: ``heatseeker sync --full`` (a subprocess, as an operator runs it) reads the same
  stacks; its rate (reconcile seconds, listing included) against the raw reader's (listing
  included), target ≥ 0.8×. The sides take turns (the raw reader also pipelined as
  ``HeatSource`` does: the four calls after the show at once); best and median of a few rounds,
  and each round's ratio. A first sync into an empty data dir is timed once, before them.
* **unchanged re-sync**: ``heatseeker sync`` right after (nothing changed), alternating with the
  raw listing alone; both extrapolated linearly to 100,000 stacks.
* **split**: a full and an unchanged reconcile in this process, with timers wrapped around
  heatseeker's functions (no heatseeker code changed): the main thread's time by what it does,
  and the read slots left idle (``[heat] concurrency`` minus the reads in flight) by what the
  main thread did meanwhile: documents, store applies, waiting at a depth level's end. Then the
  main thread's top functions under cProfile (full run only).
* **probes** (sequential, a sample): the whole listing by pages of 50, 200 and 1000; a show by
  id (Heat looks the stack up and answers 302) against one by ``name/id``; a tree's resources in
  one ``nested_depth`` call on its root against one call per stack of the tree, and whether the
  nested stacks' files are their root's.

The stacks are the bench set (``bench/sandbox.py``: created if missing, left in place), plus
whatever else the sandbox holds: the listing covers every project. Heat, this process and
``sync`` share the machine: the load, Heat's CPU seconds per phase and per stack read (the work
each side asks of Heat, steadier than rates on a busy machine) are reported.

    python -m bench.sync_rate [--quick]     # JSON on stdout
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import cProfile
import json
import os
import pstats
import re
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from concurrent import futures
from urllib import parse

from bench import common, sandbox

ROUNDS = 3
SAMPLE = 20  # stacks and trees of the probes
AT = 100_000
NESTED_DEPTH = 5  # Heat's default max_nested_stack_depth
SYNCED = re.compile(r"synced (\d+) stacks.* in ([\d.]+)s: (\d+) added, (\d+) refreshed, "
                    r"(\d+) unchanged, (\d+) tombstoned")  # fmt: skip
now = time.perf_counter


def load_conf(path: str):
    from heatseeker import cli

    return cli.load_conf(argparse.Namespace(config_file=[path], debug=False, command="sync"))


def heat_cpu_s() -> float | None:
    """CPU seconds so far of the sandbox's heat-api and heat-engine (its workers included)."""
    run = os.path.join(os.environ.get("HEATSEEKER_SANDBOX", os.path.join(common.ROOT, ".sandbox")),
                       "run")  # fmt: skip
    roots = set()
    for name in ("heat-api", "heat-engine"):
        with contextlib.suppress(OSError, ValueError), open(os.path.join(run, f"{name}.pid")) as fh:
            roots.add(int(fh.read().strip()))
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(pid) in roots or int(fields[1]) in roots:
            total += int(fields[11]) + int(fields[12])  # utime + stime
    return round(total / os.sysconf("SC_CLK_TCK"), 2) if roots else None


def _delta(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else round(after - before, 2)


def _heat_cpu(before: float | None, stacks: int) -> dict:
    """Heat's CPU seconds since ``before``, and per stack read: the work a side asks of Heat,
    less sensitive than rates to the other work on the machine."""
    spent = _delta(before, heat_cpu_s())
    per = round(1000 * spent / stacks, 1) if spent is not None and stacks else None
    return {"heat_cpu_s": spent, "heat_cpu_ms_per_stack": per}


# -- the raw reader --------------------------------------------------------------------------------


def list_all(client, page_size: int) -> dict[str, dict]:
    """Every project's stacks, nested and hidden ones included, as ``HeatSource.list_stacks``."""
    out: dict[str, dict] = {}
    marker = None
    while True:
        kw = {"global_tenant": True, "show_nested": True, "show_hidden": True, "limit": page_size}
        page = [
            s.to_dict() for s in client.stacks.list(**kw, **({"marker": marker} if marker else {}))
        ]
        out.update((s["id"], s) for s in page if not s["stack_name"].endswith("*"))
        if len(page) < page_size:
            return out
        marker = page[-1]["id"]


def _path(stack: dict) -> str:
    return f"{parse.quote(stack['stack_name'], safe='')}/{stack['id']}"


def read_one(client, item: dict, lat: dict[str, list[float]], parts=None) -> None:
    """One listed stack, with ``HeatSource._read_once``'s five calls: the show (by ``name/id``
    from the listing, as sync asks for it), then the other four one after the other, or at once
    in the pool ``parts`` (as ``HeatSource`` does)."""

    def timed(kind, fn):
        started = now()
        out = fn()
        lat[kind].append(now() - started)
        return out

    path = _path(timed("show", lambda: client.stacks.get(_path(item)).to_dict()))
    calls = {
        "template": lambda: client.stacks.template(path),
        "environment": lambda: client.stacks.environment(path),
        "files": lambda: client.stacks.files(path),
        "resources": lambda: [r.to_dict() for r in client.resources.list(path, nested_depth=0)],
    }
    if parts is None:
        for kind, fn in calls.items():
            timed(kind, fn)
    else:
        for fut in [parts.submit(timed, kind, fn) for kind, fn in calls.items()]:
            fut.result()


def raw_reader(client, page_size: int, workers: int, *, pipelined: bool = False) -> dict:
    """List, then read every stack, ``workers`` stacks at a time (``pipelined``: each stack's
    four calls after its show at once, in a pool of ``4 × workers`` as ``HeatSource._parts``)."""
    from heatclient import exc

    cpu, heat, started = time.process_time(), heat_cpu_s(), now()
    items = list_all(client, page_size)
    listed = now()
    lat: dict[str, list[float]] = defaultdict(list)
    gone = 0
    parts = futures.ThreadPoolExecutor(4 * workers) if pipelined else None
    with futures.ThreadPoolExecutor(workers) as pool:
        for fut in [pool.submit(read_one, client, item, lat, parts) for item in items.values()]:
            try:
                fut.result()
            except exc.HTTPNotFound:  # deleted meanwhile (other tests share the sandbox)
                gone += 1
    if parts is not None:
        parts.shutdown()
    read_s, total_s = now() - listed, now() - started
    read = len(items) - gone
    calls = sum(len(v) for v in lat.values())
    return {
        "listed": len(items), "read": read, "listing_s": round(listed - started, 3),
        "read_s": round(read_s, 2), "seconds": round(total_s, 2),
        "stacks_per_s": round(read / total_s, 1),
        "stacks_per_s_reads_only": round(read / read_s, 1),
        "calls_per_s": round(calls / read_s, 1),
        "call_mean_ms": {k: round(1000 * statistics.fmean(v), 1) for k, v in lat.items()},
        "client_cpu_s": round(time.process_time() - cpu, 2),
        **_heat_cpu(heat, read),
    }  # fmt: skip


def raw_listing(client, page_size: int) -> dict:
    started = now()
    items = list_all(client, page_size)
    return {"listed": len(items), "seconds": round(now() - started, 3)}


def listing_probe(client, sizes=(50, 200, 1000), reps: int = 3) -> dict:
    """The whole listing by pages of each size (alternating): what a page costs beyond its
    stacks."""
    times: dict[int, list[float]] = defaultdict(list)
    for i in range(reps):
        for size in sizes if i % 2 == 0 else sizes[::-1]:
            times[size].append(raw_listing(client, size)["seconds"])
    return {f"page_{size}_s": round(statistics.median(v), 3) for size, v in times.items()}


# -- heatseeker sync, as a subprocess --------------------------------------------------------------


POOL_FULL = "Connection pool is full"


def _log_size(conf: str) -> int:
    with contextlib.suppress(OSError):
        return os.path.getsize(os.path.join(os.path.dirname(conf), "heatseeker.log"))
    return 0


def _pool_full_since(conf: str, offset: int) -> int:
    """urllib3's "Connection pool is full" warnings heatseeker logged since ``offset``: more
    requests at once than the session's pool keeps connections for (keystoneauth: 10)."""
    try:
        with open(os.path.join(os.path.dirname(conf), "heatseeker.log"), errors="replace") as fh:
            fh.seek(offset)
            return fh.read().count(POOL_FULL)
    except OSError:
        return 0


def sync_cli(conf: str, *args: str) -> dict:
    children, log_at = resource.getrusage(resource.RUSAGE_CHILDREN), _log_size(conf)
    heat, started = heat_cpu_s(), now()
    proc = subprocess.run(common.heatseeker_cmd(conf, "sync", *args), capture_output=True,
                          text=True, timeout=3600, cwd=common.ROOT)  # fmt: skip
    wall = now() - started
    found = SYNCED.search(proc.stdout)
    if proc.returncode != 0 or not found:
        raise RuntimeError(f"heatseeker sync {args} exited {proc.returncode}: "
                           f"{proc.stdout[-500:]} {proc.stderr[-1500:]}")  # fmt: skip
    listed, seconds, added, refreshed, unchanged, tombstoned = found.groups()
    read = int(added) + int(refreshed)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    return {
        "listed": int(listed), "read": read, "unchanged": int(unchanged),
        "tombstoned": int(tombstoned), "reconcile_s": float(seconds), "wall_s": round(wall, 2),
        "stacks_per_s": round(read / max(float(seconds), 0.05), 1),
        "stacks_per_s_wall": round(read / wall, 1),
        "cpu_s": round(cpu, 2), **_heat_cpu(heat, read),
        "pool_full_warnings": _pool_full_since(conf, log_at),
    }  # fmt: skip


# -- where a reconcile's time goes (in this process) ----------------------------------------------


def _kind(what: str) -> str:
    """The kind of a ``HeatSource._call`` from its description ("template of <id>", ...)."""
    first = what.split()[0]
    return {"show": "show", "list": "list page" if "page" in what else "list named"}.get(
        first, first
    )


class Clock:
    """Timers around heatseeker's functions: the main thread's time by label (outermost label
    only), the reads of the pool (intervals), each Heat call's latency by kind."""

    def __init__(self) -> None:
        self.main: list[tuple[float, float, str]] = []
        self.reads: list[tuple[float, float]] = []
        self.levels: list[tuple[float, float, int]] = []
        self.calls: dict[str, list[float]] = defaultdict(list)
        self.main_calls: dict[str, float] = defaultdict(float)
        self._inside = False

    @staticmethod
    def _on_main() -> bool:
        return threading.current_thread() is threading.main_thread()

    def label(self, name: str):
        def wrap(fn):
            def timed(*args, **kwargs):
                if self._inside or not self._on_main():
                    return fn(*args, **kwargs)
                self._inside, started = True, now()
                try:
                    return fn(*args, **kwargs)
                finally:
                    self._inside = False
                    self.main.append((started, now(), name))

            return timed

        return wrap

    def read(self, fn):
        on_main = self.label("Heat reads in the main thread (lineage)")(fn)

        def timed(*args, **kwargs):
            if self._on_main():
                return on_main(*args, **kwargs)
            started = now()
            try:
                return fn(*args, **kwargs)
            finally:
                self.reads.append((started, now()))

        return timed

    def call(self, fn):
        on_main = self.label("Heat calls in the main thread (lineage)")(fn)

        def timed(source, call, what, **kwargs):
            started, main = now(), self._on_main()
            try:
                return (on_main if main else fn)(source, call, what, **kwargs)
            finally:
                self.calls[_kind(what)].append(now() - started)
                if main:
                    self.main_calls[_kind(what)] += now() - started

        return timed

    def read_many(self, fn):
        def levels(source, ids, priority=None):
            ids, started = list(ids), now()
            it = fn(source, ids, priority)
            try:
                while True:
                    waited = now()
                    try:
                        item = next(it)
                    except StopIteration:
                        return
                    finally:
                        self.main.append((waited, now(), "waiting for reads"))
                    yield item
            finally:
                self.levels.append((started, now(), len(ids)))

        return levels

    def idle_slots(self, slots: int) -> dict[str, float]:
        """Read slots left idle while reads were going on (slot-seconds), by what the main
        thread was doing meanwhile."""
        if not self.reads:
            return {}
        main = sorted(self.main)
        ends = [e for _, e, _ in main]
        out: dict[str, float] = defaultdict(float)
        points = sorted([(s, 1) for s, _ in self.reads] + [(e, -1) for _, e in self.reads])
        inflight, prev = 0, points[0][0]
        for t, step in points:
            if t > prev and inflight < slots:
                covered, i = 0.0, bisect.bisect_right(ends, prev)
                while i < len(main) and main[i][0] < t:
                    overlap = min(t, main[i][1]) - max(prev, main[i][0])
                    if overlap > 0:
                        out[main[i][2]] += overlap * (slots - inflight)
                        covered += overlap
                    i += 1
                out["other (loop, changes, progress)"] += (t - prev - covered) * (slots - inflight)
            inflight, prev = inflight + step, t
        return dict(out)

    def report(self, slots: int, wall: float, read: int) -> dict:
        by_label: dict[str, float] = defaultdict(float)
        for s, e, name in self.main:
            by_label[name] += e - s
        busy = sum(e - s for s, e in self.reads)
        span = (max(e for _, e in self.reads) - min(s for s, _ in self.reads)) if self.reads else 0
        idle = self.idle_slots(slots)
        per = max(read, 1)
        levels = []
        for start, end, n in sorted(self.levels):
            starts = [s for s, _ in self.reads if start <= s <= end]
            levels.append({"stacks": n, "seconds": round(end - start, 2),
                           "tail_s": round(end - max(starts), 2) if starts else None})  # fmt: skip
        return {
            "main_thread_s": {
                k: round(v, 2) for k, v in sorted(by_label.items(), key=lambda kv: -kv[1])
            },
            "main_thread_ms_per_stack": {
                k: round(1000 * v / per, 2) for k, v in by_label.items() if k != "waiting for reads"
            },  # fmt: skip
            "reads_window_s": round(span, 2),
            "reads_in_flight_mean": round(busy / span, 2) if span else None,
            "read_mean_ms": round(1000 * busy / max(len(self.reads), 1), 1),
            "idle_slots_as_wall_s": {
                k: round(v / slots, 2) for k, v in sorted(idle.items(), key=lambda kv: -kv[1])
            },  # fmt: skip
            "idle_share_of_window": round(sum(idle.values()) / (slots * span), 3) if span else None,
            "depth_levels": levels,
            "call_mean_ms": {
                k: round(1000 * statistics.fmean(v), 1) for k, v in self.calls.items()
            },
            "calls": {k: len(v) for k, v in self.calls.items()},
            "main_thread_heat_calls_s": {k: round(v, 2) for k, v in self.main_calls.items()},
            "wall_s": round(wall, 2),
        }


@contextlib.contextmanager
def _patched(owner, name: str, wrap):
    original = getattr(owner, name)
    setattr(owner, name, wrap(original))
    try:
        yield
    finally:
        setattr(owner, name, original)


def _top(prof: cProfile.Profile, n: int = 12) -> dict:
    """The main thread's own time by function (lock waits apart: the reads' answers), and
    heatseeker's functions by cumulative time."""
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    waits = {k for k in stats if "acquire" in k[2] and "lock" in k[2]}

    def rows(keys, col):
        return [{"function": f"{os.path.basename(k[0])}:{k[1]} {k[2]}", "calls": stats[k][1],
                 "tottime_s": round(stats[k][2], 2), "cumtime_s": round(stats[k][3], 2)}
                for k in sorted(keys, key=lambda k: -stats[k][col])[:n]]  # fmt: skip

    ours = [k for k in stats if f"{os.sep}heatseeker{os.sep}" in k[0]]
    return {
        "waiting_on_locks_s": round(sum(stats[k][2] for k in waits), 2),
        "top_tottime": rows(set(stats) - waits, 2),
        "heatseeker_top_cumtime": rows(ours, 3),
    }


def reconcile_in_process(conf_path: str, *, full: bool, profile: bool = False) -> dict:
    """One reconcile as ``heatseeker sync`` makes it, timed by ``Clock`` (or under cProfile)."""
    from heatseeker import cli, lineage
    from heatseeker import indexer as ix
    from heatseeker.engines import open_engine
    from heatseeker.heat.client import HeatSource
    from heatseeker.projection import try_projector

    conf, log_at = load_conf(conf_path), _log_size(conf_path)
    store = cli.open_store(conf, create=True)
    source = HeatSource.from_conf(conf)
    clock, store_cls = Clock(), type(store)
    patches = [
        (HeatSource, "read", clock.read), (HeatSource, "_call", clock.call),
        (HeatSource, "read_many", clock.read_many),
        (ix.Indexer, "_listing", clock.label("listing")),
        (lineage.Lineage, "document", clock.label("building documents (lineage.document)")),
        (ix, "file_digests", clock.label("file digests")),
        (store_cls, "apply", clock.label("store apply (batches of 200)")),
        (store_cls, "live_summaries", clock.label("store reads")),
        (store_cls, "tombstoned", clock.label("store reads")),
        (ix.Indexer, "_tombstone_unlisted", clock.label("tombstone check")),
        (store_cls, "prune_revisions", clock.label("prune and sweep")),
        (store_cls, "sweep_contents", clock.label("prune and sweep")),
    ]  # fmt: skip
    prof = cProfile.Profile() if profile else None
    try:
        with contextlib.ExitStack() as stack:
            if not profile:
                for owner, name, wrap in patches:
                    stack.enter_context(_patched(owner, name, wrap))
            indexer = ix.Indexer(store, source)
            heat, cpu, started = heat_cpu_s(), time.process_time(), now()
            if prof:
                prof.enable()
            report = indexer.reconcile(full=full, progress=lambda *_: None)
            if prof:
                prof.disable()
            wall, projecting = now() - started, now()
            projector = try_projector(store, lambda: open_engine(conf))
            if projector is not None:
                projector.engine.close()
            out = {"listed": report.listed, "read": report.read, "reconcile_s": round(wall, 2),
                   "stacks_per_s": round(report.read / wall, 1) if report.read else None,
                   "projection_s": round(now() - projecting, 2),
                   "process_cpu_s": round(time.process_time() - cpu, 2),
                   **_heat_cpu(heat, report.read), "errors": report.errors[:5],
                   "pool_full_warnings": _pool_full_since(conf_path, log_at)}  # fmt: skip
    finally:
        store.close()
        source._parts.shutdown(wait=False)
    if prof:
        return {**out, "main_thread_profile": _top(prof)}
    return {**out, **clock.report(source.concurrency, wall, report.read)}


# -- probes ----------------------------------------------------------------------------------------


def _spread(items: list, n: int) -> list:
    step = max(1, len(items) // n)
    return items[::step][:n]


def _mean_ms(values: list[float]) -> float | None:
    return round(1000 * statistics.fmean(values), 1) if values else None


def show_probe(client, items: dict[str, dict]) -> dict:
    """A show as sync makes it (by id: Heat looks the stack up, answers 302) against by
    ``name/id``, and without resolving outputs (heatseeker needs them: for scale only)."""
    from heatclient import exc

    ways = {
        "by_id_as_sync": lambda s: client.stacks.get(s["id"]),
        "by_name_id": lambda s: client.stacks.get(_path(s)),
        "by_name_id_no_outputs": lambda s: client.stacks.get(_path(s), resolve_outputs=False),
    }
    times: dict[str, list[float]] = defaultdict(list)
    for i, stack in enumerate(_spread(list(items.values()), SAMPLE)):
        names, took = list(ways), {}
        with contextlib.suppress(exc.HTTPNotFound):  # deleted meanwhile: not counted
            for name in names[i % 3 :] + names[: i % 3]:  # rotate the order
                started = now()
                ways[name](stack)
                took[name] = now() - started
            for name, seconds in took.items():
                times[name].append(seconds)
    return {"stacks": len(times["by_id_as_sync"]),
            **{f"{k}_mean_ms": _mean_ms(v) for k, v in times.items()}}  # fmt: skip


def _tree_once(client, items: dict[str, dict], members: list[str], each_first: bool) -> dict:
    """One tree (root first): its resources stack by stack and in one call on the root."""
    root, took = members[0], {}
    for side in ("each", "one") if each_first else ("one", "each"):  # alternate the order
        started = now()
        if side == "each":
            each = {sid: client.resources.list(_path(items[sid]), nested_depth=0)
                    for sid in members}  # fmt: skip
        else:
            one = client.resources.list(_path(items[root]), nested_depth=NESTED_DEPTH)
        took[side] = now() - started
    split: dict[str, set] = defaultdict(set)
    for r in one:  # each resource's own stack: its link "stack"
        owner = next((lk["href"].rstrip("/").rsplit("/", 1)[-1] for lk in r.links
                     if lk.get("rel") == "stack"), None)  # fmt: skip
        split[owner].add((r.resource_name, r.physical_resource_id, r.resource_status))
    same = all(split.get(sid, set()) == {(r.resource_name, r.physical_resource_id,
                                          r.resource_status) for r in each[sid]}
               for sid in members)  # fmt: skip
    root_files = client.stacks.files(_path(items[root]))
    files = sum(client.stacks.files(_path(items[sid])) == root_files for sid in members[1:])
    return {"each_s": took["each"], "one_s": took["one"], "stacks": len(members),
            "same": int(same), "root_files": files}  # fmt: skip


def tree_probe(client, items: dict[str, dict]) -> dict:
    """Per tree of nested stacks: one ``resources?nested_depth=`` call on the root against one
    call per stack, the same resources? And are the nested stacks' files their root's?"""
    from heatclient import exc

    children: dict[str, list[str]] = defaultdict(list)
    for sid, item in items.items():
        if item.get("parent") in items:
            children[item["parent"]].append(sid)

    def tree(root: str) -> list[str]:
        out, todo = [], [root]
        while todo:
            out.append(todo.pop())
            todo += children.get(out[-1], [])
        return out

    roots = [sid for sid, item in items.items() if not item.get("parent") and children.get(sid)]
    per_stack_s, one_call_s, same, stacks, files_same, nested = [], [], 0, 0, 0, 0
    for i, root in enumerate(_spread(roots, SAMPLE)):
        with contextlib.suppress(exc.HTTPNotFound):  # a tree deleted meanwhile: left out
            found = _tree_once(client, items, tree(root), i % 2 == 0)
            per_stack_s.append(found["each_s"])
            one_call_s.append(found["one_s"])
            stacks += found["stacks"]
            same += found["same"]
            nested += found["stacks"] - 1
            files_same += found["root_files"]
    return {
        "trees": len(per_stack_s), "stacks_in_them": stacks,
        "per_stack_calls_mean_ms_per_tree": _mean_ms(per_stack_s),
        "one_nested_depth_call_mean_ms_per_tree": _mean_ms(one_call_s),
        "trees_with_same_resources": same,
        "nested_stacks_with_root_files": f"{files_same}/{nested}",
    }  # fmt: skip


# -- the run ---------------------------------------------------------------------------------------


def _stats(rows: list[dict], key: str, best=max) -> dict:
    values = [r[key] for r in rows if r.get(key) is not None]
    if not values:
        return {"best": None, "median": None}
    return {"best": best(values), "median": round(statistics.median(values), 2)}


def run(quick: bool = False) -> dict:
    why = sandbox.available()
    if why:
        return {"skipped": f"the Heat sandbox does not answer ({why}): bash tools/sandbox/start.sh"}
    out: dict = {"machine": common.machine()}
    seeded = sandbox.ensure(quick, log=common.log)
    from heatseeker.heat.client import HeatSource

    d = common.fresh_dir(os.path.join(common.WORK, "sync-rate"))
    conf = common.write_conf(d, "heatseeker-bench-unused")
    source = HeatSource.from_conf(load_conf(conf))
    client, workers, page = source.client, source.concurrency, source.page_size
    items = list_all(client, page)
    nested = sum(bool(s.get("parent")) for s in items.values())
    out["sandbox"] = {"stacks": len(items), "roots": len(items) - nested, "nested": nested,
                      "bench_roots": len(seeded["roots"]), "bench_created_now": seeded["created"],
                      "concurrency": workers, "page_size": page}  # fmt: skip
    # the smoke run (CI) reads the sandbox twice, not four times: the comparison is what it
    # checks (a first sync and the pipelined reader are figures of the full run)
    if not quick:
        common.log(f"sync rate: {len(items)} stacks; first sync into an empty data dir")
        out["first_sync"] = sync_cli(conf)
    rounds = 1 if quick else ROUNDS
    raw, piped, full = [], [], []
    sides = {
        "raw": lambda: raw.append(raw_reader(client, page, workers)),
        "raw_pipelined": lambda: piped.append(raw_reader(client, page, workers, pipelined=True)),
        "sync": lambda: full.append(sync_cli(conf, "--full")),
    }
    if quick:
        del sides["raw_pipelined"]
    for i in range(rounds):  # rotate which side goes first
        common.log(f"sync rate: round {i + 1}/{rounds}: raw readers and sync --full")
        order = list(sides)[i % len(sides) :] + list(sides)[: i % len(sides)]
        for side in order:
            sides[side]()
    unchanged, listing = [], []
    for i in range(rounds):
        common.log(f"sync rate: round {i + 1}/{rounds}: unchanged sync and raw listing")
        for side in ("sync", "list") if i % 2 == 0 else ("list", "sync"):
            if side == "sync":
                unchanged.append(sync_cli(conf))
            else:
                listing.append(raw_listing(client, page))
    raw_rate, sync_rate = _stats(raw, "stacks_per_s"), _stats(full, "stacks_per_s")
    out["raw_reader"] = {"stacks_per_s": raw_rate, "rounds": raw}
    out["raw_reader_pipelined"] = {"stacks_per_s": _stats(piped, "stacks_per_s"), "rounds": piped}
    out["sync_full"] = {"stacks_per_s": sync_rate, "rounds": full}
    out["ratio_sync_to_raw"] = {"best": common.ratio(sync_rate["best"], raw_rate["best"]),
                                "median": common.ratio(sync_rate["median"], raw_rate["median"]),
                                "per_round": [common.ratio(s["stacks_per_s"], r["stacks_per_s"])
                                              for r, s in zip(raw, full, strict=True)],
                                "target": 0.8}  # fmt: skip
    resync, lst = _stats(unchanged, "reconcile_s", min), _stats(listing, "seconds", min)
    n = statistics.median(r["listed"] for r in unchanged)
    out["unchanged_resync"] = {
        "reconcile_s": resync, "wall_s": _stats(unchanged, "wall_s", min), "raw_listing_s": lst,
        "stacks": n, "rounds": unchanged, "listings": listing,
        f"extrapolated_{AT}": {"reconcile_s": round(resync["median"] * AT / n, 1),
                               "raw_listing_s": round(lst["median"] * AT / n, 1),
                               "linear": True, "extrapolated": True},
    }  # fmt: skip
    if not quick:  # the smoke run (CI) stops here: the comparison is what it checks
        common.log("sync rate: instrumented reconciles in this process (full, unchanged)")
        out["split_full"] = reconcile_in_process(conf, full=True)
        out["split_unchanged"] = reconcile_in_process(conf, full=False)
        common.log("sync rate: full reconcile under cProfile (main thread)")
        out["cprofile_full"] = reconcile_in_process(conf, full=True, profile=True)
        common.log("sync rate: probes (show by id vs name/id; a tree's resources in one call)")
        items = list_all(client, page)  # again: other tests may have deleted some meanwhile
        out["probe_listing_page_size"] = listing_probe(client)
        out["probe_show"] = show_probe(client, items)
        out["probe_tree_resources"] = tree_probe(client, items)
    source._parts.shutdown(wait=False)
    out["load_average_at_end"] = common.load_average()
    out["busy_processes_at_end"] = common.busy_processes()
    out["cpu_pressure_avg60_at_end"] = common.cpu_pressure()
    return out


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=1, default=str))
