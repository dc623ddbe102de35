"""heatseeker.api.wsgi: configuration discovery and the oslo.middleware pipeline, in process
(the same application under gunicorn with two workers: tests/e2e/test_wsgi.py)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import webob
from oslo_config import cfg

from heatseeker.api import wsgi
from heatseeker.engines.tantivy import TantivyEngine
from heatseeker.record import Change, Store
from tests.unit.api_fixtures import DOCS, MEMBER

pytest_plugins = ["tests.unit.api_fixtures"]


@pytest.fixture
def install(tmp_path) -> Path:
    """A small installation: a store and an index with the API corpus, a config file."""
    data = tmp_path / "data"
    store = Store(str(data / "state.sqlite"))
    store.apply([Change(d["id"], 1, d) for d in DOCS])
    store.close()
    engine = TantivyEngine(str(data / "index"), writer_memory_mb=32)
    engine.upsert([(d, 1) for d in DOCS])
    engine.commit()
    engine.close()
    conf = tmp_path / "heatseeker.conf"
    conf.write_text(f"[DEFAULT]\ndata_dir = {data}\n[api]\nauth_strategy = trusted-headers\n"
                    "[oslo_middleware]\nenable_proxy_headers_parsing = true\n"
                    "max_request_body_size = 2000\n")
    return conf


def _app(conf_file: Path):
    return wsgi.init_application(wsgi.load_conf({wsgi.CONFIG_FILE_ENV: str(conf_file)}))


def _call(app, path: str, method: str = "GET", body: bytes | None = None,
          headers: dict | None = None) -> webob.Response:
    req = webob.Request.blank(path, method=method, headers={**MEMBER, **(headers or {})})
    if body is not None:
        req.body = body
        req.content_type = "application/json"
    return req.get_response(app)


def test_config_comes_from_the_environment_or_etc(tmp_path, install):
    with pytest.raises(cfg.ConfigFilesNotFoundError):
        wsgi.load_conf({wsgi.CONFIG_FILE_ENV: str(tmp_path / "nope.conf")})
    with pytest.raises(cfg.ConfigFilesNotFoundError) as exc:
        wsgi.load_conf({})  # /etc/heatseeker/heatseeker.conf does not exist here
    assert wsgi.DEFAULT_CONFIG_FILE in str(exc.value)
    extra = tmp_path / "more.conf"
    extra.write_text("[api]\nmax_body_bytes = 4321\n")
    conf = wsgi.load_conf({wsgi.CONFIG_FILE_ENV: f"{install},{extra}"})
    assert conf.api.max_body_bytes == 4321 and conf.api.auth_strategy == "trusted-headers"


def test_request_id_on_every_answer_and_in_the_log(install):
    log_file = install.parent / "api.log"
    with open(install, "a") as f:
        f.write(f"[DEFAULT]\nlog_file = {log_file}\n")
    app = _app(install)
    ok = _call(app, "/v1/search", "POST", b'{"query": {"match_all": {}}}')
    bad = _call(app, "/v1/search", "POST", b'{"query": {"nope": {}}}')
    assert ok.status_int == 200 and json.loads(ok.body)["hits"]["total"] > 0
    assert bad.status_int == 400
    ids = [r.headers["x-openstack-request-id"] for r in (ok, bad)]
    assert all(i.startswith("req-") for i in ids) and ids[0] != ids[1]
    lines = log_file.read_text().splitlines()
    access = [line for line in lines if "heatseeker.api.access" in line]
    assert len(access) == 2  # one line per request
    assert '"POST /v1/search" 200' in access[0] and ids[0] in access[0]
    assert '"POST /v1/search" 400' in access[1] and ids[1] in access[1]


def test_every_log_line_of_a_request_carries_its_id(install):
    log_file = install.parent / "api.log"
    with open(install, "a") as f:
        f.write(f"[DEFAULT]\nlog_file = {log_file}\n")
    conf = wsgi.load_conf({wsgi.CONFIG_FILE_ENV: str(install)})

    def inner(environ, start_response):
        logging.getLogger("heatseeker.somewhere").warning("inside the request")
        start_response("204 No Content", [])
        return [b""]

    app = wsgi.pipeline(conf, inner)
    rids = [_call(app, "/x").headers["x-openstack-request-id"] for _ in range(3)]
    lines = log_file.read_text().splitlines()
    inside = [line for line in lines if "inside the request" in line]
    access = [line for line in lines if '"GET /x" 204' in line]
    assert len(inside) == len(access) == 3
    for rid, a, b in zip(rids, inside, access, strict=True):
        assert rid in a and rid in b and "u-test p-alpha" in a


def test_links_follow_the_proxy_headers(install):
    app = _app(install)
    plain = json.loads(_call(app, "/v1/").body)
    assert plain["version"]["links"][0]["href"].startswith("http://localhost")
    proxied = _call(app, "/v1/", headers={"X-Forwarded-Proto": "https",
                                          "X-Forwarded-Host": "search.example.org"})
    href = json.loads(proxied.body)["version"]["links"][0]["href"]
    assert href == "https://search.example.org/v1/"


def test_healthcheck_answers_503_when_the_store_or_the_index_is_unusable(install):
    app = _app(install)
    assert _call(app, "/healthcheck").status_int == 200
    data = install.parent / "data"
    state = data / "state.sqlite"
    good = state.read_bytes()
    state.write_bytes(b"this is not a database" * 100)
    resp = _call(app, "/healthcheck")
    assert resp.status_int == 503 and b"store" in resp.body
    state.write_bytes(good)
    assert _call(app, "/healthcheck").status_int == 200
    state.unlink()
    assert _call(app, "/healthcheck").status_int == 503
    assert not state.exists()  # a health check never creates a record
    state.write_bytes(good)
    (data / "index" / "CURRENT").write_text("gen-999")
    resp = _call(app, "/healthcheck")
    assert resp.status_int == 503 and b"index" in resp.body


def test_healthcheck_disable_by_file(install, tmp_path):
    flag = tmp_path / "drain"
    with open(install, "a") as f:
        f.write(f"[healthcheck]\nbackends = heatseeker,disable_by_file\n"
                f"disable_by_file_path = {flag}\n")
    app = _app(install)
    assert _call(app, "/healthcheck").status_int == 200
    flag.write_text("")
    assert _call(app, "/healthcheck").status_int == 503


def test_sizelimit_and_cors(install):
    with open(install, "a") as f:
        f.write("[cors]\nallowed_origin = https://dashboard.example.org\n")
    app = _app(install)
    too_big = _call(app, "/v1/search", "POST", b'{"query": {"match_all": {}}, "x": "' +
                    b"a" * 3000 + b'"}')
    assert too_big.status_int == 413
    pre = _call(app, "/v1/search", "OPTIONS", headers={
        "Origin": "https://dashboard.example.org", "Access-Control-Request-Method": "POST"})
    assert pre.headers.get("Access-Control-Allow-Origin") == "https://dashboard.example.org"


class PanicException(BaseException):
    """Shaped like pyo3's: what tantivy-py raises when the Rust side panics."""


