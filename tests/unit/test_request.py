import contextlib
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heatseeker.query.dsl import Limits
from heatseeker.query.errors import QueryError
from heatseeker.query.fields import UnknownField
from heatseeker.query.request import (
    RequestForbidden,
    RequestLimits,
    SearchRequest,
    parse_bool,
    parse_search,
)
from heatseeker.query.tree import Bool, MatchAll, SortKey, Term, TermsAgg, Text

NOW = datetime(2026, 11, 25, 10, 30, 15, tzinfo=UTC)
STACK = "OS::Heat::Stack"


def ps(body, **kw):
    return parse_search(body, now=NOW, **kw)


# -- what python-searchlightclient 2.1.1 sends ---------------------------------------------------


def test_searchlightclient_default_body():
    # openstack search query "name:x"
    req = ps(
        {
            "query": {"query_string": {"query": "name:x"}},
            "type": None,
            "_source": ["id", "name", "updated_at"],
            "all_projects": False,
        }
    )
    assert req == SearchRequest(
        query=Text("name", "x"),
        types=None,
        offset=0,
        limit=25,
        sort=(),
        source=("id", "name", "updated_at"),
        highlight=None,
        aggs={},
        all_projects=False,
        version=False,
        rollup=None,
        under=None,
        search_after=None,
    )


def test_searchlightclient_full_body():
    req = ps(
        {
            "query": {"query_string": {"query": "name:x"}},
            "type": None,
            "offset": 0,
            "limit": 10,
            "sort": "name:desc",
            "_source": ["id", "name", "updated_at"],
            "all_projects": False,
        }
    )
    assert (req.offset, req.limit, req.sort) == (0, 10, (SortKey("name", True),))


def test_searchlightclient_with_highlight_types_and_all_projects():
    highlight = {"fields": {"name": {}}, "pre_tags": ["<b>"], "post_tags": ["</b>"]}
    req = ps(
        {
            "query": {"query_string": {"query": "web\\/app"}},
            "type": [STACK],
            "offset": 0,
            "limit": 10,
            "sort": [{"updated_at": "desc"}],
            "_source": ["id", "name", "updated_at"],
            "highlight": highlight,
            "all_projects": True,
        }
    )
    assert req.query == Text(None, "web/app")
    assert req.types == (STACK,)
    assert req.highlight == highlight
    assert req.all_projects is True
    assert req.sort == (SortKey("updated_at", True),)


def test_searchlightclient_bare_type_flag_sends_empty_list():
    assert ps({"type": []}).types is None


def test_empty_body_and_none():
    assert ps({}) == SearchRequest()
    assert ps(None) == SearchRequest()
    assert ps({}).query == MatchAll()


# -- table: valid bodies -------------------------------------------------------------------------

