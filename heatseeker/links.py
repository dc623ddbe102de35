"""Links Heat does not keep: a stack created by an ``OS::Heat::Stack`` resource of another stack.

Heat gives such a stack no ``parent``: it is a top-level stack whose id is the creating resource's
``physical_resource_id`` (and whose name is ``<creator>-<resource>-<12 chars>``). heatseeker links
it to its creator in the tree, so that roll-up (``root_id``), ``under:`` (``ancestors``), ``show``
(``parent_id``) and reverse lookup see through it:

* the linked stack's tree fields become those of a child of the creator: ``parent_id`` = creator,
  ``parent_resource`` = the resource, ``ancestors``/``path``/``depth``/``root_id`` extended from the
  creator's; and it is marked ``link = "OS::Heat::Stack"``, ``created_by`` = the creator's id;
* its own (Heat) nested stacks follow: their ancestors, path and root pass through the creator.

Where it happens: ``resolve`` runs on every batch of store changes inside the store's write
transaction, before the batch is applied (``Store.apply(changes, prepare)``; the indexer passes it):
what it reads cannot change under it, since a concurrent writer (another listener worker, a sync)
waits for the lock. It works only from the batch and the store, so ordering does not matter:

* creator first, child later: the child's creator is looked up among the stored stacks named like
  the start of its name (Heat's naming), and checked by its resources;
* child first, creator later: the creator's write re-links its OS::Heat::Stack children that are
  already stored (a new store change for each, at the child's version + 1, and for their nested
  stacks), so the projector re-projects them;
* the child re-read from Heat (which knows no link): its previous record's ``created_by`` is
  checked again against the creator's current resources and kept;
* the creator's resource replaced, removed or the creator deleted: the old child is unlinked (it is
  a root again) unless another creator claims it;
* reindex: the links live in the store's documents, so a rebuild loses nothing.

Isolation: only a creator and a child of the **same project** are linked. A link across projects
would put one project's stack names and ids (``path``, ``ancestors``, ``root_id``) into the other's
documents, and every answer is scoped to the caller's projects anyway: each side stays a tree of its
own, and neither project's user learns of the other's stack. (A cloud admin sees both trees.)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace

from heatseeker.record import Change, Record, Store

LINK = "OS::Heat::Stack"
TREE_FIELDS = ("parent_id", "root_id", "ancestors", "path", "depth", "parent_resource",
               "created_by", "link")
_HEAT_NAME = re.compile(r"^(?P<prefix>.+)-[a-z0-9]{12}$")
MAX_DEPTH = 64  # links followed at most (a creator chain deeper than this is a loop or absurd)


def linked_children(doc: dict | None) -> dict[str, str]:
    """Stack ids created by the doc's OS::Heat::Stack resources → the resource names."""
    out: dict[str, str] = {}
    for r in (doc or {}).get("resources") or []:
        if (isinstance(r, dict) and r.get("type") == LINK and r.get("physical_resource_id")
                and not r.get("nested_stack_id")):
            out[str(r["physical_resource_id"])] = str(r.get("name") or "")
    return out


def _nested_children(doc: dict) -> list[str]:
    return sorted({str(r["nested_stack_id"]) for r in doc.get("resources") or []
                   if isinstance(r, dict) and r.get("nested_stack_id")})


def is_heat_root(doc: dict) -> bool:
    """A stack Heat gives no parent (possibly linked by heatseeker)."""
    return not doc.get("parent_id") or bool(doc.get("link"))


def tree(doc: dict) -> dict:
    return {k: doc.get(k) for k in TREE_FIELDS}


def linked_fields(doc: dict, creator: dict, resource: str) -> dict:
    ancestors = [*(creator.get("ancestors") or []), creator["id"]]
    return {
        "parent_id": creator["id"],
        "root_id": creator.get("root_id") or creator["id"],
        "ancestors": ancestors,
        "path": [*(creator.get("path") or [creator.get("name") or ""]), doc.get("name") or ""],
        "depth": len(ancestors),
        "parent_resource": resource or None,
        "created_by": creator["id"],
        "link": LINK,
    }


