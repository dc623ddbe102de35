"""The highlighter is linear in the text and bounded per request (issue #11, point 8).

The work is counted, not timed: ``Budget.spent`` counts every step the matcher takes (a position
visited, a live pattern state advanced, a literal occurrence checked, characters scanned in C or
written to a fragment). Doubling the text must about double the count, for the patterns that made
Python's backtracking ``re`` take seconds.
"""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heatseeker.query import highlight as H
from heatseeker.query import tree as t

random.seed(11)
HEX = "".join(random.choice("0123456789abcdef") for _ in range(64))

# (query leaf, the repeated unit of the text): each keeps many pattern states alive, or made the
# old regular expressions backtrack
ADVERSARIAL = [
    (t.Wildcard("name", "?*?*?*?*?*?*x"), "a"),  # the probe's request
    (t.Wildcard("name", "?*?*?*?*?*?*a"), "a"),  # every state live at every position
    (t.Wildcard("name", "*a*a*a*a*a*a*b"), "a"),
    (t.Wildcard("name", "a*" * 40 + "b"), "a"),
    (t.Wildcard("name", "a*" * 40 + "b"), "a" * 199 + "b"),  # 41 states, all live
    (t.Wildcard("name", "*a*a*a*a*a*a*b"), "a" * 99 + "b"),
    (t.Wildcard("name", "?*?*?*?*?*?*x"), HEX),  # fingerprints, as in the probe
    (t.Wildcard("name", "*0*1*2*3*4*5*6*7*8*9*"), HEX + " "),
    (t.Wildcard("name", "a?"), "a"),
    (t.Prefix("name", "a"), "a"),
    (t.Prefix("name", "a"), "a a "),
    (t.Text(None, "a aa"), "a "),
    (t.Term("name", "aaaa"), "a"),
]


def steps(leaf: t.Node, text: str) -> int:
    budget = H.Budget(10**12)
    H.highlight(t.Bool(should=(t.MatchAll(), leaf)), {"f": text}, {"fields": {"*": {}}}, budget)
    assert not budget.exhausted
    return budget.spent