VALID = [
    # paging
    ({"offset": 5}, "offset", 5),
    ({"from": 5}, "offset", 5),
    ({"offset": "5"}, "offset", 5),
    ({"limit": 0}, "limit", 0),
    ({"size": 7}, "limit", 7),
    ({"limit": "7"}, "limit", 7),
    ({"limit": 1000}, "limit", 1000),
    ({"offset": 9000, "limit": 1000}, "offset", 9000),
    ({"offset": None}, "offset", 0),
    ({"limit": None}, "limit", 25),
    # types and index
    ({"type": STACK}, "types", (STACK,)),
    ({"type": [STACK, STACK]}, "types", (STACK,)),
    ({"type": None}, "types", None),
    ({"index": "searchlight-search"}, "types", None),
    ({"index": ["a", "b"]}, "types", None),
    ({"index": None}, "types", None),
    # sort
    ({"sort": "name"}, "sort", (SortKey("name"),)),
    ({"sort": "name:asc"}, "sort", (SortKey("name"),)),
    ({"sort": "name:DESC"}, "sort", (SortKey("name", True),)),
    ({"sort": "name.raw"}, "sort", (SortKey("name"),)),
    ({"sort": "_id"}, "sort", (SortKey("id"),)),
    ({"sort": {"updated_at": "desc"}}, "sort", (SortKey("updated_at", True),)),
    ({"sort": {"updated_at": {"order": "asc"}}}, "sort", (SortKey("updated_at"),)),
    ({"sort": {"updated_at": {}}}, "sort", (SortKey("updated_at"),)),
    (
        {"sort": ["status", {"depth": "desc"}, "name:asc"]},
        "sort",
        (SortKey("status"), SortKey("depth", True), SortKey("name")),
    ),
    (
        {"sort": {"status": "asc", "updated_at": "desc"}},
        "sort",
        (SortKey("status"), SortKey("updated_at", True)),
    ),
    ({"sort": "_score"}, "sort", (SortKey("_score", True),)),
    ({"sort": "_score:desc"}, "sort", (SortKey("_score", True),)),
    (
        {"sort": [{"_score": {"order": "desc"}}, "id"]},
        "sort",
        (SortKey("_score", True), SortKey("id")),
    ),
    ({"sort": []}, "sort", ()),
    ({"sort": None}, "sort", ()),
    # _source
    ({"_source": True}, "source", True),
    ({"_source": False}, "source", False),
    ({"_source": None}, "source", True),
    ({"_source": "name"}, "source", ("name",)),
    ({"_source": ["id", "name", "id"]}, "source", ("id", "name")),
    ({"_source": []}, "source", True),
    ({"_source": {"include": ["id"]}}, "source", {"include": ("id",), "exclude": ()}),
    (
        {"_source": {"includes": "id", "excludes": ["template"]}},
        "source",
        {"include": ("id",), "exclude": ("template",)},
    ),
    ({"_source": {"exclude": "template"}}, "source", {"include": (), "exclude": ("template",)}),
    ({"_source": {}}, "source", {"include": (), "exclude": ()}),
    # highlight
    ({"highlight": {"fields": {}}}, "highlight", {"fields": {}}),
    (
        {
            "highlight": {
                "fields": {"name": {"number_of_fragments": 0}, "description": {}, "*": {}},
                "require_field_match": False,
                "fragment_size": 150,
                "number_of_fragments": 3,
                "pre_tags": ["<em>"],
                "post_tags": ["</em>"],
            }
        },
        "highlight",
        {
            "fields": {"name": {"number_of_fragments": 0}, "description": {}, "*": {}},
            "require_field_match": False,
            "fragment_size": 150,
            "number_of_fragments": 3,
            "pre_tags": ["<em>"],
            "post_tags": ["</em>"],
        },
    ),
    (
        {"highlight": {"fields": {"parameters.image": {}, "name.raw": {}}}},
        "highlight",
        {"fields": {"parameters.image": {}, "name.raw": {}}},
    ),
    # aggregations
    ({"aggs": {"s": {"terms": {"field": "status"}}}}, "aggs", {"s": TermsAgg("status", 10)}),
    (
        {
            "aggregations": {
                "s": {"terms": {"field": "status", "size": 3}},
                "n": {"terms": {"field": "name.raw"}},
            }
        },
        "aggs",
        {"s": TermsAgg("status", 3), "n": TermsAgg("name", 10)},
    ),
    ({"aggs": {"n": {"terms": {"field": "name"}}}}, "aggs", {"n": TermsAgg("name", 10)}),
    ({"aggs": {}}, "aggs", {}),
    ({"aggs": None}, "aggs", {}),
    # flags
    ({"all_projects": True}, "all_projects", True),
    ({"all_projects": "True"}, "all_projects", True),
    ({"all_projects": "false"}, "all_projects", False),
    ({"all_projects": "1"}, "all_projects", True),
    ({"all_projects": None}, "all_projects", False),
    ({"version": True}, "version", True),
    ({"version": False}, "version", False),
    # heatseeker extensions
    ({"rollup": "root"}, "rollup", "root"),
    ({"rollup": None}, "rollup", None),
    (
        {"under": "2f0e4a1c-0000-4000-8000-000000000001"},
        "under",
        "2f0e4a1c-0000-4000-8000-000000000001",
    ),
    ({"search_after": ["web", 3, 1.5, True, None]}, "search_after", ("web", 3, 1.5, True, None)),
    ({"search_after": ["x"], "limit": 1000}, "search_after", ("x",)),
    ({"search_after": None}, "search_after", None),
    # the query
    ({"query": {"term": {"status": "X"}}}, "query", Term("status", "X")),
    ({"query": None}, "query", MatchAll()),
    ({"query": {}}, "query", MatchAll()),
]


