"""The single writer of the record: turns Heat's answers and notifications into store changes.

* ``Indexer.apply_events`` handles one batch of notifications. Notifications only say "look again":
  events are grouped per stack (several events for one stack cost one API read), the document is
  read from the API and overlaid with the state the notification carried when the API still shows
  the action in progress (Heat notifies *before* it writes the new state). ``start`` events of known
  stacks only change the state. ``delete.end`` and a stack the API no longer has are tombstones.
* ``Indexer.reconcile`` (``heatseeker sync``) compares Heat's listing of every project with the
  store: it adds what is missing, refreshes what changed and tombstones what Heat no longer has.

A stack read from Heat becomes a document through ``lineage.py`` (its place in the tree and what
its parent made secret, then ``documents.build_all``); ``links.resolve`` rewrites each batch inside
the store's transaction (``Store.apply``). The engine is not written here: ``projection.py``
projects the store onto it.

Versions are microseconds since the epoch: the notification's timestamp for state-only changes,
the time a read started for documents read from the API. They have full precision and never wrap.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import logging
import re
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from heatseeker import documents, links
from heatseeker.heat.client import (
    BACKGROUND,
    DELETE_COMPLETE,
    EAGER,
    URGENT,
    HeatError,
    HeatSource,
    HeatUnavailable,
    StackSnapshot,
)
from heatseeker.heat.events import CONTENT_BEFORE_START_US, KIND_STACK, StackEvent
from heatseeker.lineage import Lineage
from heatseeker.record import Change, Noted, Record, Store

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


def _same_reason(listed: str | None, stored: str | None) -> bool:
    """Heat's reason is the stored one, where the stored one masks the values of secret places
    (documents.py): otherwise every sync would read such a stack again."""
    listed, stored = listed or None, stored or None
    if listed == stored:
        return True
    if listed is None or stored is None or documents.MASK not in stored:
        return False
    pattern = ".+?".join(re.escape(part) for part in stored.split(documents.MASK))
    return re.fullmatch(pattern, listed, re.DOTALL) is not None


def _parents_first(snapshots: dict) -> list[str]:
    """The ids of a batch's snapshots, each after its parent when the parent is in the batch."""
    order: list[str] = []
    done: set[str] = set()

    def visit(sid: str, trail: set[str]) -> None:
        if sid in done or sid in trail:
            return
        parent = snapshots[sid].show.get("parent")
        if parent in snapshots:
            visit(parent, trail | {sid})
        done.add(sid)
        order.append(sid)

    for sid in snapshots:
        visit(sid, set())
    return order


@dataclass
class BatchReport:
    events: int = 0
    ignored: int = 0
    reads: int = 0
    written: int = 0
    tombstoned: int = 0
    failed: list[str] = field(default_factory=list)
    read_error: str | None = None  # what the first read that failed said


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


def _per_stack(events: Sequence[StackEvent], report: BatchReport) -> dict[str, list[StackEvent]]:
    """A batch's events per stack, oldest first; backup stacks (``name*``) ignored."""
    by_stack: dict[str, list[StackEvent]] = defaultdict(list)
    for ev in events:
        if ev.is_backup:
            report.ignored += 1
        else:
            by_stack[ev.stack_id].append(ev)
    for evs in by_stack.values():
        evs.sort(key=lambda e: e.timestamp)
    return by_stack


def _urgency(ev: StackEvent, sid: str, known: dict[str, Record]) -> int:
    """How soon a stack's read is needed: what finishes an action (or any event of a known
    stack) first; an unknown stack that only began last (its end brings the rest)."""
    return URGENT if ev.is_final or sid in known else EAGER


def _state_only(rec: Record, doc: dict, ev: StackEvent, state: str) -> Change | None:
    """A known stack's action started: its state changes, its content not yet (no read). None
    when the record is as new already."""
    if ev.timestamp <= rec.version:
        return None
    doc = documents.with_state(doc, state, ev.status_reason, ev.timestamp)
    return Change(rec.id, ev.timestamp, doc, **_context(ev))