def test_a_panic_in_the_index_library_is_a_503_never_a_crash(install, monkeypatch):
    app = _app(install)
    assert _call(app, "/healthcheck").status_int == 200

    def panics(self, *args, **kwargs):
        raise PanicException("called `Option::unwrap()` on a `None` value")

    monkeypatch.setattr(TantivyEngine, "health", panics)
    resp = _call(app, "/healthcheck")
    assert resp.status_int == 503 and b"index" in resp.body
    monkeypatch.setattr(TantivyEngine, "search", panics)
    resp = _call(app, "/v1/search", "POST", json.dumps({"query": {"match_all": {}}}).encode())
    assert resp.status_int == 503, resp.body
    assert json.loads(resp.body)["error"]["message"].startswith("the search index is not")
    monkeypatch.undo()
    assert _call(app, "/healthcheck").status_int == 200


def test_the_server_own_exits_still_pass_through(install, monkeypatch):
    app = _app(install)

    def exits(self, *args, **kwargs):
        raise SystemExit(1)  # gunicorn stopping a worker

    monkeypatch.setattr(TantivyEngine, "health", exits)
    with pytest.raises(SystemExit):
        _call(app, "/healthcheck")


def test_an_api_process_starts_on_a_broken_index_and_answers_503_until_it_is_repaired(install):
    """gunicorn builds the application in each worker on its first request: a worker whose
    first request comes while CURRENT names a missing generation must answer 503 (the healthcheck
    says "index"), never its HTML 500, and serve as soon as the index is repaired."""
    current = install.parent / "data" / "index" / "CURRENT"
    good = current.read_text()
    current.write_text("gen-999")
    app = _app(install)
    resp = _call(app, "/healthcheck")
    assert resp.status_int == 503 and b"index" in resp.body
    resp = _call(app, "/v1/search", "POST", b'{"query": {"match_all": {}}}')
    assert resp.status_int == 503 and resp.json["error"]["code"] == 503
    assert "gen-999" in resp.json["error"]["message"]
    current.write_text(good)
    assert _call(app, "/healthcheck").status_int == 200
    resp = _call(app, "/v1/search", "POST", b'{"query": {"match_all": {}}}')
    assert resp.status_int == 200 and resp.json["hits"]["total"] > 0


def test_the_entry_point_answers_503_json_when_the_application_cannot_be_built(
        install, monkeypatch, caplog):
    calls = []
    build = wsgi.init_application

    def broken():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the database at mysql://heatseeker:s3cret@db/ is down")
        return build(wsgi.load_conf({wsgi.CONFIG_FILE_ENV: str(install)}))

    monkeypatch.setattr(wsgi, "init_application", broken)
    monkeypatch.setattr(wsgi, "_application", None)
    with caplog.at_level(logging.ERROR, logger="heatseeker.api.wsgi"):
        resp = _call(wsgi.application, "/healthcheck")
    assert resp.status_int == 503 and resp.content_type == "application/json"
    assert resp.json["error"]["code"] == 503 and b"s3cret" not in resp.body
    assert "could not start" in caplog.text and "is down" in caplog.text
    assert _call(wsgi.application, "/healthcheck").status_int == 200  # tried again, serving
    assert _call(wsgi.application, "/healthcheck").status_int == 200 and len(calls) == 2
