"""The conformance suite, unchanged, against a real OpenSearch node (tools/opensearch); and what
only OpenSearch has: paged distinct counts, mappings that grow, the schema version read back.

The session fixture ``opensearch_url`` starts node 1 (127.0.0.1:9210, heap 512 MB) unless
HEATSEEKER_OPENSEARCH_URL names a running cluster. Every temporary directory gets its own index
prefix (tests are isolated; ``reopen`` finds the same indices again). The indices are deleted at
the end of the module.
"""

from __future__ import annotations

import copy
import os

import pytest

import heatseeker.engines.opensearch as os_engine
from heatseeker.engines.base import SchemaMismatch
from heatseeker.engines.conformance import CORPUS, EngineConformance, field_values, make_doc
from heatseeker.engines.conformance.links import FP, link_docs, query_ids
from heatseeker.engines.opensearch import OpenSearchEngine, prefix_for
from heatseeker.query.tree import Exists, MatchAll, Term

PREFIX_BASE = f"hs-conf-{os.getpid()}"


def _delete(url: str, pattern: str) -> None:
    from opensearchpy import OpenSearch

    client = OpenSearch([url])
    try:
        client.indices.delete(index=pattern, params={"ignore_unavailable": "true"})
    finally:
        client.close()


@pytest.fixture(scope="module", autouse=True)
def _cleanup(opensearch_url):
    yield
    _delete(opensearch_url, f"{PREFIX_BASE}-*")


class TestOpenSearchConformance(EngineConformance):
    backend = "opensearch"
    property_examples = 80
    api_noninterference = (1_350, 1_500)  # generated requests, compared requests at least
    small_caps = {"DISTINCT_PAGE": 5}  # buckets per composite page (the roll-up's total)

    def engine_options(self, tmp_path):
        return {"opensearch": {"hosts": [self.fixture("opensearch_url")], "replicas": 0,
                               "index_prefix": prefix_for(str(tmp_path), PREFIX_BASE),
                               "timeout": 60}}  # fmt: skip

    def discard(self, engine):
        engine.close()
        _delete(self.fixture("opensearch_url"), f"{engine.prefix}-*")


def _engine(url: str, tmp_path) -> OpenSearchEngine:
    return OpenSearchEngine([url], index_prefix=prefix_for(str(tmp_path), PREFIX_BASE),
                            replicas=0, timeout=60)


def test_count_distinct_pages_through_every_bucket(opensearch_url, tmp_path, monkeypatch):
    """count_distinct pages through a composite aggregation: with pages of 3 buckets it still
    counts every distinct value (the corpus has more than 3 roots, names and tags)."""
    engine = _engine(opensearch_url, tmp_path)
    try:
        engine.upsert((copy.deepcopy(doc), doc["version"]) for doc in CORPUS)
        engine.commit()
        want = {f: len({str(v) for d in CORPUS for v in field_values(d, f)})
                for f in ("root_id", "name", "tags")}
        assert all(n > 3 for n in want.values())
        monkeypatch.setattr(os_engine, "DISTINCT_PAGE", 3)
        assert {f: engine.count_distinct(MatchAll(), f) for f in want} == want
        # up to a bound: pages only until it is passed, the last one no larger than needed
        sizes: list[int] = []
        real = engine.client.search

        def search(*args, **kwargs):
            sizes.append(kwargs["body"]["aggs"]["d"]["composite"]["size"])
            return real(*args, **kwargs)

        monkeypatch.setattr(engine.client, "search", search)
        for f, n in want.items():
            for at_most in (0, 1, 3, 4, n - 1, n, n + 5):
                sizes.clear()
                assert engine.count_distinct(MatchAll(), f, at_most=at_most) == min(n, at_most + 1)
                assert sum(sizes) <= at_most + 1 and max(sizes) <= 3, (f, at_most, sizes)
    finally:
        engine.close()


def test_an_older_opensearch_index_gets_the_new_fields(opensearch_url, tmp_path, monkeypatch):
    new_fields = {"k_template_fingerprint", "k_registry_types", "k_registry_map", "k_created_by",
                  "k_link"}
    full = os_engine.mapping

    def old_mapping():
        m = full()
        m["properties"] = {k: v for k, v in m["properties"].items() if k not in new_fields}
        return m

    monkeypatch.setattr(os_engine, "mapping", old_mapping)
    old = _engine(opensearch_url, tmp_path)
    old.upsert([(make_doc("x"), 1)])
    old.commit(checkpoint=1)
    old.close()
    monkeypatch.setattr(os_engine, "mapping", full)
    eng = _engine(opensearch_url, tmp_path)
    eng.upsert([(link_docs()[1], 2)])
    eng.commit(checkpoint=2)
    assert query_ids(eng, 'link:"OS::Heat::Stack"') == {"b"}
    assert query_ids(eng, f"template_fingerprint:{FP}") == {"b"}
    eng.close()


