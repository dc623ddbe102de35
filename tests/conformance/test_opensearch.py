"""The conformance suite, unchanged, against a real OpenSearch node (tools/opensearch).

The session fixture builds and starts node 1 (127.0.0.1:9210, heap 512 MB) unless
HEATSEEKER_OPENSEARCH_URL names a running cluster. Every temporary directory gets its own index
prefix (tests are isolated; ``reopen`` finds the same indices again). The indices are deleted at
the end of the module.
"""

from __future__ import annotations

import os
import sys

import pytest

from heatseeker.engines.opensearch import OpenSearchEngine, prefix_for
from heatseeker.engines.testing import EngineConformance

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools", "opensearch"))
import opensearchlab  # noqa: E402

PREFIX_BASE = f"hs-conf-{os.getpid()}"


@pytest.fixture(scope="session")
def opensearch_url():
    given = os.environ.get("HEATSEEKER_OPENSEARCH_URL")
    if given:
        return given
    return opensearchlab.start_node(1)


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
