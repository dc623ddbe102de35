"""How every engine turns a document's or a query's values into index terms: one definition, so the
embedded engine and OpenSearch compare values the same way (the conformance suite's reference
evaluator keeps its own, independent reading on purpose)."""

from __future__ import annotations

from collections.abc import Iterator
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
