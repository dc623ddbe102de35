"""trusted-headers mode answers only requests addressed to a loopback host (DNS rebinding)."""

from __future__ import annotations

import json

import pytest
import webob

from heatseeker.api.app import build_app
from heatseeker.api.auth import HostCheck, host_name
from heatseeker.searcher import Searcher
from heatseeker.ui import with_ui
from tests.unit.api_fixtures import MEMBER, make_conf

pytest_plugins = ["tests.unit.api_fixtures"]

LOOPBACK = ["localhost", "localhost:9494", "127.0.0.1", "127.0.0.1:9494", "127.8.9.10:1",
            "[::1]", "[::1]:9494", "LOCALHOST:80"]
FOREIGN = ["evil.example", "evil.example:9494", "attacker.localhost.example", "10.0.0.1:9494",
           "[2001:db8::1]:9494", "localhost.evil.example", "0.0.0.0:9494", ""]


@pytest.fixture(scope="module")
def app(api_engine):
    conf = make_conf()
    return with_ui(conf, build_app(conf, Searcher(api_engine)))  # the API and the UI, as served


def _get(app, path: str, host: str, headers: dict | None = None) -> webob.Response:
    req = webob.Request.blank(path, headers=headers or {})
    req.environ["HTTP_HOST"] = host
    req.environ["SERVER_NAME"] = "0.0.0.0"
    return req.get_response(app)


@pytest.mark.parametrize("host", LOOPBACK)
def test_loopback_hosts_are_answered(app, host):
    assert _get(app, "/v1/search/plugins", host, MEMBER).status_int == 200
    assert _get(app, "/ui/login", host).status_int == 200


@pytest.mark.parametrize("host", FOREIGN)
def test_other_hosts_are_refused_by_the_api_and_the_ui(app, host):
    for path, headers in (("/v1/search/plugins", MEMBER), ("/ui/login", {}),
                          ("/v1/search?q=x", MEMBER)):
        resp = _get(app, path, host, headers)
        assert resp.status_int == 403, (path, host)
        assert "trusted_headers_hosts" in json.loads(resp.body)["error"]["message"]


def test_configured_hosts_are_answered(api_engine):
    conf = make_conf(trusted_headers_hosts=["devbox.example"])
    app = with_ui(conf, build_app(conf, Searcher(api_engine)))
    assert _get(app, "/ui/login", "devbox.example:9494").status_int == 200
    assert _get(app, "/ui/login", "evil.example").status_int == 403


def test_keystone_mode_does_not_check_the_host():
    seen = []

    def inner(environ, start_response):
        seen.append(environ["HTTP_HOST"])
        start_response("200 OK", [])
        return [b""]

    assert _get(inner, "/", "evil.example").status_int == 200  # the guard is opt-in
    assert _get(HostCheck(inner), "/", "evil.example").status_int == 403
    assert seen == ["evil.example"]


@pytest.mark.parametrize(("header", "name"), [("Example.COM:80", "example.com"), ("[::1]:1", "::1"),
                                              ("::1", "::1"), ("h", "h"), ("", "")])
def test_host_name(header, name):
    assert host_name(header) == name
