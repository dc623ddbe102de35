"""Shared fixtures of the API tests: the real app, in process, over a tantivy index of CORPUS.

Use from a test module with ``pytest_plugins = ["tests.unit.api_fixtures"]`` (the fixtures) and
plain imports (the helpers and constants).

Every CORPUS document gets the admin-only fields ``stack_owner`` = ``owner-<project>`` and
``stack_user_project_id`` = ``sup-<project>``. The app runs with ``[api] auth_strategy =
trusted-headers``: the identity headers are believed as sent, as Searchlight's functional tests did.
"""

from __future__ import annotations

import json
import tempfile
import time
from typing import Any

import pytest
import webob

from heatseeker import config
from heatseeker.api.app import build_app
from heatseeker.engines.conformance import CORPUS
from heatseeker.engines.tantivy import TantivyEngine
from heatseeker.searcher import Searcher

PROJECTS = ("p-alpha", "p-beta", "p-gamma")
ADMIN_ONLY = ("stack_owner", "stack_user_project_id")
STACK = "OS::Heat::Stack"


def with_admin_fields(doc: dict) -> dict:
    project = doc["project_id"]
    return dict(doc, stack_owner=f"owner-{project}", stack_user_project_id=f"sup-{project}")


DOCS = [with_admin_fields(doc) for doc in CORPUS]
DOCS_BY_ID = {doc["id"]: doc for doc in DOCS}


def docs_of(project: str) -> list[dict]:
    return [doc for doc in DOCS if doc["project_id"] == project]


def ids_of(project: str) -> set[str]:
    return {doc["id"] for doc in docs_of(project)}


def identity_headers(
    project: str | None = "p-alpha",
    roles: str = "member",
    admin: bool | None = False,
    system_scope: str | None = None,
) -> dict[str, str]:
    """The headers keystonemiddleware's auth_token would set for such a token.

    ``project=None``: a token without a project (domain-scoped, or system-scoped with
    ``system_scope``); ``admin=None``: no ``X-Is-Admin-Project`` header at all.
    """
    headers = {"X-Identity-Status": "Confirmed", "X-User-Id": "u-test", "X-Roles": roles}
    if project is not None:
        headers["X-Project-Id"] = project
    if admin is not None:
        headers["X-Is-Admin-Project"] = "True" if admin else "False"
    if system_scope is not None:
        headers["X-System-Scope"] = system_scope
    return headers


MEMBER = identity_headers("p-alpha", "member", False)
CLOUD_ADMIN = identity_headers("p-admin", "admin,member", True)


def make_conf(**api_overrides: Any):
    conf = config.new_conf()
    conf([], default_config_files=[])
    # the store (history, web UI sessions) of a test installation: never /var/lib/heatseeker
    conf.set_override("data_dir", tempfile.mkdtemp(prefix="heatseeker-api-"))
    conf.set_override("auth_strategy", "trusted-headers", group="api")
    for name, value in api_overrides.items():
        conf.set_override(name, value, group="api")
    return conf


class Client:
    """Calls the WSGI app in process."""

    def __init__(self, app):
        self.app = app

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        project: str | None = "p-alpha",
        roles: str = "member",
        admin: bool | None = False,
        system_scope: str | None = None,
        identity: bool = True,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> webob.Response:
        req = webob.Request.blank(path, method=method)
        if raw is not None:
            req.body = raw
            req.content_type = "application/json"
        elif body is not None:
            req.body = json.dumps(body).encode()
            req.content_type = "application/json"
        if identity:
            req.headers.update(identity_headers(project, roles, admin, system_scope))
        if headers:
            req.headers.update(headers)
        return req.get_response(self.app)

    def call(self, method: str, path: str, body: Any = None, **who: Any) -> tuple[int, Any]:
        """``(status, decoded JSON)`` (the text when the answer is not JSON)."""
        resp = self.request(method, path, body, **who)
        if resp.content_type == "application/json":
            return resp.status_int, resp.json
        return resp.status_int, resp.text

    def search(self, body: dict | None = None, **who: Any) -> dict:
        """A search that must succeed: its answer."""
        status, answer = self.call("POST", "/v1/search", {} if body is None else body, **who)
        assert status == 200, (status, answer)
        return answer

    def admin_search(self, body: dict | None = None, **who: Any) -> dict:
        return self.search(body, **{"project": "p-admin", "roles": "admin", "admin": True, **who})


def hit_ids(answer: dict) -> list[str]:
    return [hit["_id"] for hit in answer["hits"]["hits"]]


def error_of(status: int, answer: Any) -> dict:
    """The error object of an error answer, checked for shape."""
    assert isinstance(answer, dict) and set(answer) == {"error"}, answer
    error = answer["error"]
    assert set(error) == {"code", "title", "message"}, error
    assert error["code"] == status and isinstance(error["title"], str) and error["message"]
    return error


@pytest.fixture(scope="session")
def api_engine(tmp_path_factory):
    engine = TantivyEngine(str(tmp_path_factory.mktemp("api") / "index"), writer_memory_mb=32)
    engine.upsert([(doc, doc["version"]) for doc in DOCS])
    engine.commit()
    yield engine
    engine.close()


def history_of(doc: dict) -> list[dict]:
    """Two revisions of a CORPUS document for the history routes: as created, then with one
    parameter changed."""
    first = dict(doc, status="CREATE_COMPLETE", action="CREATE",
                 parameters={**(doc.get("parameters") or {}), "revision_probe": "one"})
    second = dict(doc, status="UPDATE_COMPLETE", action="UPDATE",
                  parameters={**(doc.get("parameters") or {}), "revision_probe": "two"})
    return [first, second]


@pytest.fixture(scope="session")
def api_history(tmp_path_factory):
    """A store holding two revisions of every CORPUS stack (heatseeker/history)."""
    from heatseeker.history.service import History
    from heatseeker.record import Change, HistoryPolicy, Store

    store = Store(str(tmp_path_factory.mktemp("api-history") / "state.sqlite"),
                  HistoryPolicy(max_age_days=0))
    now = int(time.time() * 1e6)
    for i, (first, second) in enumerate(history_of(doc) for doc in DOCS):
        store.apply([Change(first["id"], now - 10_000 + i, first, request_id="req-create")])
        store.apply([Change(second["id"], now - 5_000 + i, second, request_id="req-update")])
    return History(store)


@pytest.fixture(scope="session")
def api_app(api_engine, api_history):
    return build_app(make_conf(), Searcher(api_engine), api_history)


@pytest.fixture(scope="session")
def api(api_app) -> Client:
    return Client(api_app)
