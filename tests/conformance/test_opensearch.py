"""The conformance suite, unchanged, against a real OpenSearch node (tools/opensearch).

The session fixture builds and starts node 1 (127.0.0.1:9210, heap 512 MB) unless
HEATSEEKER_OPENSEARCH_URL names a running cluster. Every temporary directory gets its own index
prefix (tests are isolated; ``reopen`` finds the same indices again). The indices are deleted at
the end of the module.
"""

from __future__ import annotations

import copy
import os
import sys

import pytest

from heatseeker.engines.opensearch import OpenSearchEngine, prefix_for
from heatseeker.engines.testing import CORPUS, EngineConformance, field_values
from heatseeker.query.tree import MatchAll

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools", "opensearch"))
import opensearchlab  # noqa: E402

PREFIX_BASE = f"hs-conf-{os.getpid()}"


@pytest.fixture(scope="module", autouse=True)
def _cleanup(opensearch_url):
    yield
    from opensearchpy import OpenSearch

    client = OpenSearch([opensearch_url])
    client.indices.delete(index=f"{PREFIX_BASE}-*", params={"ignore_unavailable": "true"})
    client.close()


class TestOpenSearchConformance(EngineConformance):
    property_examples = 80

    @pytest.fixture(autouse=True)
    def _url(self, opensearch_url):
        type(self).url = opensearch_url

    url: str = ""

    def make_engine(self, tmp_path):
        return OpenSearchEngine(
            [self.url or os.environ.get("HEATSEEKER_OPENSEARCH_URL", opensearchlab.url(1))],
            index_prefix=prefix_for(str(tmp_path), PREFIX_BASE),
            replicas=0,
            timeout=60,
        )



def test_count_distinct_pages_through_every_bucket(opensearch_url, tmp_path, monkeypatch):
    """count_distinct pages through a composite aggregation: with pages of 3 buckets it still
    counts every distinct value (the corpus has more than 3 roots, names and tags)."""
    import heatseeker.engines.opensearch as os_engine

    engine = OpenSearchEngine([opensearch_url], index_prefix=prefix_for(str(tmp_path), PREFIX_BASE),
                              replicas=0, timeout=60)
    try:
        engine.upsert((copy.deepcopy(doc), doc["version"]) for doc in CORPUS)
        engine.commit()
        want = {f: len({str(v) for d in CORPUS for v in field_values(d, f)})
                for f in ("root_id", "name", "tags")}
        assert all(n > 3 for n in want.values())
        monkeypatch.setattr(os_engine, "DISTINCT_PAGE", 3)
        assert {f: engine.count_distinct(MatchAll(), f) for f in want} == want
    finally:
        engine.close()
