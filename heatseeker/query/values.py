"""What a user wrote for a field, turned into the typed values of the query tree: one set of rules.

The query string, the DSL and ``simple_query_string`` all name a field and give a value, as text
or (in the DSL) as a JSON scalar. How the value is read depends on the field's type, never on the
grammar that carried it, so it is decided here once:

* ``target(name)``: the field a query names and how its values are read; ``name.raw`` is the
  exact, unanalysed name (Searchlight's alias), and ``FULLTEXT`` is the kind of "everywhere";
* ``integer``: a JSON integer (or an integral float) or text of ASCII digits (with a sign, leading
  zeros allowed), within 64 bits: longer digit runs are out of range, not "not an integer";
* ``date``: what ``datemath.parse_date`` reads (ISO 8601, epoch milliseconds, date math), or a
  JSON number of epoch milliseconds;
* ``text``: keyword fields and dynamic paths compare as text; booleans are ``true``/``false``;
* ``boolean``: a flag as clients send it (``true``, ``"True"``, ``"1"`` …);
* ``exact`` (term semantics: a date without seconds names its whole period), ``bound`` (a range
  bound: ``lte``/``gt`` dates round up) and ``analysed`` (match semantics: words on an analysed
  field, an exact value elsewhere);
* ``any_of``: alternatives as one node, simplified (an OR of exact values of one field is one
  ``Terms``).

Each grammar says *where* a mistake is in its own words (a JSON path in the DSL, a character
offset in the query string), so a conversion raises a ``BadValue`` that carries no location and
the grammar turns it into its ``QueryError``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from heatseeker.query import fields
from heatseeker.query.datemath import parse_date
from heatseeker.query.errors import QueryError, shown
from heatseeker.query.tree import (
    Bool,
    MatchAll,
    MatchNone,
    Node,
    Phrase,
    Range,
    Scalar,
    Term,
    Terms,
    Text,
)

FULLTEXT = "fulltext"  # the kind of "everywhere" (a target whose field is None)

Target = tuple[str | None, str]  # (canonical field, or None for everywhere; its kind)

_INT = re.compile(r"[+-]?[0-9]+")
_INT_MAX_CHARS = 20  # a sign and 19 digits hold any 64-bit integer: longer is out of range, unread
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


class BadValue(ValueError):
    """A value its field cannot hold. The grammar that read it words the error."""


class NotAnInteger(BadValue):
    pass


class IntegerOutOfRange(BadValue):
    pass


class NotADate(BadValue):
    """``detail`` explains why the text is not a date; None when the value is not text or a
    number at all (a boolean, an object …)."""

    def __init__(self, detail: str | None = None):
        super().__init__(detail or "not a date")
        self.detail = detail


class FractionalMillis(BadValue):
    """Epoch milliseconds with a fraction."""


class NotAScalar(BadValue):
    """An object, a list or null where a string, number or boolean was expected."""


class NotABoolean(BadValue):
    pass


def target(name: str, where: str | None = None) -> Target:
    """The field ``name`` designates and its kind; raises ``fields.UnknownField`` (at ``where``)."""
    canonical, kind = fields.resolve(name, where)
    if name.endswith(".raw") and kind == fields.TEXT:
        kind = fields.KEYWORD  # Searchlight's name.raw: the exact, unanalysed name
    return canonical, kind


def integer(value: Any) -> int:
    if isinstance(value, bool):
        raise NotAnInteger()
    if isinstance(value, float):
        if not value.is_integer():
            raise NotAnInteger()
        value = int(value)
    if isinstance(value, str):
        if not _INT.fullmatch(value):
            raise NotAnInteger()
        if len(value) > _INT_MAX_CHARS:
            raise IntegerOutOfRange()
        value = int(value)
    if not isinstance(value, int):
        raise NotAnInteger()
    if not _INT_MIN <= value <= _INT_MAX:
        raise IntegerOutOfRange()
    return value


def date(value: Any, now: datetime, round_up: bool) -> datetime:
    """An aware UTC datetime; ``round_up`` for ``lte``/``gt`` bounds (see datemath.py)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise NotADate()
    if isinstance(value, float):
        if not value.is_integer():
            raise FractionalMillis()
        value = int(value)
    text = str(value)
    try:
        return parse_date(text, now, round_up)
    except QueryError as e:
        raise NotADate(e.message) from None
    except (OverflowError, ValueError):
        raise NotADate(f"invalid date {shown(text)}") from None


