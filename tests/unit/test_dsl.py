import contextlib
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heatseeker.query import dsl
from heatseeker.query.dsl import Limits, minimum_should_match, parse
from heatseeker.query.errors import QueryError
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
    Term,
    Terms,
    Text,
    Wildcard,
)

NOW = datetime(2026, 11, 25, 10, 30, 15, tzinfo=UTC)


def dt(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[arg-type,misc]


DAY = (dt(2026, 11, 25), dt(2026, 11, 25, 23, 59, 59, 999000))


def p(query, **kw):
    return parse(query, now=NOW, **kw)


VALID: list[tuple[Any, Node]] = [
    # empty / match_all / match_none
    (None, MatchAll()),
    ({}, MatchAll()),
    ({"match_all": {}}, MatchAll()),
    ({"match_all": {"boost": 1.2}}, MatchAll()),
    ({"match_none": {}}, MatchNone()),
    # term
    ({"term": {"status": "CREATE_FAILED"}}, Term("status", "CREATE_FAILED")),
    ({"term": {"status": {"value": "CREATE_FAILED", "boost": 2}}}, Term("status", "CREATE_FAILED")),
    ({"term": {"name.raw": "web-1"}}, Term("name", "web-1")),
    ({"term": {"name": "web-1"}}, Term("name", "web-1")),
    ({"term": {"_id": "abc"}}, Term("id", "abc")),
    ({"term": {"depth": 2}}, Term("depth", 2)),
    ({"term": {"depth": "2"}}, Term("depth", 2)),
    ({"term": {"depth": 2.0}}, Term("depth", 2)),
    ({"term": {"tags": 5}}, Term("tags", "5")),
    ({"term": {"parameters.count": 3}}, Term("parameters.count", "3")),
    ({"term": {"parameters.flag": True}}, Term("parameters.flag", "true")),
    ({"term": {"resources.type": "OS::Nova::Server"}}, Term("resources.type", "OS::Nova::Server")),
    ({"term": {"updated_at": "2026-11-25"}}, Range("updated_at", gte=DAY[0], lte=DAY[1])),
    ({"term": {"updated_at": "2026-11-25T10:00:00Z"}}, Term("updated_at", dt(2026, 11, 25, 10))),
    ({"term": {"updated_at": 0}}, Term("updated_at", dt(1970, 1, 1))),
    # terms
    ({"terms": {"status": ["A", "B"]}}, Terms("status", ("A", "B"))),
    ({"terms": {"status": ["A", "A"]}}, Term("status", "A")),
    ({"terms": {"status": ["A", "B"], "boost": 1}}, Terms("status", ("A", "B"))),
    ({"terms": {"depth": [1, "2"]}}, Terms("depth", (1, 2))),
    ({"terms": {"status": []}}, MatchNone()),
    (
        {"terms": {"created_at": ["2026-11-25", "2026-11-25T10:00:00Z"]}},
        Bool(
            should=(
                Range("created_at", gte=DAY[0], lte=DAY[1]),
                Term("created_at", dt(2026, 11, 25, 10)),
            )
        ),
    ),
    # ids
    ({"ids": {"values": ["a", "b", "a"]}}, Ids(("a", "b"))),
    ({"ids": {"values": [1]}}, Ids(("1",))),
    ({"ids": {"values": []}}, MatchNone()),
    # match
    ({"match": {"name": "web server"}}, Text("name", "web server", "or")),
    (
        {"match": {"name": {"query": "web server", "operator": "and"}}},
        Text("name", "web server", "and"),
    ),
    ({"match": {"name": {"query": "web", "operator": "OR"}}}, Text("name", "web", "or")),
    ({"match": {"_all": "cirros"}}, Text(None, "cirros", "or")),
    ({"match": {"*": "cirros"}}, Text(None, "cirros", "or")),
    ({"match": {"description": ""}}, MatchNone()),
    ({"match": {"status": "CREATE_FAILED"}}, Term("status", "CREATE_FAILED")),
    ({"match": {"name.raw": "web 1"}}, Term("name", "web 1")),
    ({"match": {"depth": 3}}, Term("depth", 3)),
    ({"match": {"parameters.image": "cirros"}}, Term("parameters.image", "cirros")),
    # match_phrase
    ({"match_phrase": {"description": "web server"}}, Phrase("description", "web server")),
    ({"match_phrase": {"description": {"query": "a b"}}}, Phrase("description", "a b")),
    ({"match_phrase": {"_all": "a b"}}, Phrase(None, "a b")),
    # multi_match
    (
        {"multi_match": {"query": "web", "fields": ["name", "description^2"]}},
        Bool(
            should=(Text("name", "web", "or"), Text("description", "web", "or")),
            minimum_should_match=1,
        ),
    ),
    (
        {"multi_match": {"query": "a b", "fields": ["name"], "type": "phrase"}},
        Bool(should=(Phrase("name", "a b"),), minimum_should_match=1),
    ),
    (
        {"multi_match": {"query": "web", "fields": ["name", "status"], "operator": "and"}},
        Bool(should=(Text("name", "web", "and"), Term("status", "web")), minimum_should_match=1),
    ),
    ({"multi_match": {"query": "web"}}, Text(None, "web", "or")),
    ({"multi_match": {"query": "web", "fields": ["*"]}}, Text(None, "web", "or")),
    (
        {"multi_match": {"query": "web", "fields": "name"}},
        Bool(should=(Text("name", "web", "or"),), minimum_should_match=1),
    ),
    # range
    ({"range": {"depth": {"gte": 1, "lt": "3"}}}, Range("depth", gte=1, lt=3)),
    (
        {"range": {"updated_at": {"gte": "now-1d/d", "lte": "now/d"}}},
        Range("updated_at", gte=dt(2026, 11, 24), lte=dt(2026, 11, 25, 23, 59, 59, 999000)),
    ),
    (
        {"range": {"updated_at": {"gt": "2026-11-25", "lt": "2026-11-27"}}},
        Range("updated_at", gt=DAY[1], lt=dt(2026, 11, 27)),
    ),
    (
        {
            "range": {
                "updated_at": {"gte": "2026-11-25", "format": "yyyy-MM-dd", "time_zone": "UTC"}
            }
        },
        Range("updated_at", gte=DAY[0]),
    ),
    ({"range": {"name": {"gte": "a", "lt": "m"}}}, Range("name", gte="a", lt="m")),
    ({"range": {"parameters.count": {"gt": 5}}}, Range("parameters.count", gt="5")),
    ({"range": {"depth": {"from": 1, "to": 3}}}, Range("depth", gte=1, lte=3)),
    (
        {"range": {"depth": {"from": 1, "to": 3, "include_lower": False, "include_upper": False}}},
        Range("depth", gt=1, lt=3),
    ),
    ({"range": {"depth": {"from": None, "to": 3}}}, Range("depth", lte=3)),
    ({"range": {"depth": {}}}, Exists("depth")),
    # prefix / wildcard / exists
    ({"prefix": {"status": "CREATE_"}}, Prefix("status", "CREATE_")),
    ({"prefix": {"name": {"value": "web"}}}, Prefix("name", "web")),
    ({"prefix": {"parameters.image": {"prefix": "cir"}}}, Prefix("parameters.image", "cir")),
    ({"wildcard": {"status": "*_FAILED"}}, Wildcard("status", "*_FAILED")),
    ({"wildcard": {"status": {"value": "C?EATE*"}}}, Wildcard("status", "C?EATE*")),
    ({"wildcard": {"status": {"wildcard": "a\\bc*"}}}, Wildcard("status", "abc*")),
    ({"exists": {"field": "tags"}}, Exists("tags")),
    ({"exists": {"field": "parameters.image"}}, Exists("parameters.image")),
    ({"exists": {"field": "_id"}}, Exists("id")),
    # constant_score
    (
        {"constant_score": {"filter": {"term": {"status": "X"}}, "boost": 1}},
        Bool(filter=(Term("status", "X"),)),
    ),
    # bool
    ({"bool": {}}, MatchAll()),
    ({"bool": {"must": {"term": {"status": "X"}}}}, Bool(must=(Term("status", "X"),))),
    (
        {
            "bool": {
                "must": [{"term": {"status": "X"}}],
                "filter": [{"exists": {"field": "tags"}}],
                "boost": 2,
            }
        },
        Bool(must=(Term("status", "X"),), filter=(Exists("tags"),)),
    ),
    (
        {"bool": {"must_not": {"term": {"status": "X"}}}},
        Bool(must=(MatchAll(),), must_not=(Term("status", "X"),)),
    ),
    (
        {"bool": {"should": [{"term": {"status": "A"}}, {"term": {"status": "B"}}]}},
        Bool(should=(Term("status", "A"), Term("status", "B"))),
    ),
    (
        {
            "bool": {
                "should": [{"term": {"status": "A"}}, {"term": {"status": "B"}}],
                "minimum_should_match": 2,
            }
        },
        Bool(should=(Term("status", "A"), Term("status", "B")), minimum_should_match=2),
    ),
    (
        {
            "bool": {
                "should": [{"term": {"status": "A"}}, {"term": {"status": "B"}}],
                "minimum_should_match": 3,
            }
        },
        MatchNone(),
    ),
    (
        # Lucene: with no must/filter one should clause must match even if msm says 0
        {"bool": {"should": [{"term": {"status": "A"}}], "minimum_should_match": 0}},
        Bool(should=(Term("status", "A"),), minimum_should_match=1),
    ),
    (
        {
            "bool": {
                "must": {"match_all": {}},
                "should": [{"term": {"status": "A"}}],
                "minimum_should_match": "0",
            }
        },
        Bool(must=(MatchAll(),), should=(Term("status", "A"),), minimum_should_match=0),
    ),
    (
        # msm with no should clause at all: Elasticsearch matches nothing
        {"bool": {"must": {"term": {"status": "A"}}, "minimum_should_match": 1}},
        MatchNone(),
    ),
    (
        {"bool": {"must": {"bool": {"should": {"match": {"name": "a"}}}}}},
        Bool(must=(Bool(should=(Text("name", "a", "or"),)),)),
    ),
    # query_string: python-searchlightclient's shape
    ({"query_string": {"query": "name:x"}}, Text("name", "x")),
    ({"query_string": {"query": "status:CREATE_FAILED"}}, Term("status", "CREATE_FAILED")),
    ({"query_string": {"query": "http:\\/\\/example.com\\/x"}}, Text(None, "http://example.com/x")),
    ({"query_string": {"query": ""}}, MatchAll()),
    # ES's default operator is OR
    (
        {"query_string": {"query": "web prod"}},
        Bool(should=(Text(None, "web"), Text(None, "prod"))),
    ),
    (
        {"query_string": {"query": "web prod", "default_operator": "AND"}},
        Bool(must=(Text(None, "web"), Text(None, "prod"))),
    ),
    # default_field / fields re-aim the bare words
    ({"query_string": {"query": "web", "default_field": "name"}}, Text("name", "web")),
    ({"query_string": {"query": "web", "default_field": "_all"}}, Text(None, "web")),
    (
        {"query_string": {"query": "CREATE_FAILED", "default_field": "status"}},
        Term("status", "CREATE_FAILED"),
    ),
    (
        {"query_string": {"query": '"a b"', "default_field": "description"}},
        Phrase("description", "a b"),
    ),
    ({"query_string": {"query": "web*", "default_field": "name"}}, Prefix("name", "web")),
    ({"query_string": {"query": "w?b*", "fields": ["status"]}}, Wildcard("status", "w?b*")),
    (
        {"query_string": {"query": "web", "fields": ["name", "description^3"]}},
        Bool(should=(Text("name", "web"), Text("description", "web"))),
    ),
    (
        {"query_string": {"query": "web AND status:X", "default_field": "name"}},
        Bool(must=(Text("name", "web"), Term("status", "X"))),
    ),
    # simple_query_string
    ({"simple_query_string": {"query": "web"}}, Text(None, "web", "or")),
    ({"simple_query_string": {"query": ""}}, MatchNone()),
    ({"simple_query_string": {"query": "  ( ) "}}, MatchNone()),
    (
        {"simple_query_string": {"query": "web prod"}},
        Bool(should=(Text(None, "web", "or"), Text(None, "prod", "or"))),
    ),
    (
        {"simple_query_string": {"query": "web prod", "default_operator": "and"}},
        Bool(must=(Text(None, "web", "and"), Text(None, "prod", "and"))),
    ),
    (
        {"simple_query_string": {"query": "a + b"}},
        Bool(must=(Text(None, "a", "or"), Text(None, "b", "or"))),
    ),
    (
        {"simple_query_string": {"query": "a | b"}},
        Bool(should=(Text(None, "a", "or"), Text(None, "b", "or"))),
    ),
    (
        # equal precedence, left to right: (a | b) + c
        {"simple_query_string": {"query": "a | b + c"}},
        Bool(
            must=(
                Bool(should=(Text(None, "a", "or"), Text(None, "b", "or"))),
                Text(None, "c", "or"),
            )
        ),
    ),
    (
        {"simple_query_string": {"query": "a + (b | c)"}},
        Bool(
            must=(
                Text(None, "a", "or"),
                Bool(should=(Text(None, "b", "or"), Text(None, "c", "or"))),
            )
        ),
    ),
    (
        {"simple_query_string": {"query": "a -b", "default_operator": "and"}},
        Bool(must=(Text(None, "a", "and"),), must_not=(Text(None, "b", "and"),)),
    ),
    (
        # Elasticsearch's OR gotcha: a, or anything without b
        {"simple_query_string": {"query": "a -b"}},
        Bool(
            should=(
                Text(None, "a", "or"),
                Bool(must=(MatchAll(),), must_not=(Text(None, "b", "or"),)),
            )
        ),
    ),
    (
        {"simple_query_string": {"query": "-b"}},
        Bool(must=(MatchAll(),), must_not=(Text(None, "b", "or"),)),
    ),
    ({"simple_query_string": {"query": "--b"}}, Text(None, "b", "or")),
    ({"simple_query_string": {"query": '"web server"'}}, Phrase(None, "web server")),
    ({"simple_query_string": {"query": '"web server'}}, Phrase(None, "web server")),
    ({"simple_query_string": {"query": "web*"}}, Prefix("_all", "web")),
    ({"simple_query_string": {"query": "*"}}, MatchAll()),
    ({"simple_query_string": {"query": "foo-bar"}}, Text(None, "foo-bar", "or")),
    ({"simple_query_string": {"query": "a\\+b\\*"}}, Text(None, "a+b*", "or")),
    ({"simple_query_string": {"query": "a |"}}, Text(None, "a", "or")),
    ({"simple_query_string": {"query": "| a )"}}, Text(None, "a", "or")),
    ({"simple_query_string": {"query": "(a"}}, Text(None, "a", "or")),
    ({"simple_query_string": {"query": "web", "fields": ["name"]}}, Text("name", "web", "or")),
    (
        {"simple_query_string": {"query": "web*", "fields": ["name", "status^2"]}},
        Bool(should=(Prefix("name", "web"), Prefix("status", "web"))),
    ),
    ({"simple_query_string": {"query": "X", "fields": ["status"]}}, Term("status", "X")),
    ({"simple_query_string": {"query": "*", "fields": ["tags"]}}, Exists("tags")),
]


@pytest.mark.parametrize(("query", "expected"), VALID)
def test_valid(query, expected):
    assert p(query) == expected


INVALID = [
    # shape
    ([], "expected a query object at query, got a list"),
    ("match_all", "expected a query object at query, got a string"),
    (3, "got a number"),
    ({"match_all": {}, "term": {"status": "x"}}, "exactly one key"),
    ({"match_all": []}, "expected an object at query.match_all, got a list"),
    ({"match_all": {"foo": 1}}, "unsupported option 'foo' at query.match_all"),
    ({"fuzzy": {"name": "x"}}, "unsupported query type 'fuzzy' at query"),
    (
        {"bool": {"must": [{"match_all": {}}, {"fuzzy": {"name": "x"}}]}},
        "unsupported query type 'fuzzy' at query.bool.must[1]",
    ),
    ({"bool": {"must": [{}]}}, "empty query object at query.bool.must[0]"),
    (
        {"bool": {"must": "x"}},
        "expected a query object or a list of query objects at query.bool.must",
    ),
    ({"bool": {"must": [["x"]]}}, "expected a query object at query.bool.must[0], got a list"),
    ({"bool": {"musts": []}}, "unsupported option 'musts' at query.bool"),
    ({"bool": []}, "expected an object at query.bool"),
    ({"filtered": {"query": {}}}, "unsupported query type 'filtered'"),
    ({"regexp": {"name": "a.*"}}, "unsupported query type 'regexp'"),
    ({"more_like_this": {}}, "unsupported query type 'more_like_this'"),
    # scripts anywhere
    ({"script": {"script": "1"}}, "scripts are not allowed"),
    (
        {"bool": {"filter": [{"script": {"script": {"source": "x"}}}]}},
        "scripts are not allowed: 'script' at query.bool.filter[0]",
    ),
    ({"function_score": {"query": {}, "script_score": {}}}, "scripts are not allowed"),
    ({"term": {"status": {"value": "x", "script": "y"}}}, "scripts are not allowed"),
    ({"bool": {"must": [{"match_all": {}}, [{"x": {"_script": 1}}]]}}, "scripts are not allowed"),
    # fields
    (
        {"term": {"stauts": "x"}},
        "unknown field 'stauts' at query.term.stauts (did you mean 'status'?)",
    ),
    ({"term": {"paramters.image": "x"}}, "unknown field 'paramters.image'"),
    ({"term": {"parameters": "x"}}, "unknown field 'parameters'"),
    ({"term": {"_all": "x"}}, "'_all' is not allowed here"),
    ({"term": {"stat*": "x"}}, "wildcards in field names are not supported"),
    ({"exists": {"field": 3}}, "expected a field name at query.exists.field, got a number"),
    ({"exists": {"field": "nope"}}, "unknown field 'nope'"),
    ({"exists": {}}, "exists needs a field"),
    (
        {"multi_match": {"query": "x", "fields": ["nme"]}},
        "unknown field 'nme' at query.multi_match.fields[0]",
    ),
    ({"query_string": {"query": "x", "default_field": "nope"}}, "unknown field 'nope'"),
    ({"simple_query_string": {"query": "x", "fields": [1]}}, "expected a field name"),
    # term / terms
    ({"term": {}}, "term needs a field"),
    ({"term": {"status": "a", "tags": "b"}}, "exactly one field"),
    ({"term": {"status": None}}, "got null"),
    ({"term": {"status": ["a"]}}, "got a list"),
    ({"term": {"status": {"val": "a"}}}, "unsupported option 'val'"),
    ({"term": {"status": {"boost": 1}}}, "term needs a value"),
    (
        {"term": {"depth": "two"}},
        "field 'depth' holds integers: 'two' is not one, at query.term.depth",
    ),
    ({"term": {"depth": 1.5}}, "holds integers"),
    ({"term": {"depth": True}}, "holds integers"),
    ({"term": {"depth": 2**70}}, "out of range"),
    ({"term": {"updated_at": "yesterday"}}, "invalid date 'yesterday'"),
    ({"term": {"updated_at": True}}, "holds dates"),
    ({"terms": {"status": "a"}}, "expected a list of values at query.terms.status"),
    (
        {"terms": {"status": {"index": "x", "id": "y", "path": "z"}}},
        "terms lookup is not supported",
    ),
    ({"terms": {"status": [{"a": 1}]}}, "query.terms.status[0]"),
    ({"terms": {"depth": [1, "x"]}}, "query.terms.depth[1]"),
    ({"ids": {"values": "a"}}, "expected a list of ids"),
    ({"ids": {"values": [None]}}, "expected an id at query.ids.values[0]"),
    ({"ids": {}}, "ids needs values"),
    # match family
    ({"match": {"name": {"query": "x", "fuzziness": 2}}}, "unsupported option 'fuzziness'"),
    ({"match": {"name": {"query": "x", "operator": "xor"}}}, "invalid operator 'xor'"),
    ({"match": {"name": {"operator": "and"}}}, "match needs a query"),
    ({"match": {"name": ["x"]}}, "got a list"),
    ({"match": {"depth": "deep"}}, "holds integers"),
    ({"match_phrase": {"name": {"query": "a b", "slop": 2}}}, "slop is not supported"),
    ({"multi_match": {"fields": ["name"]}}, "multi_match needs a query"),
    (
        {"multi_match": {"query": "x", "type": "phrase_prefix"}},
        "unsupported multi_match type 'phrase_prefix'",
    ),
    ({"multi_match": {"query": "x", "type": "cross_fields", "operator": "and"}}, "cross_fields"),
    ({"multi_match": {"query": "x", "fields": ["name^x"]}}, "invalid boost"),
    ({"multi_match": {"query": "x", "fields": 3}}, "expected a list of field names"),
    # query strings
    ({"query_string": {}}, "missing query at query.query_string"),
    ({"query_string": {"query": 3}}, "expected a string at query.query_string.query"),
    ({"query_string": {"query": "x", "default_operator": "XOR"}}, "invalid operator"),
    ({"query_string": {"query": "x", "fuzziness": 1}}, "unsupported option 'fuzziness'"),
    ({"query_string": {"query": "x", "default_field": "name", "fields": ["name"]}}, "not both"),
    ({"query_string": {"query": "x", "default_field": ["name"]}}, "expected a field name"),
    ({"query_string": {"query": "(x"}}, "unbalanced parenthesis"),
    (
        {"query_string": {"query": "x*", "default_field": "depth"}},
        "prefix is not supported on int field 'depth'",
    ),
    ({"query_string": {"query": "x", "default_field": "depth"}}, "holds integers"),
    (
        {"simple_query_string": {"query": "web~2"}},
        "fuzzy and proximity searches (~) are not supported",
    ),
    ({"simple_query_string": {"query": '"a b"~2'}}, "proximity searches (~) are not supported"),
    ({"simple_query_string": {"query": "x", "flags": "ALL"}}, "unsupported option 'flags'"),
    (
        {"simple_query_string": {"query": "x*", "fields": ["updated_at"]}},
        "not supported on date field",
    ),
    # range
    ({"range": {"depth": 3}}, "expected an object at query.range.depth"),
    (
        {"range": {"depth": {"gte": "x"}}},
        "holds integers: 'x' is not one, at query.range.depth.gte",
    ),
    ({"range": {"depth": {"gte": 1, "gt": 2}}}, "more than one lower bound"),
    ({"range": {"depth": {"lte": 1, "to": 2}}}, "more than one upper bound"),
    ({"range": {"depth": {"gte": 1, "relation": "within"}}}, "unsupported option 'relation'"),
    ({"range": {"depth": {"from": 1, "include_lower": "yes"}}}, "expected true or false"),
    ({"range": {"updated_at": {"gte": "now-1x"}}}, "unknown unit 'x'"),
    ({"range": {"updated_at": {"gte": "2026-13-01"}}}, "invalid date '2026-13-01'"),
    ({"range": {"updated_at": {"gte": [1]}}}, "got a list"),
    ({"range": {"updated_at": {"time_zone": 1}}}, "expected a string"),
    # prefix / wildcard
    ({"prefix": {"depth": "1"}}, "prefix is not supported on int field 'depth'"),
    ({"prefix": {"updated_at": "2026"}}, "prefix is not supported on date field"),
    ({"prefix": {"status": {"value": "a", "prefix": "b"}}}, "exactly one of value or prefix"),
    (
        {"prefix": {"status": {"value": "a", "case_insensitive": True}}},
        "unsupported option 'case_insensitive'",
    ),
    ({"wildcard": {"status": "a\\*"}}, "cannot contain an escaped *"),
    ({"wildcard": {"status": None}}, "got null"),
    # constant_score
    ({"constant_score": {"query": {"match_all": {}}}}, "unsupported option 'query'"),
    ({"constant_score": {}}, "constant_score needs a filter"),
    # minimum_should_match
    (
        {"bool": {"should": [{"match_all": {}}], "minimum_should_match": "lots"}},
        "invalid minimum_should_match 'lots'",
    ),
    (
        {"bool": {"should": [{"match_all": {}}], "minimum_should_match": True}},
        "minimum_should_match must be",
    ),
    ({"bool": {"should": [{"match_all": {}}], "minimum_should_match": "150%"}}, "over 100%"),
]


@pytest.mark.parametrize(("query", "message"), INVALID)
def test_invalid(query, message):
    with pytest.raises(QueryError) as e:
        p(query)
    assert message in e.value.message


@pytest.mark.parametrize(
    ("spec", "optional", "expected"),
    [
        (2, 4, 2),
        ("2", 4, 2),
        (-1, 4, 3),
        ("-1", 4, 3),
        ("75%", 4, 3),
        ("75%", 3, 2),  # 2.25 truncated
        ("-25%", 4, 3),
        ("-25%", 3, 3),  # -0.75 truncated to 0
        ("100%", 5, 5),
        ("0%", 5, 0),
        (-10, 4, 0),
        (" 3<90% ", 3, 3),  # 3 or fewer: all
        ("3<90%", 10, 9),
        ("2<-25% 9<-3", 2, 2),
        ("2<-25% 9<-3", 8, 6),
        ("2<-25% 9<-3", 12, 9),
        ("3 < -1", 5, 4),
        (5, 2, 5),  # more than there are: the caller turns it into MatchNone
    ],
)
def test_minimum_should_match(spec, optional, expected):
    assert minimum_should_match(spec, optional, "x") == expected


def test_msm_percentage_in_bool():
    should = [{"term": {"status": s}} for s in "ABCD"]
    node = p({"bool": {"should": should, "minimum_should_match": "50%"}})
    assert isinstance(node, Bool) and node.minimum_should_match == 2


def test_now_defaults_to_the_clock():
    node = parse({"range": {"updated_at": {"gte": "now"}}})
    assert isinstance(node, Range) and isinstance(node.gte, datetime)
    assert abs((node.gte - datetime.now(UTC)).total_seconds()) < 60


# -- limits ------------------------------------------------------------------------------------


def nested_bool(levels: int) -> dict:
    q: dict = {"match_all": {}}
    for _ in range(levels):
        q = {"bool": {"must": q}}
    return q


def test_depth_limit():
    assert p(nested_bool(19))  # 19 bools + the leaf: 20 levels
    with pytest.raises(QueryError, match="nested too deeply"):
        p(nested_bool(20))
    with pytest.raises(QueryError, match="nested too deeply"):
        p(nested_bool(5), limits=Limits(max_depth=3))


def test_very_deep_json_is_a_query_error_not_a_recursion_error():
    with pytest.raises(QueryError, match="nested too deeply"):
        p(nested_bool(100_000))
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(QueryError):
        p({"term": {"status": deep}})


def test_depth_limit_counts_query_strings():
    q = {"query_string": {"query": "(a AND (b OR (c AND (d OR e))))"}}
    assert p(q)
    with pytest.raises(QueryError, match="nested too deeply"):
        p(q, limits=Limits(max_depth=3))


def test_clause_limit():
    many = [{"term": {"status": str(i)}} for i in range(11)]
    assert p({"bool": {"should": many}}, limits=Limits(max_clauses=11))
    with pytest.raises(QueryError, match="too many clauses at query.bool.should"):
        p({"bool": {"should": many}}, limits=Limits(max_clauses=10))
    split = {"bool": {"must": many[:6], "should": many[6:]}}
    with pytest.raises(QueryError, match="11 clauses, more than the limit of 10"):
        p(split, limits=Limits(max_clauses=10))


def test_terms_limit():
    values = [str(i) for i in range(6)]
    assert p({"terms": {"status": values}}, limits=Limits(max_terms=6))
    with pytest.raises(QueryError, match="too many terms at query.terms.status"):
        p({"terms": {"status": values}}, limits=Limits(max_terms=5))
    with pytest.raises(QueryError, match="too many ids"):
        p({"ids": {"values": values}}, limits=Limits(max_terms=5))
    two = {"bool": {"should": [{"terms": {"status": values[:3]}}, {"ids": {"values": values[3:]}}]}}
    with pytest.raises(QueryError, match="6 terms/ids values, more than the limit of 5"):
        p(two, limits=Limits(max_terms=5))


def test_query_string_length_limit():
    for qtype in ("query_string", "simple_query_string"):
        assert p({qtype: {"query": "a" * 50}}, limits=Limits(max_query_string=50))
        with pytest.raises(QueryError, match="too long"):
            p({qtype: {"query": "a" * 51}}, limits=Limits(max_query_string=50))


def test_simple_query_string_clause_and_nesting_limits():
    with pytest.raises(QueryError, match="more than 3 clauses"):
        p({"simple_query_string": {"query": "a b c d"}}, limits=Limits(max_clauses=3))
    with pytest.raises(QueryError, match="nested too deeply"):
        p({"simple_query_string": {"query": "(" * 50 + "a"}})


def test_limits_are_frozen():
    with pytest.raises(AttributeError):
        Limits().max_depth = 5  # type: ignore[misc]


# -- fuzz: nothing but QueryError ---------------------------------------------------------------

KEYS = [
    *dsl.SUPPORTED,
    "must",
    "should",
    "must_not",
    "filter",
    "minimum_should_match",
    "boost",
    "value",
    "values",
    "query",
    "operator",
    "fields",
    "default_field",
    "default_operator",
    "type",
    "gte",
    "gt",
    "lte",
    "lt",
    "from",
    "to",
    "include_lower",
    "include_upper",
    "field",
    "wildcard",
    "prefix",
    "slop",
    "status",
    "name",
    "name.raw",
    "_id",
    "depth",
    "updated_at",
    "tags",
    "parameters.image",
    "_all",
    "*",
    "script",
]
STRINGS = [
    "now-1d/d",
    "2026-11-25",
    "2026-11-25T10:00:00Z",
    "50%",
    "-1",
    "3<90%",
    "and",
    "OR",
    "name:x",
    "a* | -b (c",
    '"web server"',
    "*",
    "\\",
    "phrase",
    "name^2",
    "",
]

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(STRINGS)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_fuzz_any_json_is_a_tree_or_a_query_error(query):
    with contextlib.suppress(QueryError):
        p(query)


query_types = st.sampled_from(dsl.SUPPORTED)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query_types, json_values)
def test_fuzz_known_query_types_with_any_body(qtype, body):
    with contextlib.suppress(QueryError):
        p({qtype: body})


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet='ab *?"|+-()\\~:^/[]{}!', max_size=30),
    st.sampled_from(["and", "or"]),
    st.sampled_from([None, ["name"], ["status", "description"], ["depth"]]),
)
def test_fuzz_simple_query_string(text, operator, fields_):
    body: dict = {"query": text, "default_operator": operator}
    if fields_ is not None:
        body["fields"] = fields_
    try:
        node = p({"simple_query_string": body})
    except QueryError:
        return
    assert node is not None


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet='ab *?"|+-()\\~:^/[]{}!', max_size=30),
    st.sampled_from([None, "name", "status", "depth", "updated_at", "parameters.x"]),
)
def test_fuzz_query_string_with_default_field(text, default_field):
    body: dict = {"query": text}
    if default_field is not None:
        body["default_field"] = default_field
    with contextlib.suppress(QueryError):
        p({"query_string": body})


def test_minimum_should_match_whitespace_is_linear():
    # "\s*<\s*" as a regular expression backtracked: quadratic in a run of spaces (seconds at
    # 20,000, hours at the body limit); split-and-strip reads each character once
    should = [{"term": {"name": "a"}}, {"term": {"name": "b"}}, {"term": {"name": "c"}}]
    with pytest.raises(QueryError, match="invalid minimum_should_match"):
        p({"bool": {"should": should, "minimum_should_match": " " * 500_000 + "x<"}})
    spaced = p({"bool": {"should": should, "minimum_should_match": "1 \t<  -1"}})
    assert spaced == p({"bool": {"should": should, "minimum_should_match": "1<-1"}})


def test_depth_has_a_ceiling_below_the_recursion_limit():
    huge = Limits(max_depth=10**6, max_clauses=10**6)
    assert p(nested_bool(99), limits=huge)
    with pytest.raises(QueryError, match="nested too deeply"):
        p(nested_bool(5_000), limits=huge)
    with pytest.raises(QueryError, match="nested too deeply"):
        p({"simple_query_string": {"query": "(" * 5_000 + "a"}}, limits=huge)
