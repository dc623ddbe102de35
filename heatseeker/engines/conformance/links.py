"""The fields reverse lookup, same-template grouping and links add (``template_fingerprint``,
``registry_types``, ``registry_map``, ``created_by``, ``link``), and reverse lookup itself
(``uses.find_uses``, through the searcher), on every engine. Reverse lookup asks the engine for
candidates by full-text phrase and then walks each candidate's document: an engine that analysed
values differently would lose candidates (test code may look up the floors: nothing at run time
imports this package).
"""

from __future__ import annotations

import pytest

from heatseeker import uses
from heatseeker.engines.base import Engine
from heatseeker.engines.conformance.base import BaseTestEngine
from heatseeker.engines.conformance.corpus import make_doc
from heatseeker.query import tree as t
from heatseeker.query.querystring import parse
from heatseeker.query.visibility import Visibility
from heatseeker.searcher import Searcher

UUID = "8c3b1c0e-5a7e-4a55-9b1b-3f2d6f1a0c11"
FP = "f" * 64


def link_docs() -> list[dict]:
    """A creator (``a``), the stack it made through ``OS::Heat::Stack`` (``b``), and a stack of
    another project (``c``) holding values like theirs."""
    return [
        make_doc("a", project_id="alpha", template_fingerprint=FP,
                 registry_types=["My::Server"], registry_map=["My::Server=box.yaml",
                                                              "My::Server=file:///t/box.yaml"],
                 parameters={"image": "cirros-0.6.2", "net": "net1"},
                 outputs=[{"key": "url", "value": f"http://glance/v2/images/{UUID}",
                           "description": None, "error": None}]),
        make_doc("b", project_id="alpha", template_fingerprint=FP, created_by="a",
                 link="OS::Heat::Stack", parent_id="a", root_id="a", ancestors=["a"], depth=1,
                 path=["a", "b"], parameters={"image": "nginx:1.25", "addr": "10.0.0.5"},
                 resources=[{"name": "server", "type": "OS::Nova::Server", "status": "C",
                             "status_reason": None, "physical_resource_id": UUID,
                             "nested_stack_id": None}]),
        make_doc("c", project_id="beta", template_fingerprint="0" * 64,
                 parameters={"image": "cirros-0.6.2", "other": "net10",
                             "near": "CIRROS 0.6.2"}),
    ]  # fmt: skip


def query_ids(engine: Engine, query: str) -> set[str]:
    """The ids a query string finds."""
    return {h.id for h in engine.search(parse(query), limit=100).hits}


class LinkFieldsTest(BaseTestEngine):
    """The link and grouping fields answer term queries; reverse lookup finds the same places."""

    @pytest.fixture(scope="class")
    def linked(self, tmp_path_factory):
        engine = self.make_engine(tmp_path_factory.mktemp("links"))
        engine.upsert((d, 1) for d in link_docs())
        engine.commit(checkpoint=1)
        yield engine
        engine.close()

    def test_new_fields_answer_term_queries(self, linked):
        assert query_ids(linked, f"template_fingerprint:{FP}") == {"a", "b"}
        assert query_ids(linked, 'registry_types:"My::Server"') == {"a"}
        assert query_ids(linked, 'registry_map:"My::Server=box.yaml"') == {"a"}
        assert query_ids(linked, 'link:"OS::Heat::Stack"') == {"b"}
        assert query_ids(linked, "created_by:a") == {"b"}
        assert query_ids(linked, "_exists_:created_by") == {"b"}
        # ids are kept out of the full text
        assert query_ids(linked, FP) == set()
        agg = linked.aggregate(t.MatchAll(), {"fp": t.TermsAgg("template_fingerprint")})
        assert agg["fp"] == [(FP, 2), ("0" * 64, 1)]

    @pytest.mark.parametrize(("value", "view", "want"), [
        ("cirros-0.6.2", "alpha", {"a": ["parameters.image"]}),
        ("cirros-0.6.2", None, {"a": ["parameters.image"], "c": ["parameters.image"]}),
        ("nginx:1.25", "alpha", {"b": ["parameters.image"]}),
        ("10.0.0.5", "alpha", {"b": ["parameters.addr"]}),
        (UUID, "alpha", {"a": ["outputs.url"], "b": ["resources.server.physical_resource_id"]}),
        ("net1", None, {"a": ["parameters.net"]}),
        ("cirros-0.6.2", "beta", {"c": ["parameters.image"]}),
    ])  # fmt: skip
    def test_reverse_lookup_is_the_same_on_every_engine(self, linked, value, view, want):
        visibility = Visibility.everything() if view is None else Visibility(frozenset({view}))
        found = uses.find_uses(Searcher(linked), value, view=visibility)
        assert {u.stack["id"]: [p.path for p in u.places] for u in found.stacks} == want