@pytest.mark.parametrize(("body", "attribute", "expected"), VALID)
def test_valid(body, attribute, expected):
    assert getattr(ps(body), attribute) == expected


# -- table: invalid bodies -----------------------------------------------------------------------

INVALID = [
    # body
    ([], "the request body must be a JSON object, got a list"),
    ("query", "got a string"),
    ({"qeury": {}}, "unknown key in the request body: 'qeury'"),
    ({"a": 1, "b": 2}, "unknown keys in the request body: 'a', 'b'"),
    # paging
    ({"offset": 1, "from": 1}, "give 'offset' or 'from', not both"),
    ({"limit": 1, "size": 1}, "give 'limit' or 'size', not both"),
    ({"offset": -1}, "offset must be an integer >= 0, got -1"),
    ({"from": -1}, "from must be an integer >= 0"),
    ({"limit": -5}, "limit must be an integer >= 0"),
    ({"size": 1.5}, "size must be an integer >= 0"),
    ({"limit": True}, "limit must be an integer >= 0"),
    ({"limit": "ten"}, "limit must be an integer >= 0"),
    ({"limit": "-1"}, "limit must be an integer >= 0"),
    ({"limit": [1]}, "limit must be an integer >= 0"),
    ({"limit": 1001}, "limit 1001 is too large: at most 1000 allowed"),
    ({"offset": 9001, "limit": 1000}, "search_after"),
    ({"offset": 10_000}, "offset + limit is 10025, more than 10000"),
    # types and index
    ({"type": "OS::Nova::Server"}, "unknown resource type 'OS::Nova::Server'"),
    ({"type": [STACK, "OS::Glance::Image"]}, "unknown resource type 'OS::Glance::Image'"),
    ({"type": 3}, "type must be a string, a list of strings or null"),
    ({"type": [None]}, "type must be a string"),
    ({"index": 3}, "index must be a string or a list of strings"),
    ({"index": [1]}, "index must be a string or a list of strings"),
    # sort
    ({"sort": "parameters.image"}, "cannot sort by 'parameters.image'"),
    ({"sort": "nope"}, "cannot sort by 'nope'"),
    ({"sort": "name:up"}, "invalid sort order 'up' for name"),
    ({"sort": {"name": "up"}}, "invalid sort order 'up'"),
    (
        {"sort": {"name": {"order": "desc", "missing": "_last"}}},
        "unsupported sort option 'missing'",
    ),
    ({"sort": {"name": 1}}, "invalid sort order 1"),
    ({"sort": {}}, "empty sort object"),
    ({"sort": 3}, "sort must be a string, an object or a list of those, got a number"),
    ({"sort": [["name"]]}, "got a list"),
    ({"sort": "_score:asc"}, "_score sorts best first only"),
    # _source
    ({"_source": 3}, "_source must be a boolean, a string, a list or an object"),
    ({"_source": [1]}, "_source must be a field name or a list of field names"),
    ({"_source": [""]}, "_source must be a field name or a list of field names"),
    ({"_source": {"fields": ["a"]}}, "unsupported _source option 'fields'"),
    ({"_source": {"include": 1}}, "_source.include must be a field name"),
    ({"_source": {"include": "a", "includes": "b"}}, "give 'include' or 'includes', not both"),
    # highlight
    ({"highlight": []}, "highlight must be an object, got a list"),
    ({"highlight": {}}, "highlight needs 'fields'"),
    ({"highlight": {"fields": ["name"]}}, "highlight.fields must be an object"),
    ({"highlight": {"fields": {"name": []}}}, "highlight.fields.name must be an object"),
    ({"highlight": {"fields": {"nope": {}}}}, "unknown field 'nope'"),
    (
        {"highlight": {"fields": {}, "pre_tags": "<b>"}},
        "highlight.pre_tags must be a list of one string",
    ),
    (
        {"highlight": {"fields": {}, "post_tags": ["<b>", "<i>"]}},
        "highlight.post_tags must be a list of one string",
    ),
    (
        {"highlight": {"fields": {}, "require_field_match": "no"}},
        "require_field_match must be true or false",
    ),
    ({"highlight": {"fields": {}, "fragment_size": -1}}, "fragment_size must be an integer >= 0"),
    (
        {"highlight": {"fields": {"name": {"number_of_fragments": "3"}}}},
        "number_of_fragments must be an integer",
    ),
    (
        {"highlight": {"fields": {"name": {"highlight_query": {}}}}},
        "unsupported highlight option 'highlight_query'",
    ),
    ({"highlight": {"fields": {}, "type": "fvh"}}, "unsupported highlight option 'type'"),
    # aggregations
    ({"aggs": {}, "aggregations": {}}, "give 'aggregations' or 'aggs', not both"),
    ({"aggs": []}, "aggregations must be an object"),
    (
        {"aggs": {"s": {"avg": {"field": "depth"}}}},
        "unsupported aggregation type 'avg' at aggregations.s",
    ),
    (
        {"aggs": {"s": {"terms": {"field": "status"}, "aggs": {}}}},
        "sub-aggregations are not supported",
    ),
    ({"aggs": {"s": {}}}, "must be an object with one aggregation type"),
    ({"aggs": {"s": 3}}, "must be an object with one aggregation type"),
    ({"aggs": {"s": {"terms": []}}}, "aggregations.s.terms must be an object"),
    ({"aggs": {"s": {"terms": {}}}}, "aggregations.s.terms needs a field"),
    (
        {"aggs": {"s": {"terms": {"field": "status", "order": {"_count": "asc"}}}}},
        "unsupported terms aggregation option 'order'",
    ),
    ({"aggs": {"s": {"terms": {"field": "depth"}}}}, "cannot aggregate on 'depth'"),
    ({"aggs": {"s": {"terms": {"field": "updated_at"}}}}, "cannot aggregate on 'updated_at'"),
    (
        {"aggs": {"s": {"terms": {"field": "parameters.image"}}}},
        "cannot aggregate on 'parameters.image'",
    ),
    ({"aggs": {"s": {"terms": {"field": "nope"}}}}, "unknown field 'nope'"),
    ({"aggs": {"s": {"terms": {"field": 1}}}}, "must be a field name"),
    ({"aggs": {"s": {"terms": {"field": "status", "size": 0}}}}, "size must be an integer >= 1"),
    ({"aggs": {"s": {"terms": {"field": "status", "size": "5"}}}}, "size must be an integer >= 1"),
    (
        {"aggs": {"s": {"terms": {"field": "status", "size": 1001}}}},
        "size 1001 is too large: at most 1000",
    ),
    (
        {"aggs": {str(i): {"terms": {"field": "status"}} for i in range(11)}},
        "too many aggregations: 11, at most 10",
    ),
    # flags
    ({"all_projects": "yes"}, "invalid value 'yes' for all_projects"),
    ({"all_projects": 2}, "invalid value 2 for all_projects"),
    ({"version": "maybe"}, "invalid value 'maybe' for version"),
    # heatseeker extensions
    ({"rollup": "leaf"}, "invalid rollup 'leaf'"),
    ({"rollup": True}, "invalid rollup True"),
    ({"under": 3}, "invalid under 3"),
    ({"under": ""}, "invalid under ''"),
    ({"under": "x" * 256}, "invalid under"),
    ({"search_after": []}, "search_after must be a non-empty list"),
    ({"search_after": "x"}, "search_after must be a non-empty list"),
    ({"search_after": [{"a": 1}]}, "search_after must hold only scalars"),
    ({"search_after": ["x"], "offset": 10}, "offset must be 0 when search_after is given"),
    # the query
    ({"query": {"fuzzy": {"name": "x"}}}, "unsupported query type 'fuzzy' at query"),
    ({"query": []}, "expected a query object at query, got a list"),
    ({"query": {"query_string": {"query": "nope:x"}}}, "unknown field 'nope'"),
    # scripts anywhere in the body
    ({"query": {"script": {"script": "x"}}}, "scripts are not allowed"),
    ({"sort": {"_script": {"type": "number"}}}, "scripts are not allowed: '_script' at body.sort"),
    ({"aggs": {"s": {"terms": {"script": "doc.x"}}}}, "scripts are not allowed"),
    ({"aggs": {"s": {"scripted_metric": {}}}}, "scripts are not allowed"),
    ({"script_fields": {"x": {}}}, "scripts are not allowed"),
]


