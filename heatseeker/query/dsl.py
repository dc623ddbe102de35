"""The Elasticsearch query DSL subset Searchlight users send, parsed into a query tree (``tree.py``).

``parse(query)`` takes the ``query`` member of a ``POST /v1/search`` body (already decoded from
JSON) and returns a tree, or raises ``QueryError`` whose message names the unsupported or invalid
part and its JSON path (``query.bool.must[1]``). Nothing else ever escapes: any JSON value is either
a query or a QueryError.

Supported query types (``boost`` and ``_name`` are accepted wherever Elasticsearch allows them and
ignored: heatseeker's scores are for ordering only); each is one ``@_clause`` method below::

    match_all, match_none
    bool              must / should / must_not / filter (an object or a list), minimum_should_match
    constant_score    {"filter": q}                              → Bool(filter=(q,))
    term              {"f": v} or {"f": {"value": v}}            → Term (a date: Term or Range)
    terms             {"f": [v, ...]}                            → Terms (no terms lookup)
    ids               {"values": [...]}                          → Ids
    match             {"f": "text"} or {"f": {"query", "operator"}}   → Text (operator "or")
    match_phrase      {"f": "text"} or {"f": {"query"}}          → Phrase
    multi_match       {"query", "fields", "type", "operator"}    → Bool(should=per field, msm=1)
    query_string      {"query", "default_operator", "default_field"/"fields"}  → querystring.parse
    simple_query_string {"query", "fields", "default_operator"}  → simple.parse
    range             gte/gt/lte/lt (or from/to/include_lower/include_upper)  → Range
    prefix, wildcard  {"f": "v"} or {"f": {"value": "v"}}        → Prefix / Wildcard
    exists            {"field": "f"}                             → Exists

Decisions:

* Fields go through ``values.target`` (``name.raw`` and ``_id`` are aliases; ``name.raw`` is the
  exact, unanalysed name; an unknown name is ``fields.UnknownField``, with a suggestion). ``_all``
  and ``*`` mean "everywhere" where Elasticsearch allows them (match, match_phrase, multi_match and
  query-string fields).
* Values are typed by ``values.py``, the same rules as the query string's, never by the engines: an
  int field takes an integer (or an integer string, spaces around it allowed); a date field takes
  anything ``datemath.parse_date`` reads (or epoch milliseconds as a number); keyword fields and
  dynamic paths take scalars compared as text (``true``/``false`` for booleans). This module only
  says where a bad value is (``_bad_value``).
* As in Elasticsearch, a ``term`` on a date names the whole period it writes (``2026-11-25`` is that
  day: a Range), and ``lte``/``gt`` date bounds round up (``lte now/d`` includes all of today).
* ``term`` on a text field compares with the field's exact value (like ``name.raw``), not with one
  of its analysed words as Elasticsearch would: the tree has one exact-match node.
* ``match``/``match_phrase`` on a field that is not analysed (keyword, int, date, dynamic path) is
  an exact ``term`` on the whole text, which is what Elasticsearch's keyword analyser gives. Empty
  text on an analysed field matches nothing (Elasticsearch's ``zero_terms_query: none``).
* ``query_string`` and ``simple_query_string`` default to the OR operator, as Elasticsearch (and so
  Searchlight) did. With ``default_field``/``fields``, the bare words of the parsed query string
  (``Text``/``Phrase`` on no field, ``Prefix``/``Wildcard`` on ``_all``) are re-aimed at those
  fields (a ``should`` over several).
* ``minimum_should_match`` is computed as Elasticsearch does (``2``, ``"-1"``, ``"75%"``,
  ``"-25%"``, ``"3<90%"``) against the number of should clauses and stored as an int; a bool with
  no must/filter clause needs at least one should clause whatever it says (Lucene's rule), and one
  asking for more should clauses than it has matches nothing (MatchNone).
* An empty ``bool`` matches everything; a ``bool`` with only ``must_not`` gets ``must=(MatchAll(),)``
  (the shape ``querystring`` uses for a pure negation).
* ``time_zone`` and ``format`` on ``range`` are accepted and ignored: dates are read as ISO 8601,
  epoch millis or date math, in UTC unless they carry an offset.
* ``script`` (and ``_script``, ``script_score``, ``script_fields``, ``scripted_metric``) anywhere in
  the query, at any depth, is refused before anything else is looked at.
* Limits (``limits.py``): ``max_depth`` levels of nesting in the resulting tree (leaves count 1; at
  most ``MAX_DEPTH_CEILING``, 100, whatever is configured: deeper would reach Python's recursion
  limit), ``max_clauses`` leaf queries, ``max_terms`` values over all ``terms``/``ids`` queries of
  the tree, and ``max_query_string`` characters in a ``query_string``/``simple_query_string``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from heatseeker.query import fields, querystring, simple, values
from heatseeker.query.errors import QueryError, describe
from heatseeker.query.limits import MAX_DEPTH_CEILING, Limits, check_tree, reject_scripts
from heatseeker.query.tree import (
    Bool,
    Exists,
    Ids,
    MatchAll,
    MatchNone,
    Node,
    Phrase,
    Prefix,
    Range,
    Scalar,
    Term,
    Terms,
    Text,
    Wildcard,
)
from heatseeker.query.values import FULLTEXT, Target

_IGNORED = frozenset({"boost", "_name"})
_MSM_INT = re.compile(r"-?[0-9]{1,9}")
_MSM_PERCENT = re.compile(r"(-?[0-9]{1,9})%")
_MSM_CONDITION = re.compile(r"([0-9]{1,9})<(-?[0-9]{1,9}%?)")
_RANGE_BOUNDS = ("gte", "gt", "lte", "lt")
# from/to with their include flag: (key, flag, the bound when included, when not)
_RANGE_FROM_TO = (("from", "include_lower", "gte", "gt"), ("to", "include_upper", "lte", "lt"))
_RANGE_OPTIONS = frozenset(
    {*_RANGE_BOUNDS, "from", "to", "include_lower", "include_upper", "format", "time_zone"}
)

_DEFAULTS = Limits()

# Query type → the method parsing its body (filled by @_clause; SUPPORTED follows from it).
_CLAUSES: dict[str, Callable[..., Node]] = {}


def parse(query: Any, *, now: datetime | None = None, limits: Limits = _DEFAULTS) -> Node:
    """Parse a decoded JSON query into a tree; raise QueryError for anything else."""
    if query is None:
        return MatchAll()
    reject_scripts(query, "query")
    if not isinstance(query, dict):
        raise QueryError(f"expected a query object at query, got {describe(query)}")
    if not query:
        return MatchAll()
    if now is None:
        now = datetime.now(UTC)
    if limits.max_depth > MAX_DEPTH_CEILING:
        limits = replace(limits, max_depth=MAX_DEPTH_CEILING)
    node = _Parser(now, limits).query(query, "query", 1)
    check_tree(node, limits)
    return node


def minimum_should_match(spec: Any, optional: int, path: str) -> int:
    """Elasticsearch's ``minimum_should_match`` for ``optional`` should clauses (may exceed it)."""
    if isinstance(spec, bool) or not isinstance(spec, int | str):
        raise QueryError(
            f'minimum_should_match must be an integer or a string such as "75%" at {path}, '
            f"got {describe(spec)}"
        )
    if isinstance(spec, int):
        return max(0, optional + spec if spec < 0 else spec)
    text = spec.strip()
    if "<" in text:
        # no whitespace around "<" (split and strip: a regular expression \s*<\s* backtracks,
        # quadratic in a run of spaces)
        text = "<".join(part.strip() for part in text.split("<"))
        result = optional
        for part in text.split():
            m = _MSM_CONDITION.fullmatch(part)
            if m is None:
                raise QueryError(f"invalid minimum_should_match {spec!r} at {path}")
            if optional <= int(m.group(1)):
                return result
            result = _msm_simple(m.group(2), optional, spec, path)
        return result
    return _msm_simple(text, optional, spec, path)


