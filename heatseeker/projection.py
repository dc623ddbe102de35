"""The projection: the record (store.py) → the search engine. The only code that writes an engine.

The index is a projection of the record (docs/design.md): every store change has a sequence
number, and the engine keeps, inside its own commit, the sequence it reflects (its checkpoint).
Projecting is replaying the changes after the checkpoint, in sequence order, and committing them
with the new checkpoint (a group commit); versions make a replay idempotent, so a crash between a
store commit and an index commit loses nothing.

Two names, two things:

* ``Projector``: the work itself, record → engine (``run_once``: what is pending; ``rebuild``:
  everything, for ``heatseeker reindex``). ``sync`` runs it once when it can get the index writer
  (``try_projector``); otherwise the running listener projects what sync wrote.
* ``BackgroundProjector``: the listener's thread that runs a ``Projector`` whenever the indexer
  committed a batch (``poke``), at most once per ``[engine] commit_interval``.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from heatseeker.engines.base import Engine, WriterBusy
from heatseeker.record import Record, Store

LOG = logging.getLogger(__name__)
# records read from the store at a time: a heavy tree's documents are ~300 KB of JSON each
# (TripleO), ~1.5 MB once decoded, so 1,000 at a time made a reindex of 5,474 of them peak at
# 3.6 GB (bench/tripleo.py); reading them costs one indexed query per batch either way
READ_BATCH = 100

Progress = Callable[[int, int, str], None]


class Projector:
    """Applies store changes to the engine after its checkpoint; the only code that writes an engine."""

    def __init__(self, store: Store, engine: Engine, batch: int = 1000):
        """``batch``: changes per index commit."""
        self.store = store
        self.engine = engine
        self.batch = batch

    def pending(self) -> int:
        return max(0, self.store.max_seq() - self.engine.checkpoint())

    def run_once(self) -> int:
        """Project everything pending, committing every ``batch`` changes; returns how many
        changes were applied. Records are read ``READ_BATCH`` at a time."""
        seq = self.engine.checkpoint()
        total = uncommitted = 0
        while True:
            recs = self.store.changes_since(seq, min(READ_BATCH, self.batch))
            if recs:
                self._write(recs)
                seq = recs[-1].seq
                total += len(recs)
                uncommitted += len(recs)
            if uncommitted and (not recs or uncommitted >= self.batch):
                self.engine.commit(checkpoint=seq)
                uncommitted = 0
            if not recs:
                return total

    def _write(self, recs: Iterable[Record]) -> None:
        ups, dels = [], []
        for r in recs:
            if r.deleted or r.doc is None:
                dels.append((r.id, r.version))
            else:
                ups.append((r.doc, r.version))
        if ups:
            self.engine.upsert(ups)
        if dels:
            self.engine.delete(dels)

    def rebuild(self, progress: Progress | None = None, workers: int | None = None) -> int:
        """Rebuild the whole index from the store (no Heat involved).

        ``workers``: processes that read and prepare the documents, when the engine has a
        ``preparer``; this process only hands them to the engine. Default: one per core if the
        store holds at least ``PARALLEL_MIN`` records, else none (this process does it all)."""
        seq = self.store.max_seq()
        total = self.store.counts()
        n_all = total["stacks"] + total["tombstones"]
        if workers is None:
            workers = default_workers() if n_all >= PARALLEL_MIN else 1
        prepare = self.engine.preparer
        if prepare is not None and workers > 1:
            done = self.engine.rebuild_prepared(
                self._prepared(seq, workers, n_all, progress), checkpoint=seq
            )
        else:
            done = self.engine.rebuild(self._items(seq, n_all, progress), checkpoint=seq)
        if progress:
            progress(n_all, n_all, "reindexing")
        return done

    def _items(
        self, upto: int, n_all: int, progress: Progress | None
    ) -> Iterator[tuple[dict | None, str, int]]:
        for done, rec in enumerate(self.store.iter_all(batch=READ_BATCH), 1):
            if rec.seq > upto:
                break
            if progress and done % 500 == 0:
                progress(done, n_all, "reindexing")
            yield (None if rec.deleted else rec.doc, rec.id, rec.version)

    def _prepared(
        self, upto: int, workers: int, n_all: int, progress: Progress | None
    ) -> Iterator[Any]:
        """The engine's prepared items of every record numbered up to ``upto``, made by
        ``workers`` processes, each reading its own runs of ``PARALLEL_RUN`` records from the
        store. Run i goes to worker i mod n; a worker has at most two runs in flight (the one it
        prepares, the next one) and a thread per worker receives its answers as soon as they are
        sent, so a worker never waits for this process to take them; runs are taken in order:
        at most 3 runs per worker are in memory. A worker that dies or fails fails the rebuild
        (the engine then keeps its previous index) with the reason, and every worker is
        stopped whatever happens.

        Plain processes and pipes, not a ProcessPoolExecutor: when one of its workers is
        killed, it can wait forever on another one blocked writing a result nobody reads
        (seen here with Python 3.11)."""
        preparer = self.engine.preparer
        if preparer is None:  # pragma: no cover - rebuild checked it
            raise ProjectionError(f"{type(self.engine).__name__} has no preparer")
        chunks = self.store.seq_chunks(PARALLEL_RUN, upto)
        ctx = multiprocessing.get_context("spawn")  # never fork a process that has threads
        crew: list[_Worker] = []
        finished = False
        try:
            for _ in range(min(workers, max(1, len(chunks)))):
                crew.append(_Worker(ctx, self.store.url, preparer, self.engine.preparer_nice))
            n = len(crew)
            for i, chunk in enumerate(chunks[: 2 * n]):
                crew[i % n].give(chunk)
            done = 0
            for i in range(len(chunks)):
                batch = crew[i % n].take()
                if i + 2 * n < len(chunks):
                    crew[i % n].give(chunks[i + 2 * n])
                for item in batch:
                    yield item
                    done += 1
                    if progress and done % 500 == 0:
                        progress(done, n_all, "reindexing")
            finished = True
        finally:
            for worker in crew:
                worker.stop(finished)


class _Worker:
    """A reindex worker process, the pipe its runs go down, the pipe its answers come up, and
    the thread that receives them (into ``answers``, as soon as they come)."""

    def __init__(self, ctx: Any, url: str, preparer: Callable[[tuple[dict | None, str, int]], Any],
                 nice: int = 0):
        self.answers: queue.SimpleQueue = queue.SimpleQueue()
        task_r, self.tasks = ctx.Pipe(duplex=False)
        self.results, result_w = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=_worker_main, args=(task_r, result_w, url, preparer, nice),
                                name="heatseeker-reindex-worker", daemon=True)  # fmt: skip
        self.proc.start()
        task_r.close()
        result_w.close()
        self.receiver = threading.Thread(target=self._receive, name="reindex-receiver", daemon=True)
        self.receiver.start()

    def _receive(self) -> None:
        while True:
            try:
                answer = self.results.recv()
            except (EOFError, OSError):
                self.answers.put(("died", None))
                return
            self.answers.put(answer)
            if answer[0] != "items":
                return

    def give(self, task: tuple[int, int]) -> None:
        try:
            self.tasks.send(task)
        except OSError as exc:  # its end is closed: it died
            raise self._died() from exc

    def take(self) -> list[Any]:
        """Its next answer: the prepared items of a run, or its failure as a ProjectionError."""
        kind, value = self.answers.get()
        if kind == "died":
            raise self._died()
        if kind == "error":
            raise ProjectionError(f"a reindex worker failed: {value}: the index was left as it was")
        return value

    def _died(self) -> ProjectionError:
        self.proc.join(timeout=5)
        return ProjectionError(
            f"a reindex worker process died (exit code {self.proc.exitcode}: killed, or out of "
            "memory?): the index was left as it was; run heatseeker reindex again"
        )

    def stop(self, finished: bool) -> None:
        if finished:
            with contextlib.suppress(OSError):
                self.tasks.send(None)  # the end: it returns
            self.proc.join(timeout=5)
        if self.proc.is_alive():
            self.proc.kill()  # a failure: nothing it does is needed now
        self.proc.join()
        self.tasks.close()
        self.receiver.join(timeout=5)
        self.results.close()


class ProjectionError(Exception):
    """A rebuild could not be made (the index is left as it was)."""


# Below this many records a reindex prepares documents in worker processes only if asked to:
# starting them costs about a second (a spawned interpreter importing heatseeker), which is what
# ~1,000 documents take to prepare in this process.
PARALLEL_MIN = 5000
# records per run a worker reads and prepares: 50 heavy documents (TripleO's, ~1.5 MB decoded)
# are ~75 MB, and a worker has at most three runs in the reindex process's memory
PARALLEL_RUN = 50
# decoded contents a worker keeps for reuse: the record's default (64 MB) filled each worker with
# contents no other stack of the generator's mix shares (bench/indexing.py: 120 MB RSS per worker,
# ~70 with this); a real tree's shared parts (TripleO: a registry of ~100 KB, files of ~1.4 MB)
# are reused from it while the worker reads that tree's stacks
WORKER_CONTENTS_CACHE = 8 * 2**20


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _worker_main(
    tasks: Any, results: Any, url: str, preparer: Callable[[tuple[dict | None, str, int]], Any],
    nice: int = 0,
) -> None:
    """A reindex worker: its own connection to the record (``Store`` is per process); for each
    ``(lo, hi)`` it is sent, the prepared items of the records numbered ``(lo, hi]``; None or a
    closed pipe ends it. A failure is sent back as text (an exception may not pickle)."""
    if nice:
        with contextlib.suppress(OSError, AttributeError):
            os.nice(nice)  # the engine's preparer_nice
    try:
        store: Store | None = Store(url, create=False, contents_cache_bytes=WORKER_CONTENTS_CACHE)
        failed = None
    except Exception as exc:  # noqa: BLE001 - said to the reindex process, which stops
        store, failed = None, f"{type(exc).__name__}: {exc}"
    while True:
        try:
            task = tasks.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        if task is None:
            return
        if failed is not None or store is None:
            results.send(("error", failed))
            return
        try:
            items = [preparer((None if r.deleted else r.doc, r.id, r.version))
                     for r in store.changes_between(*task)]  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - said to the reindex process, which stops
            results.send(("error", f"{type(exc).__name__}: {exc}"))
            return
        results.send(("items", items))


def try_projector(store: Store, engine_factory: Callable[[], Engine]) -> Projector | None:
    """Project what is pending and return the projector, if this process can get the index
    writer; None if another process (a running listener) holds it."""
    try:
        projector = Projector(store, engine_factory())
        projector.run_once()
    except WriterBusy:
        return None
    return projector


class BackgroundProjector(threading.Thread):
    """Runs a ``Projector`` in the background, in group commits: woken by ``poke`` (the listener
    calls it after each store commit), at most once per ``interval`` seconds."""

    def __init__(self, projector: Projector, interval: float):
        super().__init__(name="projection", daemon=True)
        self.projector = projector
        self.interval = interval
        self._wake = threading.Event()
        self._halt = threading.Event()

    def poke(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._halt.set()
        self._wake.set()

    def run(self) -> None:
        while not self._halt.is_set():
            self._wake.wait(timeout=max(self.interval, 0.05))
            self._wake.clear()
            try:
                n = self.projector.run_once()
                if n:
                    LOG.debug("projected %d change(s)", n)
            except Exception:  # noqa: BLE001 - keep projecting; the store keeps everything
                LOG.exception("projection failed; retrying")
                time.sleep(1.0)
            if self.interval:
                # group commits: no more than one per interval
                self._halt.wait(self.interval)
        self.projector.run_once()