@pytest.mark.parametrize("version", [None, 0, os_engine.SCHEMA_VERSION + 1])
def test_a_stale_index_is_refused_until_reindexed(opensearch_url, tmp_path, monkeypatch, version):
    """The schema version written in the index's mapping is read back: an index of a version this
    code cannot use raises SchemaMismatch (the CLI's exit 3: run `heatseeker reindex`) for
    readers and writers alike, health says so, and a rebuild replaces it."""
    full = os_engine.mapping

    def stale_mapping():
        m = full()
        if version is None:
            del m["_meta"]
        else:
            m["_meta"] = {"heatseeker_schema_version": version}
        return m

    monkeypatch.setattr(os_engine, "mapping", stale_mapping)
    stale = _engine(opensearch_url, tmp_path)
    stale.upsert([(make_doc("x"), 1)])
    stale.commit(checkpoint=1)
    stale.close()
    monkeypatch.setattr(os_engine, "mapping", full)
    reader = OpenSearchEngine([opensearch_url], index_prefix=prefix_for(str(tmp_path), PREFIX_BASE),
                              read_only=True)
    writer = _engine(opensearch_url, tmp_path)
    try:
        with pytest.raises(SchemaMismatch, match="heatseeker reindex"):
            reader.search(MatchAll())
        with pytest.raises(SchemaMismatch):
            writer.upsert([(make_doc("y"), 1)])
        with pytest.raises(SchemaMismatch):
            writer.checkpoint()
        health = writer.health()
        assert health["ok"] is False and "reindex" in health["error"]
        assert writer.rebuild([(make_doc("z"), "z", 1)], checkpoint=5) == 1
        assert [h.id for h in writer.search(MatchAll()).hits] == ["z"]
        assert writer.checkpoint() == 5
        fresh = OpenSearchEngine([opensearch_url],
                                 index_prefix=prefix_for(str(tmp_path), PREFIX_BASE), read_only=True)
        assert fresh.count(MatchAll()) == 1
        fresh.close()
    finally:
        reader.close()
        writer.close()


@pytest.mark.parametrize("old_version", [1, 2, 3])
def test_an_older_schema_index_is_used_and_marked_by_a_writer(opensearch_url, tmp_path, monkeypatch,
                                                              old_version):
    """Schemas 2 and 3 only added fields, 4 only left out doc values and norms: an older index
    keeps working, and a writer declares the fields it lacks (3: ``region``) and records this
    version (documents written before need a reindex for the new fields), leaving the fields it
    has as they are (doc values cannot be taken away)."""
    full = os_engine.mapping

    def old_mapping():
        m = full()
        m["_meta"] = {"heatseeker_schema_version": old_version}
        for spec in m["properties"].values():  # schema 3's layout: doc values and norms
            spec.pop("doc_values", None)
            spec.pop("norms", None)
        if old_version <= 2:
            del m["properties"]["k_region"]
        return m

    monkeypatch.setattr(os_engine, "mapping", old_mapping)
    old = _engine(opensearch_url, tmp_path)
    old.upsert([(make_doc("x", parameters={"image": "cirros"}), 1)])
    old.commit()
    old.close()
    monkeypatch.setattr(os_engine, "mapping", full)
    reader = OpenSearchEngine([opensearch_url], index_prefix=prefix_for(str(tmp_path), PREFIX_BASE),
                              read_only=True)
    assert reader.count(MatchAll()) == 1
    writer = _engine(opensearch_url, tmp_path)
    writer.upsert([(make_doc("y", region="RegionTwo", parameters={"image": "cirros"}), 1)])
    writer.commit()
    meta = writer.client.indices.get_mapping(index=writer.search_alias)
    # marked with this version when it lacked a field; a schema-3 index lacks none and stays 3,
    # which the previous release's processes still open
    assert [m["mappings"]["_meta"]["heatseeker_schema_version"] for m in meta.values()] == [
        3 if old_version == 3 else os_engine.SCHEMA_VERSION]
    assert writer.count(Term("region", "RegionTwo")) == 1
    kept = next(iter(meta.values()))["mappings"]["properties"]
    assert kept["kv"] == {"type": "keyword"}  # its doc values stay
    # the old layout's terms answer as before, beside the new documents'
    assert writer.count(Exists("parameters.image")) == 2
    assert writer.count(Term("parameters.image", "cirros")) == 2
    reader.close()
    writer.close()
