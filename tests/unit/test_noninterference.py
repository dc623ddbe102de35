"""Noninterference of tenant isolation on the embedded engine (tantivy), issue #11.

The same requests, as the same scoped caller, against two deployments that differ only in other
projects' stacks must get byte-identical answers apart from ``took``: see
tests/noninterference_support.py for how the deployments, the callers and the requests are made.

CI runs ``TANTIVY_CASES`` generated requests here (and tests/conformance/test_noninterference_opensearch.py
``OPENSEARCH_CASES`` on OpenSearch): at least 5,000 compared requests in all.
``HEATSEEKER_NONINTERFERENCE_SCALE=0.1`` runs a tenth of them while developing.
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

TANTIVY_CASES = 3_500  # hypothesis examples; a search_after example is two compared requests


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
    wanted = cases_wanted(TANTIVY_CASES)
    run = run_property(a, b, vocab, wanted, "tantivy")
    print(run.summary())
    assert run.cases >= wanted
    assert not run.leaks, "answers depend on other projects' stacks:\n" + run.summary()