@pytest.mark.parametrize(("body", "message"), INVALID)
def test_invalid(body, message):
    with pytest.raises(QueryError) as e:
        ps(body)
    assert message in e.value.message
    # a 400, not a 403: a plain QueryError, or the unknown-field one (a QueryError too)
    assert type(e.value) in (QueryError, UnknownField)


FORBIDDEN = [
    ({"self": "/v1/search"}, "attribute 'self' is read-only"),
    ({"schema": {}}, "attribute 'schema' is read-only"),
    ({"schema": {}, "bogus": 1}, "read-only"),  # 403 before 400
    (
        {"aggs": {"all": {"global": {}, "aggs": {"s": {"terms": {"field": "status"}}}}}},
        "global aggregations are not allowed",
    ),
    ({"aggregations": {"g": {"global": {}}}}, "global aggregations are not allowed"),
]


@pytest.mark.parametrize(("body", "message"), FORBIDDEN)
def test_forbidden(body, message):
    with pytest.raises(RequestForbidden) as e:
        ps(body)
    assert message in e.value.message
    assert isinstance(e.value, QueryError)


# -- limits --------------------------------------------------------------------------------------


def test_request_limits():
    limits = RequestLimits(
        max_limit=50, max_offset_plus_limit=100, default_limit=10, max_aggs=1, max_agg_size=5
    )
    assert ps({}, limits=limits).limit == 10
    assert ps({"limit": 50, "offset": 50}, limits=limits).limit == 50
    with pytest.raises(QueryError, match="at most 50 allowed"):
        ps({"limit": 51}, limits=limits)
    with pytest.raises(QueryError, match="more than 100"):
        ps({"limit": 50, "offset": 51}, limits=limits)
    with pytest.raises(QueryError, match="too many aggregations"):
        ps(
            {"aggs": {"a": {"terms": {"field": "status"}}, "b": {"terms": {"field": "tags"}}}},
            limits=limits,
        )
    with pytest.raises(QueryError, match="at most 5 allowed"):
        ps({"aggs": {"a": {"terms": {"field": "status", "size": 6}}}}, limits=limits)


