"""``heatseeker listen`` with a recorder: ``python -m bench.listener_proc CONF EVENTS.jsonl``.

Runs the real command (``heatseeker.cli.main([... "listen"])``) after wrapping, without changing
what they do: ``Handler._handle`` (one line per batch: when it started and finished, its stacks),
``Projector.run_once`` (one line per projection that wrote something), ``HeatSource.read`` and
``HeatSource.show`` and ``HeatSource._call`` (every API call) (counted; each read and each ask for one, with its gate wait, also timed),
``Store.apply`` (timed). Every 0.25 s a line with the counters and the process's memory. Used
by the freshness and listener benchmarks to explain their figures.
"""

from __future__ import annotations

import json
import sys
import threading
import time

from bench.common import proc_status


def main(conf: str, events_path: str) -> int:
    from heatseeker import listener, projection
    from heatseeker.cli import main as cli_main
    from heatseeker.heat import client
    from heatseeker.record import Store

    out = open(events_path, "a", buffering=1)  # noqa: SIM115 - open for the process's life
    lock = threading.Lock()
    counts = {"reads": 0, "shows": 0, "calls": 0, "messages": 0, "batches": 0}

    def emit(**kw) -> None:
        with lock:
            out.write(json.dumps(kw) + "\n")

    def bump(key: str, n: int = 1) -> None:
        with lock:
            counts[key] += n

    orig_read, orig_show = client.HeatSource.read, client.HeatSource.show
    orig_handle, orig_run_once = listener.Handler._handle, projection.Projector.run_once
    orig_safely, orig_apply = client.HeatSource._read_safely, Store.apply
    orig_call = client.HeatSource._call

    def call(self, fn, what, **kw):  # every Heat API call (a retry inside counts once)
        bump("calls")
        return orig_call(self, fn, what, **kw)

    def read(self, stack_id, **kw):
        bump("reads")
        started = time.time()
        try:
            return orig_read(self, stack_id, **kw)
        finally:
            emit(kind="read", t0=started, t1=time.time(), id=stack_id,
                 thread=threading.current_thread().name)

    def read_safely(self, stack_id, priority=client.NORMAL):
        asked = time.time()
        try:
            return orig_safely(self, stack_id, priority)
        finally:  # asked → answered, the gate's wait included (a shared read: no "read" line)
            emit(kind="asked", t0=asked, t1=time.time(), id=stack_id, priority=priority)

    def apply(self, changes, *args, **kw):
        started = time.time()
        try:
            return orig_apply(self, changes, *args, **kw)
        finally:
            emit(kind="apply", t0=started, t1=time.time(), n=len(changes))

    def show(self, stack_id):
        bump("shows")
        return orig_show(self, stack_id)

    def handle(self, messages):
        started = time.time()
        result = orig_handle(self, messages)
        ids, types = [], []
        for msg in messages:
            payload = msg.get("payload") if isinstance(msg, dict) else None
            if isinstance(payload, dict):
                ids.append(payload.get("stack_identity"))
                types.append(msg.get("event_type"))
        bump("messages", len(messages))
        bump("batches")
        emit(kind="batch", t0=started, t1=time.time(), n=len(messages), ids=ids, types=types,
             result=str(result))
        return result

    def run_once(self):
        started = time.time()
        n = orig_run_once(self)
        if n:
            emit(kind="projected", t0=started, t1=time.time(), n=n)
        return n

    client.HeatSource.read = read  # type: ignore[method-assign]
    client.HeatSource.show = show  # type: ignore[method-assign]
    client.HeatSource._read_safely = read_safely  # type: ignore[method-assign]
    client.HeatSource._call = call  # type: ignore[method-assign]
    Store.apply = apply  # type: ignore[method-assign]
    listener.Handler._handle = handle  # type: ignore[method-assign]
    projection.Projector.run_once = run_once  # type: ignore[method-assign]

    def ticker() -> None:
        while True:
            st = proc_status()
            with lock:
                snapshot = dict(counts)
            emit(kind="counts", t=time.time(), rss=st.get("VmRSS"), hwm=st.get("VmHWM"), **snapshot)
            time.sleep(0.25)

    threading.Thread(target=ticker, daemon=True, name="bench-ticker").start()
    rc = cli_main(["--config-file", conf, "listen"])
    st = proc_status()
    emit(kind="exit", t=time.time(), rc=rc, rss=st.get("VmRSS"), hwm=st.get("VmHWM"), **counts)
    return rc


def read_events(path: str) -> list[dict]:
    out = []
    try:
        with open(path) as fh:
            for line in fh:
                try:
                    out.append(json.loads(line))
                except ValueError:  # a line being written
                    continue
    except OSError:
        pass
    return out


def command(conf: str, events_path: str) -> list[str]:
    return [sys.executable, "-m", "bench.listener_proc", conf, events_path]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
