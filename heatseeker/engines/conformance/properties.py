"""The two properties every engine is held to on random data (hypothesis):

* ``ReferencePropertyTest``: on random corpora and random trees, the engine answers what the
  reference evaluator answers: hits, scores, order, ``max_score``, totals and buckets exactly;
* ``NoninterferenceTest``: what a scoped caller gets from two indexes that differ only in other
  projects' stacks is identical, and is what the reference answers over the caller's stacks alone
  (tenant isolation, issue #11: no score, order, error or count tells a caller about other
  projects).
"""

from __future__ import annotations

import copy
import itertools

from hypothesis import HealthCheck, example, given, settings

from heatseeker.engines.base import Engine
from heatseeker.engines.conformance.base import BaseTestEngine, ids
from heatseeker.engines.conformance.reference import (
    page_of,
    reference_aggregate,
    reference_page,
    reference_search,
)
from heatseeker.engines.conformance.strategies import (
    ME,
    SCENARIOS,
    isolation_corpora,
    isolation_queries,
    prefix_ids,
)
from heatseeker.query.analysis import BY_SCORE
from heatseeker.query.scope import scope
from heatseeker.query.tree import (
    Bool,
    Phrase,
    Range,
    SortKey,
    TermsAgg,
    Text,
)


class ReferencePropertyTest(BaseTestEngine):
    """Engine == reference evaluator, on random corpora and trees."""

    property_examples = 80

    def test_matches_reference_evaluator(self, tmp_path_factory):
        engine = self.make_engine(tmp_path_factory.mktemp("property"))
        counter = itertools.count()
        previous: list[str] = []

        @settings(
            max_examples=self.property_examples,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(scenario=SCENARIOS)
        def run(scenario):
            prefix = f"ex{next(counter)}-"
            docs = [{**doc, "id": prefix + doc["id"]} for doc in scenario["docs"]]
            # each example starts from an engine whose earlier stacks are all tombstones
            if previous:
                engine.delete([(sid, 1) for sid in previous])
            previous[:] = [doc["id"] for doc in docs]
            engine.upsert((copy.deepcopy(doc), 1) for doc in docs)
            engine.commit()
            tree, sort = prefix_ids(scenario["tree"], prefix), scenario["sort"]
            offset, limit = scenario["offset"], scenario["limit"]
            total, expected = reference_search(docs, tree, sort, offset, limit)
            assert engine.count(tree) == total
            result = engine.search(tree, sort=sort, offset=offset, limit=limit)
            assert (result.total, ids(result)) == (total, expected)
            # scores, score order and max_score too: coordination scores are exact
            assert page_of(result) == reference_page(docs, tree, sort, offset, limit)
            result = engine.search(tree, limit=100)
            assert page_of(result) == reference_page(docs, tree, (), 0, 100)
            aggs = {"s": TermsAgg("status", size=2), "t": TermsAgg("tags", size=3)}
            assert engine.aggregate(tree, aggs) == reference_aggregate(docs, tree, aggs)

        try:
            run()
        finally:
            engine.close()


class NoninterferenceTest(BaseTestEngine):
    """Answers depend only on what the caller may see."""

    isolation_examples = 300

    def test_noninterference(self, tmp_path_factory):
        """Two indexes hold the caller's stacks identically and differ only in other projects'
        stacks (5 against 260, the same words, ids sharing the caller's prefixes, tombstones):
        every scoped query (wrapped by ``query/scope.py`` itself) answers the same hits, scores,
        order, max_score, totals, counts and buckets on both, and what the reference evaluator
        answers over the caller's stacks alone. So no score, order, error or count can tell a
        caller anything about other projects (issue #11: BM25 statistics, range term caps)."""
        shared, few, many, tombstones = isolation_corpora()
        small = self.make_engine(tmp_path_factory.mktemp("isolation-small"))
        big = self.make_engine(tmp_path_factory.mktemp("isolation-big"))
        try:
            small.upsert((copy.deepcopy(d), 3) for d in shared)
            small.upsert((copy.deepcopy(d), 1) for d in few)
            small.commit()
            # the large one: other orders of writes, several commits, tombstones
            big.upsert((copy.deepcopy(d), 1) for d in many[:130])
            big.commit()
            big.upsert((copy.deepcopy(d), 3) for d in reversed(shared))
            big.delete((sid, 2) for sid in tombstones)
            big.commit()
            big.upsert((copy.deepcopy(d), 1) for d in many[130:])
            big.delete((d["id"], 2) for d in many[::9])
            big.commit()
            everyone = [d["id"] for d in shared + few + many] + tombstones
            self._noninterference(small, big, shared, everyone)
        finally:
            small.close()
            big.close()

    def _noninterference(
        self, small: Engine, big: Engine, shared: list[dict], everyone: list[str]
    ) -> None:
        aggs = {"s": TermsAgg("status", size=2), "t": TermsAgg("tags", size=3),
                "n": TermsAgg("name", size=4), "r": TermsAgg("root_id", size=5)}

        @settings(
            max_examples=self.isolation_examples,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(case=isolation_queries(everyone))
        @example(case={"tree": Text(None, "web db", operator="or"), "projects": ME, "sort": [],
                       "offset": 0, "limit": 10, "after": None})
        @example(case={"tree": Phrase("description", "web server"), "projects": ME,
                       "sort": [SortKey("status"), BY_SCORE], "offset": 1, "limit": 5,
                       "after": "stack-0003"})
        def run(case):
            tree = case["tree"]
            sort = case["sort"]
            if case["after"] is not None:  # search_after: a range on the id after the last hit
                tree = Bool(must=(tree,), filter=(Range("id", gt=case["after"]),))
                sort = [*sort, SortKey("id")]
            q = scope(tree, case["projects"])
            offset, limit = case["offset"], case["limit"]
            answers = []
            for engine in (small, big):
                page = engine.search(q, sort=sort, offset=offset, limit=limit)
                first = engine.search(q, limit=100)
                answers.append((
                    page_of(page), [(h.version, h.source) for h in page.hits], page_of(first),
                    engine.count(q), engine.count_distinct(q, "root_id"), engine.aggregate(q, aggs),
                ))
            assert answers[0] == answers[1]
            want = reference_page(shared, q, sort, offset, limit)
            assert answers[0][0] == want
            assert answers[0][2] == reference_page(shared, q, (), 0, 100)
            assert answers[0][5] == reference_aggregate(shared, q, aggs)

        run()
