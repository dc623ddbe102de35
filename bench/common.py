"""Shared pieces of the benchmarks: machine facts, percentiles, peak memory, sub-processes."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
WORK = os.path.join(BENCH, ".work")
RESULTS = os.path.join(BENCH, "results")


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- numbers ------------------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float | None:
    """The p-th percentile (nearest rank) of ``values``; None when empty."""
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def summary_ms(seconds: list[float]) -> dict:
    """p50/p90/p99/max/mean in milliseconds and the sample count."""
    ms = [s * 1000.0 for s in seconds]
    return {
        "n": len(ms),
        "p50_ms": _r(pct(ms, 50)),
        "p90_ms": _r(pct(ms, 90)),
        "p99_ms": _r(pct(ms, 99)),
        "max_ms": _r(max(ms) if ms else None),
        "mean_ms": _r(sum(ms) / len(ms) if ms else None),
    }


def _r(x: float | None, digits: int = 3) -> float | None:
    return None if x is None else round(x, digits)


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 2)


# -- memory and disk ----------------------------------------------------------------------------


def proc_status(pid: int | str = "self") -> dict[str, int]:
    """VmRSS / VmHWM (peak RSS) / VmSize of a process in bytes, and VmRSS's parts RssAnon
    (anonymous memory), RssFile (mapped file pages: libraries, an index's segment files) and
    RssShmem, from /proc (no psutil)."""
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM", "VmSize", "RssAnon", "RssFile", "RssShmem"):
                    out[key] = int(rest.split()[0]) * 1024
    except OSError:
        pass
    return out


def descendants(pid: int) -> list[int]:
    """The processes below ``pid`` (children, theirs, ...), from /proc."""
    out: list[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{p}/task/{tid}/children") as fh:
                    kids = [int(k) for k in fh.read().split()]
            except OSError:
                continue
            out.extend(kids)
            todo.extend(kids)
    return out


class TreeRss:
    """Samples the resident memory of this process and of every process below it (a parallel
    reindex's workers): ``peak_mb`` is the largest sum seen, ``peak_anon_mb`` and
    ``peak_file_mb`` its anonymous and mapped-file parts at that sample (tantivy maps the segment
    files it merges: page cache, counted in RSS), ``children_cpu_s`` what the children that
    ended used. Use as a context manager around the measured work."""

    def __init__(self, every: float = 0.2):
        import threading

        self.every = every
        self.peak_mb = 0.0
        self.peak_anon_mb = 0.0
        self.peak_file_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        total = anon = mapped = 0
        for pid in [os.getpid(), *descendants(os.getpid())]:
            status = proc_status(pid)
            total += status.get("VmRSS", 0)
            anon += status.get("RssAnon", 0)
            mapped += status.get("RssFile", 0)
        if round(total / 2**20, 1) > self.peak_mb:
            self.peak_mb = round(total / 2**20, 1)
            self.peak_anon_mb = round(anon / 2**20, 1)
            self.peak_file_mb = round(mapped / 2**20, 1)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._sample()

    def __enter__(self) -> TreeRss:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def children_cpu_s() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return round(ru.ru_utime + ru.ru_stime, 2)


def cpu_s(pid: int | str = "self") -> float | None:
    """The CPU seconds (user and system) process ``pid`` has used so far."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int | str = "self") -> float | None:
    st = proc_status(pid)
    return round(st["VmRSS"] / 2**20, 1) if "VmRSS" in st else None


def peak_rss_mb(pid: int | str = "self") -> float | None:
    st = proc_status(pid)
    return round(st["VmHWM"] / 2**20, 1) if "VmHWM" in st else None


def du_mb(path: str) -> float:
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, f)).st_size
    return round(total / 2**20, 1)


def fresh_dir(path: str) -> str:
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path, exist_ok=True)
    return path


# -- sub-processes ---------------------------------------------------------------------------------


def run_phase(module: str, args: dict, timeout: float) -> dict:
    """Run ``python -m <module> --phase '<json args>'`` and return the JSON it prints last.

    Each phase runs in its own process so that its peak RSS (VmHWM) is that phase's alone.
    """
    cmd = [sys.executable, "-m", module, "--phase", json.dumps(args)]
    proc = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.stderr:
        sys.stderr.write(proc.stderr[-6000:])
    if proc.returncode != 0:
        raise RuntimeError(f"{module} phase {args.get('phase')} exited {proc.returncode}")
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise RuntimeError(f"{module} phase {args.get('phase')} printed no result")
    return json.loads(lines[-1])


def phase_main(phases: dict) -> None:
    """The ``--phase`` entry of a benchmark module: run one phase, print its JSON result."""
    if len(sys.argv) < 3 or sys.argv[1] != "--phase":
        raise SystemExit(f"usage: python -m {sys.argv[0]} --phase JSON")
    import resource

    args = json.loads(sys.argv[2])
    load_before = load_average()[0]
    result = phases[args["phase"]](args)
    ru = resource.getrusage(resource.RUSAGE_SELF)
    result.setdefault("peak_rss_mb", peak_rss_mb())
    # CPU seconds of the whole phase process (all threads): less sensitive than wall time to
    # other work on the machine; and the 1-minute load average around the phase
    result.setdefault("process_cpu_s", round(ru.ru_utime + ru.ru_stime, 2))
    result.setdefault("load_1min", [load_before, load_average()[0]])
    print(json.dumps(result, default=str), flush=True)


