"""Order, pages, counts and aggregations: sort keys (missing values last, lists by their smallest or
largest value, ties by id), score order at any place among the keys, exact totals, and terms
aggregations and distinct counts as the reference computes them.
"""

from __future__ import annotations

from heatseeker.engines.conformance.base import BaseTestEngine, Desc, corpus_ids, ids
from heatseeker.engines.conformance.corpus import CORPUS, CORPUS_BY_ID
from heatseeker.engines.conformance.reference import (
    reference_aggregate,
    reference_search,
)
from heatseeker.query import tree as t


class SortingTest(BaseTestEngine):
    """Sort keys, score order and paging."""

    def test_sort_keyword_text_date_int(self, corpus):
        for field in ("status", "name", "created_at", "depth", "project_id", "id", "path"):
            for descending in (False, True):
                self.assert_sorted(corpus, t.MatchAll(), [t.SortKey(field, descending)])
        by_name = self.assert_sorted(corpus, t.MatchAll(), [t.SortKey("name")])
        assert by_name.index("alpha-web") + 1 == by_name.index("beta-web")  # tie: by id
        by_created = self.assert_sorted(corpus, t.MatchAll(), [t.SortKey("created_at", True)])
        assert by_created[:4] == ["gamma-bare", "gamma-app-tier-db", "gamma-app-tier", "gamma-app"]

    def test_sort_missing_values_last(self, corpus):
        with_updates = {d["id"] for d in CORPUS if d["updated_at"]}
        for descending in (False, True):
            order = self.assert_sorted(corpus, t.MatchAll(), [t.SortKey("updated_at", descending)])
            assert set(order[: len(with_updates)]) == with_updates
            rest = order[len(with_updates) :]
            assert rest == sorted(rest)
        order = self.assert_sorted(corpus, t.MatchAll(), [t.SortKey("tags", True)])
        untagged = sorted(d["id"] for d in CORPUS if not d["tags"])
        assert order[-len(untagged) :] == untagged

    def test_sort_lists_by_min_and_max(self, corpus):
        asc = self.assert_sorted(corpus, t.Exists("tags"), [t.SortKey("tags")])
        desc = self.assert_sorted(corpus, t.Exists("tags"), [t.SortKey("tags", True)])
        assert asc[0] == "gamma-app"  # "app"
        assert desc[0] == "gamma-unicode"  # "été" sorts after every ASCII tag

    def test_sort_several_keys(self, corpus):
        self.assert_sorted(corpus, t.MatchAll(), [t.SortKey("depth", True), t.SortKey("name")])
        self.assert_sorted(
            corpus,
            t.MatchAll(),
            [t.SortKey("project_id"), t.SortKey("status", True), t.SortKey("created_at")],
        )
        self.assert_sorted(corpus, t.MatchAll(), [t.SortKey("updated_at"), t.SortKey("root_id", True)])
        self.assert_sorted(corpus, t.Term("tags", "prod"), [t.SortKey("tags"), t.SortKey("depth", True)])  # fmt: skip

    def test_paging_is_stable(self, corpus):
        for sort in ([t.SortKey("status")], [t.SortKey("updated_at", True)], []):
            pages = []
            for offset in range(0, 45, 7):
                result = corpus.search(t.MatchAll(), sort=sort, offset=offset, limit=7)
                assert result.total == len(CORPUS)
                pages.extend(ids(result))
            assert len(pages) == len(CORPUS) == len(set(pages))
            if sort:
                assert pages == reference_search(CORPUS, t.MatchAll(), sort, 0, 100)[1]
            else:
                assert pages == sorted(pages)

    def test_total_is_exact_whatever_the_limit(self, corpus):
        node = t.Term("project_id", "p-beta")
        expected = len(corpus_ids(node))
        for limit, offset in ((1, 0), (3, 5), (100, 0), (5, 100), (0, 0)):
            result = corpus.search(node, limit=limit, offset=offset)
            assert result.total == expected
            assert len(result.hits) == max(0, min(limit, expected - offset))

    def test_default_order_score_then_id(self, corpus):
        # constant scores: id order
        node = t.Term("project_id", "p-gamma")
        assert ids(corpus.search(node, limit=100)) == sorted(corpus_ids(node))
        # scored: best first, equal scores by id
        result = corpus.search(t.Text(None, "nginx shop web", operator="or"), limit=100)
        assert result.total == len(result.hits) > 3
        keys = [(-hit.score, hit.id) for hit in result.hits]
        assert keys == sorted(keys)
        assert result.max_score == result.hits[0].score
        # paging through score order gives the same sequence
        paged = []
        for offset in range(0, result.total, 2):
            page = corpus.search(
                t.Text(None, "nginx shop web", operator="or"), offset=offset, limit=2
            )
            paged.extend(ids(page))
        assert paged == ids(result)

    def test_sort_by_score_key(self, corpus):
        score = t.SortKey("_score", descending=True)
        # a tree without full text: every match scores the same, _score orders nothing
        node = t.Term("project_id", "p-beta")
        for sort in ([score], [score, t.SortKey("name")], [t.SortKey("status"), score]):
            self.assert_sorted(corpus, node, sort)
        # with full text: _score first is the default order
        text = t.Text(None, "nginx shop web", operator="or")
        default = corpus.search(text, limit=100)
        by_score = corpus.search(text, sort=[score], limit=100)
        assert [(h.id, h.score) for h in by_score.hits] == [(h.id, h.score) for h in default.hits]
        # ties on score ordered by the next key, then by id
        result = corpus.search(text, sort=[score, t.SortKey("name", True)], limit=100)
        keys = [(-h.score, Desc(h.source["name"]), h.id) for h in result.hits]
        assert keys == sorted(keys) and len(keys) == default.total
        # score as a later key: within each project, best first
        result = corpus.search(text, sort=[t.SortKey("project_id"), score], limit=100)
        keys = [(h.source["project_id"], -h.score, h.id) for h in result.hits]
        assert keys == sorted(keys) and len(keys) == default.total
        scores = {h.id: h.score for h in default.hits}
        assert all(h.score == scores[h.id] for h in result.hits)
        paged = []
        for offset in range(0, default.total, 3):
            page = corpus.search(text, sort=[t.SortKey("project_id"), score], offset=offset, limit=3)
            paged.extend(ids(page))
        assert paged == ids(result)

    def test_fields_filter_source(self, corpus):
        result = corpus.search(t.Ids(("alpha-shop",)), fields=["name", "status", "nope"])
        hit = result.hits[0]
        assert hit.source == {"name": "shop", "status": "CREATE_COMPLETE"}
        assert (hit.id, hit.version) == ("alpha-shop", CORPUS_BY_ID["alpha-shop"]["version"])
        full = corpus.search(t.Ids(("alpha-shop",))).hits[0]
        assert full.source == CORPUS_BY_ID["alpha-shop"]


