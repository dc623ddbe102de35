"""Fuzz the API's input: no request body or query string may get a 5xx, and every 4xx is the API's
JSON error (``{"error": {"code", "title", "message"}}``) (issue #11, point 9).

Three generators, through the real WSGI app in process (api_fixtures): structured but hostile
``POST /v1/search`` bodies (the DSL's shapes with wrong types, huge numbers, NaN/Infinity, lone
surrogates, deep nesting, unknown keys, dates at the calendar's edges), raw bytes (random, and valid
bodies with bytes flipped), and hostile query strings for the GET endpoints (facets, uses, changes,
a stack, its history and diff). About 3,500 examples, well under a minute here.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.register_assert_rewrite("tests.unit.api_fixtures")

from tests.unit.api_fixtures import error_of  # noqa: E402

pytest_plugins = ["tests.unit.api_fixtures"]

FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                      HealthCheck.data_too_large])

# -- values -------------------------------------------------------------------------------------

FIELDS = ["name", "name.raw", "status", "description", "tags", "updated_at", "created_at", "depth",
          "id", "_id", "root_id", "project_id", "parameters.image", "parameters", "outputs.url",
          "resources.type", "template.heat_template_version", "stack_owner", "fingerprint", "_all",
          "*", "", ".", "parameters.", "nosuch", "a" * 300, "name\ud800", "ñame", "updated_at.raw"]
DATES = ["now", "now-1d/d", "now+999999999y", "2026-11-25", "2026-02-30", "0001-01-01",
         "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "9999-12-31||+1d",
         "9999-12-31||/y", "0001-01-01||-1d", "1677-01-01", "2263-01-01", "2026-11-25T10:00:00Z",
         "-99999999999999", "9999999999999999", "2026-11-25T25:00", "now/x", "||", "2026-11||/M"]
PATTERNS = ["?*?*?*?*?*?*x", "*", "?", "a*b*c", "\\*", "web*", "*shop", "a" * 200, "\\", "[a-z]+"]
# Hostile values are a minority of each pool, so that most requests get past the input checks
# and reach the parser, the engine and the highlighter.
TEXTS = st.one_of(
    st.sampled_from(["", " ", "shop", "web shop", "prod", "AND", "OR", "NOT", "(", ")", "\"",
                     "name:shop", "tags:(a OR b)", "updated_at:[now-1d TO now]", "a~2", "/re/",
                     "\\", "\ud800", "\x00", "\u202e", "😀", "ß", "İ", "alpha", "nginx", "k8s",
                     "name:sh*", "*", "web AND -shop", "status:CREATE_COMPLETE"] + DATES + PATTERNS),
    st.text(max_size=30),
)
NUMBERS = st.one_of(
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, -1, 1, 2**63 - 1, 2**63, -(2**63) - 1, 10**30]),
    st.floats(allow_nan=True, allow_infinity=True),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXTS, st.sampled_from(DATES))


def _deep(levels: int, inner: Any = 1) -> Any:
    value = inner
    for _ in range(levels):
        value = [value]
    return value


VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.one_of(TEXTS, st.sampled_from(FIELDS)), inner,
                                            max_size=3)),
    max_leaves=8,
)
ANY = st.one_of(VALUES, VALUES, VALUES, st.integers(0, 150).map(_deep))

# -- queries ------------------------------------------------------------------------------------

_field = st.sampled_from(FIELDS)


def _one(qtype: str, body: st.SearchStrategy) -> st.SearchStrategy:
    return body.map(lambda b: {qtype: b})


_leaf_queries = st.one_of(
    _one("match_all", st.one_of(st.just({}), st.dictionaries(TEXTS, SCALARS, max_size=2))),
    _one("match_none", st.just({})),
    _one("term", st.dictionaries(_field, st.one_of(SCALARS, st.fixed_dictionaries(
        {"value": SCALARS}, optional={"boost": NUMBERS, "x": SCALARS})), min_size=1, max_size=2)),
    _one("terms", st.dictionaries(_field, st.one_of(st.lists(SCALARS, max_size=5), SCALARS),
                                  min_size=1, max_size=2)),
    _one("ids", st.fixed_dictionaries({"values": st.one_of(st.lists(SCALARS, max_size=4), ANY)})),
    _one("match", st.dictionaries(_field, st.one_of(TEXTS, SCALARS, st.fixed_dictionaries(
        {"query": SCALARS}, optional={"operator": SCALARS, "zero": SCALARS})), max_size=2)),
    _one("match_phrase", st.dictionaries(_field, SCALARS, max_size=2)),
    _one("multi_match", st.fixed_dictionaries(
        {"query": SCALARS}, optional={"fields": st.lists(_field.map(lambda f: f + "^2"), max_size=3),
                                      "type": SCALARS, "operator": SCALARS})),
    _one("query_string", st.fixed_dictionaries(
        {"query": TEXTS}, optional={"default_operator": SCALARS, "default_field": _field,
                                    "fields": st.lists(_field, max_size=3), "x": SCALARS})),
    _one("simple_query_string", st.fixed_dictionaries(
        {"query": TEXTS}, optional={"fields": st.lists(_field, max_size=2),
                                    "default_operator": SCALARS})),
    _one("range", st.dictionaries(_field, st.dictionaries(
        st.sampled_from(["gte", "gt", "lte", "lt", "from", "to", "include_lower", "format",
                         "time_zone", "boost", "nope"]),
        st.one_of(st.sampled_from(DATES), SCALARS), max_size=3), min_size=1, max_size=1)),
    _one("prefix", st.dictionaries(_field, st.one_of(TEXTS, SCALARS), min_size=1, max_size=1)),
    _one("wildcard", st.dictionaries(_field, st.one_of(st.sampled_from(PATTERNS), TEXTS, SCALARS,
                                                       st.fixed_dictionaries({"value": TEXTS})),
                                     min_size=1, max_size=1)),
    _one("exists", st.fixed_dictionaries({"field": st.one_of(_field, SCALARS)})),
    st.dictionaries(TEXTS, ANY, max_size=2),  # unknown query types, empty objects
    ANY,
)

QUERIES = st.recursive(
    _leaf_queries,
    lambda inner: st.one_of(
        _one("bool", st.fixed_dictionaries({}, optional={
            "must": st.one_of(inner, st.lists(inner, max_size=3)),
            "should": st.lists(inner, max_size=3),
            "must_not": st.one_of(inner, st.lists(inner, max_size=2)),
            "filter": st.lists(inner, max_size=2),
            "minimum_should_match": st.one_of(SCALARS, st.sampled_from(["75%", "-1", "3<90%",
                                                                        "200%", "2<-25% 9<3"])),
        })),
        _one("constant_score", st.fixed_dictionaries({"filter": inner},
                                                     optional={"boost": NUMBERS})),
    ),
    max_leaves=6,
)

_sort = st.one_of(
    st.sampled_from(["name", "name:desc", "_score", "updated_at:asc", "depth", "nosuch", "tags"]),
    st.dictionaries(_field, st.one_of(st.sampled_from(["asc", "desc", "DESC", "up"]),
                                      st.fixed_dictionaries({"order": SCALARS}), SCALARS),
                    max_size=2),
    st.lists(st.one_of(st.sampled_from(["name", "updated_at", "created_at", "depth", "id"]),
                       SCALARS), max_size=3),
    ANY,
)

_BODY_KEYS = {
    "query": st.one_of(QUERIES, QUERIES, QUERIES, ANY),
    "type": st.one_of(st.just("OS::Heat::Stack"), SCALARS, st.lists(SCALARS, max_size=2)),
    "index": st.one_of(SCALARS, st.lists(SCALARS, max_size=2)),
    "offset": st.one_of(NUMBERS, TEXTS), "from": SCALARS,
    "limit": st.one_of(st.integers(-5, 2000), NUMBERS, TEXTS), "size": SCALARS,
    "sort": _sort,
    "_source": st.one_of(SCALARS, st.lists(_field, max_size=3), st.dictionaries(
        st.sampled_from(["include", "includes", "exclude", "excludes", "x"]),
        st.one_of(_field, st.lists(_field, max_size=2), SCALARS), max_size=2)),
    "highlight": st.one_of(ANY, st.fixed_dictionaries(
        {"fields": st.one_of(st.dictionaries(st.one_of(_field, st.just("*")), st.one_of(
            st.just({}), st.dictionaries(st.sampled_from(["fragment_size", "number_of_fragments",
                                                          "pre_tags", "x"]), SCALARS, max_size=2)),
            max_size=3), ANY)},
        optional={"pre_tags": st.one_of(st.lists(TEXTS, max_size=2), SCALARS),
                  "post_tags": st.lists(TEXTS, max_size=1),
                  "fragment_size": st.one_of(st.integers(-1, 10**7), SCALARS),
                  "number_of_fragments": st.one_of(st.integers(-1, 10**6), SCALARS),
                  "require_field_match": SCALARS})),
    "aggs": st.one_of(ANY, st.dictionaries(TEXTS, st.one_of(st.fixed_dictionaries(
        {"terms": st.fixed_dictionaries({"field": st.one_of(_field, SCALARS)},
                                        optional={"size": NUMBERS, "order": ANY})}), ANY),
        max_size=3)),
    "aggregations": ANY,
    "all_projects": SCALARS, "version": SCALARS,
    "rollup": st.one_of(st.just("root"), SCALARS), "under": st.one_of(TEXTS, SCALARS),
    "search_after": st.one_of(st.lists(st.one_of(st.sampled_from(DATES), SCALARS), max_size=4),
                              ANY),
    "self": SCALARS, "script": SCALARS, "\ud800": SCALARS, "nosuch": ANY,
}
_COMMON = ["query", "query", "query", "limit", "sort", "_source", "highlight", "highlight",
           "aggs", "search_after", "all_projects", "rollup", "under", "offset"]


@st.composite
def _bodies(draw) -> dict:
    """A few keys (mostly the common ones, sometimes any of them) with values from their pools."""
    names = draw(st.lists(st.sampled_from(_COMMON * 4 + sorted(_BODY_KEYS)), max_size=4,
                          unique=True))
    return {name: draw(_BODY_KEYS[name]) for name in names}


BODIES = _bodies()


WHO = st.sampled_from([{}, {"project": "p-admin", "roles": "admin", "admin": True},
                       {"project": "p-beta", "roles": "reader"}])


def _check(resp) -> None:
    """No 5xx; JSON; a 4xx has the API's error shape."""
    status = resp.status_int
    assert status < 500, (status, resp.body[:500])
    assert resp.content_type == "application/json", (status, resp.body[:200])
    answer = json.loads(resp.body)
    if status >= 400:
        error_of(status, answer)