class _Caused:
    """The changes a batch built from its reads: the event each one answers, and for one with
    that event's state overlaid, the read as Heat showed it (``Indexer._prepare``)."""

    def __init__(self) -> None:
        self._by_change: dict[int, tuple[Change, int, Change | None]] = {}

    def add(self, change: Change, event_us: int, plain: Change | None) -> None:
        self._by_change[id(change)] = (change, event_us, plain)

    def event_of(self, change: Change) -> int | None:
        entry = self._by_change.get(id(change))
        return entry[1] if entry is not None and entry[0] is change else None

    def weighed(self, change: Change, newest: int | None, version: int | None) -> Change:
        """``change`` given the newest event other batches kept for its stack and the record's
        version of it."""
        event_us = self.event_of(change)
        if event_us is None:
            return change
        plain = self._by_change[id(change)][2]
        if newest is not None and newest > event_us:
            return plain if plain is not None else change  # a newer event was handled: no overlay
        if version is not None and version == change.version:
            # one shared read, and the record holds what it showed for an older event
            return dataclasses.replace(change, version=change.version + 1)
        return change


class _Listing:
    """Heat's listing of every project's stacks, and each stack's depth in it: reconcile reads a
    stack after its parent and after the stack that may have created it (OS::Heat::Stack), since
    their secrets pass down."""

    def __init__(self, items: dict[str, dict]):
        self.items = items
        self._by_name: dict[tuple, list[str]] = defaultdict(list)
        for sid, item in items.items():
            self._by_name[(item.get("project"), item.get("stack_name"))].append(sid)

    def up(self, sid: str) -> str | None:
        """The parent, or the listed stack of the same project that may have created it."""
        item = self.items[sid]
        if item.get("parent"):
            return item["parent"]
        for name in links.creator_names(str(item.get("stack_name") or "")):
            found = self._by_name.get((item.get("project"), name))
            if found:
                return found[0]
        return None

    def depth(self, sid: str) -> int:
        d, cursor, seen = 0, self.up(sid), {sid}
        while cursor and cursor in self.items and cursor not in seen:
            seen.add(cursor)
            d += 1
            cursor = self.up(cursor)
        return d


# store meta: the documents.RULES_VERSION every document in the record was built by
DOCUMENTS_VERSION = "documents_version"
# store meta, per region (key + region name): whether its Heat could be read, its last sync
REGION_STATE = "region_state@"
LAST_SYNC = "last_sync@"
REGION_STATE_EVERY_S = 5.0


def stale_documents(have: int | None, live_stacks: int) -> str | None:
    """What to do when a record's documents (built by rules version ``have``, its meta
    DOCUMENTS_VERSION) are older than these rules; None when nothing is to be done."""
    if have == documents.RULES_VERSION or not live_stacks:
        return None
    return (f"the record's documents were built by older rules (version {have or 1}, now "
            f"{documents.RULES_VERSION}: what is masked changed): run heatseeker sync --full to "
            "read every stack again; revisions recorded before keep the old rules until [history] "
            "retention prunes them")


