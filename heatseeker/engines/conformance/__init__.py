"""The engine conformance suite: the executable specification of ``base.Engine``.

Every engine runs it unchanged, the way Kinto runs ``kinto/core/storage/testing.py`` against each
storage backend: themed test mixins on one base, combined into ``EngineConformance``. The test
class of an engine (``tests/conformance/test_<name>.py``, one per registered engine) is short::

    class TestMyEngineConformance(EngineConformance):
        backend = "myengine"  # its name in the registry ([engine] backend)

        def engine_options(self, tmp_path):  # only if it needs more than data_dir
            return {"myengine": {"url": self.fixture("myengine_url")}}

Contents:

* ``corpus``: ``make_doc`` (a valid stack document) and ``CORPUS`` (40 stacks in 3 projects);
* ``reference``: the reference evaluator (``matches``, ``score``, ``reference_page``,
  ``reference_aggregate``…): the meaning of a query tree as plain Python over documents;
* ``strategies``: random corpora and trees (hypothesis) for the property tests;
* ``base``: ``BaseTestEngine`` (how an engine under test is built: from the configuration,
  ``build_engine``), the corpus index, the comparisons with the reference;
* the themes: ``writes`` (versions, tombstones, rebuild, checkpoint, health), ``nodes`` (every
  node of the query tree, dynamic paths), ``ordering`` (sorts, score order, paging, counts and
  aggregations), ``properties`` (engine == reference on random data; noninterference),
  ``rollup`` (the roll-up through the searcher), ``links`` (link fields, reverse lookup) and
  ``coverage`` (every node type handled by every engine, the reference and the highlighter).
"""

from __future__ import annotations

from heatseeker.engines.conformance.base import BaseTestEngine, build_engine, corpus_ids, ids
from heatseeker.engines.conformance.corpus import (
    CORPUS,
    CORPUS_BY_ID,
    build_corpus,
    make_doc,
)
from heatseeker.engines.conformance.coverage import NodeTypesTest
from heatseeker.engines.conformance.links import LinkFieldsTest
from heatseeker.engines.conformance.nodes import DynamicPathsTest, QueryNodesTest
from heatseeker.engines.conformance.ordering import AggregationsTest, SortingTest
from heatseeker.engines.conformance.properties import NoninterferenceTest, ReferencePropertyTest
from heatseeker.engines.conformance.reference import (
    field_values,
    matches,
    page_of,
    reference_aggregate,
    reference_order,
    reference_page,
    reference_search,
    score,
)
from heatseeker.engines.conformance.rollup import RollupTest
from heatseeker.engines.conformance.writes import (
    CheckpointTest,
    HealthTest,
    RebuildTest,
    TombstonesTest,
    WritesTest,
)


class EngineConformance(
    WritesTest,
    TombstonesTest,
    RebuildTest,
    CheckpointTest,
    HealthTest,
    QueryNodesTest,
    DynamicPathsTest,
    SortingTest,
    AggregationsTest,
    ReferencePropertyTest,
    NoninterferenceTest,
    RollupTest,
    LinkFieldsTest,
    NodeTypesTest,
):
    """Every theme of the suite: subclass it once per engine, setting ``backend``."""


__all__ = [
    "CORPUS",
    "CORPUS_BY_ID",
    "BaseTestEngine",
    "EngineConformance",
    "build_corpus",
    "build_engine",
    "corpus_ids",
    "field_values",
    "ids",
    "make_doc",
    "matches",
    "page_of",
    "reference_aggregate",
    "reference_order",
    "reference_page",
    "reference_search",
    "score",
]