def _msm_simple(text: str, optional: int, spec: str, path: str) -> int:
    m = _MSM_PERCENT.fullmatch(text)
    if m is not None:
        percent = int(m.group(1))
        if abs(percent) > 100:
            raise QueryError(f"invalid minimum_should_match {spec!r} at {path}: over 100%")
        exact = optional * percent / 100
        # Elasticsearch: a negative percentage is "all but", truncated toward zero like Java's
        # (int) cast: -25% of 3 clauses is 3 + (int) -0.75 = 3
        result = optional + int(exact) if exact < 0 else int(exact)
    elif _MSM_INT.fullmatch(text):
        calc = int(text)
        result = optional + calc if calc < 0 else calc
    else:
        raise QueryError(
            f"invalid minimum_should_match {spec!r} at {path}: expected an integer such as 2 or "
            f"-1, a percentage such as 75% or -25%, or conditions such as 3<90%"
        )
    return max(0, result)


def _clause(name: str) -> Callable[[Callable[..., Node]], Callable[..., Node]]:
    """Register a method as the parser of query type ``name``: ``(self, body, path, level)``."""

    def register(method: Callable[..., Node]) -> Callable[..., Node]:
        _CLAUSES[name] = method
        return method

    return register


class _Parser:
    def __init__(self, now: datetime, limits: Limits):
        self.now = now
        self.limits = limits

    # -- structure -----------------------------------------------------------------------------

    def query(self, spec: Any, path: str, level: int) -> Node:
        if level > self.limits.max_depth:
            raise QueryError(
                f"query nested too deeply at {path} (at most {self.limits.max_depth} levels)"
            )
        if not isinstance(spec, dict):
            raise QueryError(f"expected a query object at {path}, got {describe(spec)}")
        if len(spec) != 1:
            if not spec:
                raise QueryError(f"empty query object at {path}: name one query type")
            names = ", ".join(repr(k) for k in spec)
            raise QueryError(
                f"a query object must have exactly one key (the query type) at {path}, got {names}"
            )
        ((qtype, body),) = spec.items()
        handler = _CLAUSES.get(qtype)
        if handler is None:
            raise QueryError(
                f"unsupported query type {qtype!r} at {path}; supported: {', '.join(SUPPORTED)}"
            )
        return handler(self, body, f"{path}.{qtype}", level)

    def clauses(self, value: Any, path: str, level: int) -> tuple[Node, ...]:
        if isinstance(value, dict):
            return (self.query(value, path, level),)
        if isinstance(value, list):
            if len(value) > self.limits.max_clauses:
                raise QueryError(
                    f"too many clauses at {path}: {len(value)}, at most "
                    f"{self.limits.max_clauses} allowed"
                )
            return tuple(self.query(v, f"{path}[{i}]", level) for i, v in enumerate(value))
        raise QueryError(
            f"expected a query object or a list of query objects at {path}, got {describe(value)}"
        )

    @staticmethod
    def obj(body: Any, path: str) -> dict:
        if not isinstance(body, dict):
            raise QueryError(f"expected an object at {path}, got {describe(body)}")
        return body

    @staticmethod
    def check_options(body: dict, path: str, allowed: frozenset[str] | set[str]) -> None:
        extra = [k for k in body if k not in allowed and k not in _IGNORED]
        if extra:
            raise QueryError(
                f"unsupported option {extra[0]!r} at {path}; supported: "
                f"{', '.join(sorted(allowed)) or 'none'}"
            )

    @staticmethod
    def scalar(value: Any, path: str) -> Any:
        """``value`` if it is a string, number or boolean (what a term-level query compares)."""
        if isinstance(value, dict | list) or value is None:
            raise QueryError(
                f"expected a string, number or boolean at {path}, got {describe(value)}"
            )
        return value

    def single_field(self, body: Any, path: str, qtype: str) -> tuple[str, Any]:
        """The one ``{field: value}`` of term-level queries (plus ignored sibling options)."""
        body = self.obj(body, path)
        names = [k for k in body if k not in _IGNORED]
        if len(names) != 1:
            if not names:
                raise QueryError(f'{qtype} needs a field at {path}, as in {{"field": value}}')
            raise QueryError(
                f"{qtype} takes exactly one field at {path}, got {', '.join(map(repr, names))}"
            )
        return names[0], body[names[0]]

    def field(self, name: Any, path: str, everywhere: bool = False) -> Target:
        if not isinstance(name, str):
            raise QueryError(f"expected a field name at {path}, got {describe(name)}")
        if everywhere and name in (fields.FULLTEXT, "*"):
            return None, FULLTEXT
        if name == fields.FULLTEXT:
            raise QueryError(f"{name!r} is not allowed here, at {path}: name a field")
        if "*" in name or "?" in name:
            raise QueryError(f"wildcards in field names are not supported: {name!r} at {path}")
        return values.target(name, path)

    def field_list(self, value: Any, path: str) -> list[Target]:
        """``fields`` of multi_match / query_string: names with optional ``^boost``."""
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise QueryError(f"expected a list of field names at {path}, got {describe(value)}")
        targets: list[Target] = []
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise QueryError(f"expected a field name at {path}[{i}], got {describe(item)}")
            name, caret, boost = item.partition("^")
            if caret:
                try:
                    float(boost)
                except ValueError:
                    raise QueryError(f"invalid boost in {item!r} at {path}[{i}]") from None
            target = self.field(name, f"{path}[{i}]", everywhere=True)
            if target not in targets:
                targets.append(target)
        if len(targets) > self.limits.max_clauses:
            raise QueryError(f"too many fields at {path}")
        if any(t[0] is None for t in targets):
            return []  # everywhere covers every field
        return targets

    @staticmethod
    def operator(value: Any, path: str) -> str:
        if not isinstance(value, str) or value.lower() not in ("and", "or"):
            raise QueryError(f"invalid operator {value!r} at {path}: expected 'and' or 'or'")
        return value.lower()

    # -- values (values.py reads them; a mistake is said here, with its JSON path) -------------

    def exact(self, target: Target, value: Any, path: str) -> Node:
        """An exact value of a field: term semantics (a date names its whole period)."""
        try:
            return values.exact(target, _json_value(target, value), self.now)
        except values.BadValue as e:
            raise _bad_value(e, target, value, path) from None

    def bound(self, target: Target, value: Any, path: str, key: str) -> Scalar:
        try:
            return values.bound(target, _json_value(target, value), self.now, key)
        except values.BadValue as e:
            raise _bad_value(e, target, value, path) from None

    def analysed(self, target: Target, text: Any, operator: str, path: str, phrase: bool) -> Node:
        """match / match_phrase semantics on one field (or everywhere)."""
        try:
            return values.analysed(target, _json_value(target, text), operator, self.now, phrase)
        except values.BadValue as e:
            raise _bad_value(e, target, text, path) from None

    @staticmethod
    def text_value(value: Any, path: str) -> str:
        try:
            return values.text(value)
        except values.BadValue as e:
            raise _bad_value(e, (None, FULLTEXT), value, path) from None

    def pattern_target(self, target: Target, qtype: str, path: str) -> str:
        name, kind = target
        if kind in (fields.INT, fields.DATE):
            raise QueryError(f"{qtype} is not supported on {kind} field {name!r}, at {path}")
        return name if name is not None else fields.FULLTEXT

    # -- compound queries ----------------------------------------------------------------------

    @_clause("match_all")
    def match_all(self, body: Any, path: str, level: int) -> Node:
        self.check_options(self.obj(body, path), path, set())
        return MatchAll()

    @_clause("match_none")
    def match_none(self, body: Any, path: str, level: int) -> Node:
        self.check_options(self.obj(body, path), path, set())
        return MatchNone()

    @_clause("bool")
    def bool_(self, body: Any, path: str, level: int) -> Node:
        body = self.obj(body, path)
        self.check_options(
            body, path, {"must", "should", "must_not", "filter", "minimum_should_match"}
        )
        must, should, must_not, filter_ = (
            self.clauses(body[key], f"{path}.{key}", level + 1) if key in body else ()
            for key in ("must", "should", "must_not", "filter")
        )
        if not (must or should or must_not or filter_):
            return MatchAll()  # Elasticsearch: an empty bool matches everything
        msm: int | None = None
        if body.get("minimum_should_match") is not None:
            msm = minimum_should_match(
                body["minimum_should_match"], len(should), f"{path}.minimum_should_match"
            )
            if should and not (must or filter_):
                msm = max(msm, 1)  # Lucene: no required clause, so one should clause must match
            if msm > len(should):
                return MatchNone()
        if not (must or should or filter_):
            must = (MatchAll(),)
        return Bool(
            must=must, should=should, must_not=must_not, filter=filter_, minimum_should_match=msm
        )

    @_clause("constant_score")
    def constant_score(self, body: Any, path: str, level: int) -> Node:
        body = self.obj(body, path)
        self.check_options(body, path, {"filter"})
        if "filter" not in body:
            raise QueryError(f"constant_score needs a filter at {path}")
        return Bool(filter=(self.query(body["filter"], f"{path}.filter", level + 1),))

    # -- term-level queries --------------------------------------------------------------------

    @_clause("term")
    def term(self, body: Any, path: str, level: int) -> Node:
        name, value = self.single_field(body, path, "term")
        where = f"{path}.{name}"
        target = self.field(name, where)
        if isinstance(value, dict):
            self.check_options(value, where, {"value"})
            if "value" not in value:
                raise QueryError(f"term needs a value at {where}")
            value, where = value["value"], f"{where}.value"
        return self.exact(target, self.scalar(value, where), where)

    @_clause("terms")
    def terms(self, body: Any, path: str, level: int) -> Node:
        name, given = self.single_field(body, path, "terms")
        where = f"{path}.{name}"
        target = self.field(name, where)
        if isinstance(given, dict):
            raise QueryError(f"terms lookup is not supported at {where}: give a list of values")
        if not isinstance(given, list):
            raise QueryError(f"expected a list of values at {where}, got {describe(given)}")
        if len(given) > self.limits.max_terms:
            raise QueryError(
                f"too many terms at {where}: {len(given)}, at most {self.limits.max_terms} allowed"
            )
        nodes: list[Node] = []
        for i, v in enumerate(given):
            node = self.exact(target, self.scalar(v, f"{where}[{i}]"), f"{where}[{i}]")
            if node not in nodes:
                nodes.append(node)
        if not nodes:
            return MatchNone()
        if all(isinstance(n, Term) for n in nodes):
            if len(nodes) == 1:
                return nodes[0]
            assert target[0] is not None
            return Terms(target[0], tuple(n.value for n in nodes if isinstance(n, Term)))
        return Bool(should=tuple(nodes))  # dates naming periods: one range each

    @_clause("ids")
    def ids(self, body: Any, path: str, level: int) -> Node:
        body = self.obj(body, path)
        self.check_options(body, path, {"values", "type", "types"})
        if "values" not in body:
            raise QueryError(f"ids needs values at {path}")
        given = body["values"]
        where = f"{path}.values"
        if not isinstance(given, list):
            raise QueryError(f"expected a list of ids at {where}, got {describe(given)}")
        if len(given) > self.limits.max_terms:
            raise QueryError(
                f"too many ids at {where}: {len(given)}, at most {self.limits.max_terms} allowed"
            )
        ids: list[str] = []
        for i, v in enumerate(given):
            if isinstance(v, bool) or not isinstance(v, str | int):
                raise QueryError(f"expected an id at {where}[{i}], got {describe(v)}")
            if str(v) not in ids:
                ids.append(str(v))
        return Ids(tuple(ids)) if ids else MatchNone()

    @_clause("range")
    def range_(self, body: Any, path: str, level: int) -> Node:
        name, spec = self.single_field(body, path, "range")
        where = f"{path}.{name}"
        target = self.field(name, where)
        spec = self.obj(spec, where)
        self.check_options(spec, where, _RANGE_OPTIONS)
        for option in ("format", "time_zone"):
            if option in spec and not isinstance(spec[option], str):
                raise QueryError(
                    f"expected a string at {where}.{option}, got {describe(spec[option])}"
                )
        bounds: dict[str, Scalar] = {}
        for key, value, at in self.range_bounds(spec, where):
            if any(k[0] == key[0] for k in bounds):
                side = "lower" if key[0] == "g" else "upper"
                raise QueryError(f"the range at {where} has more than one {side} bound")
            if isinstance(value, dict | list):
                raise QueryError(
                    f"expected a string, number or boolean at {at}, got {describe(value)}"
                )
            bounds[key] = self.bound(target, value, at, key)
        assert target[0] is not None
        if not bounds:
            return Exists(target[0])
        return Range(target[0], **bounds)  # type: ignore[arg-type]

    @staticmethod
    def range_bounds(spec: dict, where: str) -> list[tuple[str, Any, str]]:
        """The bounds given, as (gte/gt/lte/lt, value, its path); ``from``/``to`` become one of
        those through their include flag."""
        found = [
            (key, spec[key], f"{where}.{key}") for key in _RANGE_BOUNDS if spec.get(key) is not None
        ]
        for key, flag, inclusive, exclusive in _RANGE_FROM_TO:
            include = spec.get(flag, True)
            if not isinstance(include, bool):
                raise QueryError(
                    f"expected true or false at {where}.{flag}, got {describe(include)}"
                )
            if spec.get(key) is not None:
                found.append((inclusive if include else exclusive, spec[key], f"{where}.{key}"))
        return found

    @_clause("prefix")
    def prefix(self, body: Any, path: str, level: int) -> Node:
        name, where, value = self.pattern_value(body, path, "prefix", ("value", "prefix"))
        target = self.field(name, f"{path}.{name}")
        return Prefix(self.pattern_target(target, "prefix", where), value)

    @_clause("wildcard")
    def wildcard(self, body: Any, path: str, level: int) -> Node:
        name, where, value = self.pattern_value(body, path, "wildcard", ("value", "wildcard"))
        target = self.field(name, f"{path}.{name}")
        field_name = self.pattern_target(target, "wildcard", where)
        return Wildcard(field_name, _unescape_wildcard(value, where))

    def pattern_value(self, body: Any, path: str, qtype: str, keys: tuple[str, ...]) -> tuple:
        name, value = self.single_field(body, path, qtype)
        where = f"{path}.{name}"
        if isinstance(value, dict):
            self.check_options(value, where, set(keys) | {"rewrite"})
            given = [k for k in keys if k in value]
            if len(given) != 1:
                raise QueryError(f"{qtype} needs exactly one of {' or '.join(keys)} at {where}")
            value, where = value[given[0]], f"{where}.{given[0]}"
        return name, where, self.text_value(self.scalar(value, where), where)

    @_clause("exists")
    def exists(self, body: Any, path: str, level: int) -> Node:
        body = self.obj(body, path)
        self.check_options(body, path, {"field"})
        if "field" not in body:
            raise QueryError(f"exists needs a field at {path}")
        name, _ = self.field(body["field"], f"{path}.field")
        assert name is not None
        return Exists(name)

    # -- full-text queries ---------------------------------------------------------------------

    @_clause("match")
    def match(self, body: Any, path: str, level: int) -> Node:
        return self.match_(body, path, phrase=False)

    @_clause("match_phrase")
    def match_phrase(self, body: Any, path: str, level: int) -> Node:
        return self.match_(body, path, phrase=True)

    def match_(self, body: Any, path: str, phrase: bool) -> Node:
        qtype = "match_phrase" if phrase else "match"
        name, value = self.single_field(body, path, qtype)
        where = f"{path}.{name}"
        target = self.field(name, where, everywhere=True)
        operator = "or"
        if isinstance(value, dict):
            allowed = {"query", "slop"} if phrase else {"query", "operator"}
            self.check_options(value, where, allowed)
            if "query" not in value:
                raise QueryError(f"{qtype} needs a query at {where}")
            if phrase and value.get("slop", 0) not in (0, None):
                raise QueryError(f"slop is not supported at {where}.slop")
            if "operator" in value:
                operator = self.operator(value["operator"], f"{where}.operator")
            value, where = value["query"], f"{where}.query"
        return self.analysed(target, self.scalar(value, where), operator, where, phrase)

    @_clause("multi_match")
    def multi_match(self, body: Any, path: str, level: int) -> Node:
        body = self.obj(body, path)
        self.check_options(body, path, {"query", "fields", "type", "operator", "tie_breaker"})
        if "query" not in body:
            raise QueryError(f"multi_match needs a query at {path}")
        text = self.scalar(body["query"], f"{path}.query")
        operator = "or"
        if "operator" in body:
            operator = self.operator(body["operator"], f"{path}.operator")
        phrase = _multi_match_type(body.get("type", "best_fields"), operator, path) == "phrase"
        targets = self.field_list(body.get("fields", []), f"{path}.fields")
        where = f"{path}.query"
        if not targets:
            return self.analysed((None, FULLTEXT), text, operator, where, phrase)
        per_field = tuple(self.analysed(t, text, operator, where, phrase) for t in targets)
        return Bool(should=per_field, minimum_should_match=1)

    # -- query strings (the two grammars, aimed at the fields asked for) -----------------------

    @_clause("query_string")
    def query_string(self, body: Any, path: str, level: int) -> Node:
        body = self.obj(body, path)
        self.check_options(
            body,
            path,
            {
                "query",
                "default_operator",
                "default_field",
                "fields",
                "analyze_wildcard",
                "allow_leading_wildcard",
            },
        )
        text = self.query_text(body, path)
        operator = self.operator(body.get("default_operator", "or"), f"{path}.default_operator")
        targets = self.query_fields(body, path)
        node = querystring.parse(
            text,
            now=self.now,
            default_operator=operator,
            max_clauses=self.limits.max_clauses,
            max_length=self.limits.max_query_string,
        )
        if targets:
            node = self.retarget(node, targets, f"{path}.query")
        return node

    @_clause("simple_query_string")
    def simple_query_string(self, body: Any, path: str, level: int) -> Node:
        body = self.obj(body, path)
        self.check_options(body, path, {"query", "fields", "default_operator", "analyze_wildcard"})
        text = self.query_text(body, path)
        if len(text) > self.limits.max_query_string:
            raise QueryError(
                f"query too long at {path}.query: {len(text)} characters, at most "
                f"{self.limits.max_query_string} allowed"
            )
        operator = self.operator(body.get("default_operator", "or"), f"{path}.default_operator")
        return simple.parse(
            text,
            self.query_fields(body, path) or [(None, FULLTEXT)],
            operator,
            f"{path}.query",
            leaves=self,
            max_depth=self.limits.max_depth,
            max_clauses=self.limits.max_clauses,
        )

    @staticmethod
    def query_text(body: dict, path: str) -> str:
        if "query" not in body:
            raise QueryError(f"missing query at {path}")
        text = body["query"]
        if not isinstance(text, str):
            raise QueryError(f"expected a string at {path}.query, got {describe(text)}")
        return text

    def query_fields(self, body: dict, path: str) -> list[Target]:
        if "default_field" in body and "fields" in body:
            raise QueryError(f"give default_field or fields at {path}, not both")
        if "default_field" in body:
            value = body["default_field"]
            if not isinstance(value, str):
                raise QueryError(
                    f"expected a field name at {path}.default_field, got {describe(value)}"
                )
            return self.field_list([value], f"{path}.default_field")
        if "fields" in body:
            return self.field_list(body["fields"], f"{path}.fields")
        return []

    def retarget(self, node: Node, targets: list[Target], path: str) -> Node:
        """Aim the bare words of a parsed query string at ``targets`` instead of everywhere."""
        if isinstance(node, Bool):
            return Bool(
                must=tuple(self.retarget(c, targets, path) for c in node.must),
                should=tuple(self.retarget(c, targets, path) for c in node.should),
                must_not=tuple(self.retarget(c, targets, path) for c in node.must_not),
                filter=tuple(self.retarget(c, targets, path) for c in node.filter),
                minimum_should_match=node.minimum_should_match,
            )
        make = self.bare_word(node, path)
        return node if make is None else values.any_of([make(t) for t in targets])

    def bare_word(self, node: Node, path: str) -> Callable[[Target], Node] | None:
        """How ``node`` reads on one target, if it is a bare word (a node on no field)."""
        if isinstance(node, Text) and node.field is None:
            text, operator = node.text, node.operator
            return lambda t: self.analysed(t, text, operator, path, phrase=False)
        if isinstance(node, Phrase) and node.field is None:
            words = node.text
            return lambda t: self.analysed(t, words, "and", path, phrase=True)
        if isinstance(node, Prefix) and node.field == fields.FULLTEXT:
            value = node.value
            return lambda t: Prefix(self.pattern_target(t, "prefix", path), value)
        if isinstance(node, Wildcard) and node.field == fields.FULLTEXT:
            pattern = node.pattern
            return lambda t: Wildcard(self.pattern_target(t, "wildcard", path), pattern)
        return None


