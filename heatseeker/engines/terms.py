"""How every engine turns a document's or a query's values into index terms: one definition, so the
embedded engine and OpenSearch compare values the same way (the conformance suite's reference
evaluator keeps its own, independent reading on purpose)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from heatseeker.query import fields as F

EXACT_MAX_CHARS = 8192  # exact forms of keyword/text values are cut here (term length limits)


def iso(value: datetime) -> str:
    """A datetime as the second-precision UTC text documents carry."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def keyword(value: Any) -> str:
    """The exact form of a keyword or text value."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, datetime):
        text = iso(value)
    else:
        text = str(value)
    return text[:EXACT_MAX_CHARS]


def dynamic(value: Any) -> str:
    """The text form of a value under a dynamic path (``fields.scalar_text``)."""
    if isinstance(value, datetime):
        return iso(value)
    return F.scalar_text(value)


def date(value: Any) -> datetime | None:
    """A datetime (UTC) from a datetime or ISO 8601 text; None for anything else."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def strings(value: Any) -> Iterator[str]:
    """Every string the full text takes from a value: the keys and the scalars of nested maps
    and lists, booleans as ``true``/``false``, nothing for None."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield str(key)
            yield from strings(child)
    elif isinstance(value, (list, tuple)):
        for child in value:
            yield from strings(child)
    elif isinstance(value, bool):
        yield "true" if value else "false"
    elif value is not None:
        yield str(value)


_NESTED = (dict, list, tuple)
_KV_SEP = F.KV_SEP
_MAX_VALUE = F.MAX_VALUE_CHARS


def walk(
    value: Any,
    path: str,
    kv: Callable[[str], None],
    text: Callable[[str], None],
    paths: Callable[[str], None],
) -> bool:
    """``fields.flatten`` over ``value`` at ``path`` (the same terms, in the same order, to ``kv``)
    fused with the collection of its full-text strings (the keys and the scalars, as ``strings``
    gives them, to ``text``) and of the dotted paths below ``path`` that hold a leaf (to
    ``paths``); returns whether ``value`` has a leaf. Both engines index dynamic roots with it.

    The collectors are bound methods passed along: a document has hundreds of leaves and this runs
    per write, so scalars are handled inline (no call per leaf); a reindex spends a third of its
    Python time here. ``test_walk_is_flatten`` holds it to ``fields.flatten``."""
    cls = type(value)
    if cls is dict or (cls is not list and cls is not tuple and isinstance(value, dict)):
        found = False
        for key, child in value.items():
            name = key if type(key) is str else str(key)
            text(name)
            if _KV_SEP in name:
                name = name.replace(_KV_SEP, " ")
            below = path + "." + name
            # ``_leaf`` written out: a map's values are most of a document's leaves; the exact
            # types first (``type() is``: documents are decoded JSON), a string first of all
            kind = type(child)
            if kind is str:
                text(child)
                kv(below + _KV_SEP + child[:_MAX_VALUE])
            elif kind is dict or kind is list or isinstance(child, _NESTED):
                if not walk(child, below, kv, text, paths):
                    continue
            elif child is None:
                kv(below + _KV_SEP + "null")
            elif child is True or child is False:
                word = "true" if child else "false"
                text(word)
                kv(below + _KV_SEP + word)
            else:
                word = child if isinstance(child, str) else str(child)
                text(word)
                kv(below + _KV_SEP + word[:_MAX_VALUE])
            found = True
            paths(below)
            if "." in name:  # a dotted key also answers for its intermediate paths
                parts = name.split(".")
                for i in range(1, len(parts)):
                    paths(path + "." + ".".join(parts[:i]))
        return found
    if cls is list or cls is tuple or isinstance(value, (list, tuple)):
        found = False
        for child in value:
            kind = type(child)
            if kind is str:
                text(child)
                kv(path + _KV_SEP + child[:_MAX_VALUE])
            elif kind is dict or kind is list or isinstance(child, _NESTED):
                found = walk(child, path, kv, text, paths) or found
                continue
            else:
                _leaf(path, child, kv, text)
            found = True
        return found
    _leaf(path, value, kv, text)
    return True


def _leaf(path: str, value: Any, kv: Callable[[str], None], text: Callable[[str], None]) -> None:
    if value is None:
        kv(path + _KV_SEP + "null")
    elif value is True or value is False:
        word = "true" if value else "false"
        text(word)
        kv(path + _KV_SEP + word)
    else:
        word = value if isinstance(value, str) else str(value)
        text(word)
        kv(path + _KV_SEP + word[:_MAX_VALUE])
