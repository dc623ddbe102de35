"""A stack's lineage: what it gets from the stacks above it, before its document is built.

* its place in the tree (``chain``): the ancestors ``(id, name)``, root first, and the name of the
  parent's resource that made it, from the parent's record when the store has it, else walking up
  through Heat;
* what its parent made secret in it (``inherited``, heatseeker/secrets.py): from the summary the
  parent's record keeps (``Change.taint``) while it still describes the parent's template, else
  from the parent read again from Heat, up the tree as far as needed. For a root stack an
  ``OS::Heat::Stack`` resource created, its creator plays the parent (links.py finds it by name).

Apart from the indexer because it is a question of its own ("what does this stack get from
above?") with its own reads of the store and of Heat; the indexer only asks ``document``.
"""

from __future__ import annotations

from heatseeker import documents, links, secrets
from heatseeker.heat.client import URGENT, HeatError, HeatSource, StackSnapshot
from heatseeker.record import Record, Store


def _nested_name_resource(name: str, parent_name: str) -> str | None:
    """Heat names a nested stack ``<parent>-<resource>-<12 random chars>``."""
    prefix = parent_name + "-"
    if name.startswith(prefix) and len(name) > len(prefix) + 13 and name[-13] == "-":
        return name[len(prefix) : -13] or None
    return None


class Lineage:
    """Asks the store first and Heat where it must (``source``; None: the store only)."""

    def __init__(self, store: Store, source: HeatSource | None):
        self.store = store
        self.source = source

    def document(self, snapshot, known: dict[str, Record], project_id: str | None = None, *,
                 fresh: dict[str, dict] | None = None, check_parent: bool = False
                 ) -> documents.Built:
        """The stack's document, placed in its tree (``chain``) and masked with what its parent
        passes down (``inherited``). ``fresh``: the summaries built in this batch or run."""
        chain, parent_resource = self.chain(snapshot.show, known)
        inherited = self.inherited(snapshot.show, known, parent_resource,
                                   {} if fresh is None else fresh, check_parent=check_parent)
        return documents.build_all(
            snapshot,
            project_id=project_id,
            ancestors=chain,
            parent_resource=parent_resource,
            version=snapshot.read_at,
            inherited=inherited,
        )

    def chain(self, show: dict, known: dict[str, Record]) -> tuple[list[tuple[str, str]], str | None]:
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

    # -- secrets passed down (heatseeker/secrets.py) ----------------------------------------------

    def inherited(self, show: dict, known: dict[str, Record], resource: str | None,
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

    def _read(self, stack_id: str) -> StackSnapshot | None:
        """A parent's (or creator's) read, through the source's gate like every other read: at
        most ``[heat] concurrency`` at once, and shared with a read of it already waiting there
        (its own notification's, or another child's). A burst that updates a tree had each
        child's batch read the parent again, past the gate (#14)."""
        assert self.source is not None
        for _sid, result in self.source.read_many([stack_id], lambda _sid: URGENT):
            if isinstance(result, HeatError):
                raise result
            return result
        return None

    def _summary_from_heat(self, stack_id: str, known: dict[str, Record], fresh: dict[str, dict],
                           depth: int) -> dict | None:
        """Read a stack from Heat and compute what it passes down (not stored: its own read
        stores it)."""
        if self.source is None or depth > links.MAX_DEPTH:
            return None
        snap = self._read(stack_id)
        if snap is None:
            return None
        pshow = snap.show
        resource = None
        if pshow.get("parent"):
            gp = self.source.show(str(pshow["parent"]))
            if gp is not None:  # Heat names a nested stack <parent>-<resource>-<12 chars>
                resource = _nested_name_resource(str(pshow.get("stack_name") or ""),
                                                 str(gp.get("stack_name") or ""))
        inherited = self.inherited(pshow, known, resource, fresh, check_parent=True,
                                   depth=depth + 1)
        built = documents.build_all(snap, project_id=None, ancestors=[], parent_resource=resource,
                                    version=snap.read_at, inherited=inherited)
        fresh[stack_id] = built.summary
        return built.summary

    def _creator(self, show: dict, known: dict[str, Record], fresh: dict[str, dict], check: bool,
                 depth: int) -> tuple[dict | None, str] | None:
        """The summary of the OS::Heat::Stack resource's stack that created this root stack, and
        the resource's name; None when no stack created it (a true root). Stored creators first,
        then Heat's stacks of the names Heat's naming allows."""
        candidates = links.creator_names(str(show.get("stack_name") or ""))
        if not candidates:
            return None
        stored = [r for r in known.values() if r.name in candidates and not r.deleted]
        stored += [r for r in self.store.live_named(candidates) if r.id not in known]
        for rec in stored:
            resource = _claimed_by(rec.doc, show)
            if resource is not None:
                return self._parent_summary(rec.id, known, fresh, check, depth), resource
        if self.source is None or depth > links.MAX_DEPTH:
            return None
        return self._creator_in_heat(show, candidates, known, fresh, depth)

    def _creator_in_heat(self, show: dict, candidates: list[str], known: dict[str, Record],
                         fresh: dict[str, dict], depth: int) -> tuple[dict | None, str] | None:
        """The creator among Heat's stacks named ``candidates`` (not stored yet)."""
        assert self.source is not None
        sid = str(show.get("id") or "")
        for cand in candidates:
            for item in self.source.named(cand):
                if str(item.get("id")) == sid or str(item.get("stack_name", "")).endswith("*"):
                    continue
                snap = self._read(str(item["id"]))
                if snap is None:
                    continue
                cdoc = {"name": snap.show.get("stack_name"),
                        "project_id": (snap.show.get("parameters") or {}).get("OS::project_id"),
                        "resources": [documents.resource(r) for r in snap.resources]}
                resource = _claimed_by(cdoc, show)
                if resource is not None:
                    return self._summary_from_heat(str(item["id"]), known, fresh, depth + 1), resource
        return None


def _claimed_by(doc: dict | None, show: dict) -> str | None:
    """The name of ``doc``'s OS::Heat::Stack resource that created the stack of ``show`` (by its
    physical id, or by Heat's naming while the resource has none yet), if ``doc`` belongs to the
    same project (or says none); else None. Wider than links.py's rule on purpose: a stack that may
    have been created with a secret is masked as such."""
    name = str(show.get("stack_name") or "")
    sid = str(show.get("id") or "")
    project = (show.get("parameters") or {}).get("OS::project_id")
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