def _encode(body: Any) -> bytes:
    text = json.dumps(body, allow_nan=True)  # NaN/Infinity on purpose; surrogates as \\udxxx
    return text.encode()


@settings(FUZZ, max_examples=1500)
@given(body=BODIES, who=WHO, method=st.sampled_from(["POST", "POST", "GET"]))
def test_structured_hostile_bodies_never_5xx(api, body, who, method):
    resp = api.request(method, "/v1/search", raw=_encode(body), **who)
    _check(resp)


def _flip(raw: bytes, edits: list[tuple[int, int]]) -> bytes:
    data = bytearray(raw)
    for at, byte in edits:
        if data:
            data[at % len(data)] = byte
    return bytes(data)


RAW = st.one_of(
    st.binary(max_size=300),
    st.builds(_flip, BODIES.map(_encode),
              st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=4)),
    st.builds(lambda head, n, tail: head + b"[" * n + tail,
              st.sampled_from([b"", b'{"query": ', b'{"aggs": {"a": ', b'{"sort": ']),
              st.integers(0, 5000), st.sampled_from([b"", b"]", b"1" + b"]" * 3000, b"}"])),
    st.sampled_from([b"\xef\xbb\xbf{}", b'{"a": "\xed\xa0\x80"}', b"\xff\xfe{\x00}\x00",
                     b'{"limit": 1e999}', b'{"limit": -0}', b'{"query": {"match_all": {}}}' * 2,
                     b'"\\ud800"', b"NaN", b"[]", b"null", b"1" * 5000]),
)