def root_fields(doc: dict) -> dict:
    return {"parent_id": None, "root_id": doc["id"], "ancestors": [], "path": [doc.get("name") or ""],
            "depth": 0, "parent_resource": None, "created_by": None, "link": None}


def nested_fields(doc: dict, parent: dict) -> dict:
    """A Heat nested stack's tree fields below ``parent`` (its own parent_resource kept)."""
    ancestors = [*(parent.get("ancestors") or []), parent["id"]]
    return {**tree(doc), "root_id": parent.get("root_id") or parent["id"], "ancestors": ancestors,
            "path": [*(parent.get("path") or [parent.get("name") or ""]), doc.get("name") or ""],
            "depth": len(ancestors)}


def creator_names(name: str) -> list[str]:
    """The creator names Heat's ``<creator>-<resource>-<12 chars>`` naming allows for ``name``."""
    m = _HEAT_NAME.match(name or "")
    if not m:
        return []
    prefix = m.group("prefix")
    return [prefix[:i] for i in range(1, len(prefix)) if prefix[i] == "-" and i < len(prefix) - 1]


class _Batch:
    """The batch being resolved, over the store: the current document of any stack."""

    def __init__(self, store: Store, changes: Sequence[Change]):
        self.store = store
        self.order = [ch.id for ch in changes]
        self.changes: dict[str, Change] = {ch.id: ch for ch in changes}
        self.docs: dict[str, dict] = {ch.id: dict(ch.doc) for ch in changes if ch.doc is not None}
        self.gone = {ch.id for ch in changes if ch.doc is None}
        self.prev: dict[str, Record] = store.get_many(self.changes)
        self.extra: dict[str, Change] = {}
        self._stored: dict[str, Record | None] = {}

    def stored(self, sid: str) -> Record | None:
        if sid in self.prev:
            return self.prev[sid]
        if sid not in self._stored:
            self._stored[sid] = self.store.get(sid)
        return self._stored[sid]

    def stored_many(self, ids: Iterable[str]) -> None:
        want = [i for i in ids if i not in self.prev and i not in self._stored]
        if want:
            found = self.store.get_many(want)
            for i in want:
                self._stored[i] = found.get(i)

    def doc(self, sid: str) -> dict | None:
        if sid in self.gone:
            return None
        if sid in self.docs:
            return self.docs[sid]
        if sid in self.extra:
            return self.extra[sid].doc
        rec = self.stored(sid)
        return rec.doc if rec is not None and not rec.deleted else None

    def set_tree(self, sid: str, fields: dict) -> bool:
        """Give ``sid`` these tree fields; True if that changed anything."""
        doc = self.doc(sid)
        if doc is None or tree(doc) == fields:
            return False
        new = {**doc, **fields}
        if sid in self.docs:
            self.docs[sid] = new
            return True
        rec = self.extra.get(sid)
        if rec is None:
            stored = self.stored(sid)
            assert stored is not None
            version = stored.version + 1
        else:
            version = rec.version
        self.extra[sid] = Change(sid, version, dict(new, version=version))
        return True

    def result(self) -> list[Change]:
        out = []
        for sid in self.order:
            ch = self.changes[sid]
            out.append(ch if ch.doc is None else replace(ch, doc=self.docs[sid]))
        return out + list(self.extra.values())


def _claims(creator: dict | None, child: dict) -> str | None:
    """The resource name if ``creator`` may be ``child``'s creator, else None."""
    if creator is None or creator.get("id") == child.get("id"):
        return None
    resource = linked_children(creator).get(child["id"])
    if resource is None:
        return None
    if creator.get("project_id") != child.get("project_id"):
        return None  # isolation: never across projects (see the module docstring)
    if child["id"] in (creator.get("ancestors") or []) or len(creator.get("ancestors") or []) >= MAX_DEPTH:
        return None  # a loop
    return resource


