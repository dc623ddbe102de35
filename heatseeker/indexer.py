"""The single writer: turns Heat's answers and notifications into store changes, and projects the
store onto the search engine.

* ``Indexer.apply_events`` handles one batch of notifications. Notifications only say "look again":
  events are grouped per stack (several events for one stack cost one API read), the document is
  read from the API and overlaid with the state the notification carried when the API still shows
  the action in progress (Heat notifies *before* it writes the new state). ``start`` events of known
  stacks only change the state. ``delete.end`` and a stack the API no longer has are tombstones.
* ``Indexer.reconcile`` (``heatseeker sync``) compares Heat's listing of every project with the
  store: it adds what is missing, refreshes what changed and tombstones what Heat no longer has.
* ``Projector`` applies store changes after the engine's checkpoint to the engine, in sequence
  order, and commits them with the new checkpoint (a group commit).

Versions are microseconds since the epoch: the notification's timestamp for state-only changes,
the time a read started for documents read from the API. They have full precision and never wrap.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from heatseeker import documents, links
from heatseeker.engines.base import Engine, WriterBusy
from heatseeker.heat.client import HeatError, HeatSource, HeatUnavailable
from heatseeker.heat.events import StackEvent
from heatseeker.store import Change, Record, Store

LOG = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]


def now_us() -> int:
    return time.time_ns() // 1000


def file_digests(files, key: bytes) -> dict[str, str | None]:
    """name → a short keyed digest of each file's content, so that history sees a file change
    (the document keeps only file names).

    Keyed (HMAC with the installation's secret, ``Store.secret_key``): a file may hold a hidden
    parameter's default, and a plain hash of a public template whose only unknown is that default
    would let anyone who reads the history test guesses against it offline.
    """
    out: dict[str, str | None] = {}
    for name, content in (files or {}).items():
        if isinstance(content, str):
            mac = hmac.new(key, content.encode("utf-8", "surrogatepass"), hashlib.sha256)
            out[str(name)] = mac.hexdigest()[:16]
        else:
            out[str(name)] = None
    return out


def _context(ev: StackEvent | None) -> dict:
    """Who acted and the request, from a notification (for the stack's history)."""
    if ev is None:
        return {}
    return {"request_id": ev.request_id, "user_id": ev.user_id, "user_name": ev.user}


def _nested_name_resource(name: str, parent_name: str) -> str | None:
    """Heat names a nested stack ``<parent>-<resource>-<12 random chars>``."""
    prefix = parent_name + "-"
    if name.startswith(prefix) and len(name) > len(prefix) + 13 and name[-13] == "-":
        return name[len(prefix) : -13] or None
    return None


@dataclass
class BatchReport:
    events: int = 0
    ignored: int = 0
    reads: int = 0
    written: int = 0
    tombstoned: int = 0
    failed: list[str] = field(default_factory=list)


@dataclass
class SyncReport:
    listed: int = 0
    read: int = 0
    added: int = 0
    refreshed: int = 0
    unchanged: int = 0
    tombstoned: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


class Indexer:
    def __init__(self, store: Store, source: HeatSource | None):
        self.store = store
        self.source = source
        self.key = store.secret_key()

    # -- shared ---------------------------------------------------------------------------------

    def _links(self, changes: list[Change]) -> list[Change]:
        """Links Heat does not keep (OS::Heat::Stack), resolved inside the store's transaction."""
        return links.resolve(self.store, changes)

    def _chain(self, show: dict, known: dict[str, Record]) -> tuple[list[tuple[str, str]], str | None]:
        """Ancestors ``[(id, name)]`` root first and the parent resource name, for a stack's show.

        Uses the store where it can and walks up through the API where it must.
        """
        parent_id = show.get("parent")
        if not parent_id:
            return [], None
        rec = known.get(parent_id) or self.store.get(parent_id)
        if rec is not None and rec.doc is not None:
            pdoc = rec.doc
            known_chain = list(zip(pdoc["ancestors"], pdoc["path"][:-1], strict=False))
            known_chain.append((pdoc["id"], pdoc["name"]))
            resource = next(
                (r["name"] for r in pdoc.get("resources", []) if r.get("nested_stack_id") == show["id"]),
                None,
            )
            return known_chain, resource or _nested_name_resource(show["stack_name"], pdoc["name"])
        # parent not indexed yet: walk up through the API
        chain: list[tuple[str, str]] = []
        cursor: str | None = parent_id
        seen = set()
        while cursor and cursor not in seen and self.source is not None:
            seen.add(cursor)
            pshow = self.source.show(cursor)
            if pshow is None:
                break
            chain.insert(0, (pshow["id"], pshow["stack_name"]))
            cursor = pshow.get("parent")
        parent_name = chain[-1][1] if chain else ""
        return chain, _nested_name_resource(show["stack_name"], parent_name)

    def _document(self, snapshot, known: dict[str, Record], project_id: str | None = None) -> dict:
        chain, parent_resource = self._chain(snapshot.show, known)
        return documents.build(
            snapshot,
            project_id=project_id,
            ancestors=chain,
            parent_resource=parent_resource,
            version=snapshot.read_at,
        )

    # -- notifications ----------------------------------------------------------------------------

    def apply_events(self, events: Sequence[StackEvent]) -> BatchReport:
        """Apply one batch durably. Raises HeatUnavailable (after writing what it could) when some
        stacks could not be read, so that the caller requeues the batch."""
        report = BatchReport(events=len(events))
        by_stack: dict[str, list[StackEvent]] = defaultdict(list)
        for ev in events:
            if ev.is_backup:
                report.ignored += 1
                continue
            by_stack[ev.stack_id].append(ev)
        if not by_stack:
            return report
        known = self.store.get_many(by_stack)
        changes: list[Change] = []
        to_read: dict[str, StackEvent] = {}
        for sid, evs in by_stack.items():
            evs.sort(key=lambda e: e.timestamp)
            last = evs[-1]
            rec = known.get(sid)
            if rec is not None and rec.deleted:
                report.ignored += len(evs)  # a tombstone is final: late events change nothing
                continue
            if any(e.kind == "stack" and e.action == "DELETE" and e.phase == "end" for e in evs):
                changes.append(Change(sid, max(e.timestamp for e in evs)))
                report.tombstoned += 1
                continue
            only_starts = all(e.kind == "stack" and e.phase == "start" for e in evs)
            if only_starts and rec is not None and rec.doc is not None and last.state:
                if last.timestamp > rec.version:
                    doc = documents.with_state(rec.doc, last.state, last.status_reason, last.timestamp)
                    changes.append(Change(sid, last.timestamp, doc, **_context(last)))
                else:
                    report.ignored += len(evs)
                continue
            # the overlay candidate: the newest event that finished an action
            finished = [e for e in evs if e.kind == "stack" and e.phase in ("end", "error")]
            to_read[sid] = finished[-1] if finished else last
        if to_read and self.source is None:
            raise HeatUnavailable("no Heat source configured")
        failures: list[str] = []
        if to_read:
            assert self.source is not None
            for sid, result in self.source.read_many(list(to_read)):
                report.reads += 1
                ev = to_read[sid]
                if isinstance(result, HeatError):
                    LOG.warning("stack %s: Heat read failed: %s", sid, result)
                    failures.append(sid)
                    continue
                if result is None:  # gone
                    changes.append(Change(sid, max(now_us(), ev.timestamp)))
                    report.tombstoned += 1
                    continue
                doc = self._document(result, known)
                status = doc["status"]
                if (
                    ev.kind == "stack"
                    and ev.phase in ("end", "error")
                    and ev.state
                    and status == f"{ev.action}_IN_PROGRESS"
                    and ev.state != status
                ):
                    # Heat sent the notification before writing the state: the event is newer
                    doc = documents.with_state(doc, ev.state, ev.status_reason, result.read_at)
                changes.append(Change(sid, result.read_at, doc, **_context(ev),
                                      file_digests=file_digests(getattr(result, "files", None), self.key)))
        applied = self.store.apply(changes, self._links)[: len(changes)]
        report.written = sum(applied)
        last_ev = max(events, key=lambda e: e.timestamp) if events else None
        if last_ev is not None:
            self.store.set_meta(
                last_event={
                    "event_type": f"{last_ev.kind}.{last_ev.action}.{last_ev.phase}".lower(),
                    "stack_id": last_ev.stack_id,
                    "timestamp_us": last_ev.timestamp,
                    "handled_at": time.time(),
                }
            )
        if failures:
            report.failed = failures
            raise HeatUnavailable(f"could not read {len(failures)} stack(s) from Heat: {failures[:5]}")
        return report

    # -- reconcile ----------------------------------------------------------------------------------

    def reconcile(self, *, full: bool = False, progress: Progress | None = None) -> SyncReport:
        """Make the store match Heat: add missing stacks, refresh changed ones, tombstone gone ones."""
        assert self.source is not None
        started = time.monotonic()
        listing_started = now_us()
        report = SyncReport()
        listing: dict[str, dict] = {}
        for item in self.source.list_stacks():
            if str(item.get("stack_name", "")).endswith("*"):
                continue  # backup stacks of an update in progress
            listing[item["id"]] = item
            if progress and len(listing) % 200 == 0:
                progress(len(listing), 0, "listing")
        report.listed = len(listing)
        stored = self.store.live_summaries()
        dead = self.store.tombstoned(listing)

        def depth_of(sid: str) -> int:
            d, cursor, seen = 0, listing[sid].get("parent"), {sid}
            while cursor and cursor in listing and cursor not in seen:
                seen.add(cursor)
                d += 1
                cursor = listing[cursor].get("parent")
            return d

        todo: dict[int, list[str]] = defaultdict(list)
        for sid, item in listing.items():
            if sid in dead:
                continue
            have = stored.get(sid)
            if have is None:
                report.added += 1
            elif full or self._changed(item, have):
                report.refreshed += 1
            else:
                report.unchanged += 1
                continue
            todo[depth_of(sid)].append(sid)
        total = sum(len(v) for v in todo.values())
        done = 0
        # parents before children: a child's path and parent resource come from its parent
        for depth in sorted(todo):
            batch: list[Change] = []
            for sid, result in self.source.read_many(todo[depth]):
                done += 1
                if isinstance(result, HeatError):
                    report.errors.append(f"{sid}: {result}")
                elif result is None:
                    batch.append(Change(sid, now_us()))
                    report.tombstoned += 1
                else:
                    report.read += 1
                    project = listing[sid].get("project")
                    batch.append(Change(sid, result.read_at, self._document(result, {}, project),
                                        file_digests=file_digests(getattr(result, "files", None), self.key)))
                if len(batch) >= 200:
                    self.store.apply(batch, self._links)
                    batch = []
                if progress:
                    progress(done, total, "reading stacks")
            self.store.apply(batch, self._links)
        # what Heat no longer lists: confirm with a read, then tombstone
        missing = [
            sid for sid, have in stored.items() if sid not in listing and have["version"] < listing_started
        ]
        gone: list[Change] = []
        for sid in missing:
            try:
                shown = self.source.show(sid)
            except HeatError as exc:
                report.errors.append(f"{sid}: {exc}")
                continue
            if shown is None or shown.get("stack_status") == "DELETE_COMPLETE":
                gone.append(Change(sid, now_us()))
        report.tombstoned += sum(self.store.apply(gone, self._links)[: len(gone)])
        self.store.prune_revisions()
        self.store.set_meta(last_sync={"finished_at": time.time(), "listed": report.listed})
        report.seconds = time.monotonic() - started
        return report

    @staticmethod
    def _changed(item: dict, have: dict) -> bool:
        updated = item.get("updated_time") or item.get("creation_time")
        return (
            item.get("stack_status") != have["status"]
            or (item.get("stack_status_reason") or None) != (have["status_reason"] or None)
            or documents.iso(updated) != have["updated_at"]
            or item.get("stack_name") != have["name"]
            or sorted(item.get("tags") or []) != sorted(have["tags"] or [])
        )


class Projector:
    """Applies store changes to the engine after its checkpoint; the only code that writes an engine."""

    def __init__(self, store: Store, engine: Engine, batch: int = 1000):
        self.store = store
        self.engine = engine
        self.batch = batch

    def pending(self) -> int:
        return max(0, self.store.max_seq() - self.engine.checkpoint())

    def run_once(self) -> int:
        """Project everything pending; returns how many changes were applied."""
        seq = self.engine.checkpoint()
        total = 0
        while True:
            recs = self.store.changes_since(seq, self.batch)
            if not recs:
                break
            self._write(recs)
            seq = recs[-1].seq
            total += len(recs)
            self.engine.commit(checkpoint=seq)
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
            for rec in self.store.iter_all():
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