@settings(FUZZ, max_examples=800)
@given(raw=RAW, who=WHO)
def test_raw_bytes_never_5xx(api, raw, who):
    _check(api.request("POST", "/v1/search", raw=raw, **who))


# -- query strings of the GET endpoints ---------------------------------------------------------

_PARAM_TEXT = st.one_of(
    TEXTS.map(lambda s: quote(s.encode("utf-8", "surrogatepass"), safe="")),
    st.binary(max_size=12).map(lambda b: quote(b, safe="")),  # not UTF-8, often
    st.sampled_from(["", "0", "1", "1000", "1001", "-1", "%D9%A1", "%C2%B2", "9" * 40, "true",
                     "False", "yes", "%00", "a%", "%zz", "+", "name", "parameters.image",
                     "alpha-shop", "OS::Heat::Stack"] + [quote(d, safe="") for d in DATES]),
)

ENDPOINTS = {
    "/v1/search/facets": ["type", "limit_terms", "all_projects", "include_fields",
                          "exclude_options"],
    "/v1/search/uses": ["value", "exact", "under", "all_projects"],
    "/v1/search/changes": ["field", "since", "until", "include_created", "limit", "all_projects"],
    "/v1/search/stacks/{id}": ["all_projects"],
    "/v1/search/stacks/{id}/history": ["revision", "all_projects"],
    "/v1/search/stacks/{id}/diff": ["from", "to", "all_projects"],
    "/v1/search/plugins": [],
}
_IDS = st.one_of(st.sampled_from(["alpha-shop", "beta-db", "nosuch"]), _PARAM_TEXT)


@st.composite
def _get_requests(draw) -> str:
    route = draw(st.sampled_from(sorted(ENDPOINTS)))
    path = route.replace("{id}", draw(_IDS) or "x")
    names = ENDPOINTS[route] + ["nosuch", "value"]
    params = draw(st.lists(st.tuples(st.sampled_from(names), _PARAM_TEXT), max_size=5))
    query = "&".join(f"{k}={v}" for k, v in params)
    return path + ("?" + query if query else "")


@settings(FUZZ, max_examples=1200)
@given(path=_get_requests(), who=WHO)
def test_query_strings_never_5xx(api, path, who):
    _check(api.request("GET", path, **who))
