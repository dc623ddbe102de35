"""The roll-up (``Searcher.search_roots``) on every engine, against the reference evaluator.

The roll-up leans on three engine features: ordering by score then ``root_id``, a ``must_not``
on the roots already found, and an exact distinct count. Its answers must not depend on the
engine, on the page size, or on how many rounds it needed. The searcher is the one caller of
those features, so they are tested through it (test code may look up the floors: nothing at run
time imports this package).
"""

from __future__ import annotations

from collections import Counter

import pytest

from heatseeker.engines.conformance.base import BaseTestEngine
from heatseeker.engines.conformance.corpus import CORPUS
from heatseeker.engines.conformance.reference import matches, score
from heatseeker.query import tree as t
from heatseeker.query.visibility import Visibility
from heatseeker.searcher import Searcher

EVERYONE = Visibility.everything()
BETA = Visibility(frozenset({"p-beta"}))

FILTERS = [  # every match scores the same: roots in root id order
    t.MatchAll(),
    t.Term("tags", "prod"),
    t.Bool(must_not=(t.Term("depth", 0),)),
    t.Terms("status", ("CREATE_COMPLETE", "UPDATE_FAILED")),
]
SCORED = [t.Text(None, "web"), t.Text(None, "server"), t.Text(None, "quota instances"),
          t.Text(None, "web server nginx quota", operator="or")]


def reference(node: t.Node, view: Visibility) -> Counter[str]:
    """Matching stacks per root, as the caller may see them."""
    return Counter(
        d["root_id"] for d in CORPUS
        if matches(node, d) and (view.projects is None or d["project_id"] in view.projects)
    )


def reference_roots(node: t.Node, view: Visibility) -> list[tuple[str, float]]:
    """``(root id, best coordination score of its visible matches)``, best first, then root id:
    the roll-up's order depends on the caller's stacks and the query only."""
    best: dict[str, float] = {}
    for d in CORPUS:
        if matches(node, d) and (view.projects is None or d["project_id"] in view.projects):
            best[d["root_id"]] = max(best.get(d["root_id"], 0.0), score(node, d))
    return sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))


def pages(searcher: Searcher, node: t.Node, view: Visibility, size: int) -> list[str]:
    out: list[str] = []
    offset = 0
    while True:
        res = searcher.search_roots(node, view=view, offset=offset, limit=size)
        out += [r.root_id for r in res.roots]
        if not res.roots:
            return out
        offset += size


class RollupTest(BaseTestEngine):
    """Roots, their order, counts and pages, over the corpus (its tombstone included)."""

    @pytest.fixture(scope="class")
    def searcher(self, corpus):
        return Searcher(corpus)

    @pytest.mark.parametrize("view", [EVERYONE, BETA], ids=["all", "beta"])
    @pytest.mark.parametrize("node", FILTERS, ids=repr)
    def test_filters_roll_up_in_root_order(self, searcher, node, view):
        want = reference(node, view)
        res = searcher.search_roots(node, view=view, limit=1000)
        assert res.total == len(want) and res.matched_stacks == sum(want.values())
        assert [r.root_id for r in res.roots] == sorted(want)
        assert {r.root_id: r.matched for r in res.roots} == dict(want)
        for r in res.roots:  # every listed match is a stack of that root that matched
            assert len(r.matches) == r.matched
        for size in (1, 2, 3):
            assert pages(searcher, node, view, size) == sorted(want)

    @pytest.mark.parametrize("view", [EVERYONE, BETA], ids=["all", "beta"])
    @pytest.mark.parametrize("node", SCORED, ids=repr)
    def test_scored_roll_up_is_the_same_in_any_page_size(self, searcher, node, view):
        want = reference(node, view)
        res = searcher.search_roots(node, view=view, limit=1000)
        got = [r.root_id for r in res.roots]
        assert res.total == len(want) and sorted(got) == sorted(want)
        assert {r.root_id: r.matched for r in res.roots} == dict(want)
        keys = [(-r.score, r.root_id) for r in res.roots]
        assert keys == sorted(keys)  # best score first, ties by root id
        for r in res.roots:
            assert r.score == max(m.score for m in r.matches)
        assert [(r.root_id, r.score) for r in res.roots] == reference_roots(node, view)
        for size in (1, 2):
            assert pages(searcher, node, view, size) == got

    def test_roots_of_other_projects_stay_unknown(self, searcher):
        res = searcher.search_roots(t.MatchAll(), view=BETA, limit=1000)
        assert res.roots and all((r.source or {}).get("project_id") == "p-beta" for r in res.roots)

    def test_an_empty_page_still_counts(self, searcher):
        want = reference(t.MatchAll(), EVERYONE)
        res = searcher.search_roots(t.MatchAll(), view=EVERYONE, offset=len(want), limit=5)
        assert res.roots == [] and res.total == len(want)
        res = searcher.search_roots(t.MatchNone(), view=EVERYONE)
        assert res.roots == [] and res.total == 0 and res.matched_stacks == 0
