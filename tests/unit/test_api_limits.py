"""The API's own guards: the trusted-headers mode refused on a public address, the search
timeout enforced, and bad input of every kind answered with a 4xx JSON error, never a 5xx (issue
#11: deep JSON, dates at the calendar's edges, lone surrogates, undecodable query strings) and a
highlight that cannot stall the API."""

import json
import subprocess
import sys
import time

import pytest
import webob

pytest.register_assert_rewrite("tests.unit.api_fixtures")

from heatseeker import config  # noqa: E402
from heatseeker.api.app import App, build_app, decode_json, json_depth_limit  # noqa: E402
from heatseeker.query.errors import QueryError  # noqa: E402
from heatseeker.query.tree import SearchResult  # noqa: E402
from tests.unit.api_fixtures import MEMBER, error_of  # noqa: E402

pytest_plugins = ["tests.unit.api_fixtures"]


def test_trusted_headers_refused_on_a_public_address(tmp_path):
    conf = tmp_path / "h.conf"
    conf.write_text(f"[DEFAULT]\ndata_dir = {tmp_path}/data\n"
                    "[api]\nauth_strategy = trusted-headers\nbind_host = 0.0.0.0\nbind_port = 9399\n")
    proc = subprocess.run([sys.executable, "-m", "heatseeker.cli", "--config-file", str(conf), "serve"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "refusing auth_strategy = trusted-headers on 0.0.0.0" in proc.stderr


class _SlowEngine:
    def search(self, *a, **kw):
        time.sleep(1.0)
        return SearchResult(total=0)

    count = search


class _Searcher:
    def __init__(self):
        self.engine = _SlowEngine()

    def search(self, *a, **kw):
        return self.engine.search()


def test_search_timeout_is_enforced():
    conf = config.new_conf()
    conf([], default_config_files=[])
    conf.set_override("auth_strategy", "trusted-headers", group="api")
    conf.set_override("search_timeout", 0.1, group="api")
    app = build_app(conf, _Searcher())  # type: ignore[arg-type]
    req = webob.Request.blank("/v1/search", method="POST", body=b"{}")
    req.headers.update({"X-Identity-Status": "Confirmed", "X-Project-Id": "p", "X-Roles": "member"})
    resp = req.get_response(app)
    assert resp.status_int == 503
    assert "timed out" in json.loads(resp.body)["error"]["message"]


# -- bad input is a 4xx JSON error, never a 5xx (issue #11, point 9) --------------------------------


def _raw_search(api, raw: bytes):
    resp = api.request("POST", "/v1/search", raw=raw)
    assert resp.content_type == "application/json", resp.body[:200]
    return resp.status_int, resp.json


@pytest.mark.parametrize("raw", [
    b'{"query": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    b"[" * 100_000 + b"]" * 100_000,
    b'{"query": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_000 + b"}",
    b"[" * 100_000,  # unbalanced too
    b'{"query": {"term": {"status": ' + b"[" * 200 + b"]" * 200 + b"}}}",  # past the limit only
])
def test_deeply_nested_json_is_400(api, raw):
    status, answer = _raw_search(api, raw)
    assert status == 400, answer
    assert "nested too deeply" in error_of(status, answer)["message"]


def test_nesting_limit_leaves_room_for_the_deepest_query(api):
    limit = json_depth_limit(20)
    deep: dict = {"match_all": {}}
    for _ in range(18):  # 19 levels: within max_query_depth (20)
        deep = {"bool": {"must": [deep]}}
    api.search({"query": deep})
    just = b"[" * (limit - 1) + b"]" * (limit - 1)
    assert decode_json(just, limit) == eval(just)  # noqa: S307 - nested lists only
    status, answer = _raw_search(api, b'{"index": ' + b"[" * limit + b"]" * limit + b"}")
    assert status == 400 and "nested too deeply" in error_of(status, answer)["message"]


@pytest.mark.parametrize("value", [
    "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+23:59",
])
def test_search_after_date_at_the_calendar_edges_is_400(api, value):
    for sort in ("updated_at", {"created_at": "desc"}):
        status, answer = api.call("POST", "/v1/search", {"sort": sort, "search_after": [value, "x"]})
        assert status == 400, answer
        assert "out of range" in error_of(status, answer)["message"]


@pytest.mark.parametrize("raw", [
    b'{"aggs": {"\\ud800": {"terms": {"field": "status"}}}}',  # was 503 "index not available"
    b'{"query": {"term": {"\\ud800": 1}}}',  # the error quoting the key made the handler raise
    b'{"query": {"term": {"name": "x\\udfff"}}}',
    b'{"\\udc80": 1}',
    b'{"highlight": {"fields": {"name": {}}, "pre_tags": ["\\ud83d"]}}',
    b'{"query": {"query_string": {"query": "\\ud800*"}}}',
])
def test_lone_surrogates_are_400(api, raw):
    status, answer = _raw_search(api, raw)
    assert status == 400, answer
    assert "surrogate" in error_of(status, answer)["message"]


def test_a_surrogate_pair_is_one_character_and_fine(api):
    status, answer = _raw_search(api, b'{"query": {"match": {"name": "\\ud83d\\ude00"}}}')
    assert status == 200, answer


@pytest.mark.parametrize(("raw", "fragment"), [
    (b'{"limit": NaN}', "not a JSON number"),
    (b'{"query": {"range": {"depth": {"gte": -Infinity}}}}', "not a JSON number"),
    (b"\xff\xfe\xfd", "not valid JSON"),
    (b'{"query": "\xed\xa0\x80"}', "not valid JSON"),  # a surrogate encoded in UTF-8
    (b'{"limit": ' + b"9" * 5000 + b"}", "not valid JSON"),
])
def test_not_json_is_400(api, raw, fragment):
    status, answer = _raw_search(api, raw)
    assert status == 400, answer
    assert fragment in error_of(status, answer)["message"]


@pytest.mark.parametrize("path", [
    "/v1/search/facets?limit_terms=%ED%A0%80",
    "/v1/search/uses?value=%FF",
    "/v1/search/changes?field=name&since=%ED%A0%80",
    "/v1/search/stacks/%ED%A0%80/history",
    "/v1/search/stacks/%FF",
    "/v1/search/facets?limit_terms=%D9%A1%D9%A1",  # Arabic-Indic digits are not a number here
    "/v1/search/changes?limit=%D9%A1",
    "/v1/search/stacks/alpha-shop/diff?from=%C2%B2",
    "/v1/search/facets?limit_terms=" + "9" * 5000,
])
def test_bad_query_strings_and_paths_are_400(api, path):
    status, answer = api.call("GET", path)
    assert status == 400, answer
    error_of(status, answer)


def test_an_error_quoting_a_surrogate_still_encodes(api_app, monkeypatch):
    # even if a surrogate got past the input checks, the answer is JSON, not an exception
    def boom(self, req):
        raise QueryError("unknown field '\ud800' at query.term.\ud800")

    monkeypatch.setattr(App, "dispatch", boom)
    req = webob.Request.blank("/v1/search", method="POST", body=b"{}")
    req.headers.update(MEMBER)
    resp = req.get_response(api_app)
    assert resp.status_int == 400
    assert "\\ud800" in error_of(400, resp.json)["message"]


def test_an_answer_that_cannot_be_built_is_a_fixed_500(api_app, monkeypatch):
    def broken(code, message):
        raise RuntimeError("cannot build")

    def boom(self, req):
        raise ValueError("bad")

    monkeypatch.setattr("heatseeker.api.app.error_response", broken)
    monkeypatch.setattr(App, "dispatch", boom)
    req = webob.Request.blank("/v1/search", method="POST", body=b"{}")
    req.headers.update(MEMBER)
    resp = req.get_response(api_app)
    assert resp.status_int == 500
    error_of(500, resp.json)


def test_the_probe_highlight_answers(api):
    # six ?* with every field highlighted: 11 s and a stalled API before (issue #11, point 8)
    body = {"query": {"bool": {"should": [{"match_all": {}},
                                          {"wildcard": {"name": "?*?*?*?*?*?*x"}},
                                          {"wildcard": {"fingerprint": "?*?*?*?*?*?*a"}}]}},
            "highlight": {"fields": {"*": {}}}, "limit": 100}
    answer = api.search(body)
    marked = [f for h in answer["hits"]["hits"] for frags in h.get("highlight", {}).values()
              for f in frags]
    assert marked and all("<em>" in f for f in marked)
    # "Continuous integration": the longest match from the leftmost start
    shop = {h["_id"]: h for h in answer["hits"]["hits"]}["alpha-ci"]
    assert shop["highlight"]["description"] == ["Continuous <em>integra</em>tion runners"]


def test_a_huge_configured_depth_is_capped_below_the_recursion_limit(api_engine):
    from heatseeker.searcher import Searcher
    from tests.unit.api_fixtures import Client, make_conf

    deep_api = Client(build_app(make_conf(max_query_depth=100_000), Searcher(api_engine)))
    for n in (150, 2_000, 30_000):  # past the ceiling (100), past Python's recursion limit
        raw = b'{"query": ' + b'{"bool": {"must": [' * n + b'{"match_all": {}}' + b"]}}" * n + b"}"
        resp = deep_api.request("POST", "/v1/search", raw=raw)
        assert resp.status_int == 400 and "nested too deeply" in error_of(400, resp.json)["message"]
