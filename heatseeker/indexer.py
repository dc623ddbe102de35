"""The single writer of the record: turns Heat's answers and notifications into store changes.

* ``Indexer.apply_events`` handles one batch of notifications. Notifications only say "look again":
  events are grouped per stack (several events for one stack cost one API read), the document is
  read from the API and overlaid with the state the notification carried when the API still shows
  the action in progress (Heat notifies *before* it writes the new state). ``start`` events of known
  stacks only change the state. ``delete.end`` and a stack the API no longer has are tombstones.
* ``Indexer.reconcile`` (``heatseeker sync``) compares Heat's listing of every project with the
  store: it adds what is missing, refreshes what changed and tombstones what Heat no longer has.

The engine is not written here: ``projection.py`` projects the store onto it.

Versions are microseconds since the epoch: the notification's timestamp for state-only changes,
the time a read started for documents read from the API. They have full precision and never wrap.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from heatseeker import documents, links, secrets
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


# store meta: the documents.RULES_VERSION every document in the record was built by
DOCUMENTS_VERSION = "documents_version"


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
        if store.get_meta(DOCUMENTS_VERSION) is None and not any(store.counts()[k] for k in (
                "stacks", "tombstones")):  # a new record: every document will follow these rules
            store.set_meta(**{DOCUMENTS_VERSION: documents.RULES_VERSION})

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

    def _document(self, snapshot, known: dict[str, Record], project_id: str | None = None, *,
                  fresh: dict[str, dict] | None = None, check_parent: bool = False
                  ) -> documents.Built:
        """The stack's document, masked with what its parent passes down (``_inherited``)."""
        chain, parent_resource = self._chain(snapshot.show, known)
        inherited = self._inherited(snapshot.show, known, parent_resource,
                                    {} if fresh is None else fresh, check_parent=check_parent)
        return documents.build_all(
            snapshot,
            project_id=project_id,
            ancestors=chain,
            parent_resource=parent_resource,
            version=snapshot.read_at,
            inherited=inherited,
        )

    # -- secrets passed down (heatseeker/secrets.py) ------------------------------------------------

    def _inherited(self, show: dict, known: dict[str, Record], resource: str | None,
                   fresh: dict[str, dict], *, check_parent: bool = False, depth: int = 0
                   ) -> secrets.Inherited:
        """What the stack's parent (Heat's, or the creator of an OS::Heat::Stack stack) made
        secret in it, from the summary the parent's record keeps (``Change.taint``).

        ``fresh``: summaries built in this batch (parents are built before their children).
        The stored summary is used when it describes the parent's current template (the parent's
        ``updated_time`` in Heat is the stored one; ``check_parent`` asks Heat, as notifications
        of a child can come before the parent's record is refreshed); otherwise the parent is read
        from Heat and its summary computed (up the tree as far as needed). A parent that is gone
        or unreadable leaves ``UNKNOWN_PARENT``: whatever it may have passed is masked."""
        parent_id = show.get("parent")
        if parent_id:
            summary = self._parent_summary(str(parent_id), known, fresh, check_parent, depth)
            return (secrets.Inherited.from_summary(summary, resource) if summary is not None
                    else secrets.UNKNOWN_PARENT)
        creator = self._creator(show, known, fresh, check_parent, depth)
        if creator is None:
            return secrets.NOTHING
        summary, creator_resource = creator
        return (secrets.Inherited.from_summary(summary, creator_resource) if summary is not None
                else secrets.UNKNOWN_PARENT)

    def _parent_summary(self, parent_id: str, known: dict[str, Record], fresh: dict[str, dict],
                        check: bool, depth: int) -> dict | None:
        if parent_id in fresh:
            return fresh[parent_id]
        rec = known.get(parent_id) or self.store.get(parent_id)
        if rec is not None and rec.deleted:
            return None
        if rec is not None and rec.doc is not None and rec.taint is not None:
            if not check or self.source is None:
                return rec.taint
            shown = self.source.show(parent_id)
            if shown is None:
                return None
            updated = documents.iso(shown.get("updated_time") or shown.get("creation_time"))
            if updated == rec.doc.get("updated_at"):
                fresh[parent_id] = rec.taint  # siblings in this batch need not ask again
                return rec.taint
        return self._summary_from_heat(parent_id, known, fresh, depth)

    def _summary_from_heat(self, stack_id: str, known: dict[str, Record], fresh: dict[str, dict],
                           depth: int) -> dict | None:
        """Read a stack from Heat and compute what it passes down (not stored: its own read
        stores it)."""
        if self.source is None or depth > links.MAX_DEPTH:
            return None
        snap = self.source.read(stack_id)
        if snap is None:
            return None
        pshow = snap.show
        resource = None
        if pshow.get("parent"):
            gp = self.source.show(str(pshow["parent"]))
            if gp is not None:  # Heat names a nested stack <parent>-<resource>-<12 chars>
                resource = _nested_name_resource(str(pshow.get("stack_name") or ""),
                                                 str(gp.get("stack_name") or ""))
        inherited = self._inherited(pshow, known, resource, fresh, check_parent=True,
                                    depth=depth + 1)
        built = documents.build_all(snap, project_id=None, ancestors=[], parent_resource=resource,
                                    version=snap.read_at, inherited=inherited)
        fresh[stack_id] = built.summary
        return built.summary

    def _creator(self, show: dict, known: dict[str, Record], fresh: dict[str, dict], check: bool,
                 depth: int) -> tuple[dict | None, str] | None:
        """The summary of the OS::Heat::Stack resource's stack that created this root stack, and
        the resource's name; None when no stack created it (a true root)."""
        name = str(show.get("stack_name") or "")
        sid = str(show.get("id") or "")
        candidates = links.creator_names(name)
        if not candidates:
            return None
        project = (show.get("parameters") or {}).get("OS::project_id")

        def claims(doc: dict | None) -> str | None:
            if not doc or (project and doc.get("project_id") not in (None, project)):
                return None
            for r in doc.get("resources") or []:
                if r.get("type") != links.LINK:
                    continue
                if r.get("physical_resource_id") == sid or (
                    not r.get("physical_resource_id")
                    and name.startswith(f"{doc.get('name')}-{r.get('name')}-")
                    and len(name) == len(f"{doc.get('name')}-{r.get('name')}-") + 12
                ):
                    return str(r.get("name"))
            return None

        stored = [r for r in known.values() if r.name in candidates and not r.deleted]
        stored += [r for r in self.store.live_named(candidates) if r.id not in known]
        for rec in stored:
            resource = claims(rec.doc)
            if resource is not None:
                summary = self._parent_summary(rec.id, known, fresh, check, depth)
                return summary, resource
        if self.source is None or depth > links.MAX_DEPTH:
            return None
        for cand in candidates:  # not stored (yet): ask Heat
            for item in self.source.named(cand):
                if str(item.get("id")) == sid or str(item.get("stack_name", "")).endswith("*"):
                    continue
                snap = self.source.read(str(item["id"]))
                if snap is None:
                    continue
                cdoc = {"name": snap.show.get("stack_name"),
                        "project_id": (snap.show.get("parameters") or {}).get("OS::project_id"),
                        "resources": [documents._resource(r) for r in snap.resources]}
                resource = claims(cdoc)
                if resource is not None:
                    return self._summary_from_heat(str(item["id"]), known, fresh, depth + 1), resource
        return None

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
            snapshots = {}
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
                snapshots[sid] = result
            fresh: dict[str, dict] = {}
            # parents before children: a child is masked with what its parent passes down
            for sid in _parents_first(snapshots):
                result, ev = snapshots[sid], to_read[sid]
                built = self._document(result, known, fresh=fresh, check_parent=True)
                fresh[sid] = built.summary
                doc = built.doc
                status = doc["status"]
                if (
                    ev.kind == "stack"
                    and ev.phase in ("end", "error")
                    and ev.state
                    and status == f"{ev.action}_IN_PROGRESS"
                    and ev.state != status
                ):
                    # Heat sent the notification before writing the state: the event is newer
                    doc = documents.with_state(doc, ev.state, built.scrub(ev.status_reason),
                                               result.read_at)
                changes.append(Change(sid, result.read_at, doc, **_context(ev),
                                      file_digests=file_digests(getattr(result, "files", None), self.key),
                                      taint=built.summary))
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

        by_name: dict[tuple, list[str]] = defaultdict(list)
        for sid, item in listing.items():
            by_name[(item.get("project"), item.get("stack_name"))].append(sid)

        def up(sid: str) -> str | None:
            """The parent, or the stack that may have created it (OS::Heat::Stack): its
            secrets pass down, so it is read first."""
            item = listing[sid]
            if item.get("parent"):
                return item["parent"]
            for name in links.creator_names(str(item.get("stack_name") or "")):
                found = by_name.get((item.get("project"), name))
                if found:
                    return found[0]
            return None

        def depth_of(sid: str) -> int:
            d, cursor, seen = 0, up(sid), {sid}
            while cursor and cursor in listing and cursor not in seen:
                seen.add(cursor)
                d += 1
                cursor = up(cursor)
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
        fresh: dict[str, dict] = {}  # summaries built in this run (a store from before has none)
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
                    built = self._document(result, {}, project, fresh=fresh)
                    fresh[sid] = built.summary
                    batch.append(Change(sid, result.read_at, built.doc, taint=built.summary,
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
        if full and not report.errors:  # every stack was read again under these rules
            self.store.set_meta(**{DOCUMENTS_VERSION: documents.RULES_VERSION})
        report.seconds = time.monotonic() - started
        return report

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

