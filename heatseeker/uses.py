"""Reverse lookup ("blast radius"): every stack that uses a value, and where in the stack.

Given any string — an image name or id, a network, a flavor, a key pair, a physical resource id —
``find_uses`` answers every stack the caller may see that holds it in its parameters, environment,
template, resources or outputs, with the stack's root chain and the paths where the value appears
(``parameters.image``, ``template.resources.server.properties.image``,
``resources.server.physical_resource_id``, ``outputs.ip`` …).

How: the engine finds candidates (the value as a phrase of the full text, through the ``Searcher``,
so tenant isolation and admin-only fields apply exactly as for a search); then each candidate's
document — as the caller may see it, secrets already masked — is walked and only the exact places
are kept. The full-text phrase is a superset (it ignores case and punctuation), never the answer.

What matches (a decision):

* **equality** of a whole value: ``cirros-0.6.2`` matches the parameter ``image: cirros-0.6.2``
  (numbers and booleans compare by their text, as in field queries; case matters);
* **within**, for values of at least ``WITHIN_MIN`` characters: the value inside a longer string,
  not glued to letters or digits on either side. Ids travel inside other strings — a URL in an
  output (``http://glance/v2/images/<id>``), user data, a status reason ("Image <id> could not be
  found"), a joined name — and missing them would understate the blast radius. The boundary rule
  keeps ``net1`` from matching ``net10``; the minimum length keeps short values (``1``, ``m1``) from
  matching everywhere. Each place says which kind of match it is; ``exact=True`` keeps equality
  only.
* never a masked value: hidden parameters hold ``******`` in the index, and asking for ``******``
  is refused. Keys are not values: a resource *named* like the value does not match.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from heatseeker.query import tree as t
from heatseeker.query.analysis import words
from heatseeker.query.errors import QueryError
from heatseeker.query.visibility import Visibility
from heatseeker.searcher import Searcher
from heatseeker.secrets import MASK

WITHIN_MIN = 8
MAX_VALUE = 1024
MAX_CANDIDATES = 10_000  # candidate stacks examined at most (the answer says when it stopped)
PAGE = 500

# the places a value is looked for, in the order answers list them
AREAS = ("parameters", "environment", "template", "resources", "outputs")
_RESOURCE_KEYS = ("physical_resource_id", "type", "status_reason")
_OUTPUT_KEYS = ("description", "error")

# the fields a use answer shows of each stack (the candidate itself is read whole)
STACK_FIELDS = ("id", "name", "project_id", "status", "root_id", "ancestors", "path", "depth",
                "parent_id", "created_by", "link")


@dataclass
class Place:
    path: str
    match: str  # "exact" or "within"
    value: str  # the value found there (the whole string, cut at 200 characters)


@dataclass
class Use:
    stack: dict  # STACK_FIELDS of the stack
    places: list[Place] = field(default_factory=list)


@dataclass
class Uses:
    value: str
    stacks: list[Use] = field(default_factory=list)
    candidates: int = 0
    truncated: bool = False
    by_root: bool = True  # group by root stack (not when root_id is admin-only for the caller)

    @property
    def roots(self) -> list[str]:
        return sorted({u.stack.get("root_id") or u.stack["id"] for u in self.stacks})

    def as_dict(self) -> dict:
        by_root: dict[str, list[Use]] = {}
        for u in self.stacks:
            by_root.setdefault(u.stack.get("root_id") or u.stack["id"], []).append(u)
        body: dict = {"value": self.value, "total": len(self.stacks)}
        if self.by_root:
            body["roots"] = [
                {"root_id": rid,
                 "name": (uses[0].stack.get("path") or [None])[0],
                 "stacks": [u.stack["id"] for u in uses]}
                for rid, uses in sorted(by_root.items(), key=lambda kv: (_root_name(kv[1]), kv[0]))
            ]
        body["stacks"] = [
            {**u.stack, "where": [{"path": p.path, "match": p.match, "value": p.value}
                                  for p in u.places]}
            for u in self.stacks
        ]
        body["candidates"] = self.candidates
        body["truncated"] = self.truncated
        return body


def _root_name(uses: list[Use]) -> str:
    path = uses[0].stack.get("path") or [""]
    return str(path[0])


# -- matching (pure) -----------------------------------------------------------------------------


def check_value(value: Any) -> str:
    """The value to look for, or QueryError."""
    if not isinstance(value, str) or not value.strip():
        raise QueryError("give a value to look for (an image, a network, an id, any string)")
    if len(value) > MAX_VALUE:
        raise QueryError(f"the value is longer than {MAX_VALUE} characters")
    if MASK in value:
        raise QueryError(f"{MASK!r} is how hidden values are masked: they are never matched")
    if not words(value):
        raise QueryError("the value needs a word of letters or digits shorter than 40 characters "
                         "(that is how the index finds candidates)")
    return value


def _text(leaf: Any) -> str | None:
    if leaf is None:
        return None
    if isinstance(leaf, bool):
        return "true" if leaf else "false"
    if isinstance(leaf, int | float | str):
        return str(leaf)
    return None


def _within(needle: str, text: str) -> bool:
    start = text.find(needle)
    while start >= 0:
        end = start + len(needle)
        before = text[start - 1] if start else ""
        after = text[end] if end < len(text) else ""
        if not (before.isalnum() and needle[0].isalnum()) and not (
            after.isalnum() and needle[-1].isalnum()
        ):
            return True
        start = text.find(needle, start + 1)
    return False


def match_kind(value: str, leaf: Any, *, exact: bool = False) -> str | None:
    """``"exact"``, ``"within"`` or None for one leaf of a document."""
    text = _text(leaf)
    if text is None or text == MASK:
        return None
    if text == value:
        return "exact"
    if not exact and len(value) >= WITHIN_MIN and len(text) > len(value) and _within(value, text):
        return "within"
    return None


def _join(prefix: str, key: Any) -> str:
    return f"{prefix}.{key}" if prefix else str(key)


def _leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, _join(path, k))
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from _leaves(v, f"{path}[{i}]")
    else:
        yield path, value


def _area_leaves(doc: dict, area: str) -> Iterator[tuple[str, Any]]:
    part = doc.get(area)
    if area == "resources" and isinstance(part, list):
        for i, r in enumerate(part):
            if not isinstance(r, dict):
                continue
            name = r.get("name") or f"[{i}]"
            for k in _RESOURCE_KEYS:
                yield f"resources.{name}.{k}", r.get(k)
    elif area == "outputs" and isinstance(part, list):
        for i, o in enumerate(part):
            if not isinstance(o, dict):
                continue
            key = o.get("key") or f"[{i}]"
            yield from _leaves(o.get("value"), f"outputs.{key}")
            for k in _OUTPUT_KEYS:
                yield from _leaves(o.get(k), f"outputs.{key}.{k}")
    elif isinstance(part, dict | list):
        yield from _leaves(part, area)


def locate(doc: dict, value: str, *, exact: bool = False) -> list[Place]:
    """Every place of ``doc`` (parameters, environment, template, resources, outputs) holding
    ``value``, in that order."""
    places = []
    for area in AREAS:
        for path, leaf in _area_leaves(doc, area):
            kind = match_kind(value, leaf, exact=exact)
            if kind:
                text = str(_text(leaf))
                places.append(Place(path, kind, text if len(text) <= 200 else text[:199] + "…"))
    return places


def candidates_query(value: str) -> t.Node:
    """What the engine is asked: the value's words, in order, anywhere (a superset)."""
    return t.Phrase(None, value)


