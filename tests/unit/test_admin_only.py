"""Admin-only fields ([api] admin_only_fields) are hidden in every answer a non-admin gets:
search, roll-up, show, history, diff, changes, uses and facets — including what gives them away
indirectly (a revision's acting user is the stack owner of revision 1; a roll-up groups by
root_id; ``under`` filters by ancestors)."""

from __future__ import annotations

import json
import time

import pytest

pytest.register_assert_rewrite("tests.unit.api_fixtures")

from heatseeker.api.app import build_app  # noqa: E402
from heatseeker.history.service import History  # noqa: E402
from heatseeker.record import Change, HistoryPolicy, Store  # noqa: E402
from heatseeker.searcher import Searcher  # noqa: E402
from tests.unit.api_fixtures import DOCS, Client, error_of, history_of, make_conf  # noqa: E402

pytest_plugins = ["tests.unit.api_fixtures"]

ALPHA_ADMIN = {"project": "p-alpha", "roles": "admin", "admin": True}
HIDDEN = ["stack_owner", "stack_user_project_id", "depth", "root_id", "ancestors", "parent_id"]
ENDPOINTS = [
    ("POST", "/v1/search", {"limit": 100}),
    ("POST", "/v1/search", {"limit": 100, "query": {"query_string": {"query": "owner"}},
                            "highlight": {"fields": {"*": {}}}}),
    ("GET", "/v1/search/stacks/alpha-shop", None),
    ("GET", "/v1/search/stacks/alpha-shop/history", None),
    ("GET", "/v1/search/stacks/alpha-shop/history?revision=1", None),
    ("GET", "/v1/search/stacks/alpha-shop/diff?from=1&to=2", None),
    ("GET", "/v1/search/changes?since=now-1d&include_created=true", None),
    ("GET", "/v1/search/uses?value=nginx:1.25", None),
    ("GET", "/v1/search/facets", None),
]


@pytest.fixture(scope="module")
def owned_history(tmp_path_factory):
    """Two revisions of every CORPUS stack, made by its owner (as Heat's notifications say)."""
    store = Store(str(tmp_path_factory.mktemp("admin-only") / "state.sqlite"),
                  HistoryPolicy(max_age_days=0))
    now = int(time.time() * 1e6)
    for i, (first, second) in enumerate(history_of(doc) for doc in DOCS):
        owner = first["stack_owner"]
        store.apply([Change(first["id"], now - 10_000 + i, first, request_id="req-create",
                            user_name=owner, user_id="uid-" + owner)])
        store.apply([Change(second["id"], now - 5_000 + i, second, request_id="req-update",
                            user_name=owner, user_id="uid-" + owner)])
    return History(store)


def _client(api_engine, history, hidden) -> Client:
    return Client(build_app(make_conf(admin_only_fields=hidden), Searcher(api_engine), history))


def _keys(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_no_answer_shows_an_admin_only_field_or_the_owner(api_engine, owned_history):
    api = _client(api_engine, owned_history, ["stack_owner", "stack_user_project_id", "depth"])
    for method, path, body in ENDPOINTS:
        status, answer = api.call(method, path, body)
        assert status == 200, (path, answer)
        text = json.dumps(answer)
        assert "owner-" not in text and "sup-" not in text, (path, text[:300])
        keys = _keys(answer)
        assert not keys & {"stack_owner", "stack_user_project_id", "user_name", "user_id"}, path
        if path.startswith(("/v1/search/stacks", "/v1/search/uses")) or body:
            assert "depth" not in keys, (path, "depth")
    # a cloud admin sees them, in history too
    status, answer = api.call("GET", "/v1/search/stacks/alpha-shop/history", **ALPHA_ADMIN)
    assert status == 200 and answer["revisions"][0]["user_name"] == "owner-p-alpha"


def test_rollup_hides_depth_and_is_refused_without_root_id(api_engine, owned_history):
    api = _client(api_engine, owned_history, ["depth"])
    status, answer = api.call("POST", "/v1/search", {"rollup": "root", "limit": 100})
    assert status == 200, answer
    assert answer["hits"]["hits"] and "depth" not in _keys(answer)
    status, answer = api.call("POST", "/v1/search", {"rollup": "root"}, **ALPHA_ADMIN)
    assert status == 200 and "depth" in _keys(answer)

    api = _client(api_engine, owned_history, ["root_id"])
    status, answer = api.call("POST", "/v1/search", {"rollup": "root"})
    assert status == 403 and "root_id" in error_of(status, answer)["message"]
    status, answer = api.call("POST", "/v1/search", {"rollup": "root"}, **ALPHA_ADMIN)
    assert status == 200


def test_under_is_refused_without_ancestors(api_engine, owned_history):
    api = _client(api_engine, owned_history, ["ancestors"])
    for body in ({"under": "alpha-shop"}, {"under": "alpha-shop", "rollup": "root"}):
        status, answer = api.call("POST", "/v1/search", body)
        assert status == 403 and "ancestors" in error_of(status, answer)["message"], body
    status, answer = api.call("GET", "/v1/search/uses?value=nginx:1.25&under=alpha-shop")
    assert status == 403, answer
    status, answer = api.call("POST", "/v1/search", {"under": "alpha-shop"}, **ALPHA_ADMIN)
    assert status == 200


@pytest.mark.parametrize("field", HIDDEN)
def test_every_hideable_field_is_absent_from_every_answer(api_engine, owned_history, field):
    api = _client(api_engine, owned_history, [field])
    for method, path, body in ENDPOINTS:
        status, answer = api.call(method, path, body)
        assert status == 200, (field, path, answer)
        assert field not in _keys(answer), (field, path)
        if field == "stack_owner":
            assert "owner-" not in json.dumps(answer), path
