"""Stack history as callers see it: revisions, diffs and the search over changes, under the
caller's ``Visibility`` (the same tenant isolation as search). Used by the CLI and the API.

It reads the store (revisions are kept there, not in the index: the index holds each stack's
latest document only), so it sits beside the searcher: store and query below, CLI/API above.

Isolation: a stack belongs to the project of its latest revision (a tombstoned stack's too: its
last revision stays). A caller who may not see that project gets exactly what they would get for
a stack that does not exist — ``None`` (the API's 404), or no rows in a change search.

**Search over changes** reads beside the query string: the field is named as the query string
names it (``parameters.image``, ``template.resources.server.properties.flavor`` or its short form
``resources.server.properties.flavor``, ``environment.resource_registry.My::Box``, ``outputs.url``,
``files``, ``description``, ``tags``) and the time range with the same date math (``now-7d``,
``2026-11-25``, ``now/d``; a bare ``7d`` means ``now-7d``). It is its own request
(``heatseeker changes FIELD --since 7d``, ``GET /v1/search/changes?field=&since=&until=``) rather
than a ``changed:`` clause inside the query string because it is not a predicate on one document:
it pairs each revision with the one before, answers with old and new values per change (not with
stacks), and reaches deleted stacks, which the index no longer holds; inside a boolean query
(``NOT changed:x OR …``) it would have no clear meaning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from heatseeker import diff as D
from heatseeker.heat.events import CONTENT_BEFORE_START_US
from heatseeker.query import datemath
from heatseeker.query.visibility import Visibility
from heatseeker.record import Noted, Revision, Store

_SHORT_AGO = re.compile(r"^[0-9]+[yMwdhHms]$")

MAX_CHANGES = 1000


class RevisionNotFound(LookupError):
    """A revision number the stack does not have (never kept, or dropped by retention)."""


def iso_us(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_when(text: str | None, now: datetime, *, round_up: bool = False) -> int | None:
    """A date-math bound (``now-7d``, ``2026-11-25``, ``7d``) → microseconds since the epoch."""
    if text is None or not str(text).strip():
        return None
    text = str(text).strip()
    if _SHORT_AGO.match(text):
        text = "now-" + text
    moment = datemath.parse_date(text, now, round_up=round_up)
    return int(moment.timestamp() * 1_000_000)


def unobserved(notes: list[Noted]) -> list[Noted]:
    """The finished actions (``end``/``error``) whose state no read observed, oldest first.

    A finished action E was observed when the read its notification caused recorded its state
    (``Noted.observed_us``/``observed_digest``, set in that change's transaction) and that read
    cannot have shown the next action's content instead:

    * the next action began before the read did: the read showed it (or later) — not observed;
    * it began more than ``CONTENT_BEFORE_START_US`` after the read (or never): observed;
    * in between, Heat may have written the next content before the read (it writes content,
      then notifies the start). The read showed E's content if it differs from the next
      action's: as a read of that start showed it (the indexer reads such a start; before the
      next action ends, it can only show that action's content), else as the next end's read
      showed it when that one is itself trusted. Otherwise (no read to tell, or the same
      content: an update that changed nothing) E is marked, never merged silently."""
    ordered = sorted(notes, key=lambda n: (n.at_us, n.phase != "start"))
    finals = [i for i, n in enumerate(ordered) if n.phase in ("end", "error")]
    trusted: dict[int, bool] = {}
    for k in range(len(finals) - 1, -1, -1):  # the newest first: each may rest on the next
        i = finals[k]
        e = ordered[i]
        nxt = ordered[finals[k + 1]] if k + 1 < len(finals) else None
        start = next((n for n in ordered[i + 1:] if n.phase == "start"), None)
        if e.observed_us is None or (start is not None and start.at_us < e.observed_us):
            trusted[i] = False
        elif start is None or start.at_us >= e.observed_us + CONTENT_BEFORE_START_US:
            trusted[i] = True
        elif (start.observed_us is not None
              and (nxt is None or start.observed_us < nxt.at_us)):
            trusted[i] = start.observed_digest != e.observed_digest
        else:
            trusted[i] = (nxt is not None and trusted[finals[k + 1]]
                          and nxt.observed_digest != e.observed_digest)
    return [ordered[i] for i in finals if not trusted[i]]


def gaps(revs: list[Revision], notes: list[Noted]) -> dict[int, dict]:
    """The states a stack's history never observed (``unobserved``), as a mark on the first
    revision after each: revision number → ``{"from", "to", "unobserved": [what the
    notifications named]}``. One not followed by a revision yet waits for the next."""
    marks: dict[int, dict] = {}
    for n in unobserved(notes):
        after = next((i for i, r in enumerate(revs) if r.at_us >= n.at_us), None)
        if after is None:
            continue
        rev = revs[after]
        mark = marks.setdefault(rev.rev, {
            "from": iso_us(revs[after - 1].at_us) if after else None,
            "to": iso_us(rev.at_us), "unobserved": []})
        mark["unobserved"].append(dict(n.summary(), at=iso_us(n.at_us)))
    return marks


@dataclass(frozen=True)
class _Stack:
    project_id: str | None
    name: str | None
    deleted: bool


class History:
    def __init__(self, store: Store):
        self.store = store

    # -- isolation -------------------------------------------------------------------------------

    def _visible(self, stack_id: str, view: Visibility) -> _Stack | None:
        latest = self.store.revision(stack_id)
        rec = self.store.get(stack_id)
        if latest is None:
            return None
        project = latest.project_id if latest.project_id is not None else (
            rec.project_id if rec else None)
        if view.projects is not None and project not in view.projects:
            return None
        name = (latest.doc or {}).get("name")
        return _Stack(project, name, bool(rec and rec.deleted))

    @staticmethod
    def _row(rev: Revision, view: Visibility) -> dict:
        return view.row(dict(rev.summary(), at=iso_us(rev.at_us)))

    # -- history and diff ------------------------------------------------------------------------

    def history(
        self, stack_id: str, view: Visibility, revision: int | None = None
    ) -> dict | None:
        """``{"stack_id", "name", "project_id", "deleted", "revisions": [...]}`` oldest first.

        ``revision``: only that revision, with ``document``, the masked document as it was
        (RevisionNotFound when the stack does not have it)."""
        stack = self._visible(stack_id, view)
        if stack is None:
            return None
        revs = self.store.revisions(stack_id, with_docs=True)
        marks = gaps(revs, self.store.noted(stack_id))
        document = None
        if revision is not None:
            at = [i for i, r in enumerate(revs) if r.rev == revision]
            if not at:
                kept = f"{revs[0].rev}..{revs[-1].rev}" if revs else "none"
                raise RevisionNotFound(f"stack {stack_id} has no revision {revision} (kept: {kept})")
            document = view.source(revs[at[0]].doc or {})
            revs = revs[max(0, at[0] - 1) : at[0] + 1]
        rows = []
        for prev, rev in zip([None, *revs[:-1]], revs, strict=True):
            row = self._row(rev, view)
            # states between the one before and this one that were never observed (or None)
            row["gap"] = marks.get(rev.rev)
            # what this revision changed, by path (the first revision: nothing before it)
            row["changed"] = [] if prev is None else [
                c.path for c in D.diff(view.source(prev.doc or {}), view.source(rev.doc or {}),
                                       prev.file_digests, rev.file_digests)]
            rows.append(row)
        body: dict = {
            "stack_id": stack_id,
            "name": stack.name,
            "project_id": stack.project_id,
            "deleted": stack.deleted,
            "revisions": rows if revision is None else rows[-1:],
        }
        if revision is not None:
            body["document"] = document
        return body

    def diff(
        self, stack_id: str, view: Visibility, rev_from: int | None = None,
        rev_to: int | None = None,
    ) -> dict | None:
        """The semantic diff between two revisions (default: the one before the latest, and the
        latest). None when the stack is unknown to the caller; RevisionNotFound for a revision the
        stack does not have."""
        stack = self._visible(stack_id, view)
        if stack is None:
            return None
        listed = self.store.revisions(stack_id)
        numbers = [r.rev for r in listed]
        if rev_to is None:
            rev_to = numbers[-1]
        if rev_from is None:
            earlier = [n for n in numbers if n < rev_to]
            rev_from = earlier[-1] if earlier else rev_to
        a = self.store.revision(stack_id, rev_from)
        b = self.store.revision(stack_id, rev_to)
        for n, r in ((rev_from, a), (rev_to, b)):
            if r is None:
                kept = f"{numbers[0]}..{numbers[-1]}" if numbers else "none"
                raise RevisionNotFound(f"stack {stack_id} has no revision {n} (kept: {kept})")
        assert a is not None and b is not None
        changes = D.diff(view.source(a.doc or {}), view.source(b.doc or {}),
                         a.file_digests, b.file_digests)
        marks = gaps(listed, self.store.noted(stack_id))
        low, high = sorted((a.rev, b.rev))
        return {
            "stack_id": stack_id,
            "name": stack.name,
            "project_id": stack.project_id,
            "from": self._row(a, view),
            "to": self._row(b, view),
            "changes": [c.as_dict() for c in changes],
            # states between the two revisions that history never observed (empty: none)
            "gaps": [dict(marks[n], revision=n) for n in sorted(marks) if low < n <= high],
        }

    # -- search over changes ---------------------------------------------------------------------

    def changes(
        self,
        field: str,
        view: Visibility,
        *,
        since: str | None = None,
        until: str | None = None,
        include_created: bool = False,
        limit: int = MAX_CHANGES,
        now: datetime | None = None,
    ) -> dict:
        """Every change of ``field`` in revisions taken between ``since`` and ``until``, with old
        and new values, newest last. ``include_created``: a stack's first revision counts as the
        field being added."""
        field = D.normalise_field(field or "")  # empty: every change
        moment = now or datetime.now(UTC)
        since_us = parse_when(since, moment)
        until_us = parse_when(until, moment, round_up=True)
        out: list[dict] = []
        truncated = False
        for rev, prev in self.store.revisions_between(since_us, until_us, view.projects):
            if prev is None and not include_created:
                continue
            new = view.source(rev.doc or {})
            old = view.source(prev.doc or {}) if prev is not None else {}
            changes = D.diff(old, new, prev.file_digests if prev else {}, rev.file_digests)
            for ch in changes:
                if prev is None:
                    ch = D.FieldChange(ch.keys, D.ADDED, None, ch.new)
                if field and not D.matches(ch.path, field):
                    continue
                if len(out) >= limit:
                    truncated = True
                    break
                out.append({
                    "stack_id": rev.stack_id,
                    "name": new.get("name"),
                    "project_id": rev.project_id,
                    "revision": rev.rev,
                    "previous_revision": prev.rev if prev else None,
                    **{k: v for k, v in self._row(rev, view).items() if k not in ("revision",)},
                    **ch.as_dict(),
                })
            if truncated:
                break
        return {
            "field": field,
            "since": iso_us(since_us) if since_us is not None else None,
            "until": iso_us(until_us) if until_us is not None else None,
            "total": len(out),
            "truncated": truncated,
            "changes": out,
        }
