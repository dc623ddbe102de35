"""The body of ``POST /v1/search`` (Searchlight's API), validated into a ``SearchRequest``.

Pure: the HTTP layer decodes the JSON, calls ``parse_search`` and answers ``QueryError`` with 400
and ``RequestForbidden`` with 403. Every key Searchlight accepted is accepted here with the same
meaning; what heatseeker cannot honour is refused with a message, never silently ignored.

Body keys::

    query            the DSL (dsl.py); absent or null: match everything
    type             "OS::Heat::Stack", a list of it, null or []; any other type: unknown (400)
    index            a string or a list of strings: accepted and ignored (one index here)
    offset | from    an integer >= 0 (0); the two names are exclusive
    limit | size     an integer >= 0 (RequestLimits.default_limit, capped by max_limit); exclusive
    sort             "name", "name:desc", {"updated_at": "desc"}, {"updated_at": {"order": "desc"}},
                     or a list of those; typed fields only; "_score" is score order
    _source          true, false, "field", ["f", ...], {"include"/"includes", "exclude"/"excludes"}
    highlight        {"fields": {...}, "pre_tags", "post_tags", "require_field_match",
                     "fragment_size", "number_of_fragments"}: shape checked, kept as given
    aggregations | aggs   {"name": {"terms": {"field": f, "size": n}}}; "global" is forbidden (403)
    all_projects     a boolean (or "true"/"false"/"True"/"False"/"1"/"0", see parse_bool)
    version          a boolean: return each hit's version
    rollup           null or "root" (heatseeker): answer root stacks instead of matching stacks
    track_total_hits true, false or an integer >= 0 (Elasticsearch's): how far a roll-up's total of
                     roots is exact (default 10,000, searcher.ROLLUP_TOTAL_BOUND; true: always;
                     beyond it ``rollup.total_relation`` is "gte"); a search's total is always exact
    under            a stack id (heatseeker): only that stack and its descendants
    search_after     a list of scalars (heatseeker): the "sort" of the last hit of the previous page;
                     a value for a date sort key must be a date that exists in UTC (an offset at
                     the calendar's edges, as 0001-01-01T00:00:00+14:00, does not): 400
    self, schema     read-only in Searchlight: forbidden (403)

Decisions:

* ``offset``/``limit`` also accept strings of digits: Searchlight ran them through ``int()``.
  Floats and booleans are refused.
* ``offset + limit`` is capped (``max_offset_plus_limit``) like Elasticsearch's
  ``max_result_window``; deeper pages use ``search_after``, which requires ``offset`` 0 (as in
  Elasticsearch).
* Sort keys are canonical field names (``name.raw`` → ``name``, ``_id`` → ``id``); a text field
  sorts by its exact value. ``_score`` is ``SortKey("_score", descending=True)``: score order, best
  first (the only direction offered). Sort orders are ``asc``/``desc`` in any case.
* ``type: []`` means every type, as in Searchlight (and python-searchlightclient sends it for a bare
  ``--type``). Duplicate types collapse.
* ``_source: []`` means the whole document (Elasticsearch treats empty includes as none given);
  the dict form is normalised to ``{"include": (...), "exclude": (...)}``.
* Aggregations work on typed keyword fields and on text fields (their exact form); sub-aggregations
  and every option but ``field`` and ``size`` are refused. ``size`` is 1..``max_agg_size``
  (default 10).
* A key named like a script (``script``, ``_script``, …) anywhere in the body is refused first, so
  a script hidden in a sort or an aggregation gets the same answer as one in the query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from heatseeker.query import dsl, fields, values
from heatseeker.query.analysis import BY_SCORE, SCORE
from heatseeker.query.dsl import Limits
from heatseeker.query.errors import QueryError, describe, shown
from heatseeker.query.limits import reject_scripts
from heatseeker.query.tree import MatchAll, Node, SortKey, TermsAgg

STACK_TYPE = "OS::Heat::Stack"
ROLLUPS = ("root",)

_KEYS = frozenset(
    {
        "query",
        "type",
        "index",
        "offset",
        "from",
        "limit",
        "size",
        "sort",
        "_source",
        "highlight",
        "aggregations",
        "aggs",
        "all_projects",
        "version",
        "rollup",
        "track_total_hits",
        "under",
        "search_after",
    }
)
_FORBIDDEN_KEYS = ("self", "schema")
_DIGITS = re.compile(r"[0-9]{1,18}")
_HIGHLIGHT_OPTIONS = frozenset(
    {"pre_tags", "post_tags", "require_field_match", "fragment_size", "number_of_fragments"}
)
_MAX_ID_CHARS = 255


class RequestForbidden(QueryError):
    """The request asks for something no user may have (HTTP 403 rather than 400)."""


@dataclass(frozen=True)
class RequestLimits:
    max_limit: int = 1000
    max_offset_plus_limit: int = 10_000
    default_limit: int = 25
    max_aggs: int = 10
    max_agg_size: int = 1000
    dsl: Limits = Limits()


@dataclass(frozen=True)
class SearchRequest:
    query: Node = field(default_factory=MatchAll)
    types: tuple[str, ...] | None = None
    offset: int = 0
    limit: int = 25
    sort: tuple[SortKey, ...] = ()
    # True (all), False (none), include names, or {"include": (...), "exclude": (...)}
    source: bool | tuple[str, ...] | dict = True
    highlight: dict | None = None
    aggs: dict[str, TermsAgg] = field(default_factory=dict)
    all_projects: bool = False
    version: bool = False
    rollup: str | None = None  # "root" (heatseeker extension)
    track_total_hits: bool | int | None = None  # None: not given (the searcher's default bound)
    under: str | None = None  # a stack id (heatseeker extension)
    search_after: tuple | None = None  # deep-paging cursor (heatseeker extension)


def parse_bool(value: Any, name: str) -> bool:
    """A boolean (``values.boolean``: also its text as python-searchlightclient and query strings
    send it), or QueryError naming the parameter ``name``."""
    try:
        return values.boolean(value)
    except values.BadValue:
        raise QueryError(f"invalid value {value!r} for {name}: expected true or false") from None


def parse_search(
    body: Any, *, limits: RequestLimits = RequestLimits(), now: datetime | None = None
) -> SearchRequest:
    """Validate a decoded ``POST /v1/search`` body; raise QueryError (or RequestForbidden)."""
    if body is None:
        body = {}
    _check_keys(body)
    aggs_value = _one_of(body, "aggregations", "aggs")
    aggs = _aggregations(aggs_value, limits) if aggs_value is not None else {}
    offset, limit, search_after = _page(body, limits)
    rollup = _rollup(body.get("rollup"))
    under = _under(body.get("under"))
    _check_index(body.get("index"))
    sort = _sort(body.get("sort"))
    if search_after is not None:
        _check_cursor_dates(search_after, sort)
    return SearchRequest(
        query=dsl.parse(body.get("query"), now=now, limits=limits.dsl),
        types=_types(body.get("type")),
        offset=offset,
        limit=limit,
        sort=sort,
        source=_source(body.get("_source")),
        highlight=_highlight(body.get("highlight")),
        aggs=aggs,
        all_projects=_flag(body.get("all_projects"), "all_projects"),
        version=_flag(body.get("version"), "version"),
        rollup=rollup,
        track_total_hits=_track_total_hits(body.get("track_total_hits")),
        under=under,
        search_after=search_after,
    )


# -- pieces ------------------------------------------------------------------------------------


def _check_keys(body: Any) -> None:
    """A JSON object whose keys are all known, none read-only (403) and no script anywhere."""
    if not isinstance(body, dict):
        raise QueryError(f"the request body must be a JSON object, got {describe(body)}")
    for key in _FORBIDDEN_KEYS:
        if key in body:
            raise RequestForbidden(f"attribute {key!r} is read-only")
    reject_scripts(body, "body")
    unknown = sorted(str(k) for k in body if k not in _KEYS)
    if unknown:
        raise QueryError(
            f"unknown key{'s' if len(unknown) > 1 else ''} in the request body: "
            f"{', '.join(map(repr, unknown))}; known keys: {', '.join(sorted(_KEYS))}"
        )


def _page(body: dict, limits: RequestLimits) -> tuple[int, int, tuple | None]:
    """``(offset, limit, search_after)``, within the limits."""
    offset_value = _one_of(body, "offset", "from")
    limit_value = _one_of(body, "limit", "size")
    offset = _count(offset_value, _named(body, "offset", "from")) if offset_value is not None else 0
    if limit_value is None:
        limit = min(limits.default_limit, limits.max_limit)
    else:
        limit = _count(limit_value, _named(body, "limit", "size"))
        if limit > limits.max_limit:
            raise QueryError(f"limit {limit} is too large: at most {limits.max_limit} allowed")
    search_after = _search_after(body.get("search_after"))
    if search_after is not None and offset:
        raise QueryError("offset must be 0 when search_after is given")
    if offset + limit > limits.max_offset_plus_limit:
        raise QueryError(
            f"offset + limit is {offset + limit}, more than {limits.max_offset_plus_limit}: "
            f"to page deeper, pass the 'sort' values of the last hit as 'search_after' "
            f"(with offset 0)"
        )
    return offset, limit, search_after


def _track_total_hits(value: Any) -> bool | int | None:
    """Elasticsearch's ``track_total_hits``: a boolean (also as text) or a count >= 0."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and not _DIGITS.fullmatch(value.strip()):
        try:
            return values.boolean(value)
        except values.BadValue:
            pass
    elif isinstance(value, int | str) and int(value) >= 0:
        return int(value)
    raise QueryError(f"invalid value {shown(str(value))} for track_total_hits: expected true, "
                     "false or an integer >= 0")


