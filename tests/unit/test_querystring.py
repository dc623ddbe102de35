import contextlib
import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heatseeker.query import fields
from heatseeker.query.errors import QueryError
from heatseeker.query.querystring import MAX_NESTING, parse
from heatseeker.query.tree import (
    Bool,
    Exists,
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
    depth,
    walk,
)

NOW = datetime(2026, 11, 25, 10, 30, 15, tzinfo=UTC)
DAY = datetime(2026, 11, 25, tzinfo=UTC)
END_OF_DAY = datetime(2026, 11, 25, 23, 59, 59, 999000, tzinfo=UTC)
ALL = fields.FULLTEXT


def p(text: str, **kwargs: object) -> Node:
    return parse(text, now=NOW, **kwargs)  # type: ignore[arg-type]


def w(text: str) -> Text:
    return Text(None, text)


def AND(*nodes: Node) -> Bool:
    return Bool(must=nodes)


def OR(*nodes: Node) -> Bool:
    return Bool(should=nodes)


def NOT(*nodes: Node) -> Bool:
    return Bool(must=(MatchAll(),), must_not=nodes)


CASES: list[tuple[str, Node]] = [
    # the sanity set from the design
    (
        "parameters.image:cirros AND NOT status:CREATE_FAILED",
        Bool(
            must=(Term("parameters.image", "cirros"),),
            must_not=(Term("status", "CREATE_FAILED"),),
        ),
    ),
    ("name:web*", Prefix("name", "web")),
    (
        "updated_at:[now-1d TO now]",
        Range("updated_at", gte=NOW - timedelta(days=1), lte=NOW),
    ),
    ("tags:prod", Term("tags", "prod")),
    ("resources.type:OS::Nova::Server", Term("resources.type", "OS::Nova::Server")),
    ('outputs.value:"hello world"', Term("outputs.value", "hello world")),
    ("(a OR b) AND c", AND(OR(w("a"), w("b")), w("c"))),
    # empty and match-all
    ("", MatchAll()),
    ("   \t\n", MatchAll()),
    ("*", MatchAll()),
    ("**", MatchAll()),
    ("*:*", MatchAll()),
    ("* AND status:X", Term("status", "X")),
    ("NOT *", MatchNone()),
    ("(*)", MatchAll()),
    # bare words and phrases: full text
    ("cirros", w("cirros")),
    ("web server", AND(w("web"), w("server"))),
    ('"a phrase"', Phrase(None, "a phrase")),
    ('"quoted"', Phrase(None, "quoted")),
    ('""', MatchNone()),
    ('"  "', MatchNone()),
    ("my-stack", w("my-stack")),
    ("café", w("café")),
    ("web*", Prefix(ALL, "web")),
    ("w?b", Wildcard(ALL, "w?b")),
    ("*web", Wildcard(ALL, "*web")),
    ("_all:web", w("web")),
    ("_all:(a OR b)", OR(w("a"), w("b"))),
    ('_all:"x y"', Phrase(None, "x y")),
    ("*:web", w("web")),
    # keyword fields
    ("status:CREATE_FAILED", Term("status", "CREATE_FAILED")),
    ("status:CREATE_*", Prefix("status", "CREATE_")),
    ("status:CREATE_**", Prefix("status", "CREATE_")),
    ("status:*_FAILED", Wildcard("status", "*_FAILED")),
    ("status:C?EATE*", Wildcard("status", "C?EATE*")),
    ('status:"CREATE_*"', Term("status", "CREATE_*")),
    ('status:""', Term("status", "")),
    ("status:\\*", Term("status", "*")),
    ("status:a\\*b*", Prefix("status", "a*b")),
    ("id:abc-123", Term("id", "abc-123")),
    ("_id:abc", Term("id", "abc")),
    ("status:-x", Term("status", "-x")),
    ("status:a=b", Term("status", "a=b")),
    ("tags:a&&b", Term("tags", "a&&b")),
    ("tags:a!b", Term("tags", "a!b")),
    ("tags:=1", Term("tags", "=1")),
    ("tags: prod", Term("tags", "prod")),
    ("tags:\tprod other", AND(Term("tags", "prod"), w("other"))),
    # text fields
    ("name:web", Text("name", "web")),
    ('name:"web server"', Phrase("name", "web server")),
    ('name:""', MatchNone()),
    ("name:*web", Wildcard("name", "*web")),
    ("name:web server", AND(Text("name", "web"), w("server"))),
    ("description:hello", Text("description", "hello")),
    ("status_reason:failed*", Prefix("status_reason", "failed")),
    ("name.raw:web-1", Term("name", "web-1")),  # Searchlight's exact name
    ('name.raw:"web 1"', Term("name", "web 1")),
    ("name.raw:web*", Prefix("name", "web")),
    # dynamic paths
    ("parameters.image:cirros", Term("parameters.image", "cirros")),
    ("parameters.count:3", Term("parameters.count", "3")),
    ("parameters.image:cirros*", Prefix("parameters.image", "cirros")),
    ("parameters.image:*cirros*", Wildcard("parameters.image", "*cirros*")),
    ('parameters.image:"cir*os"', Term("parameters.image", "cir*os")),
    ("parameters.image:*", Exists("parameters.image")),
    ("resources.type:OS::Heat::*", Prefix("resources.type", "OS::Heat::")),
    (
        "template.resources.server.properties.flavor:m1.small",
        Term("template.resources.server.properties.flavor", "m1.small"),
    ),
    ("environment.parameters.key:k", Term("environment.parameters.key", "k")),
    ("outputs.value:http://example.com:8080/x", Term("outputs.value", "http://example.com:8080/x")),
    ("parameters.my\\ key:v", Term("parameters.my key", "v")),
    ("parameters.a\\:b:v", Term("parameters.a:b", "v")),
    ("parameters.list:a[0]", Term("parameters.list", "a[0]")),
    ("parameters.json:a{x}", Term("parameters.json", "a{x}")),
    ("parameters.json:\\{x}", Term("parameters.json", "{x}")),
    # colons in words that are not field references
    ("OS::Heat::Stack", w("OS::Heat::Stack")),
    ("OS::Heat::Stack failed", AND(w("OS::Heat::Stack"), w("failed"))),
    ("http://example.com", w("http://example.com")),
    ("10:30", w("10:30")),
    (":x", w(":x")),
    ("a\\:b", w("a:b")),
    ("OS::Heat::*", Prefix(ALL, "OS::Heat::")),
    # ints
    ("depth:2", Term("depth", 2)),
    ("depth:-1", Term("depth", -1)),
    ("depth:+1", Term("depth", 1)),
    ('depth:"2"', Term("depth", 2)),
    ("version:[1 TO 5]", Range("version", gte=1, lte=5)),
    ("depth:{1 TO 5}", Range("depth", gt=1, lt=5)),
    ("depth:[1 TO 5}", Range("depth", gte=1, lt=5)),
    ("depth:{1 TO 5]", Range("depth", gt=1, lte=5)),
    ("depth:[1 TO *]", Range("depth", gte=1)),
    ("depth:[* TO 5]", Range("depth", lte=5)),
    ("depth:[* TO *]", Exists("depth")),
    ("depth:[-5 TO -1]", Range("depth", gte=-5, lte=-1)),
    ("depth:[ 1   TO   5 ]", Range("depth", gte=1, lte=5)),
    ("depth:>1", Range("depth", gt=1)),
    ("depth:>=1", Range("depth", gte=1)),
    ("depth:<3", Range("depth", lt=3)),
    ("depth:<=3", Range("depth", lte=3)),
    ("depth:>-1", Range("depth", gt=-1)),
    ("depth:*", Exists("depth")),
    # dates
    ("updated_at:2026-11-25", Range("updated_at", gte=DAY, lte=END_OF_DAY)),
    ('updated_at:"2026-11-25"', Range("updated_at", gte=DAY, lte=END_OF_DAY)),
    (
        "updated_at:2026-11-25T10:00:00Z",
        Term("updated_at", datetime(2026, 11, 25, 10, tzinfo=UTC)),
    ),
    (
        "created_at:2026-11-25T12:00:00+02:00",
        Term("created_at", datetime(2026, 11, 25, 10, tzinfo=UTC)),
    ),
    ("updated_at:now/d", Range("updated_at", gte=DAY, lte=END_OF_DAY)),
    ("updated_at:now", Term("updated_at", NOW)),
    (
        "updated_at:now-1d/d",
        Range("updated_at", gte=DAY - timedelta(days=1), lte=END_OF_DAY - timedelta(days=1)),
    ),
    ("updated_at:[2026-11-25 TO 2026-11-25]", Range("updated_at", gte=DAY, lte=END_OF_DAY)),
    (
        "updated_at:{2026-11-24 TO 2026-11-26}",
        Range("updated_at", gt=END_OF_DAY - timedelta(days=1), lt=DAY + timedelta(days=1)),
    ),
    ("updated_at:[now/d TO *]", Range("updated_at", gte=DAY)),
    (
        "updated_at:[2026-11-25T10:00:00Z TO now]",
        Range("updated_at", gte=datetime(2026, 11, 25, 10, tzinfo=UTC), lte=NOW),
    ),
    ('updated_at:["2026-11-25" TO "now"]', Range("updated_at", gte=DAY, lte=NOW)),
    ("updated_at:>2026-11-25", Range("updated_at", gt=END_OF_DAY)),
    ("updated_at:>=2026-11-25", Range("updated_at", gte=DAY)),
    ("updated_at:<2026-11-25", Range("updated_at", lt=DAY)),
    ("updated_at:<=2026-11-25", Range("updated_at", lte=END_OF_DAY)),
    ("updated_at:<now-1h", Range("updated_at", lt=NOW - timedelta(hours=1))),
    ('updated_at:>"2026-11-25"', Range("updated_at", gt=END_OF_DAY)),
    ("deleted_at:*", Exists("deleted_at")),
    ("indexed_at:1764064800000", Term("indexed_at", datetime(2025, 11, 25, 10, tzinfo=UTC))),
    # keyword ranges and comparisons are on strings
    ("status:[A TO C]", Range("status", gte="A", lte="C")),
    ("parameters.count:[1 TO 5]", Range("parameters.count", gte="1", lte="5")),
    ("parameters.count:>5", Range("parameters.count", gt="5")),
    ("name:[a TO m}", Range("name", gte="a", lt="m")),
    ('tags:["a b" TO "c d"]', Range("tags", gte="a b", lte="c d")),
    ('tags:["*" TO *]', Range("tags", gte="*")),
    ("tags:[a\\ b TO c\\]]", Range("tags", gte="a b", lte="c]")),
    ("tags:[a:b TO c:d]", Range("tags", gte="a:b", lte="c:d")),
    ("tags:\\>5", Term("tags", ">5")),
    ("tags:>\\=5", Range("tags", gt="=5")),
    # exists
    ("_exists_:tags", Exists("tags")),
    ("_exists_:parameters.image", Exists("parameters.image")),
    ("_exists_:_id", Exists("id")),
    ('_exists_:"parameters.a b"', Exists("parameters.a b")),
    ("_exists_:(tags OR description)", OR(Exists("tags"), Exists("description"))),
    ("tags:*", Exists("tags")),
    ("-tags:*", NOT(Exists("tags"))),
    # field groups
    ("tags:(a OR b)", Terms("tags", ("a", "b"))),
    ("tags:(a b)", AND(Term("tags", "a"), Term("tags", "b"))),
    ("tags:(a || b || a)", Terms("tags", ("a", "b"))),
    ("tags:(a OR (b OR c))", Terms("tags", ("a", "b", "c"))),
    ("status:(A OR B) OR status:C", Terms("status", ("A", "B", "C"))),
    ("status:A OR status:A", Term("status", "A")),
    ("depth:(1 OR 2)", Terms("depth", (1, 2))),
    ("tags:(a -b)", Bool(must=(Term("tags", "a"),), must_not=(Term("tags", "b"),))),
    ("tags:(NOT a)", NOT(Term("tags", "a"))),
    ('tags:("x y" OR z*)', OR(Term("tags", "x y"), Prefix("tags", "z"))),
    ("name:(web OR db)", OR(Text("name", "web"), Text("name", "db"))),
    ("name:(web* db)", AND(Prefix("name", "web"), Text("name", "db"))),
    (
        "resources.type:(OS::Nova::Server OR OS::Heat::Stack)",
        Terms("resources.type", ("OS::Nova::Server", "OS::Heat::Stack")),
    ),
    ("parameters.x:(a:b)", Term("parameters.x", "a:b")),  # colons are literal in a group
    ("depth:([1 TO 2] OR 5)", OR(Range("depth", gte=1, lte=2), Term("depth", 5))),
    ("depth:(>3 OR 1)", OR(Range("depth", gt=3), Term("depth", 1))),
    ("depth:(*)", Exists("depth")),
    ("tags: (a OR b)", Terms("tags", ("a", "b"))),
    # boolean operators and precedence: NOT > AND > OR
    ("a AND b", AND(w("a"), w("b"))),
    ("a && b", AND(w("a"), w("b"))),
    ("a OR b", OR(w("a"), w("b"))),
    ("a || b", OR(w("a"), w("b"))),
    ("a b", AND(w("a"), w("b"))),
    ("a b c", AND(w("a"), w("b"), w("c"))),
    ("a OR b AND c", OR(w("a"), AND(w("b"), w("c")))),
    ("a AND b OR c", OR(AND(w("a"), w("b")), w("c"))),
    ("a b OR c", OR(AND(w("a"), w("b")), w("c"))),
    ("a OR b c", OR(w("a"), AND(w("b"), w("c")))),
    ("a AND (b OR c)", AND(w("a"), OR(w("b"), w("c")))),
    ("(a AND b) AND c", AND(w("a"), w("b"), w("c"))),
    ("a AND (b AND c)", AND(w("a"), w("b"), w("c"))),
    ("(a OR b) OR c", OR(w("a"), w("b"), w("c"))),
    ("((a))", w("a")),
    ("(a OR b) (c OR d)", AND(OR(w("a"), w("b")), OR(w("c"), w("d")))),
    ("NOT a", NOT(w("a"))),
    ("!a", NOT(w("a"))),
    ("! a", NOT(w("a"))),
    ("NOT NOT a", w("a")),
    ("NOT !a", w("a")),
    ("NOT(a)", NOT(w("a"))),
    ("NOT a AND b", Bool(must=(w("b"),), must_not=(w("a"),))),
    ("NOT a OR b", OR(NOT(w("a")), w("b"))),
    ("a OR NOT b", OR(w("a"), NOT(w("b")))),
    ("a AND NOT b AND NOT c", Bool(must=(w("a"),), must_not=(w("b"), w("c")))),
    ("NOT (a OR b)", NOT(OR(w("a"), w("b")))),
    ("NOT status:X", NOT(Term("status", "X"))),
    ("NOT status:X NOT status:Y", NOT(Term("status", "X"), Term("status", "Y"))),
    ("a && b || !c", OR(AND(w("a"), w("b")), NOT(w("c")))),
    # + and -: required / prohibited in their group
    ("+a", w("a")),
    ("-a", NOT(w("a"))),
    ("a -b", Bool(must=(w("a"),), must_not=(w("b"),))),
    ("+a -b c", Bool(must=(w("a"), w("c")), must_not=(w("b"),))),
    ("a OR -b", Bool(must=(w("a"),), must_not=(w("b"),))),
    ("a OR b OR -c", Bool(must=(OR(w("a"), w("b")),), must_not=(w("c"),))),
    ("+a OR b", Bool(must=(w("a"),), should=(w("b"),))),
    ("-a OR -b", NOT(w("a"), w("b"))),
    ("-(a b)", NOT(AND(w("a"), w("b")))),
    ("--a", w("a")),
    ("+-a", NOT(w("a"))),
    ("-NOT a", w("a")),
    ("- a", NOT(w("a"))),
    ("a-b", w("a-b")),
    ("a+b", w("a+b")),
    # case: operators are upper case whole words only
    ("a and b", AND(w("a"), w("and"), w("b"))),
    ("a or b", AND(w("a"), w("or"), w("b"))),
    ("not a", AND(w("not"), w("a"))),
    ("ANDROID ORACLE NOTE", AND(w("ANDROID"), w("ORACLE"), w("NOTE"))),
    ("TO", w("TO")),
    ("\\AND", w("AND")),
    ("a&&b", w("a&&b")),
    ("a AND(b)", AND(w("a"), w("b"))),
    # escapes
    ("a\\/b", w("a/b")),
    ("\\/etc\\/hosts", w("/etc/hosts")),
    ("a/b", w("a/b")),
    ("\\(x\\)", w("(x)")),
    ("\\*", w("*")),
    ("\\-a", w("-a")),
    ("\\!a", w("!a")),
    ("a\\ b", w("a b")),
    ("a\\\\b", w("a\\b")),
    ("\\^\\~", w("^~")),
    ('"say \\"hi\\""', Phrase(None, 'say "hi"')),
    ('"a\\\\"', Phrase(None, "a\\")),
    ("parameters.url:http\\:\\/\\/x", Term("parameters.url", "http://x")),
    # python-searchlightclient escaping
    ("resources.type:OS\\:\\:Nova\\:\\:Server", Term("resources.type", "OS::Nova::Server")),
    ("parameters.path:\\/var\\/lib\\/", Term("parameters.path", "/var/lib/")),
    # adjacency without spaces
    ('a"b c"', AND(w("a"), Phrase(None, "b c"))),
    ("a(b)", AND(w("a"), w("b"))),
    ("(a)(b)", AND(w("a"), w("b"))),
    ("(a)OR(b)", OR(w("a"), w("b"))),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_parse(text: str, expected: Node) -> None:
    assert p(text) == expected


OR_CASES: list[tuple[str, Node]] = [
    ("a b", OR(w("a"), w("b"))),
    ("a b AND c", OR(w("a"), AND(w("b"), w("c")))),
    ("a AND b c", OR(AND(w("a"), w("b")), w("c"))),
    ("+a b", Bool(must=(w("a"),), should=(w("b"),))),
    ("+a b -c", Bool(must=(w("a"),), should=(w("b"),), must_not=(w("c"),))),
    ("a b -c", Bool(must=(OR(w("a"), w("b")),), must_not=(w("c"),))),
    ("status:A status:B", Terms("status", ("A", "B"))),
    ("tags:(a b)", Terms("tags", ("a", "b"))),
    ("a NOT b", OR(w("a"), NOT(w("b")))),
    ("a", w("a")),
]


@pytest.mark.parametrize(("text", "expected"), OR_CASES, ids=[c[0] for c in OR_CASES])
def test_default_operator_or(text: str, expected: Node) -> None:
    assert p(text, default_operator="or") == expected
    assert p(text, default_operator="OR") == expected


def test_default_now_is_the_current_time() -> None:
    before = datetime.now(UTC)
    node = parse("updated_at:now")
    after = datetime.now(UTC)
    assert isinstance(node, Term)
    assert isinstance(node.value, datetime)
    assert before <= node.value <= after


ERRORS: list[tuple[str, str, int | None]] = [
    # fields
    ("paramters.image:cirros", "unknown field 'paramters.image' at 0", 0),
    ("paramters.image:cirros", "did you mean 'parameters.image'", 0),
    ("stauts:X", "did you mean 'status'", 0),
    ("a AND foo:bar", "unknown field 'foo' at 6; known fields: action,", 6),
    ("foo-bar:x", "unknown field 'foo-bar' at 0", 0),
    ("parameters:x", "unknown field 'parameters' at 0", 0),
    ("_exists_:nope", "unknown field 'nope' at 9", 9),
    ("_exists_:_all", "unknown field '_all' at 9", 9),
    ("parameters.*:x", "wildcards in field names are not supported", 0),
    ("stat?s:x", "wildcards in field names are not supported", 0),
    ("_exists_:*", "_exists_ needs a field name at 9", 9),
    ("_exists_:tag*", "wildcards are not supported on _exists_", 9),
    ("_exists_:>x", "_exists_ needs a field name, not a comparison", 9),
    ("_exists_:[a TO b]", "a range needs a field", 9),
    ("status:", "expected a value after status: at 7", 7),
    ("status: ", "expected a value after status: at 8", 8),
    ("(status:)", "expected a value after status: at 8", 8),
    ("status: AND x", "unexpected AND at 8: expected a term", 8),
    # values
    ("depth:x", "invalid integer 'x' for field 'depth' at 6", 6),
    ("depth:1.5", "invalid integer '1.5'", 6),
    ("depth:99999999999999999999", "out of range for field 'depth'", 6),
    ("depth:9223372036854775808", "out of range for field 'depth'", 6),
    ("depth:" + "9" * 5000, "out of range for field 'depth'", 6),
    ("depth:[1 TO x]", "invalid integer 'x' for field 'depth' at 12", 12),
    ("depth:>x", "invalid integer 'x'", 7),
    ("depth:1*", "wildcards are not supported on int field 'depth', at 6", 6),
    ("updated_at:2026*", "wildcards are not supported on date field 'updated_at'", 11),
    ("updated_at:yesterday", "invalid date 'yesterday'", 11),
    ("updated_at:yesterday", "for field 'updated_at' at 11", 11),
    ("updated_at:now-1x", "unknown unit 'x'", 11),
    ("updated_at:[now TO later]", "invalid date 'later'", 19),
    ("status:a\\*b?", "a wildcard pattern cannot contain an escaped * or ?", 7),
    ("depth:>", "expected a value right after > at 7", 7),
    ("depth:>= 1", "expected a value right after >= at 8", 8),
    ("depth:>*", "expected a value after > at 7, not *", 7),
    # ranges
    ("[a TO b]", "a range needs a field, as in field:[a TO b], at 0", 0),
    ("{a TO b}", "a range needs a field", 0),
    ("a [b TO c]", "a range needs a field", 2),
    ("depth:[1 2]", "expected TO in range at 9", 9),
    ("depth:[1 to 2]", "expected TO in range at 9", 9),
    ("depth:[1]", "expected TO in range at 8", 8),
    ("depth:[1 TO]", "expected a value in range at 11", 11),
    ("depth:[1 TO 2", "expected ] or } to close the range started at 6, at 13", 13),
    ("depth:[1 TO 2 3]", "expected ] or } to close the range", 14),
    ("depth:[", "unterminated range at 6", 6),
    ("depth:[1 TO", "unterminated range at 6", 6),
    ("depth:[]", "expected a value in range at 7", 7),
    # parentheses
    ("(a", "unbalanced parenthesis at 0: no ) closes this (", 0),
    ("a (b (c)", "unbalanced parenthesis at 2", 2),
    ("a)", "unbalanced parenthesis at 1: this ) closes nothing", 1),
    ("(a))", "unbalanced parenthesis at 3", 3),
    (")", "unbalanced parenthesis at 0", 0),
    ("()", "empty parentheses at 0", 0),
    ("a ( )", "empty parentheses at 2", 2),
    ("(", "unbalanced parenthesis at 0", 0),
    ("tags:(a", "unbalanced parenthesis at 5", 5),
    ("tags:a)", "unbalanced parenthesis at 6", 6),
    # operators
    ("a AND", "expected a term after AND at 2", 2),
    ("a OR", "expected a term after OR at 2", 2),
    ("a &&", "expected a term after AND at 2", 2),
    ("NOT", "expected a term after NOT at 0", 0),
    ("a NOT", "expected a term after NOT at 2", 2),
    ("-", "expected a term after - at 0", 0),
    ("+", "expected a term after + at 0", 0),
    ("!", "expected a term after ! at 0", 0),
    ("(a AND)", "expected a term after AND at 3", 3),
    ("(NOT)", "expected a term after NOT at 1", 1),
    ("AND a", "unexpected AND at 0: expected a term", 0),
    ("OR", "unexpected OR at 0: expected a term", 0),
    ("a AND OR b", "unexpected OR at 6", 6),
    ("a OR || b", "unexpected || at 5", 5),
    ("(OR a)", "unexpected OR at 1", 1),
    # unsupported syntax
    ("a^2", "boosts (^) are not supported, at 1", 1),
    ("^a", "boosts (^) are not supported, at 0", 0),
    ("a~", "fuzzy and proximity searches (~) are not supported, at 1", 1),
    ('"a b"~2', "fuzzy and proximity searches (~) are not supported, at 5", 5),
    ("name:web~1", "fuzzy", 8),
    ("/reg.*ex/", "regular expressions are not supported, at 0", 0),
    ("name:/web.*/", "regular expressions are not supported, at 5", 5),
    ("]", "unexpected ] at 0", 0),
    ("a }", "unexpected } at 2", 2),
    # lexical
    ('"abc', 'unterminated quoted text at 0: missing the closing "', 0),
    ('a "b', "unterminated quoted text at 2", 2),
    ('"abc\\"', "unterminated quoted text at 0", 0),
    ("a\\", "trailing backslash at 1", 1),
    ("status:\\", "trailing backslash at 7", 7),
]


@pytest.mark.parametrize(("text", "fragment", "position"), ERRORS, ids=[e[0] for e in ERRORS])
def test_errors(text: str, fragment: str, position: int | None) -> None:
    with pytest.raises(QueryError) as info:
        p(text)
    assert fragment in info.value.message
    assert info.value.position == position
    assert str(info.value) == info.value.message


def test_colons_in_a_field_group_are_literal() -> None:
    assert p("tags:(a foo:b)") == AND(Term("tags", "a"), Term("tags", "foo:b"))


def test_unknown_field_lists_known_fields_and_dynamic_roots() -> None:
    with pytest.raises(QueryError) as info:
        p("nope:x")
    message = info.value.message
    for name in ("status", "updated_at", "depth", "parameters.", "resources.", "environment."):
        assert name in message
    assert "\\:" in message  # says how to search for a colon


def test_max_length() -> None:
    assert p("a" * 100, max_length=100) == w("a" * 100)
    with pytest.raises(QueryError, match="query too long: 101 characters, at most 100") as info:
        p("a" * 101, max_length=100)
    assert info.value.position == 100
    with pytest.raises(QueryError, match="query too long"):
        p("a " * 5001)


def test_max_clauses() -> None:
    assert p("a b c", max_clauses=3) == AND(w("a"), w("b"), w("c"))
    with pytest.raises(QueryError, match="query has 4 clauses, more than the limit of 3"):
        p("a b c d", max_clauses=3)
    # a Terms counts each of its values
    with pytest.raises(QueryError, match="query has 4 clauses"):
        p("tags:(a OR b OR c OR d)", max_clauses=3)
    # the default limit is 1024
    p(" ".join(f"w{i}" for i in range(1024)))
    with pytest.raises(QueryError, match="1025 clauses"):
        p(" ".join(f"w{i}" for i in range(1025)))


def test_nesting_limit() -> None:
    deep = "(" * MAX_NESTING + "a" + ")" * MAX_NESTING
    assert p(deep) == w("a")
    too_deep = "(" * (MAX_NESTING + 1) + "a" + ")" * (MAX_NESTING + 1)
    with pytest.raises(QueryError, match=f"parentheses nested too deeply at {MAX_NESTING}"):
        p(too_deep)
    with pytest.raises(QueryError, match="nested too deeply"):
        p("(" * 5000)
    with pytest.raises(QueryError, match="nested too deeply"):
        p("tags:(" * 3000, max_length=20_000)


def test_long_operator_chains_do_not_recurse() -> None:
    assert p("NOT " * 2000 + "a") == w("a")
    assert p("-" * 3001 + "a") == NOT(w("a"))
    assert p("!" * 5000 + "a") == w("a")
    assert p(" OR ".join(["a"] * 1000)) == OR(*[w("a")] * 1000)


def test_invalid_default_operator() -> None:
    with pytest.raises(QueryError, match="invalid default operator 'xor'"):
        p("a b", default_operator="xor")


def test_now_may_be_naive_utc() -> None:
    assert parse("updated_at:now/d", now=datetime(2026, 11, 25, 10)) == Range(
        "updated_at", gte=DAY, lte=END_OF_DAY
    )


# -- fuzzing ------------------------------------------------------------------------------------

SPECIALS = list('()[]{}":\\*?~^!+-/<>=&| \t') + [
    "AND ",
    " OR ",
    "NOT ",
    " TO ",
    "&&",
    "||",
    "status:",
    "name:",
    "depth:",
    "updated_at:",
    "parameters.image:",
    "resources.type:",
    "_exists_:",
    "now-1d/d",
    "2026-11-25",
    "OS::Nova::Server",
    "a",
    "b",
    "1",
    "\u3000",
]
query_like = st.lists(st.sampled_from(SPECIALS), max_size=25).map("".join)


def _check(node: Node) -> None:
    for sub in walk(node):
        field = getattr(sub, "field", None)
        if field is not None and field != fields.FULLTEXT:
            fields.resolve(field)  # every field in the tree is a real one
        if isinstance(sub, Range):
            assert any(v is not None for v in (sub.gte, sub.gt, sub.lte, sub.lt))
        if isinstance(sub, Bool):
            assert sub.must or sub.should or sub.filter
    assert depth(node) <= 3 * MAX_NESTING + 5


@settings(max_examples=300)
@given(st.text(max_size=60))
def test_any_text_parses_or_raises_query_error(text: str) -> None:
    try:
        node = p(text)
    except QueryError as e:
        assert e.message
        assert e.position is None or 0 <= e.position <= len(text)
        return
    _check(node)


@settings(max_examples=500)
@given(query_like, st.sampled_from(["and", "or"]))
def test_query_like_text_parses_or_raises_query_error(text: str, operator: str) -> None:
    try:
        node = p(text, default_operator=operator)
    except QueryError as e:
        assert e.message
        assert e.position is None or 0 <= e.position <= len(text)
        return
    _check(node)


@given(st.text(min_size=1, max_size=20))
def test_quoted_text_is_one_exact_value(value: str) -> None:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    assert p(f'parameters.x:"{escaped}"') == Term("parameters.x", value)


@given(st.text(min_size=1, max_size=20))
def test_fully_escaped_text_is_one_literal_word(value: str) -> None:
    escaped = "".join("\\" + c for c in value)
    assert p(f"status:{escaped}") == Term("status", value)


@pytest.mark.parametrize(
    "text",
    [
        "parameters.x:b" + ":[" * 4990,
        "tags:(" + " OR ".join(f"a{i}" for i in range(1000)) + ")",
        "a " * 4999,
        "-" * 9999 + "a",
        "\\:" * 4999,
        '"' + "x" * 9998 + '"',
        "depth:[" + "1" * 9000 + " TO 2]",
        "a:b " * 2000,
        "status:" + "a" * 9990 + "*",
    ],
    ids=lambda t: t[:20],
)
def test_large_inputs_stay_fast(text: str) -> None:
    start = time.monotonic()
    with contextlib.suppress(QueryError):
        p(text)
    assert time.monotonic() - start < 2
