"""One reading of values, one unknown-field message: the same answer whichever grammar carried them.

``query/values.py`` holds the conversions both parsers (and simple_query_string) use; each grammar
words its errors its own way (a JSON path, a character offset), but what is accepted, and what a
value becomes, is the same. ``fields.UnknownField`` is the one unknown-field message, with a
suggestion, everywhere a field can be named.
"""

from datetime import UTC, datetime

import pytest

from heatseeker.query import dsl, fields, querystring, request, simple, values
from heatseeker.query import tree as t
from heatseeker.query.errors import QueryError

NOW = datetime(2026, 11, 25, 10, 30, 15, tzinfo=UTC)


def qs(text: str) -> t.Node:
    return querystring.parse(text, now=NOW)


def term(field: str, value) -> t.Node:
    return dsl.parse({"term": {field: value}}, now=NOW)


# -- values ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3", 3),
        ("-3", -3),
        ("+3", 3),
        ("0000000000000000001", 1),
        ("9223372036854775807", 2**63 - 1),
        ("-9223372036854775808", -(2**63)),
    ],
)
def test_an_integer_reads_the_same_in_both_grammars(text, expected):
    assert values.integer(text) == expected
    assert qs(f"depth:{text}") == t.Term("depth", expected)
    assert term("depth", text) == t.Term("depth", expected)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("x", values.NotAnInteger),
        ("1.5", values.NotAnInteger),
        ("", values.NotAnInteger),
        ("9223372036854775808", values.IntegerOutOfRange),
        ("99999999999999999999", values.IntegerOutOfRange),
        ("9" * 5000, values.IntegerOutOfRange),  # without int() on it
        ("0" * 20 + "1", values.IntegerOutOfRange),  # over 20 characters, as before the split
    ],
)
def test_a_bad_integer_is_the_same_mistake_in_both_grammars(text, error):
    with pytest.raises(error):
        values.integer(text)
    words = "out of range" if error is values.IntegerOutOfRange else None
    with pytest.raises(QueryError) as in_qs:
        qs("depth:" + (text or '""'))
    with pytest.raises(QueryError) as in_dsl:
        term("depth", text)
    if words:
        assert words in in_qs.value.message and words in in_dsl.value.message
    else:
        assert "invalid integer" in in_qs.value.message
        assert "holds integers" in in_dsl.value.message


def test_json_numbers_and_spaces_are_the_dsl_s_own():
    assert values.integer(3.0) == 3
    with pytest.raises(values.NotAnInteger):
        values.integer(True)
    assert term("depth", " 3 ") == t.Term("depth", 3)  # Searchlight ran it through int()
    with pytest.raises(QueryError, match="invalid integer"):
        qs('depth:" 3"')


def test_a_date_names_its_period_in_both_grammars():
    day = t.Range(
        "updated_at",
        gte=datetime(2026, 11, 25, tzinfo=UTC),
        lte=datetime(2026, 11, 25, 23, 59, 59, 999000, tzinfo=UTC),
    )
    assert qs("updated_at:2026-11-25") == day
    assert term("updated_at", "2026-11-25") == day
    instant = t.Term("updated_at", datetime(2026, 11, 25, 10, tzinfo=UTC))
    assert qs('updated_at:"2026-11-25T10:00:00Z"') == instant
    assert term("updated_at", "2026-11-25T10:00:00Z") == instant


def test_date_mistakes():
    with pytest.raises(values.NotADate) as e:
        values.date("yesterday", NOW, round_up=False)
    assert e.value.detail is not None and "invalid date 'yesterday'" in e.value.detail
    with pytest.raises(values.NotADate) as e:
        values.date(True, NOW, round_up=False)
    assert e.value.detail is None
    with pytest.raises(values.FractionalMillis):
        values.date(1.5, NOW, round_up=False)
    assert values.date(0.0, NOW, round_up=False) == datetime(1970, 1, 1, tzinfo=UTC)


def test_text_and_boolean():
    assert values.text(True) == "true"
    assert values.text(3) == "3"
    with pytest.raises(values.NotAScalar):
        values.text(None)
    for given, expected in ((True, True), ("True", True), (" 1 ", True), (0, False), ("false", False)):
        assert values.boolean(given) is expected
    for bad in ("yes", 2, None, 1.0):
        with pytest.raises(values.NotABoolean):
            values.boolean(bad)