def _creator(b: _Batch, doc: dict) -> tuple[dict, str] | None:
    sid = doc["id"]
    candidates: list[str] = []
    if doc.get("created_by"):
        candidates.append(doc["created_by"])
    prev = b.prev.get(sid)
    if prev is not None and prev.doc is not None and prev.doc.get("created_by"):
        candidates.append(prev.doc["created_by"])
    candidates += [cid for cid, cdoc in b.docs.items() if sid in linked_children(cdoc)]
    for cid in dict.fromkeys(candidates):
        cdoc = b.doc(cid)
        resource = _claims(cdoc, doc)
        if cdoc is not None and resource is not None:
            return cdoc, resource
    # not linked yet (a new stack, or one stored before its creator claimed it): its creator may be
    # stored already, found by Heat's naming (no index on names: a scan, only for such names)
    names = creator_names(doc.get("name") or "")
    if names:
        for rec in b.store.live_named(names):
            cdoc = b.doc(rec.id)
            resource = _claims(cdoc, doc)
            if cdoc is not None and resource is not None:
                return cdoc, resource
    return None


def _cascade(b: _Batch, parent_id: str, depth: int = 0) -> None:
    """Bring the tree fields of ``parent_id``'s nested and linked children in line with it."""
    parent = b.doc(parent_id)
    if parent is None or depth > MAX_DEPTH:
        return
    linked = linked_children(parent)
    prev = b.prev.get(parent_id)
    was_linked = linked_children(prev.doc if prev is not None else None)
    # Heat's nested stacks follow a parent whose place in the tree changed (or is new)
    moved_here = depth > 0 or prev is None or prev.doc is None or tree(prev.doc) != tree(parent)
    nested = _nested_children(parent) if moved_here else []
    b.stored_many([*linked, *was_linked, *nested])
    moved: list[str] = []
    for cid, resource in linked.items():
        child = b.doc(cid)
        if child is None or not is_heat_root(child):
            continue
        if (
            _claims(parent, child) is not None
            and child.get("created_by") in (None, parent_id)
            and b.set_tree(cid, linked_fields(child, parent, resource))
        ):
            moved.append(cid)
    for cid in was_linked:
        if cid in linked:
            continue
        child = b.doc(cid)
        if (
            child is not None
            and child.get("created_by") == parent_id
            and b.set_tree(cid, root_fields(child))
        ):
            moved.append(cid)
    for cid in nested:
        child = b.doc(cid)
        if child is None or child.get("parent_id") != parent_id or child.get("link"):
            continue
        if b.set_tree(cid, nested_fields(child, parent)):
            moved.append(cid)
    for cid in moved:
        _cascade(b, cid, depth + 1)


def _unlink_orphans(b: _Batch, gone_id: str) -> None:
    prev = b.prev.get(gone_id)
    if prev is None or prev.doc is None:
        return
    children = linked_children(prev.doc)
    b.stored_many(children)
    for cid in children:
        child = b.doc(cid)
        if child is not None and child.get("created_by") == gone_id and b.set_tree(cid, root_fields(child)):
            _cascade(b, cid, 1)


def resolve(store: Store, changes: Sequence[Change]) -> list[Change]:
    """``changes`` with link fields resolved, plus the changes re-linking stored stacks (see the
    module docstring). Apply the result instead of ``changes``."""
    if not changes:
        return list(changes)
    b = _Batch(store, changes)
    # the batch's Heat roots: linked to their creator, or roots (a few rounds: a creator in the
    # batch may itself be linked in this batch)
    for _ in range(4):
        changed = False
        for sid, doc in list(b.docs.items()):
            if not is_heat_root(doc):
                continue
            found = _creator(b, doc)
            fields = linked_fields(doc, *found) if found else root_fields(doc)
            changed = b.set_tree(sid, fields) or changed
        if not changed:
            break
    # everything below what the batch writes, and what a deleted creator leaves behind
    for sid in list(b.docs):
        _cascade(b, sid)
    for sid in b.gone:
        _unlink_orphans(b, sid)
    return b.result()

