"""Fixtures shared by the conformance and end-to-end suites."""

from __future__ import annotations

import os

import pytest

from heatseeker.engines.registry import names as engine_names


@pytest.fixture(scope="session")
def opensearch_url() -> str:
    """A running OpenSearch: HEATSEEKER_OPENSEARCH_URL, or test node 1 (127.0.0.1:9210, started
    here if it is not running: tools/opensearch)."""
    given = os.environ.get("HEATSEEKER_OPENSEARCH_URL")
    if given:
        return given
    from tools.opensearch import opensearchlab

    return opensearchlab.start_node(1)


@pytest.fixture(params=engine_names())
def engine_maker(request):
    """``make(path) -> Engine`` for each registered engine in turn, made as its conformance class
    makes it (tests/conformance/engines.py); what it made is discarded afterwards."""
    from tests.conformance.engines import maker

    with maker(request.param, request) as make:
        yield make
