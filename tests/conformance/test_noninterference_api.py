"""Noninterference of tenant isolation through the API, on every engine (issue #11).

The same requests, as the same scoped caller, against two deployments that differ only in other
projects' stacks must get byte-identical answers apart from ``took``: see
tests/noninterference_support.py for how the deployments, the callers and the requests are made.
Each registered engine runs it, made as its conformance class makes it; the class says how many
requests to generate and compare (``api_noninterference``) and which of its caps to lower so that
a small corpus reaches them (``small_caps``).

One compared *request* is one request sent to both deployments. CI compares at least 5,000 in all
(tantivy 3,500, OpenSearch 1,500; each run: the generated requests, the next page of each generated
search_after request, and the pinned requests of ``noninterference_support.pinned``).
``HEATSEEKER_NONINTERFERENCE_SCALE=0.1`` runs a tenth of them while developing;
``HEATSEEKER_NONINTERFERENCE_REPORT=/tmp/leaks-{engine}.json`` writes every distinct difference
found.
"""

from __future__ import annotations

import sys

import pytest

from heatseeker.engines.registry import engine_class, names
from tests.conformance.engines import conformance_class, maker
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

DEFAULT_COUNTS = (1_350, 1_500)  # generated requests, compared requests at least


@pytest.fixture(scope="module", params=names())
def pair(request, tmp_path_factory):
    name = request.param
    module = sys.modules[engine_class(name).__module__]
    caps = [(module, cap, value)
            for cap, value in getattr(conformance_class(name), "small_caps", {}).items()]
    with scaled_caps(caps), maker(name, request) as make:
        script = build_script()
        deployments = []
        for label in ("A", "B"):
            base = tmp_path_factory.mktemp(f"noninterference-{name}-{label}")
            deployments.append(load(label, script, str(base), make(base / "engine")))
        a, b = deployments
        yield name, a, b, vocabulary(script, a, b)


def test_callers_records_are_the_same_in_both_stores(pair):
    _, a, b, _ = pair
    check_same_caller_records(a, b)


def test_other_projects_differ_for_an_admin_of_all_projects(pair):
    _, a, b, _ = pair
    assert contrast(a, b) == []


def test_noninterference(pair):
    name, a, b, vocab = pair
    examples, requests = getattr(conformance_class(name), "api_noninterference", DEFAULT_COUNTS)
    run = run_property(a, b, vocab, cases_wanted(examples), name)
    print(run.summary())
    assert run.cases >= cases_wanted(requests)
    assert not run.leaks, "answers depend on other projects' stacks:\n" + run.summary()
