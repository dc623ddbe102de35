"""tests/conftest.py's end-to-end streams (tools/test.sh runs two at once): every group in exactly
one stream, the same answer in every process, and the catalog's modules kept together."""

import os
import subprocess
import sys

import pytest

from tests.conftest import (
    COSTS,
    SHARED_GROUPS,
    STREAM_ENV,
    UNKNOWN_COST,
    balance,
    pytest_collection_modifyitems,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_every_group_goes_to_one_stream_and_the_loads_are_even():
    groups = set(COSTS) | {"e2e/test_new_one.py"}
    first = balance(groups, 2)
    assert first == balance(set(sorted(groups, reverse=True)), 2)  # order-independent
    assert set(first) == groups and set(first.values()) == {0, 1}
    loads = [sum(COSTS.get(g, UNKNOWN_COST) for g, s in first.items() if s == i) for i in (0, 1)]
    assert abs(loads[0] - loads[1]) <= max(COSTS.values()) // 4
    assert balance({"a.py"}, 3) == {"a.py": 0}


def test_modules_that_share_a_port_or_projects_are_one_group():
    assert {m for m, g in SHARED_GROUPS.items() if g == "catalog"} == {
        "e2e/test_api.py", "e2e/test_osc.py", "e2e/test_ui.py", "e2e/test_wsgi.py"}
    assert set(SHARED_GROUPS.values()) <= set(COSTS)


def _collected(stream: str | None) -> tuple[int, set[str]]:
    env = {k: v for k, v in os.environ.items() if k != STREAM_ENV}
    if stream is not None:
        env[STREAM_ENV] = stream
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p",
                          "no:cacheprovider", "tests/conformance", "tests/e2e"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    return out.returncode, {line for line in out.stdout.splitlines() if "::" in line}


def test_the_two_streams_split_the_collection_exactly():
    rc, everything = _collected(None)
    assert rc == 0 and len(everything) > 100
    _, one = _collected("1/2")
    _, two = _collected("2/2")
    assert one and two and not one & two and one | two == everything


def test_a_stream_that_does_not_exist_is_a_usage_error(monkeypatch):
    for bad in ("3/2", "0/2", "1", "one/two"):
        monkeypatch.setenv(STREAM_ENV, bad)
        with pytest.raises(pytest.UsageError):  # never a silent empty pass
            pytest_collection_modifyitems(None, [])
