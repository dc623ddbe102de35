"""A new node type of the query tree is a checklist, and this is its check: every node type of
``query/tree.py`` must be in the engine's translation table (``Engine.node_types``), in the
reference evaluator (``reference.MATCHERS``, ``reference.SCORERS``), in the random trees of the
property tests (``strategies.LEAF_BUILDERS``, ``Bool`` aside: ``tree_strategy`` builds it) and in
the highlighter (``query/highlight.LEAF_SPECS``, ``Bool`` aside: its positive clauses are
highlighted). Every engine's conformance class runs it for itself.
"""

from __future__ import annotations

import dataclasses
import typing

from heatseeker.engines.conformance.base import BaseTestEngine
from heatseeker.engines.conformance.reference import MATCHERS, SCORERS
from heatseeker.engines.conformance.strategies import LEAF_BUILDERS
from heatseeker.engines.registry import engine_class
from heatseeker.query import highlight
from heatseeker.query import tree as t

NOT_NODES = frozenset({t.SortKey, t.TermsAgg, t.Hit, t.SearchResult})


def node_types() -> frozenset[type]:
    """The node types of the query tree: the members of ``tree.Node``."""
    return frozenset(typing.get_args(t.Node))


def missing(handled: typing.Iterable[type], *, besides: frozenset[type] = frozenset()) -> list[str]:
    """The names of the node types ``handled`` lacks (but ``besides``), sorted."""
    return sorted(n.__name__ for n in node_types() - set(handled) - besides)


class NodeTypesTest(BaseTestEngine):
    """No node type is forgotten anywhere a query tree is read."""

    def test_every_tree_class_is_a_node(self):
        classes = {v for v in vars(t).values()
                   if dataclasses.is_dataclass(v) and isinstance(v, type)
                   and v.__module__ == t.__name__}  # fmt: skip
        assert classes - NOT_NODES == node_types(), "add the new class to tree.Node"

    def test_every_node_type_is_handled(self):
        assert missing(engine_class(self.backend).node_types) == [], f"{self.backend}'s table"
        assert missing(MATCHERS) == [], "conformance.reference.MATCHERS"
        assert missing(SCORERS) == [], "conformance.reference.SCORERS"
        assert missing(LEAF_BUILDERS, besides=frozenset({t.Bool})) == [], "strategies"
        assert missing(highlight.LEAF_SPECS, besides=frozenset({t.Bool})) == [], "highlight"
