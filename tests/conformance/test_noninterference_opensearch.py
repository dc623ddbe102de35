"""Noninterference of tenant isolation on a real OpenSearch node (issue #11): the property of
tests/unit/test_noninterference.py (see tests/noninterference_support.py), with both deployments
on OpenSearch (each its own indices on the test node, 127.0.0.1:9210, or
HEATSEEKER_OPENSEARCH_URL). The indices are deleted at the end of the module."""

from __future__ import annotations

import os

import pytest

from heatseeker.engines.opensearch import OpenSearchEngine, prefix_for
from tests.noninterference_support import (
    build_script,
    cases_wanted,
    check_same_caller_records,
    contrast,
    load,
    run_property,
    scaled_caps,
    vocabulary,
)

OPENSEARCH_EXAMPLES = 1_350  # generated requests (a search_after one sends two)
OPENSEARCH_REQUESTS = 1_500  # compared requests at least (generated, their next pages, pinned ones)
PREFIX_BASE = f"hs-nonint-{os.getpid()}"


@pytest.fixture(scope="module")
def pair(tmp_path_factory, opensearch_url):
    with scaled_caps():
        script = build_script()
        deployments = []
        try:
            for name in ("A", "B"):
                base = tmp_path_factory.mktemp(f"noninterference-os-{name}")
                engine = OpenSearchEngine([opensearch_url],
                                          index_prefix=prefix_for(str(base), PREFIX_BASE),
                                          replicas=0, timeout=60)
                deployments.append(load(name, script, str(base), engine))
            a, b = deployments
            yield script, a, b, vocabulary(script, a, b)
        finally:
            for dep in deployments:
                dep.engine.close()
            from opensearchpy import OpenSearch

            client = OpenSearch([opensearch_url])
            client.indices.delete(index=f"{PREFIX_BASE}-*", params={"ignore_unavailable": "true"})
            client.close()


def test_callers_records_are_the_same_in_both_stores(pair):
    _, a, b, _ = pair
    check_same_caller_records(a, b)


def test_other_projects_differ_for_an_admin_of_all_projects(pair):
    _, a, b, _ = pair
    assert contrast(a, b) == []


def test_noninterference_opensearch(pair):
    _, a, b, vocab = pair
    run = run_property(a, b, vocab, cases_wanted(OPENSEARCH_EXAMPLES), "opensearch")
    print(run.summary())
    assert run.cases >= cases_wanted(OPENSEARCH_REQUESTS)
    assert not run.leaks, "answers depend on other projects' stacks:\n" + run.summary()