def text(value: Any) -> str:
    """A scalar as the text it is compared as (keyword fields, dynamic paths, analysed words)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    raise NotAScalar()


def boolean(value: Any) -> bool:
    """A boolean, or its text as python-searchlightclient and query strings send it."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in ("true", "1"):
            return True
        if word in ("false", "0"):
            return False
    raise NotABoolean()


def exact(target: Target, value: Any, now: datetime) -> Node:
    """An exact value of a field (term semantics): a date names its whole period, so
    ``2026-11-25`` is a Range over that day and a date with seconds is a Term."""
    name, kind = target
    assert name is not None
    if kind == fields.INT:
        return Term(name, integer(value))
    if kind == fields.DATE:
        low = date(value, now, round_up=False)
        high = date(value, now, round_up=True)
        return Term(name, low) if low == high else Range(name, gte=low, lte=high)
    return Term(name, text(value))


def bound(target: Target, value: Any, now: datetime, key: str) -> Scalar:
    """One bound of a range; ``key`` is gte, gt, lte or lt (lte and gt dates round up)."""
    name, kind = target
    assert name is not None
    if kind == fields.INT:
        return integer(value)
    if kind == fields.DATE:
        return date(value, now, round_up=key in ("gt", "lte"))
    return text(value)


def analysed(target: Target, value: Any, operator: str, now: datetime, phrase: bool) -> Node:
    """Match semantics: the words of an analysed field (or of everything); empty text matches
    nothing (Elasticsearch's ``zero_terms_query: none``); any other field takes the whole text as
    an exact value (what Elasticsearch's keyword analyser gives)."""
    name, kind = target
    if kind in (fields.TEXT, FULLTEXT):
        words = text(value)
        if not words.strip():
            return MatchNone()
        return Phrase(name, words) if phrase else Text(name, words, operator)
    return exact(target, value, now)


def any_of(nodes: list[Node]) -> Node:
    """A node matching what any of ``nodes`` matches, simplified: nested ORs are spliced,
    MatchAll wins, MatchNone drops out (none left: MatchNone), one node is itself, and exact
    values of one field become one Term/Terms without duplicates."""
    flat: list[Node] = []
    for node in nodes:
        if _is_pure_or(node):
            flat.extend(node.should)  # type: ignore[union-attr]
        else:
            flat.append(node)
    if any(isinstance(n, MatchAll) for n in flat):
        return MatchAll()
    flat = [n for n in flat if not isinstance(n, MatchNone)]
    if not flat:
        return MatchNone()
    if len(flat) == 1:
        return flat[0]
    names = {n.field for n in flat if isinstance(n, Term | Terms)}
    if len(names) == 1 and all(isinstance(n, Term | Terms) for n in flat):
        found: dict[Scalar, None] = {}  # ordered, without duplicates
        for n in flat:
            for v in (n.value,) if isinstance(n, Term) else n.values:  # type: ignore[union-attr]
                found[v] = None
        (name,) = names
        unique = tuple(found)
        return Term(name, unique[0]) if len(unique) == 1 else Terms(name, unique)
    return Bool(should=tuple(flat))


def _is_pure_or(node: Node) -> bool:
    return (
        isinstance(node, Bool)
        and bool(node.should)
        and not node.must
        and not node.must_not
        and not node.filter
        and node.minimum_should_match is None
    )