class Indexer:
    def __init__(self, store: Store, source: HeatSource | None):
        self.store = store
        self.source = source
        self.key = store.secret_key()
        self.lineage = Lineage(store, source)
        # the region of the Heat read here: its tombstones touch no other region's stack
        self.region: str | None = getattr(source, "region", None)
        self._behind, self._state_checked = False, float("-inf")
        if self.region is not None and getattr(source, "home", True):
            # a record from before regions: its stacks are the home region's
            labelled = store.label_region(self.region)
            if labelled:
                LOG.warning("labelled %d stacks recorded before regions with region %s: run "
                            "heatseeker reindex to index the region", labelled, self.region)
        if store.get_meta(DOCUMENTS_VERSION) is None and not any(store.counts()[k] for k in (
                "stacks", "tombstones")):  # a new record: every document will follow these rules
            store.set_meta(**{DOCUMENTS_VERSION: documents.RULES_VERSION})

    # -- the region's state (status, the health check) ------------------------------------------

    def region_unavailable(self, error: Exception | str) -> None:
        """This region's Heat could not be read (a batch requeued, a reconcile failed): the
        record says the region is behind, since when and why, until it is read again."""
        if self.region is None:
            return
        key = REGION_STATE + self.region
        state = self.store.get_meta(key) or {}
        since = state.get("behind_since") or time.time()
        self.store.set_meta(**{key: {"behind_since": since, "error": str(error)[:500]}})
        self._state_checked = time.monotonic()
        self._behind = True

    def region_read(self) -> None:
        """This region's Heat answered: clear a mark of it being behind (read from the record at
        most every few seconds: another process may have set it)."""
        if self.region is None:
            return
        if not self._behind and time.monotonic() - self._state_checked < REGION_STATE_EVERY_S:
            return
        key = REGION_STATE + self.region
        if (self.store.get_meta(key) or {}).get("behind_since"):
            self.store.set_meta(**{key: {"read_at": time.time()}})
        self._state_checked, self._behind = time.monotonic(), False

    # -- shared ---------------------------------------------------------------------------------

    def _links(self, changes: list[Change]) -> list[Change]:
        """Links Heat does not keep (OS::Heat::Stack), resolved inside the store's transaction."""
        return links.resolve(self.store, changes)

    def _prepare(self, caused: _Caused) -> Callable[[list[Change]], list[Change]]:
        """``_links``, after the batch's reads are weighed against what other batches wrote
        meanwhile (inside the store's exclusive transaction: no writer commits in between).

        Batches overlap (``[listener] workers``), and the gate may hand one read to several
        (``heat/client.py``): a batch may commit after another that handled a newer event of the
        same stack. Then the older event's state must not be laid over the read: the read is
        kept as Heat showed it (``_Caused.plain``). And a read that shows a newer event than the
        record's document came from, made at the same instant as that document's read (one shared
        read), goes 1 µs after it, so that a tie never keeps the older event's state."""

        def prepare(changes: list[Change]) -> list[Change]:
            mine = [ch for ch in changes if caused.event_of(ch) is not None]
            if mine:
                ids = [ch.id for ch in mine]
                newest, versions = self.store.newest_events(ids), self.store.versions(ids)
                changes = [caused.weighed(ch, newest.get(ch.id), versions.get(ch.id))
                           for ch in changes]
            return links.resolve(self.store, changes)

        return prepare

    # -- notifications ----------------------------------------------------------------------------

    def apply_events(self, events: Sequence[StackEvent],
                     on_durable: Callable[[], None] | None = None) -> BatchReport:
        """Apply one batch durably. Raises HeatUnavailable (after writing what it could) when some
        stacks could not be read, so that the caller requeues the batch.

        In up to three steps, each committed (``on_durable``: the projector may show it at once)
        before the next begins: what needs no read (tombstones, a known stack's new state); the
        reads that finish an action; the unknown stacks that only began (``EAGER``: last in the
        gate's line, they must not hold back the others' commit). The caller acknowledges the
        batch after all of them."""
        report = BatchReport(events=len(events))
        by_stack = _per_stack(events, report)
        if not by_stack:
            return report
        known = self.store.get_many(by_stack)
        changes, to_read = self._without_reads(by_stack, known, report)
        eager = {sid: ev for sid, ev in to_read.items() if _urgency(ev, sid, known) == EAGER}
        first = {sid: ev for sid, ev in to_read.items() if sid not in eager}
        observed: dict[str, int] = {}  # message id of an event → when the read it caused began
        caused = _Caused()

        def noted(stacks) -> list[Noted]:
            return [Noted(ev.stack_id, ev.timestamp, ev.action, ev.phase, ev.state,
                          ev.request_id, observed.get(ev.message_id))
                    for sid in stacks for ev in by_stack[sid] if ev.kind == KIND_STACK]

        settled: list[str] = []
        if changes and to_read:
            # What needs no read (a tombstone, a known stack's new state) is durable before any
            # read begins: a delete never waits for the reads of its batch's other stacks (#14).
            settled = [s for s in by_stack if s not in to_read]
            report.written += sum(self.store.apply(changes, self._prepare(caused),
                                                   noted=noted(settled))[: len(changes)])
            if on_durable is not None and report.written:
                on_durable()
            changes = []
        failures = self._read_and_build(first, known, changes, report, observed, caused)
        before = report.written
        report.written += sum(self.store.apply(
            changes, self._prepare(caused),
            noted=noted([s for s in by_stack if s not in eager and s not in settled]))[: len(changes)])
        if eager:
            if on_durable is not None and report.written > before:
                on_durable()
            later: list[Change] = []
            failures += self._read_and_build(eager, known, later, report, observed, caused)
            report.written += sum(self.store.apply(later, self._prepare(caused),
                                                   noted=noted(list(eager)))[: len(later)])
        self._note_last_event(events)
        if failures:
            report.failed = failures
            raise HeatUnavailable(f"could not read {len(failures)} stack(s) from Heat: "
                                  f"{failures[:5]}: {report.read_error}")
        return report

    def _without_reads(self, by_stack: dict[str, list[StackEvent]], known: dict[str, Record],
                       report: BatchReport) -> tuple[list[Change], dict[str, StackEvent]]:
        """What the events decide without reading Heat (tombstones, state-only changes, late
        events ignored), and the stacks to read, each with the event whose state may overlay the
        read: the newest that finished an action, else the newest."""
        changes: list[Change] = []
        to_read: dict[str, StackEvent] = {}
        for sid, evs in by_stack.items():
            rec, last = known.get(sid), evs[-1]
            if rec is not None and rec.deleted:
                report.ignored += len(evs)  # a tombstone is final: late events change nothing
            elif any(e.is_tombstone for e in evs):
                changes.append(Change(sid, max(e.timestamp for e in evs), region=self.region))
                report.tombstoned += 1
            elif (all(e.is_start for e in evs) and rec is not None and rec.doc is not None
                  and last.state and not self._soon_after_a_change(rec, last)):
                change = _state_only(rec, rec.doc, last, last.state)
                if change is None:
                    report.ignored += len(evs)
                else:
                    changes.append(change)
            else:
                finished = [e for e in evs if e.is_final]
                ev = finished[-1] if finished else last
                if any(e.is_start and e.timestamp > ev.timestamp for e in evs):
                    # a later action began: the read shows it, never the finished one's state
                    # (history marks that state as not observed: history/service.py)
                    ev = last
                to_read[sid] = ev
        return changes, to_read

    def _soon_after_a_change(self, rec: Record, ev: StackEvent) -> bool:
        """An action began soon after the stack's last change (back to back): read it, though a
        start of a known stack needs no read for its state. Heat wrote its content before the
        notification, so the read shows what it brings, and history can tell whether the read
        made for the action before it showed that one's state or already this one's
        (history/service.py ``unobserved``). A busy burst of first changes costs nothing."""
        return (self.store.history.enabled and ev.timestamp > rec.version
                and ev.timestamp - rec.version < CONTENT_BEFORE_START_US)

    def _read_and_build(self, to_read: dict[str, StackEvent], known: dict[str, Record],
                        changes: list[Change], report: BatchReport,
                        observed: dict[str, int] | None = None,
                        caused: _Caused | None = None) -> list[str]:
        """Read ``to_read`` from Heat and add their changes: a tombstone for a stack Heat no longer
        has, then the documents, parents first (a child is masked with what its parent passes
        down). Returns the stacks that could not be read."""
        if not to_read:
            return []
        if self.source is None:
            raise HeatUnavailable("no Heat source configured")
        failures: list[str] = []
        snapshots = {}
        # the names the notifications gave: each show asks for name/id (no lookup in Heat)
        self.source.know_names({sid: ev.stack_name for sid, ev in to_read.items()})
        for sid, result in self.source.read_many(list(to_read),
                                                 lambda sid: _urgency(to_read[sid], sid, known)):
            report.reads += 1
            if isinstance(result, HeatError):
                LOG.warning("stack %s: Heat read failed: %s", sid, result)
                failures.append(sid)
                report.read_error = report.read_error or str(result)
            elif result is None:  # gone
                changes.append(Change(sid, max(now_us(), to_read[sid].timestamp),
                                      region=self.region))
                report.tombstoned += 1
            else:
                snapshots[sid] = result
        fresh: dict[str, dict] = {}
        for sid in _parents_first(snapshots):
            ev = to_read[sid]
            change, plain = self._read_change(sid, snapshots[sid], ev, known, fresh)
            changes.append(change)
            if caused is not None:
                caused.add(change, ev.timestamp, plain)
            if observed is not None:  # the read shows (or overlays) that event's state
                observed[ev.message_id] = snapshots[sid].read_at
        return failures

    def _read_change(self, sid: str, snapshot, ev: StackEvent, known: dict[str, Record],
                     fresh: dict[str, dict]) -> tuple[Change, Change | None]:
        """A stack read from Heat, as a store change caused by ``ev``: with the event's state
        overlaid when the event is newer than the read (``StackEvent.newer_state``); then also
        the read as Heat showed it (kept instead if another batch handled a newer event)."""
        built = self.lineage.document(snapshot, known, fresh=fresh, check_parent=True)
        fresh[sid] = built.summary
        plain = Change(sid, snapshot.read_at, built.doc, **_context(ev),
                       file_digests=file_digests(getattr(snapshot, "files", None), self.key),
                       taint=built.summary)
        state = ev.newer_state(built.doc["status"])
        if state is None:
            return plain, None
        doc = documents.with_state(built.doc, state, built.scrub(ev.status_reason),
                                   snapshot.read_at)
        return dataclasses.replace(plain, doc=doc), plain

    def _note_last_event(self, events: Sequence[StackEvent]) -> None:
        """The batch's newest event, for ``heatseeker status`` and the upgrade check."""
        last_ev = max(events, key=lambda e: e.timestamp)
        self.store.set_meta(
            last_event={
                "event_type": f"{last_ev.kind}.{last_ev.action}.{last_ev.phase}".lower(),
                "stack_id": last_ev.stack_id,
                "timestamp_us": last_ev.timestamp,
                "handled_at": time.time(),
            }
        )

    # -- reconcile ----------------------------------------------------------------------------------

    def reconcile(self, *, full: bool = False, progress: Progress | None = None) -> SyncReport:
        """Make the store match Heat: add missing stacks, refresh changed ones, tombstone gone ones."""
        assert self.source is not None
        started = time.monotonic()
        listing_started = now_us()
        report = SyncReport()
        listing = self._listing(progress)
        report.listed = len(listing.items)
        stored = self.store.live_summaries(self.region)  # this region's: its listing decides
        todo = self._to_read(listing, stored, full, report)
        self._read_in_tree_order(todo, listing, report, progress)
        self._tombstone_unlisted(stored, listing, listing_started, report)
        self.store.prune_revisions()
        self.store.sweep_contents()
        finished = {"finished_at": time.time(), "listed": report.listed}
        self.store.set_meta(last_sync=finished,
                            **({LAST_SYNC + self.region: finished} if self.region else {}))
        if full and not report.errors:  # every stack was read again under these rules
            self.store.set_meta(**{DOCUMENTS_VERSION: documents.RULES_VERSION})
        report.seconds = time.monotonic() - started
        return report

    def _listing(self, progress: Progress | None) -> _Listing:
        """Heat's listing of every project's stacks, backup stacks left out."""
        assert self.source is not None
        items: dict[str, dict] = {}
        for item in self.source.list_stacks():
            if str(item.get("stack_name", "")).endswith("*"):
                continue  # backup stacks of an update in progress
            items[item["id"]] = item
            if progress and len(items) % 200 == 0:
                progress(len(items), 0, "listing")
        return _Listing(items)

    def _to_read(self, listing: _Listing, stored: dict[str, dict], full: bool,
                 report: SyncReport) -> dict[int, list[str]]:
        """The listed stacks to read (missing from the store, changed, or all with ``full``;
        tombstones never), by their depth in the listing."""
        dead = self.store.tombstoned(listing.items)
        todo: dict[int, list[str]] = defaultdict(list)
        for sid, item in listing.items.items():
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
            todo[listing.depth(sid)].append(sid)
        return todo

    def _read_in_tree_order(self, todo: dict[int, list[str]], listing: _Listing,
                            report: SyncReport, progress: Progress | None) -> None:
        """Read and store the stacks of ``todo``, in store batches of up to 200. The reads of
        every depth run in one stream, shallow ones first (a barrier per depth left the reader
        pool idle while each level's slowest reads finished: 6-8 % of a sync,
        bench/sync_rate.py). A stack's *document* is built only once its parent (or creator) is
        in the record, when this run reads that one too: its path, parent resource and inherited
        secrets come from it, as links.py left it. A child read first waits, in memory; a child
        whose parent is in the batch not yet stored has the batch stored first."""
        assert self.source is not None
        order = [sid for depth in sorted(todo) for sid in todo[depth]]
        self.source.know_names({sid: str(listing.items[sid].get("stack_name") or "")
                                for sid in order})
        total = len(order)
        fresh: dict[str, dict] = {}  # summaries built in this run (a store from before has none)
        pending = set(order)  # to be built (or given up) in this run
        waiting: dict[str, list[tuple[str, StackSnapshot]]] = defaultdict(list)
        batch: list[Change] = []
        unstored: set[str] = set()  # the ids in ``batch``

        def store() -> None:
            if batch:
                self.store.apply(batch, self._links)
                batch.clear()
                unstored.clear()

        def settle(sid: str, result: StackSnapshot | None | HeatError) -> None:
            pending.discard(sid)
            if isinstance(result, HeatError):
                report.errors.append(f"{sid}: {result}")
            elif result is None:
                batch.append(Change(sid, now_us(), region=self.region))
                report.tombstoned += 1
            else:
                if listing.up(sid) in unstored:
                    store()
                report.read += 1
                project = listing.items[sid].get("project")
                built = self.lineage.document(result, {}, project, fresh=fresh)
                fresh[sid] = built.summary
                batch.append(Change(sid, result.read_at, built.doc, taint=built.summary,
                                    file_digests=file_digests(getattr(result, "files", None), self.key)))
            unstored.add(sid)
            for child, snapshot in waiting.pop(sid, ()):  # they waited for this one
                settle(child, snapshot)

        for done, (sid, result) in enumerate(
                self.source.read_many(order, lambda _: BACKGROUND), start=1):
            up = listing.up(sid)
            if isinstance(result, StackSnapshot) and up in pending and up != sid:
                waiting[up].append((sid, result))
            else:
                settle(sid, result)
            if len(batch) >= 200:
                store()
            if progress:
                progress(done, total, "reading stacks")
        for sid in order:  # left waiting: a cycle of creator names (never a real tree)
            for child, snapshot in waiting.pop(sid, ()):
                settle(child, snapshot)
        store()

    def _tombstone_unlisted(self, stored: dict[str, dict], listing: _Listing,
                            listing_started: int, report: SyncReport) -> None:
        """Tombstone the stored stacks Heat no longer lists, once a read confirms each is gone
        (a stack written after the listing started is left for the next run)."""
        assert self.source is not None
        missing = [sid for sid, have in stored.items()
                   if sid not in listing.items and have["version"] < listing_started]
        gone: list[Change] = []
        for sid in missing:
            try:
                shown = self.source.show(sid)
            except HeatError as exc:
                report.errors.append(f"{sid}: {exc}")
                continue
            if shown is None or shown.get("stack_status") == DELETE_COMPLETE:
                gone.append(Change(sid, now_us(), region=self.region))
        report.tombstoned += sum(self.store.apply(gone, self._links)[: len(gone)])

    @staticmethod
    def _changed(item: dict, have: dict) -> bool:
        updated = item.get("updated_time") or item.get("creation_time")
        return (
            item.get("stack_status") != have["status"]
            or not _same_reason(item.get("stack_status_reason"), have["status_reason"])
            or documents.iso(updated) != have["updated_at"]
            or item.get("stack_name") != have["name"]
            or sorted(item.get("tags") or []) != sorted(have["tags"] or [])
        )

