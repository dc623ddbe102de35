"""The fields reverse lookup, same-template grouping and links add (template_fingerprint,
registry_types, registry_map, created_by, link) and the reverse lookup itself, on every engine; and
an OpenSearch index made before these fields gets them declared when opened."""

from __future__ import annotations

import os

import pytest

from heatseeker import uses
from heatseeker.engines import opensearch as os_engine
from heatseeker.engines.opensearch import OpenSearchEngine, prefix_for
from heatseeker.engines.tantivy import TantivyEngine
from heatseeker.engines.testing import make_doc
from heatseeker.query import tree as t
from heatseeker.query.querystring import parse
from heatseeker.query.visibility import Visibility
from heatseeker.searcher import Searcher

PREFIX_BASE = f"hs-links-{os.getpid()}"
UUID = "8c3b1c0e-5a7e-4a55-9b1b-3f2d6f1a0c11"
FP = "f" * 64


def _docs() -> list[dict]:
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
    ]


@pytest.fixture(scope="module", autouse=True)
def _cleanup(opensearch_url):
    yield
    from opensearchpy import OpenSearch

    client = OpenSearch([opensearch_url])
    try:
        client.indices.delete(index=f"{PREFIX_BASE}-*", params={"ignore_unavailable": "true"})
    finally:
        client.close()


@pytest.fixture(params=["tantivy", "opensearch"])
def engine(request, tmp_path):
    if request.param == "tantivy":
        eng = TantivyEngine(str(tmp_path / "index"))
    else:
        url = request.getfixturevalue("opensearch_url")
        eng = OpenSearchEngine([url], index_prefix=prefix_for(str(tmp_path), PREFIX_BASE),
                               replicas=0, timeout=60)
    eng.upsert((d, 1) for d in _docs())
    eng.commit(checkpoint=1)
    yield eng
    eng.close()


def _ids(engine, query: str) -> set[str]:
    return {h.id for h in engine.search(parse(query), limit=100).hits}


def test_new_fields_answer_term_queries(engine):
    assert _ids(engine, f"template_fingerprint:{FP}") == {"a", "b"}
    assert _ids(engine, 'registry_types:"My::Server"') == {"a"}
    assert _ids(engine, 'registry_map:"My::Server=box.yaml"') == {"a"}
    assert _ids(engine, 'link:"OS::Heat::Stack"') == {"b"}
    assert _ids(engine, "created_by:a") == {"b"}
    assert _ids(engine, "_exists_:created_by") == {"b"}
    # ids are kept out of the full text
    assert _ids(engine, FP) == set()
    agg = engine.aggregate(t.MatchAll(), {"fp": t.TermsAgg("template_fingerprint")})
    assert agg["fp"] == [(FP, 2), ("0" * 64, 1)]


@pytest.mark.parametrize(("value", "view", "want"), [
    ("cirros-0.6.2", "alpha", {"a": ["parameters.image"]}),
    ("cirros-0.6.2", None, {"a": ["parameters.image"], "c": ["parameters.image"]}),
    ("nginx:1.25", "alpha", {"b": ["parameters.image"]}),
    ("10.0.0.5", "alpha", {"b": ["parameters.addr"]}),
    (UUID, "alpha", {"a": ["outputs.url"], "b": ["resources.server.physical_resource_id"]}),
    ("net1", None, {"a": ["parameters.net"]}),
    ("cirros-0.6.2", "beta", {"c": ["parameters.image"]}),
])
def test_reverse_lookup_is_the_same_on_every_engine(engine, value, view, want):
    visibility = Visibility.everything() if view is None else Visibility(frozenset({view}))
    found = uses.find_uses(Searcher(engine), value, view=visibility)
    assert {u.stack["id"]: [p.path for p in u.places] for u in found.stacks} == want


def test_an_older_opensearch_index_gets_the_new_fields(opensearch_url, tmp_path, monkeypatch):
    new_fields = {"k_template_fingerprint", "k_registry_types", "k_registry_map", "k_created_by",
                  "k_link"}
    full = os_engine.mapping

    def old_mapping():
        m = full()
        m["properties"] = {k: v for k, v in m["properties"].items() if k not in new_fields}
        return m

    prefix = prefix_for(str(tmp_path), PREFIX_BASE)
    monkeypatch.setattr(os_engine, "mapping", old_mapping)
    old = OpenSearchEngine([opensearch_url], index_prefix=prefix, replicas=0, timeout=60)
    old.upsert([(make_doc("x"), 1)])
    old.commit(checkpoint=1)
    old.close()
    monkeypatch.setattr(os_engine, "mapping", full)
    eng = OpenSearchEngine([opensearch_url], index_prefix=prefix, replicas=0, timeout=60)
    eng.upsert([(_docs()[1], 2)])
    eng.commit(checkpoint=2)
    assert _ids(eng, 'link:"OS::Heat::Stack"') == {"b"}
    assert _ids(eng, f"template_fingerprint:{FP}") == {"b"}
    eng.close()
