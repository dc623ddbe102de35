"""Keystone without ``[resource] admin_project_name``: its tokens carry no ``is_admin_project``,
and keystonemiddleware then sends ``X-Is-Admin-Project: True`` for every project. heatseeker
notices the missing flag in the token body keystonemiddleware keeps (``keystone.token_info``) and
counts nobody as a cloud admin through such a token (a warning says why, once)."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

import pytest
import webob

from heatseeker.api import auth
from heatseeker.api.app import build_app
from heatseeker.searcher import Searcher
from tests.unit.api_fixtures import identity_headers, make_conf

pytest_plugins = ["tests.unit.api_fixtures"]

# a real Keystone v3 token body (project-scoped, role admin), as the sandbox captured it
TOKEN = json.loads((Path(__file__).resolve().parents[2] / "tools/sandbox/token_response.json")
                   .read_text())


def _token(**changes) -> dict:
    body = copy.deepcopy(TOKEN)
    body["token"].pop("is_admin_project", None)
    body["token"].update(changes)
    return body


@pytest.fixture(autouse=True)
def _fresh_warning(monkeypatch):
    monkeypatch.setattr(auth, "_warned_admin_project", False)


def test_what_a_token_says():
    assert auth.admin_project_flag(_token()) is False  # Keystone did not say: not admin
    assert auth.admin_project_flag(_token(is_admin_project=True)) is True
    assert auth.admin_project_flag(_token(is_admin_project=False)) is False
    assert auth.admin_project_flag(_token(is_admin_project="True")) is False  # not a bool
    system = _token(system={"all": True})
    del system["token"]["project"]
    assert auth.admin_project_flag(system) is None  # system scope: no project flag to miss
    for junk in (None, {}, {"token": None}, {"access": {}}, "x"):
        assert auth.admin_project_flag(junk) is None


def _caller(token_info) -> auth.Caller:
    environ = webob.Request.blank("/").environ
    for name, value in identity_headers("p-any", "admin", True).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    environ["keystone.token_info"] = token_info
    return auth.Caller.from_environ(environ)


def test_the_header_is_not_believed_when_keystone_did_not_say(caplog):
    with caplog.at_level(logging.WARNING, logger="heatseeker.api.auth"):
        assert not _caller(_token()).is_admin_project
        assert not _caller(_token()).is_admin_project
    warnings = [r for r in caplog.records if "admin_project_name" in r.getMessage()]
    assert len(warnings) == 1  # once per process
    assert _caller(_token(is_admin_project=True)).is_admin_project
    assert not _caller(_token(is_admin_project=False)).is_admin_project
    assert _caller(None).is_admin_project  # no token body (trusted-headers): the header


def test_a_project_admin_gets_no_all_projects(api_engine):
    app = build_app(make_conf(), Searcher(api_engine))

    def search(token_info) -> int:
        req = webob.Request.blank("/v1/search", method="POST", headers={
            **identity_headers("p-alpha", "admin", True), "Content-Type": "application/json"})
        req.body = json.dumps({"all_projects": True}).encode()
        req.environ["keystone.token_info"] = token_info
        return req.get_response(app).status_int

    assert search(_token()) == 403  # keystone never said p-alpha is the admin project
    assert search(_token(is_admin_project=True)) == 200