class AggregationsTest(BaseTestEngine):
    """Counts, terms aggregations and distinct counts."""

    def test_count(self, corpus):
        assert corpus.count(t.MatchAll()) == len(CORPUS)
        assert corpus.count(t.Term("tags", "prod")) == len(corpus_ids(t.Term("tags", "prod")))
        assert corpus.count(t.MatchNone()) == 0

    def test_aggregate_terms(self, corpus):
        aggs = {
            "status": t.TermsAgg("status"),
            "tags": t.TermsAgg("tags", size=3),
            "types": t.TermsAgg("resource_types", size=4),
            "projects": t.TermsAgg("project_id"),
            "roots": t.TermsAgg("root_id", size=2),
            "hot": t.TermsAgg("template_version", size=1),
            "regions": t.TermsAgg("region"),
        }
        got = corpus.aggregate(t.MatchAll(), aggs)
        assert got == reference_aggregate(CORPUS, t.MatchAll(), aggs)
        assert got["projects"] == [("p-beta", 14), ("p-gamma", 14), ("p-alpha", 12)]
        assert got["regions"] == [("RegionOne", 36), ("RegionTwo", 4)]
        assert got["roots"] == [("beta-k8s", 8), ("alpha-shop", 5)]

    def test_count_distinct(self, corpus):
        def reference(node: t.Node, field: str) -> int:
            return len(reference_aggregate(CORPUS, node, {"a": t.TermsAgg(field, 10**6)})["a"])

        beta = t.Term("project_id", "p-beta")
        nested = t.Bool(must_not=(t.Term("depth", 0),))
        for node in (t.MatchAll(), beta, nested, t.Term("tags", "prod")):
            for field in ("root_id", "project_id", "tags", "status", "name"):
                assert corpus.count_distinct(node, field) == reference(node, field), (node, field)
        assert corpus.count_distinct(t.MatchAll(), "root_id") > 2
        assert corpus.count_distinct(t.MatchNone(), "root_id") == 0

    def test_count_distinct_up_to_a_bound(self, corpus):
        """``at_most``: exact up to the bound, ``at_most + 1`` beyond it (the roll-up's total)."""
        def reference(node: t.Node, field: str) -> int:
            return len(reference_aggregate(CORPUS, node, {"a": t.TermsAgg(field, 10**6)})["a"])

        beta = t.Term("project_id", "p-beta")
        nested = t.Bool(must_not=(t.Term("depth", 0),))
        for node in (t.MatchAll(), beta, nested, t.MatchNone()):
            for field in ("root_id", "project_id", "status"):
                exact = reference(node, field)
                for at_most in (0, 1, exact - 1, exact, exact + 1, 10_000):
                    if at_most < 0:
                        continue
                    got = corpus.count_distinct(node, field, at_most=at_most)
                    assert got == min(exact, at_most + 1), (node, field, at_most)

    def test_aggregate_respects_query_and_ties(self, corpus):
        node = t.Bool(filter=(t.Term("project_id", "p-beta"),), must_not=(t.Term("depth", 0),))
        aggs = {"status": t.TermsAgg("status"), "tags": t.TermsAgg("tags", 5)}
        assert corpus.aggregate(node, aggs) == reference_aggregate(CORPUS, node, aggs)
        # ties by value: six stacks of p-gamma have one distinct name each
        names = corpus.aggregate(t.Term("project_id", "p-gamma"), {"n": t.TermsAgg("name", size=3)})
        assert names == {"n": [("app", 1), ("app-tier", 1), ("app-tier-db", 1)]}
        assert corpus.aggregate(t.MatchNone(), {"s": t.TermsAgg("status")}) == {"s": []}
