"""Fixtures shared by the conformance and end-to-end suites."""

from __future__ import annotations

import os

import pytest

from heatseeker.engines.registry import names as engine_names

# tools/test.sh runs the conformance and end-to-end tests not marked ``alone`` in two pytest
# processes at once, which share the one Heat sandbox: HEATSEEKER_TEST_STREAM=i/n keeps the
# groups of stream i of n (pytest-xdist's ``--dist loadgroup`` cannot do it: with pytest 9 it
# leaves the groups' tests spread over its workers). A group is a module (its module fixtures are
# set up once), or modules that share what they cannot share at once: the catalog's fixed search
# port and Keystone's two projects in the noauth Heat (the API, osc, UI and WSGI labs), or the
# Keystone-protected heat-apis and their port.
STREAM_ENV = "HEATSEEKER_TEST_STREAM"
SHARED_GROUPS = {
    **dict.fromkeys(("e2e/test_api.py", "e2e/test_osc.py", "e2e/test_ui.py", "e2e/test_wsgi.py"),
                    "catalog"),
    **dict.fromkeys(("e2e/test_keystone_heat.py", "e2e/test_regions.py",
                     "e2e/test_secrets_keystone.py"), "keystone-heat"),
}
# seconds each group took without its `alone` tests (tools/test.sh, 2026-12-04, 2 cores): the
# streams are balanced on them, longest first; a group not listed counts UNKNOWN_COST
COSTS = {"catalog": 217, "keystone-heat": 149, "e2e/test_opensearch.py": 65,
         "conformance/test_noninterference_api.py": 62, "e2e/test_multihost.py": 56,
         "e2e/test_uses.py": 48, "e2e/test_listener.py": 41, "e2e/test_history.py": 39,
         "e2e/test_upgradecheck.py": 32, "e2e/test_cli.py": 26, "e2e/test_sync.py": 24,
         "conformance/test_opensearch.py": 24, "conformance/test_tantivy.py": 12}
UNKNOWN_COST = 30


def stream_group(item) -> str | None:
    """The group of a conformance or end-to-end test (None for any other test)."""
    if item.path.parent.name not in ("e2e", "conformance"):
        return None
    module = f"{item.path.parent.name}/{item.path.name}"
    return SHARED_GROUPS.get(module, module)


def balance(groups: set[str], n: int) -> dict[str, int]:
    """Each group's stream (0 .. n-1): longest first, onto the least loaded stream."""
    loads = [0] * n
    out = {}
    for group in sorted(groups, key=lambda g: (-COSTS.get(g, UNKNOWN_COST), g)):
        i = loads.index(min(loads))
        out[group] = i
        loads[i] += COSTS.get(group, UNKNOWN_COST)
    return out


@pytest.hookimpl(tryfirst=True)  # before -m and -k: both streams see every group
def pytest_collection_modifyitems(config, items):
    spec = os.environ.get(STREAM_ENV)
    if not spec:
        return
    try:
        i, n = (int(x) for x in spec.split("/"))
        assert 1 <= i <= n
    except (ValueError, AssertionError):
        raise pytest.UsageError(f"{STREAM_ENV}={spec!r}: expected i/n, 1 <= i <= n") from None
    groups = {g for item in items if (g := stream_group(item))}
    stream = balance(groups, n)
    keep, drop = [], []
    for item in items:
        g = stream_group(item)
        (keep if (stream[g] if g else 0) == i - 1 else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


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
