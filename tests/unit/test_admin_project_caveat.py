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
from heatseeker.heat import keystone
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
    monkeypatch.setattr(keystone, "_warned_admin_project", False)


def test_what_a_token_says():
    assert keystone.admin_project_flag(_token()) is False  # Keystone did not say: not admin
    assert keystone.admin_project_flag(_token(is_admin_project=True)) is True
    assert keystone.admin_project_flag(_token(is_admin_project=False)) is False
    assert keystone.admin_project_flag(_token(is_admin_project="True")) is False  # not a bool
    system = _token(system={"all": True})
    del system["token"]["project"]
    assert keystone.admin_project_flag(system) is None  # system scope: no project flag to miss
    for junk in (None, {}, {"token": None}, {"access": {}}, "x"):
        assert keystone.admin_project_flag(junk) is None


def _caller(token_info) -> auth.Caller:
    environ = webob.Request.blank("/").environ
    for name, value in identity_headers("p-any", "admin", True).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    environ["keystone.token_info"] = token_info
    return auth.Caller.from_environ(environ)


def test_the_header_is_not_believed_when_keystone_did_not_say(caplog):
    with caplog.at_level(logging.WARNING, logger="heatseeker.heat.keystone"):
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


def test_status_and_serve_ask_keystone_with_the_heat_credentials(monkeypatch):
    """admin_project_caveat: a token for [heat]'s own credentials, through keystoneauth1's
    loading (the token request itself is answered here; the real Keystone's answer is checked by
    the e2e suite, whose Keystone sets admin_project_name)."""
    from keystoneauth1.identity import base

    from heatseeker import config

    conf = config.new_conf()
    conf([], default_config_files=[])
    assert keystone.admin_project_caveat(conf) is None  # no [heat] auth_type: nothing to ask
    conf.set_override("auth_type", "none", group="heat")
    assert keystone.admin_project_caveat(conf) is None  # a noauth Heat
    conf.clear_override("auth_type", group="heat")
    conf2 = config.new_conf()
    conf2(["--config-file", str(_heat_conf())], default_config_files=[])

    class Access:
        def __init__(self, body):
            self._data = body

    bodies = [_token(), _token(is_admin_project=True)]
    monkeypatch.setattr(base.BaseIdentityPlugin, "get_access", lambda self, session: Access(bodies.pop(0)))
    assert keystone.admin_project_caveat(conf2) == keystone.ADMIN_PROJECT_CAVEAT
    assert keystone.admin_project_caveat(conf2) is None


def _heat_conf() -> Path:
    import tempfile

    path = Path(tempfile.mkdtemp()) / "heatseeker.conf"
    path.write_text("[heat]\nauth_type = password\nauth_url = http://127.0.0.1:1/v3\n"
                    "username = admin\npassword = x\nproject_name = admin\n"
                    "user_domain_name = Default\nproject_domain_name = Default\n")
    return path
