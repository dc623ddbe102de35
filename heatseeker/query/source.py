"""``_source`` selection: which parts of a stack's document an answer shows.

A search request's ``_source`` (normalised by ``query/request.py``) is ``True`` (everything),
``False`` (nothing), a tuple of dotted paths to include, or ``{"include": …, "exclude": …}``, as in
Elasticsearch. ``select`` applies it to one document; ``engine_fields`` says which top-level keys
the engine must return for it, so an engine reads no more than the answer shows.

Paths walk into lists item by item (``outputs.key`` keeps the ``key`` of every output), ``*`` at
the end of a key matches a prefix, and a path that runs on below a scalar selects nothing. Pure:
nothing of heatseeker is imported, so the API and the CLI shape sources the same way.
"""

from __future__ import annotations

import copy
from typing import Any

# a normalised ``_source`` spec (see the module docstring)
SourceSpec = bool | tuple[str, ...] | dict[str, Any]


def select(source: dict, spec: SourceSpec) -> dict:
    """Apply a normalised ``_source`` spec (True, False, include tuple, or include/exclude)."""
    if spec is True:
        return source
    if spec is False:
        return {}
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    if isinstance(spec, tuple):
        include = spec
    elif isinstance(spec, dict):
        include = tuple(spec.get("include") or ())
        exclude = tuple(spec.get("exclude") or ())
    out = _pick(source, include) if include else dict(source)
    if exclude:
        out = copy.deepcopy(out)  # nested parts may be shared with the source
    for path in exclude:
        _drop(out, path.split("."))
    return out


def engine_fields(spec: SourceSpec) -> tuple[str, ...] | None:
    """The top-level keys the engine must return for a ``_source`` spec (None: all)."""
    if spec is True or isinstance(spec, dict):
        return None
    if spec is False:
        return ("id",)
    heads = {p.split(".")[0] for p in spec}
    if any(h.endswith("*") for h in heads):
        return None
    return tuple(sorted(heads | {"id"}))


_NOTHING = object()


def _pick_value(value, rest: str):
    """The part of ``value`` under the dotted path ``rest`` (lists: per item), or _NOTHING."""
    if isinstance(value, list):
        items = [_pick_value(v, rest) for v in value]
        kept = [i for i in items if i is not _NOTHING]
        return kept if kept else _NOTHING
    if isinstance(value, dict):
        sub = _pick(value, (rest,))
        return sub if sub else _NOTHING
    return _NOTHING  # the path goes on below a scalar: nothing there


def _merge(into: dict, key: str, value) -> None:
    have = into.get(key, _NOTHING)
    if have is _NOTHING:
        into[key] = value
    elif isinstance(have, dict) and isinstance(value, dict):
        for k, v in value.items():
            _merge(have, k, v)
    elif isinstance(have, list) and isinstance(value, list) and len(have) == len(value):
        into[key] = [
            (_merged(a, b) if isinstance(a, dict) and isinstance(b, dict) else b)
            for a, b in zip(have, value, strict=True)
        ]
    else:
        into[key] = value


def _merged(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        _merge(out, k, v)
    return out


def _pick(source: dict, paths: tuple[str, ...]) -> dict:
    out: dict = {}
    for path in paths:
        head, _, rest = path.partition(".")
        if head == "*":
            return dict(source)
        if head.endswith("*"):
            for k, v in source.items():
                if k.startswith(head[:-1]):
                    _merge(out, k, v)
            continue
        if head not in source:
            continue
        if not rest:
            _merge(out, head, source[head])
            continue
        sub = _pick_value(source[head], rest)
        if sub is not _NOTHING:
            _merge(out, head, sub)
    return out


def _drop(doc, path: list[str]) -> None:
    if not path:
        return
    if isinstance(doc, list):
        for item in doc:
            _drop(item, path)
        return
    if not isinstance(doc, dict):
        return
    if len(path) == 1:
        doc.pop(path[0], None)
    elif path[0] in doc:
        _drop(doc[path[0]], path[1:])