def test_analysed_is_words_on_text_fields_and_exact_elsewhere():
    target = values.target("name")
    assert values.analysed(target, "a b", "or", NOW, phrase=False) == t.Text("name", "a b", "or")
    assert values.analysed(target, "a b", "and", NOW, phrase=True) == t.Phrase("name", "a b")
    assert values.analysed(target, "  ", "or", NOW, phrase=False) == t.MatchNone()
    assert values.target("name.raw") == ("name", fields.KEYWORD)
    assert values.analysed(values.target("name.raw"), "a b", "or", NOW, False) == t.Term("name", "a b")


def test_any_of():
    a, b = t.Term("status", "A"), t.Term("status", "B")
    assert values.any_of([a]) == a
    assert values.any_of([a, b, a]) == t.Terms("status", ("A", "B"))
    assert values.any_of([a, t.Term("tags", "A")]) == t.Bool(should=(a, t.Term("tags", "A")))
    assert values.any_of([a, t.MatchNone()]) == a
    assert values.any_of([t.MatchNone()]) == t.MatchNone()
    assert values.any_of([a, t.MatchAll()]) == t.MatchAll()
    nested = t.Bool(should=(t.Exists("tags"), t.Exists("name")))
    assert values.any_of([nested, t.Exists("id")]) == t.Bool(
        should=(t.Exists("tags"), t.Exists("name"), t.Exists("id"))
    )


# -- simple_query_string on its own --------------------------------------------------------------


class _Leaves:
    def analysed(self, target, text, operator, path, phrase):
        return t.Phrase(target[0], text) if phrase else t.Text(target[0], text, operator)

    def pattern_target(self, target, qtype, path):
        return target[0] or fields.FULLTEXT


def test_simple_grammar_needs_only_a_way_to_make_leaves():
    def parse(text):
        return simple.parse(
            text, [(None, values.FULLTEXT)], "or", "q", leaves=_Leaves(), max_depth=20,
            max_clauses=100,
        )

    assert parse("a | b + c") == t.Bool(
        must=(t.Bool(should=(t.Text(None, "a", "or"), t.Text(None, "b", "or"))), t.Text(None, "c", "or")),
        must_not=(),
    )
    assert parse('"x y" web*') == t.Bool(should=(t.Phrase(None, "x y"), t.Prefix("_all", "web")))
    assert parse(") |") == t.MatchNone()


# -- the unknown-field message -------------------------------------------------------------------

WHERE_A_FIELD_IS_NAMED = [
    (lambda: fields.resolve("stauts", "here"), "at here"),
    (lambda: qs("stauts:x"), "at 0"),
    (lambda: qs("_exists_:stauts"), "at 9"),
    (lambda: term("stauts", "x"), "at query.term.stauts"),
    (lambda: dsl.parse({"exists": {"field": "stauts"}}), "at query.exists.field"),
    (
        lambda: dsl.parse({"query_string": {"query": "x", "default_field": "stauts"}}),
        "at query.query_string.default_field[0]",
    ),
    (
        lambda: dsl.parse({"query_string": {"query": "stauts:x"}}),
        "at 0",
    ),
    (
        lambda: request.parse_search({"highlight": {"fields": {"stauts": {}}}}),
        "at highlight.fields.stauts",
    ),
    (
        lambda: request.parse_search({"aggs": {"a": {"terms": {"field": "stauts"}}}}),
        "at aggregations.a.terms.field",
    ),
]


@pytest.mark.parametrize(("ask", "where"), WHERE_A_FIELD_IS_NAMED)
def test_one_unknown_field_message_everywhere(ask, where):
    with pytest.raises(fields.UnknownField) as e:
        ask()
    message = e.value.message
    assert message.startswith(f"unknown field 'stauts' {where} (did you mean 'status'?); ")
    assert "known fields: action, ancestors," in message
    assert "or a path under parameters., outputs., resources., template., environment." in message
    assert e.value.field == "stauts"


def test_the_suggestion():
    assert fields.suggest("stauts") == "status"
    assert fields.suggest("nmae.raw") == "name.raw"
    assert fields.suggest("paramters.image") == "parameters.image"
    assert fields.suggest("zzz") is None
    assert fields.suggest("parameters") is None
    with pytest.raises(fields.UnknownField) as e:
        fields.resolve("zzz")
    assert e.value.message.startswith("unknown field 'zzz'; known fields: ")
    assert isinstance(e.value, QueryError) and isinstance(e.value, ValueError)


def test_the_query_string_says_how_to_search_for_a_colon():
    with pytest.raises(fields.UnknownField) as e:
        qs("a AND foo:bar")
    assert e.value.position == 6
    assert e.value.message.endswith("(to search for a colon, escape it as \\: or quote the text)")
    assert qs("OS::Heat::Stack") == t.Text(None, "OS::Heat::Stack")  # not a field: no error