# -- the lookup ----------------------------------------------------------------------------------


def find_uses(
    searcher: Searcher,
    value: str,
    *,
    view: Visibility,
    exact: bool = False,
    subtree: str | None = None,
    max_candidates: int = MAX_CANDIDATES,
) -> Uses:
    """Every stack ``view`` may see that uses ``value`` (see the module docstring)."""
    value = check_value(value)
    node = candidates_query(value)
    answer = Uses(value, by_root="root_id" not in view.hidden_fields)
    sort = (t.SortKey("id"),)
    cursor: list | None = None
    total = 0
    while answer.candidates < max_candidates:
        page = searcher.search(
            node, view=view, sort=sort, limit=min(PAGE, max_candidates - answer.candidates),
            subtree=subtree, search_after=cursor,
        )
        total = max(total, page.total + answer.candidates if cursor is not None else page.total)
        for hit in page.hits:
            answer.candidates += 1
            places = locate(hit.source, value, exact=exact)
            if places:
                stack = {k: hit.source.get(k) for k in STACK_FIELDS
                         if k not in view.hidden_fields}  # admin-only: not even as null
                stack["id"] = stack["id"] or hit.id
                answer.stacks.append(Use(stack, places))
        if not page.hits or page.hits[-1].id not in page.cursors:
            break
        cursor = page.cursors[page.hits[-1].id]
        if answer.candidates >= total:
            break
    answer.truncated = answer.candidates < total
    answer.stacks.sort(key=lambda u: (
        [str(p) for p in (u.stack.get("path") or [])], u.stack["id"]))
    return answer
