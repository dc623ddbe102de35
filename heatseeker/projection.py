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

import logging
import threading
import time
from collections.abc import Callable, Iterable

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

    def rebuild(self, progress: Progress | None = None) -> int:
        """Rebuild the whole index from the store (no Heat involved)."""
        seq = self.store.max_seq()
        total = self.store.counts()
        n_all = total["stacks"] + total["tombstones"]
        done = 0

        def items():
            nonlocal done
            for rec in self.store.iter_all(batch=READ_BATCH):
                if rec.seq > seq:
                    break
                done += 1
                if progress and done % 500 == 0:
                    progress(done, n_all, "reindexing")
                yield (None if rec.deleted else rec.doc, rec.id, rec.version)

        n = self.engine.rebuild(items(), checkpoint=seq)
        if progress:
            progress(n_all, n_all, "reindexing")
        return n


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