def _rollup(value: Any) -> str | None:
    if value is not None and value not in ROLLUPS:
        raise QueryError(f"invalid rollup {value!r}: expected null or {', '.join(ROLLUPS)}")
    return value


def _under(value: Any) -> str | None:
    if value is not None and (
        not isinstance(value, str) or not value.strip() or len(value) > _MAX_ID_CHARS
    ):
        raise QueryError(f"invalid under {value!r}: expected a stack id")
    return value


def _flag(value: Any, name: str) -> bool:
    return False if value is None else parse_bool(value, name)


def _one_of(body: dict, a: str, b: str) -> Any:
    if a in body and b in body:
        raise QueryError(f"give {a!r} or {b!r}, not both")
    return body.get(a, body.get(b))


def _named(body: dict, a: str, b: str) -> str:
    return b if b in body else a


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        number = None
    if number is None or number < 0:
        raise QueryError(f"{name} must be an integer >= 0, got {value!r}")
    return number


def _check_index(value: Any) -> None:
    if value is None or isinstance(value, str):
        return
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return
    raise QueryError(f"index must be a string or a list of strings, got {describe(value)}")


def _types(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise QueryError(f"type must be a string, a list of strings or null, got {describe(value)}")
    types: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise QueryError(f"type must be a string, a list of strings or null, got {item!r}")
        if item != STACK_TYPE:
            raise QueryError(f"unknown resource type {item!r}: the only type is {STACK_TYPE!r}")
        if item not in types:
            types.append(item)
    return tuple(types) or None


def _order(value: Any, where: str) -> bool:
    """True for descending."""
    if isinstance(value, str) and value.strip().lower() in ("asc", "desc"):
        return value.strip().lower() == "desc"
    raise QueryError(f"invalid sort order {value!r} for {where}: expected 'asc' or 'desc'")


def _sort_key(name: Any, descending: bool | None) -> SortKey:
    if not isinstance(name, str):
        raise QueryError(f"invalid sort field {name!r}: expected a field name")
    name = name.strip()
    if name == SCORE:
        if descending is False:
            raise QueryError("_score sorts best first only: use '_score' or '_score:desc'")
        return BY_SCORE
    if not fields.is_sortable(name):
        raise QueryError(
            f"cannot sort by {name!r}: sortable fields are {', '.join(sorted(fields.FIELDS))} "
            f"and {SCORE}"
        )
    canonical, _ = fields.resolve(name)
    return SortKey(canonical, descending=bool(descending))


def _sort(value: Any) -> tuple[SortKey, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    keys: list[SortKey] = []
    for item in items:
        if isinstance(item, str):
            name, colon, order = item.partition(":")
            keys.append(_sort_key(name, _order(order, name) if colon else None))
        elif isinstance(item, dict):
            if not item:
                raise QueryError("empty sort object: name a field")
            for name, spec in item.items():
                if isinstance(spec, dict):
                    extra = [k for k in spec if k != "order"]
                    if extra:
                        raise QueryError(
                            f"unsupported sort option {extra[0]!r} for {name!r}: only 'order'"
                        )
                    spec = spec.get("order")
                    keys.append(_sort_key(name, None if spec is None else _order(spec, name)))
                else:
                    keys.append(_sort_key(name, _order(spec, str(name))))
        else:
            raise QueryError(
                f"sort must be a string, an object or a list of those, got {describe(item)}"
            )
    return tuple(keys)


def _names(value: Any, where: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) and v for v in items):
        raise QueryError(f"{where} must be a field name or a list of field names")
    return tuple(dict.fromkeys(items))


def _source(value: Any) -> bool | tuple[str, ...] | dict:
    if value is None:
        return True
    if isinstance(value, bool):
        return value
    if isinstance(value, str | list):
        names = _names(value, "_source")
        return names or True
    if isinstance(value, dict):
        result: dict[str, tuple[str, ...]] = {"include": (), "exclude": ()}
        for key in value:
            if key not in ("include", "includes", "exclude", "excludes"):
                raise QueryError(
                    f"unsupported _source option {key!r}: expected include(s) or exclude(s)"
                )
        for base in ("include", "exclude"):
            given = _one_of(value, base, base + "s")
            if given is not None:
                result[base] = _names(given, f"_source.{base}")
        return result
    raise QueryError(
        f"_source must be a boolean, a string, a list or an object, got {describe(value)}"
    )


def _highlight_options(spec: dict, where: str) -> None:
    for key, value in spec.items():
        if key in ("pre_tags", "post_tags"):
            if not (isinstance(value, list) and len(value) == 1 and isinstance(value[0], str)):
                raise QueryError(f"{where}.{key} must be a list of one string")
        elif key == "require_field_match":
            if not isinstance(value, bool):
                raise QueryError(f"{where}.{key} must be true or false")
        elif key in ("fragment_size", "number_of_fragments"):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise QueryError(f"{where}.{key} must be an integer >= 0")
        else:
            raise QueryError(
                f"unsupported highlight option {key!r} at {where}; supported: "
                f"{', '.join(sorted(_HIGHLIGHT_OPTIONS))}"
            )


def _highlight(value: Any) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise QueryError(f"highlight must be an object, got {describe(value)}")
    if "fields" not in value:
        raise QueryError('highlight needs \'fields\', as in {"fields": {"name": {}}}')
    options = {k: v for k, v in value.items() if k != "fields"}
    _highlight_options(options, "highlight")
    names = value["fields"]
    if not isinstance(names, dict):
        raise QueryError(f"highlight.fields must be an object, got {describe(names)}")
    for name, spec in names.items():
        where = f"highlight.fields.{name}"
        if name not in ("*", fields.FULLTEXT) and "*" not in name:
            fields.resolve(name, where)
        if not isinstance(spec, dict):
            raise QueryError(f"{where} must be an object, got {describe(spec)}")
        _highlight_options(spec, where)
    return value


def _aggregations(value: Any, limits: RequestLimits) -> dict[str, TermsAgg]:
    if not isinstance(value, dict):
        raise QueryError(f"aggregations must be an object, got {describe(value)}")
    if len(value) > limits.max_aggs:
        raise QueryError(f"too many aggregations: {len(value)}, at most {limits.max_aggs} allowed")
    return {name: _aggregation(name, spec, limits) for name, spec in value.items()}


def _aggregation(name: str, spec: Any, limits: RequestLimits) -> TermsAgg:
    """One named aggregation: ``{"terms": {"field": f, "size": n}}`` and nothing else."""
    where = f"aggregations.{name}"
    if not name:
        raise QueryError("an aggregation needs a name")
    if isinstance(spec, dict) and "global" in spec:
        raise RequestForbidden("global aggregations are not allowed")
    if not isinstance(spec, dict) or len(spec) != 1:
        if isinstance(spec, dict) and ({"aggs", "aggregations"} & spec.keys()):
            raise QueryError(f"sub-aggregations are not supported, at {where}")
        raise QueryError(
            f"{where} must be an object with one aggregation type, as in "
            f'{{"terms": {{"field": "status"}}}}'
        )
    ((kind, body),) = spec.items()
    if kind != "terms":
        raise QueryError(
            f"unsupported aggregation type {kind!r} at {where}: only 'terms' is supported"
        )
    where = f"{where}.terms"
    if not isinstance(body, dict):
        raise QueryError(f"{where} must be an object, got {describe(body)}")
    extra = [k for k in body if k not in ("field", "size")]
    if extra:
        raise QueryError(
            f"unsupported terms aggregation option {extra[0]!r} at {where}; "
            f"supported: field, size"
        )
    return TermsAgg(_agg_field(body, where), _agg_size(body.get("size", 10), where, limits))


def _agg_field(body: dict, where: str) -> str:
    if "field" not in body:
        raise QueryError(f"{where} needs a field")
    name = body["field"]
    if not isinstance(name, str):
        raise QueryError(f"{where}.field must be a field name, got {describe(name)}")
    canonical, kind = fields.resolve(name, f"{where}.field")
    if kind not in (fields.KEYWORD, fields.TEXT):
        raise QueryError(
            f"cannot aggregate on {name!r} at {where}.field: only keyword and text "
            f"fields of the catalog can be aggregated"
        )
    return canonical


def _agg_size(size: Any, where: str, limits: RequestLimits) -> int:
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise QueryError(f"{where}.size must be an integer >= 1, got {size!r}")
    if size > limits.max_agg_size:
        raise QueryError(f"{where}.size {size} is too large: at most {limits.max_agg_size} allowed")
    return size


def _search_after(value: Any) -> tuple | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise QueryError(
            f"search_after must be a non-empty list (the 'sort' of the last hit), "
            f"got {describe(value)}"
        )
    for item in value:
        if item is not None and not isinstance(item, str | int | float | bool):
            raise QueryError(f"search_after must hold only scalars, got {describe(item)}")
    return tuple(value)


def _check_cursor_dates(values: tuple, sort: tuple[SortKey, ...]) -> None:
    """A ``search_after`` value for a date sort key, when it is a date at all, must exist in UTC:
    ``0001-01-01T00:00:00+14:00`` reads as a date but is before the first representable instant
    (and ``9999-12-31T23:59:59-14:00`` after the last), which no hit ever had."""
    for key, value in zip(sort, values, strict=False):
        if fields.FIELDS.get(key.field) != fields.DATE or not isinstance(value, str):
            continue
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            continue  # not a date: the searcher says so
        try:
            moment.astimezone(UTC)
        except OverflowError:
            raise QueryError(
                f"search_after value {shown(value)} for {key.field!r} is out of range: it is "
                f"before 0001-01-01 or after 9999-12-31 in UTC"
            ) from None