# -- machine ------------------------------------------------------------------------------------


def _read(path: str) -> str:
    try:
        with open(path) as fh:
            return fh.read()
    except OSError:
        return ""


def _version(dist: str) -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def git_rev() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                             text=True, timeout=10).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "heatseeker"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()  # fmt: skip
        return rev + ("+uncommitted heatseeker/ changes" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def load_average() -> list[float]:
    return [float(x) for x in _read("/proc/loadavg").split()[:3]] or [0.0, 0.0, 0.0]


def busy_processes(limit: int = 5) -> list[str]:
    """The other processes using CPU right now (a hint of what else ran beside the benchmark)."""
    try:
        out = subprocess.run(["ps", "-eo", "pcpu,comm", "--sort=-pcpu", "--no-headers"],
                             capture_output=True, text=True, timeout=10).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return []
    rows = []
    for line in out.splitlines():
        cpu, _, comm = line.strip().partition(" ")
        try:
            if float(cpu) >= 5.0:
                rows.append(f"{comm.strip()} {cpu}%")
        except ValueError:
            continue
    return rows[:limit]


def machine() -> dict:
    meminfo = _read("/proc/meminfo")
    mem_kb = next((int(ln.split()[1]) for ln in meminfo.splitlines() if ln.startswith("MemTotal")), 0)
    cpu = next((ln.split(":", 1)[1].strip() for ln in _read("/proc/cpuinfo").splitlines()
                if ln.startswith("model name")), platform.processor() or "unknown")  # fmt: skip
    import sqlite3

    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 2**20, 1),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "tantivy": _version("tantivy"),
        "sqlite": sqlite3.sqlite_version,
        "oslo.messaging": _version("oslo.messaging"),
        "python-heatclient": _version("python-heatclient"),
        "heatseeker": git_rev(),
        "load_average_at_start": load_average(),
        "busy_processes_at_start": busy_processes(),
        "cpu_pressure_avg60_at_start": cpu_pressure(),
    }


def cpu_pressure() -> float | None:
    """/proc/pressure/cpu "some avg60": the share of the last minute some task waited for a CPU."""
    for line in _read("/proc/pressure/cpu").splitlines():
        if line.startswith("some"):
            for part in line.split():
                if part.startswith("avg60="):
                    return float(part[6:])
    return None


# -- heatseeker installations on the sandbox ------------------------------------------------------

HEAT = "http://127.0.0.1:8004/v1"
RABBIT = "rabbit://guest:guest@127.0.0.1:5672/"
AMQP = "amqp://guest:guest@127.0.0.1:5672//"


def write_conf(d: str, pool: str, **listener: object) -> str:
    """A heatseeker.conf for the sandbox (noauth Heat as admin), data under ``d``.

    Listener and engine options keep heatseeker's defaults unless given.
    """
    os.makedirs(os.path.join(d, "data"), exist_ok=True)
    conf = os.path.join(d, "heatseeker.conf")
    extra = "".join(f"{k} = {v}\n" for k, v in listener.items())
    with open(conf, "w") as fh:
        fh.write(
            f"[DEFAULT]\ndata_dir = {os.path.join(d, 'data')}\ntransport_url = {RABBIT}\n"
            f"log_file = {os.path.join(d, 'heatseeker.log')}\n"
            f"[heat]\nauth_type = none\nendpoint = {HEAT}/admin\n"
            f"[listener]\npool = {pool}\n{extra}"
        )
    return conf


def heatseeker_cmd(conf: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "heatseeker.cli", "--config-file", conf, *args]


def delete_queue(name: str) -> None:
    """Remove a listener's queue from RabbitMQ (it would collect Heat's notifications forever)."""
    try:
        import kombu

        with kombu.Connection(AMQP, connect_timeout=3) as conn:
            conn.channel().queue_delete(queue=name)
    except Exception:  # noqa: BLE001 - best effort clean-up
        pass


def queue_depth(name: str) -> int | None:
    try:
        import kombu

        with kombu.Connection(AMQP, connect_timeout=3) as conn:
            _, count, _ = conn.channel().queue_declare(queue=name, passive=True)
            return int(count)
    except Exception:  # noqa: BLE001
        return None


def listener_defaults() -> str:
    """heatseeker's defaults for what shapes the listener's latency and throughput."""
    from heatseeker import config

    wanted = {"listener": ("batch_size", "batch_timeout", "workers"), "engine": ("commit_interval",),
              "heat": ("concurrency",)}  # fmt: skip
    groups = {"listener": config.listener_opts, "engine": config.engine_opts, "heat": config.heat_opts}
    parts = []
    for group, names in wanted.items():
        for opt in groups[group]:
            if opt.name in names:
                parts.append(f"[{group}] {opt.name} = {opt.default}")
    return "heatseeker defaults: " + ", ".join(parts)


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at one moment (batches handled at once)."""
    points = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals],
                    key=lambda p: (p[0], p[1]))  # fmt: skip
    best = cur = 0
    for _, step in points:
        cur += step
        best = max(best, cur)
    return best