@pytest.mark.parametrize(("leaf", "unit"), ADVERSARIAL, ids=lambda v: str(v)[:40])
def test_work_grows_linearly_with_the_text(leaf, unit):
    base = 2_000  # characters
    counts = {k: steps(leaf, (unit * (base * k // len(unit) + 1))[: base * k]) for k in (1, 2, 4, 8)}
    assert counts[1] >= 50, counts  # enough work for the ratios to mean something
    for k in (2, 4, 8):
        ratio = counts[k] / counts[1]
        assert 0.8 * k <= ratio <= 1.2 * k, (k, counts)
    # and the constant is small: a few steps per character and pattern state
    states = len(H.patterns(leaf)[0].tokens) + 1
    assert counts[8] <= 8 * (states + 8) * base * 8, counts


def test_the_probe_request_is_cheap():
    # six ?* and a letter absent from a 64-hex fingerprint: the old regex took seconds on 64
    # characters; here, a handful of steps per fingerprint
    leaf = t.Wildcard("name", "?*?*?*?*?*?*x")
    assert steps(leaf, HEX) < 20
    assert steps(leaf, "a" * 100_000) < 100_000 // 8


def test_budget_stops_highlighting_and_keeps_what_was_done():
    node = t.Text(None, "shop")
    source = {"name": "shop", "description": "".join(f"web shop {i}; " for i in range(10_000))}
    spec = {"fields": {"name": {}, "description": {}}}
    full = H.highlight(node, source, spec, H.Budget(10**9))
    assert full["name"] == ["<em>shop</em>"] and len(full["description"]) == 5
    small = H.Budget(300)
    partial = H.highlight(node, source, spec, small)
    assert small.exhausted and small.spent <= 300
    assert partial == {"name": ["<em>shop</em>"]}  # the field done before the budget ran out
    assert H.highlight(node, {"name": "shop"}, spec, small) == {}  # nothing more once spent


def test_one_budget_per_request_is_shared_by_every_hit():
    node = t.Wildcard("name", "?*?*?*?*?*?*a")
    spec = {"fields": {"*": {}}}
    with H.request_budget(200_000) as budget:
        answers = [H.highlight(node, {"f": "a" * 10_000}, spec) for _ in range(100)]
    assert budget.exhausted and budget.spent <= 200_000
    assert answers[0] and not answers[-1]  # the first hits have highlights, the last none
    # outside the request, a call gets its own fresh budget
    assert H.highlight(node, {"f": "a" * 100}, spec) == {"f": ["<em>" + "a" * 100 + "</em>"]}


def test_patterns_compiled_once_per_request():
    node = t.Wildcard("name", "ab*c")
    with H.request_budget() as budget:
        H.highlight(node, {"f": "abxc"}, {"fields": {"f": {}}})
        first = budget.patterns(node)
        H.highlight(node, {"f": "abyc"}, {"fields": {"f": {}}})
        assert budget.patterns(node) is first


@pytest.mark.parametrize(
    ("leaf", "text", "marked"),
    [
        (t.Text(None, "web shop"), "Production web shop, workshop",
         "Production <em>web</em> <em>shop</em>, workshop"),
        (t.Text(None, "shop"), "my_shop shop_x shop", "my_shop shop_x <em>shop</em>"),
        (t.Prefix("name", "pro"), "Production pro apropos", "<em>Production</em> <em>pro</em> apropos"),
        (t.Prefix("name", "a-b"), "a-bcd x-a-b", "<em>a-bcd</em> x-<em>a-b</em>"),
        (t.Term("name", "postgres:16"), "image postgres:16 POSTGRES:16x",
         "image <em>postgres:16</em> <em>POSTGRES:16</em>x"),
        (t.Wildcard("name", "w?b*"), "web webshop wb w-b", "<em>web</em> <em>webshop</em> wb w-b"),
        (t.Wildcard("name", "*shop"), "webshop shop shopping",
         "<em>webshop</em> <em>shop</em> <em>shop</em>ping"),  # no word boundaries
        (t.Wildcard("name", "a*b*c"), "aXbYcZc abc-c", "<em>aXbYcZc</em> <em>abc</em>-c"),
        (t.Text(None, "zürich"), "Office ZÜRICH, Zürich-West", "Office <em>ZÜRICH</em>, <em>Zürich</em>-West"),
        (t.Wildcard("name", "*"), "nothing literal", None),
        (t.Wildcard("name", "?*?"), "nothing literal", None),
    ],
)
def test_what_is_marked(leaf, text, marked):
    result = H.highlight(leaf, {"f": text}, {"fields": {"f": {}}}, H.Budget())
    assert result == ({"f": [marked]} if marked is not None else {})


def test_leftmost_longest_across_patterns():
    node = t.Bool(should=(t.Term("name", "web"), t.Term("name", "webshop"), t.Term("name", "shopping")))
    assert H.highlight(node, {"f": "webshopping"}, {"fields": {"f": {}}}, H.Budget()) == {
        "f": ["<em>webshop</em>ping"]}


def test_fragments_tags_and_dedupe():
    text = "alpha " * 40 + "needle " + "beta " * 40 + "needle"
    spec = {"fields": {"f": {}}, "pre_tags": ["["], "post_tags": ["]"], "fragment_size": 20,
            "number_of_fragments": 3}
    frags = H.highlight(t.Text(None, "needle"), {"f": text}, spec, H.Budget())["f"]
    assert len(frags) == 2 and all("[needle]" in f for f in frags)
    same = H.highlight(t.Text(None, "needle"), {"f": "needle " * 3}, spec, H.Budget())["f"]
    assert same == ["[needle] [needle] [needle]"]  # one window holds all: one fragment


# -- agreement with regular expressions, on inputs small enough for backtracking ---------------

_ALPHABET = "abAB_- 1é"


def _regex_for(kind: str, value: str) -> str:
    if kind == "wildcard":
        return "".join(r"[^\W_]*" if c == "*" else r"[^\W_]" if c == "?" else re.escape(c)
                       for c in value)
    if kind == "prefix":
        return re.escape(value) + r"[^\W_]*"
    return re.escape(value)


def _oracle(text: str, specs: list[tuple[str, str]]) -> list[tuple[int, int]]:
    """Leftmost-longest matches by brute force over ``re.fullmatch`` of every substring."""
    def boundary(i: int) -> bool:
        def word(j: int) -> bool:
            return 0 <= j < len(text) and (text[j].isalnum() or text[j] == "_")
        return word(i - 1) != word(i)

    compiled = [(kind, re.compile(_regex_for(kind, value), re.IGNORECASE)) for kind, value in specs]
    best: dict[int, int] = {}
    for i in range(len(text)):
        for j in range(i + 1, len(text) + 1):
            for kind, rx in compiled:
                if kind in ("word", "prefix") and not boundary(i):
                    continue
                if kind == "word" and not boundary(j):
                    continue
                if rx.fullmatch(text[i:j]):
                    best[i] = max(best.get(i, -1), j)
    out, at = [], 0
    for i in sorted(best):
        if i >= at:
            out.append((i, best[i]))
            at = best[i]
    return out


_leaf_specs = st.one_of(
    st.tuples(st.just("wildcard"), st.text("ab*?-é", min_size=1, max_size=5)),
    st.tuples(st.just("prefix"), st.text("ab-", min_size=1, max_size=3)),
    st.tuples(st.just("term"), st.text("abB-1", min_size=1, max_size=3)),
    st.tuples(st.just("word"), st.text("abé1", min_size=1, max_size=3)),
)


def _leaf(kind: str, value: str) -> t.Node:
    return {"wildcard": lambda: t.Wildcard("f", value), "prefix": lambda: t.Prefix("f", value),
            "term": lambda: t.Term("f", value), "word": lambda: t.Text(None, value)}[kind]()


@settings(max_examples=300, deadline=None)
@given(st.text(_ALPHABET, max_size=12), st.lists(_leaf_specs, min_size=1, max_size=3))
def test_matches_agree_with_a_brute_force_regex_oracle(text, specs):
    node = t.Bool(should=tuple(_leaf(k, v) for k, v in specs))
    pats = H.patterns(node)
    kept = [(k, v) for k, v in specs if any(c not in "*?" for c in v) or k != "wildcard"]
    assert H.find(text, pats, H.Budget()) == _oracle(text, kept)


def test_tags_count_as_output():
    text = " ".join(f"a{i} a" for i in range(2_000))
    spec = {"fields": {"f": {}}, "number_of_fragments": 1000}
    short = H.Budget(200_000)
    assert H.highlight(t.Text(None, "a"), {"f": text}, spec, short)["f"]
    assert not short.exhausted
    huge = H.Budget(200_000)
    H.highlight(t.Text(None, "a"), {"f": text}, {**spec, "pre_tags": ["<" * 10_000]}, huge)
    assert huge.exhausted