def test_default_limit_is_capped_by_max_limit():
    assert ps({}, limits=RequestLimits(max_limit=5)).limit == 5


def test_dsl_limits_are_passed_on():
    limits = RequestLimits(dsl=Limits(max_terms=2))
    with pytest.raises(QueryError, match="too many terms"):
        ps({"query": {"terms": {"status": ["a", "b", "c"]}}}, limits=limits)


def test_now_reaches_the_dsl():
    req = ps({"query": {"range": {"updated_at": {"gte": "now/d"}}}})
    assert req.query.gte == datetime(2026, 11, 25, tzinfo=UTC)  # type: ignore[union-attr]


def test_query_with_everything():
    req = ps(
        {
            "query": {
                "bool": {"must": {"match": {"name": "web"}}, "filter": {"term": {"status": "X"}}}
            },
            "type": STACK,
            "index": "searchlight-search",
            "from": 10,
            "size": 20,
            "sort": [{"_score": "desc"}, "name"],
            "_source": {"includes": ["id", "name"], "excludes": "template"},
            "highlight": {"fields": {"name": {}}},
            "aggregations": {"by_status": {"terms": {"field": "status", "size": 5}}},
            "all_projects": "False",
            "version": True,
            "rollup": "root",
            "under": "abc",
        }
    )
    assert req == SearchRequest(
        query=Bool(must=(Text("name", "web", "or"),), filter=(Term("status", "X"),)),
        types=(STACK,),
        offset=10,
        limit=20,
        sort=(SortKey("_score", True), SortKey("name")),
        source={"include": ("id", "name"), "exclude": ("template",)},
        highlight={"fields": {"name": {}}},
        aggs={"by_status": TermsAgg("status", 5)},
        all_projects=False,
        version=True,
        rollup="root",
        under="abc",
        search_after=None,
    )


