"""Noninterference of tenant isolation on the embedded engine (tantivy), issue #11.

The same requests, as the same scoped caller, against two deployments that differ only in other
projects' stacks must get byte-identical answers apart from ``took``: see
tests/noninterference_support.py for how the deployments, the callers and the requests are made.

One compared *request* is one request sent to both deployments. CI compares at least
``TANTIVY_REQUESTS`` here and ``OPENSEARCH_REQUESTS`` in
tests/conformance/test_noninterference_opensearch.py: at least 5,000 in all (each run: the
generated requests, the next page of each generated search_after request, and the pinned requests
of ``noninterference_support.pinned``). ``HEATSEEKER_NONINTERFERENCE_SCALE=0.1`` runs a tenth of
them while developing; ``HEATSEEKER_NONINTERFERENCE_REPORT=/tmp/leaks-{engine}.json`` writes every
distinct difference found.
"""

from __future__ import annotations

import pytest

from heatseeker.engines.tantivy import TantivyEngine
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

TANTIVY_EXAMPLES = 3_300  # generated requests (a search_after one sends two)
TANTIVY_REQUESTS = 3_500  # compared requests at least (generated, their next pages, pinned ones)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    with scaled_caps():
        script = build_script()
        deployments = []
        for name in ("A", "B"):
            base = tmp_path_factory.mktemp(f"noninterference-{name}")
            engine = TantivyEngine(str(base / "index"), writer_memory_mb=32)
            deployments.append(load(name, script, str(base), engine))
        a, b = deployments
        yield script, a, b, vocabulary(script, a, b)
        for dep in deployments:
            dep.engine.close()


def test_callers_records_are_the_same_in_both_stores(pair):
    _, a, b, _ = pair
    check_same_caller_records(a, b)


def test_other_projects_differ_for_an_admin_of_all_projects(pair):
    _, a, b, _ = pair
    assert contrast(a, b) == []


def test_noninterference_tantivy(pair):
    _, a, b, vocab = pair
    run = run_property(a, b, vocab, cases_wanted(TANTIVY_EXAMPLES), "tantivy")
    print(run.summary())
    assert run.cases >= cases_wanted(TANTIVY_REQUESTS)
    assert not run.leaks, "answers depend on other projects' stacks:\n" + run.summary()