SUPPORTED = tuple(sorted(_CLAUSES))


def _json_value(target: Target, value: Any) -> Any:
    """A JSON string may carry spaces around an integer (Searchlight ran it through ``int()``)."""
    return value.strip() if target[1] == fields.INT and isinstance(value, str) else value


def _bad_value(e: values.BadValue, target: Target, value: Any, path: str) -> QueryError:
    """The DSL's words for a value its field cannot hold (``value`` as the body gave it)."""
    name = target[0]
    if isinstance(e, values.NotAnInteger):
        return QueryError(f"field {name!r} holds integers: {value!r} is not one, at {path}")
    if isinstance(e, values.IntegerOutOfRange):
        return QueryError(f"integer {value!r} out of range for field {name!r} at {path}")
    if isinstance(e, values.FractionalMillis):
        return QueryError(f"invalid epoch milliseconds {value!r} for {name!r} at {path}")
    if isinstance(e, values.NotADate):
        if e.detail is None:
            return QueryError(
                f"field {name!r} holds dates: expected a date string or epoch milliseconds at "
                f"{path}, got {describe(value)}"
            )
        return QueryError(f"{e.detail}, for field {name!r} at {path}")
    return QueryError(f"expected a string, number or boolean at {path}, got {describe(value)}")


def _multi_match_type(mtype: Any, operator: str, path: str) -> str:
    if mtype not in ("best_fields", "most_fields", "cross_fields", "phrase"):
        raise QueryError(
            f"unsupported multi_match type {mtype!r} at {path}.type; supported: "
            f"best_fields, most_fields, cross_fields (with operator or), phrase"
        )
    if mtype == "cross_fields" and operator == "and":
        raise QueryError(
            f"multi_match type cross_fields with operator and is not supported at {path}"
        )
    return mtype


def _unescape_wildcard(pattern: str, path: str) -> str:
    """Resolve Lucene's backslash escapes; an escaped * or ? cannot be expressed in the tree."""
    if "\\" not in pattern:
        return pattern
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if nxt in "*?":
                raise QueryError(f"a wildcard pattern cannot contain an escaped {nxt}, at {path}")
            out.append(nxt)
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)