# -- parse_bool ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("false", False),
        ("False", False),
        ("1", True),
        ("0", False),
        (1, True),
        (0, False),
    ],
)
def test_parse_bool(value, expected):
    assert parse_bool(value, "x") is expected


@pytest.mark.parametrize("value", ["yes", "no", "", None, 2, 1.0, [], {}, "truthy"])
def test_parse_bool_invalid(value):
    with pytest.raises(
        QueryError, match="invalid value .* for all_projects: expected true or false"
    ):
        parse_bool(value, "all_projects")


# -- fuzz: nothing but QueryError ----------------------------------------------------------------

BODY_KEYS = [
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
    "under",
    "search_after",
]
INNER_KEYS = [
    "fields",
    "terms",
    "field",
    "size",
    "global",
    "order",
    "include",
    "excludes",
    "pre_tags",
    "number_of_fragments",
    "match_all",
    "query_string",
    "term",
    "bool",
    "must",
    "status",
    "name",
    "updated_at",
]
SCALARS = [STACK, "name:desc", "_score", "root", "true", "False", "desc", "status", "10", "-1"]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(SCALARS)
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(INNER_KEYS) | st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=20,
)
bodies = st.dictionaries(st.sampled_from(BODY_KEYS), values, max_size=5) | values


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies)
def test_fuzz_any_body_is_a_request_or_a_query_error(body):
    with contextlib.suppress(QueryError):
        req = ps(body)
        assert isinstance(req, SearchRequest)
        assert 0 <= req.limit <= 1000 and req.offset + req.limit <= 10_000


# -- search_after dates that do not exist in UTC (issue #11, point 9) -------------------------------


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
                                   " 0001-01-01T00:00:00+00:01"])
def test_search_after_date_outside_utc_is_a_query_error(value):
    for sort in ("updated_at", {"created_at": "desc"}, ["name", "deleted_at"]):
        keys = 2 if isinstance(sort, list) else 1
        with pytest.raises(QueryError, match="out of range"):
            ps({"sort": sort, "search_after": ["x"] * (keys - 1) + [value, "id"]})


def test_search_after_dates_inside_utc_and_other_sorts_are_kept():
    for value in ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00-14:00", "9999-12-31T23:59:59+14:00",
                  "not a date", 5):
        assert ps({"sort": "updated_at", "search_after": [value, "id"]}).search_after == (value, "id")
    # a date-like value for a text sort is just text
    assert ps({"sort": "name", "search_after": ["0001-01-01T00:00:00+14:00", "id"]}).search_after
