"""Semantic diff of two stack documents: what changed in the stack, not in its JSON text.

Pure functions; imports nothing of heatseeker. It sits below the record, beside ``documents.py``:
the store digests each write with it (``digest``: equal digests, no new revision) and the history
service (``history/service.py``, above the record) diffs the revisions the store kept. So the diff
is here and not in ``history/``, which would make the store import the floor that reads it.

A document is first turned into its *semantic view* (``view``), a nested dict whose paths read the
way an operator thinks of a stack::

    description                          the stack's description
    tags                                 the stack's tags (one value: a sorted list)
    parameters.<name>                    parameter values (hidden ones are already masked)
    resources.<name>.<key>...            a resource: its template definition (type, properties,
                                         depends_on, metadata, …; CFN's Type/Properties read as
                                         type/properties) and its live physical_resource_id
    outputs.<key>                        output values as Heat resolved them
    environment.resource_registry.<k>    registry mappings (environment.resource_registry.My::Box)
    environment.parameter_defaults.<k>, environment.parameters.<k>
    files.<name>                         the file's content digest (or null when unknown)
    template.<section>...                every other template section (heat_template_version,
                                         parameters definitions, outputs definitions, conditions …)

``diff(a, b)`` compares two views: a key only in ``b`` is ``added``, only in ``a`` ``removed``; two
dicts are compared key by key, two lists of dicts of the same length item by item (``.0``, ``.1``),
anything else is ``changed`` when it differs. Each change is a ``FieldChange``, answered as
``{path, kind, old, new}``. (Why not ``Change``: the record's ``store.Change`` is one write of a
stack, the unit of the write path; a ``FieldChange`` is one field of a stack that differs between
two documents, the unit the history's "changes" answer in.)

Why not a text diff of the JSON: a text diff shows braces and moved lines; an operator asks
"which flavor changed, from what to what", which is a path and two values.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

ADDED = "added"
REMOVED = "removed"
CHANGED = "changed"

_CFN_KEYS = {"Type": "type", "Properties": "properties", "DependsOn": "depends_on",
             "Metadata": "metadata", "DeletionPolicy": "deletion_policy",
             "UpdatePolicy": "update_policy", "Condition": "condition"}
_RESOURCE_SECTIONS = ("resources", "Resources")
_DESCRIPTION_KEYS = ("description", "Description")

Key = str | int


@dataclass(frozen=True)
class FieldChange:
    """One field that differs between two semantic views: where, how, and its two values."""

    keys: tuple[Key, ...]
    kind: str  # ADDED | REMOVED | CHANGED
    old: Any = None
    new: Any = None

    @property
    def path(self) -> str:
        return ".".join(str(k) for k in self.keys)

    def as_dict(self) -> dict:
        return {"path": self.path, "kind": self.kind, "old": self.old, "new": self.new}


# -- the semantic view -----------------------------------------------------------------------------


def _resource_definitions(template: Mapping) -> dict[str, dict]:
    for section in _RESOURCE_SECTIONS:
        resources = template.get(section)
        if isinstance(resources, Mapping):
            out = {}
            for name, definition in resources.items():
                if isinstance(definition, Mapping):
                    out[str(name)] = {_CFN_KEYS.get(k, k): v for k, v in definition.items()}
                else:
                    out[str(name)] = {"definition": definition}
            return out
    return {}


def view(doc: Mapping, file_digests: Mapping[str, str | None] | None = None) -> dict:
    """The semantic view of a stack document (see the module docstring)."""
    template = doc.get("template")
    template = template if isinstance(template, Mapping) else {}
    resources = _resource_definitions(template)
    for live in doc.get("resources") or ():
        if not isinstance(live, Mapping) or not live.get("name"):
            continue
        entry = resources.setdefault(str(live["name"]), {"type": live.get("type")})
        if live.get("physical_resource_id"):
            entry["physical_resource_id"] = live["physical_resource_id"]
    outputs = {
        str(o.get("key")): o.get("value")
        for o in doc.get("outputs") or ()
        if isinstance(o, Mapping) and o.get("key") is not None
    }
    environment = doc.get("environment")
    environment = environment if isinstance(environment, Mapping) else {}
    digests = file_digests or {}
    rest = {
        k: v
        for k, v in template.items()
        if k not in _RESOURCE_SECTIONS and k not in _DESCRIPTION_KEYS
    }
    return {
        "description": doc.get("description"),
        "tags": sorted(str(t) for t in doc.get("tags") or ()),
        "parameters": dict(doc.get("parameters") or {}),
        "resources": resources,
        "outputs": outputs,
        "environment": {
            section: dict(environment.get(section) or {})
            for section in ("resource_registry", "parameter_defaults", "parameters")
        },
        "files": {str(name): digests.get(name) for name in doc.get("files") or ()},
        "template": rest,
    }


def digest(doc: Mapping, file_digests: Mapping[str, str | None] | None = None) -> str:
    """A short digest of what makes a revision: equal digests, no revision."""
    canonical = _canonical(view(doc, file_digests))
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()[:32]


# -- the diff --------------------------------------------------------------------------------------


def _is_list_of_dicts(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _walk(a: Any, b: Any, keys: tuple[Key, ...]) -> Iterator[FieldChange]:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        for k in a:
            if k not in b:
                yield FieldChange(keys + (k,), REMOVED, a[k], None)
        for k in b:
            if k not in a:
                yield FieldChange(keys + (k,), ADDED, None, b[k])
            else:
                yield from _walk(a[k], b[k], keys + (k,))
        return
    if _is_list_of_dicts(a) and _is_list_of_dicts(b) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from _walk(x, y, keys + (i,))
        return
    if not _same(a, b):
        yield FieldChange(keys, CHANGED, a, b)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON (``True`` is not ``1``, ``1`` is not ``1.0``), as ``digest`` sees them."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict | list):
        return _canonical(a) == _canonical(b)
    return bool(a == b)


def diff_views(a: Mapping, b: Mapping) -> list[FieldChange]:
    return list(_walk(a, b, ()))


def diff(
    a: Mapping,
    b: Mapping,
    a_files: Mapping[str, str | None] | None = None,
    b_files: Mapping[str, str | None] | None = None,
) -> list[FieldChange]:
    """What changed from document ``a`` to document ``b`` (see the module docstring)."""
    return diff_views(view(a, a_files), view(b, b_files))


# -- using changes ---------------------------------------------------------------------------------

_MISSING = object()


def get(tree: Any, keys: Iterable[Key]) -> Any:
    """The value at ``keys`` in a view, or ``_MISSING``."""
    node = tree
    for k in keys:
        in_dict = isinstance(node, Mapping) and k in node
        in_list = isinstance(node, list) and isinstance(k, int) and 0 <= k < len(node)
        if not (in_dict or in_list):
            return _MISSING
        node = node[k]
    return node


def missing(value: Any) -> bool:
    return value is _MISSING


def apply(tree: Any, changes: Iterable[FieldChange]) -> Any:
    """``tree`` (a view) with ``changes`` applied: ``apply(view(a), diff(a, b)) == view(b)``."""
    import copy

    out = copy.deepcopy(tree)
    for ch in changes:
        if not ch.keys:
            out = copy.deepcopy(ch.new)
            continue
        parent = get(out, ch.keys[:-1])
        last = ch.keys[-1]
        if ch.kind == REMOVED:
            if isinstance(parent, dict):
                parent.pop(last, None)
        else:
            parent[last] = copy.deepcopy(ch.new)
    return out


def matches(path: str, field: str) -> bool:
    """Does a change at ``path`` concern ``field``: the field itself, something under it, or a
    part that holds it (``resources.server`` added concerns ``resources.server.properties.x``)."""
    return path == field or path.startswith(field + ".") or field.startswith(path + ".")


def normalise_field(field: str) -> str:
    """The view path for a field as the query string names it: ``template.resources.x`` is
    ``resources.x`` (a resource's definition lives in the template)."""
    field = field.strip().strip(".")
    if field.startswith("template.resources.") or field == "template.resources":
        return field[len("template."):]
    return field
