"""The API's one route table (heatseeker/api/routes.py), its one answer builder
(heatseeker/api/responses.py, shared with ``heatseeker search --json``), and the import rules
around them: the API does not import the UI, ``query/source.py`` imports nothing of heatseeker
outside ``query/``, the answer builder needs no webob.

openapi.yaml and the table are kept in step by test_openapi.py
(``test_every_route_is_documented_and_vice_versa``); policy.py's documented operations here.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.register_assert_rewrite("tests.unit.api_fixtures")

from heatseeker import cli  # noqa: E402
from heatseeker.api import policy  # noqa: E402
from heatseeker.api.app import App  # noqa: E402
from heatseeker.api.routes import ROUTES, TABLE, NoRoute, compile_template  # noqa: E402
from tests.unit.api_fixtures import Client, make_conf  # noqa: E402

pytest_plugins = ["tests.unit.api_fixtures"]

ROOT = Path(__file__).resolve().parents[2]
ADMIN = {"project": "p-admin", "roles": "admin", "admin": True}


# -- the table --------------------------------------------------------------------------------


def test_every_route_has_its_handler_on_app():
    for route in ROUTES:
        assert callable(getattr(App, route.handler, None)), route


def test_no_two_routes_share_a_method_and_template():
    keys = [(r.method, r.template) for r in ROUTES]
    assert len(keys) == len(set(keys))


def test_the_public_routes_are_the_versions_and_the_description():
    public = {(r.method, r.template) for r in ROUTES if r.rule is None}
    assert public == {("GET", p) for p in ("/", "/v1", "/v1/", "/v1/openapi.yaml",
                                           "/v1/openapi.json")}
    assert TABLE.is_public("GET", "/v1/openapi.yaml")
    assert not TABLE.is_public("POST", "/")
    assert not TABLE.is_public("GET", "/v1/search")
    assert not TABLE.is_public("GET", "")  # an empty PATH_INFO goes through authentication


def test_every_rule_documents_its_routes():
    """policy.py's DocumentedRuleDefault lists the operations each rule guards
    (oslopolicy-sample-generator prints them): every route names a rule that lists it."""
    operations = {rule.name: {(op["method"], op["path"]) for op in rule.operations}
                  for rule in policy.RULES if hasattr(rule, "operations")}
    for route in ROUTES:
        if route.rule is not None:
            assert (route.method, route.template.rstrip("/")) in operations[route.rule], route


@pytest.mark.parametrize(("method", "path", "handler", "params"), [
    ("GET", "/", "versions", {}),
    ("GET", "/v1/", "version", {}),
    ("POST", "/v1/search/", "search", {}),
    ("GET", "/v1/search/stacks/abc", "stack", {"stack_id": "abc"}),
    ("GET", "/v1/search/stacks/history", "stack", {"stack_id": "history"}),
    ("GET", "/v1/search/stacks/a.b-c/history", "stack_history", {"stack_id": "a.b-c"}),
    ("GET", "/v1/search/stacks/abc/diff", "stack_diff", {"stack_id": "abc"}),
    ("GET", "/v1/search/stacks/a\n", "stack", {"stack_id": "a\n"}),
])
def test_match(method, path, handler, params):
    route, found = TABLE.match(method, path)
    assert (route.handler, found) == (handler, params)


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("DELETE", "/v1/search", ("GET", "POST")),
    ("HEAD", "/", ("GET",)),
    ("POST", "/v1/search/stacks/x/history", ("GET",)),
    ("GET", "/v1/search/stacks/", ()),
    ("GET", "/v1/search/stacks//history", ()),
    ("GET", "/v1/search/stacks/a/b", ()),
    ("GET", "/v1/search/stacks/a/history/x", ()),
    ("GET", "/v1/searchx", ()),
    ("GET", "/V1/search", ()),
])
def test_no_route(method, path, allow):
    with pytest.raises(NoRoute) as caught:
        TABLE.match(method, path)
    assert caught.value.allow == allow


def test_templates_are_literal_outside_parameters():
    pattern = compile_template("/v1/a.b/{x}/c+d")
    assert pattern.fullmatch("/v1/a.b/1/c+d").groupdict() == {"x": "1"}
    assert pattern.fullmatch("/v1/aXb/1/c+d") is None
    assert pattern.fullmatch("/v1/a.b/1/ccd") is None


def test_wrong_method_answers_405_with_allow(api):
    resp = api.request("PUT", "/v1/search/stacks/alpha-shop/diff")
    assert resp.status_int == 405 and resp.headers["Allow"] == "GET"
    resp = api.request("DELETE", "/v1/search/")
    assert resp.status_int == 405 and resp.headers["Allow"] == "GET, POST"


# -- who imports what -------------------------------------------------------------------------


def _loaded_after_import(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, cwd=ROOT).stdout
    return set(out.split())


def test_the_api_does_not_import_the_ui():
    loaded = _loaded_after_import("heatseeker.api.app")
    assert not {m for m in loaded if m == "heatseeker.ui" or m.startswith("heatseeker.ui.")}


def test_the_answer_builder_needs_no_webob():
    assert "webob" not in _loaded_after_import("heatseeker.api.responses")


def test_source_selection_imports_only_query():
    tree = ast.parse((ROOT / "heatseeker" / "query" / "source.py").read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert all(not n.startswith("heatseeker") or n.startswith("heatseeker.query") for n in names)


def test_the_api_alone_serves_no_ui(api_engine):
    from heatseeker.api.app import build_app
    from heatseeker.searcher import Searcher

    api = Client(build_app(make_conf(), Searcher(api_engine)))
    assert api.call("GET", "/ui/login")[0] == 404  # whoever serves mounts the UI (with_ui)


# -- one answer builder: the CLI's --json is the API's answer ---------------------------------

QUERY = "status:UPDATE_FAILED OR status:UPDATE_COMPLETE"


def _cli_json(monkeypatch, capsys, api_engine, *argv: str) -> dict:
    monkeypatch.setattr(cli, "open_engine", lambda conf, read_only=False: api_engine)
    args = cli.build_parser().parse_args(["search", "--all-projects", "--json", *argv])
    assert args.func(make_conf(), args) == 0
    body = json.loads(capsys.readouterr().out)
    assert isinstance(body.pop("took"), int)
    return body


def _api_json(api, body: dict) -> dict:
    answer = api.search({"query": {"query_string": {"query": QUERY}}, "all_projects": True,
                         **body}, **ADMIN)
    assert isinstance(answer.pop("took"), int)
    return answer


def test_cli_rollup_json_is_the_api_answer(monkeypatch, capsys, api_engine, api):
    cli_body = _cli_json(monkeypatch, capsys, api_engine, "--rollup", "root", "--limit", "5",
                         QUERY)
    assert cli_body == _api_json(api, {"rollup": "root", "limit": 5})
    assert cli_body["rollup"] == {"matched_stacks": 4, "truncated": False, "total_relation": "eq"}
    assert cli_body["hits"]["hits"] and all("matches" in h for h in cli_body["hits"]["hits"])
    assert cli_body["_shards"] == {"total": 1, "successful": 1, "skipped": 0, "failed": 0}


def test_cli_search_json_is_the_api_answer(monkeypatch, capsys, api_engine, api):
    cli_body = _cli_json(monkeypatch, capsys, api_engine, "--limit", "5", QUERY)
    assert cli_body == _api_json(api, {"limit": 5, "version": True})
    assert cli_body["hits"]["total"] == 4 and "_shards" in cli_body
    assert all(isinstance(h["_version"], int) for h in cli_body["hits"]["hits"])


def test_cli_rollup_says_at_least_beyond_the_bound(monkeypatch, capsys, api_engine):
    """The CLI's roll-up total is exact up to ROLLUP_TOTAL_BOUND, then "at least"; with
    --exact-total it counts every root."""
    import heatseeker.searcher as searcher_mod

    monkeypatch.setattr(cli, "open_engine", lambda conf, read_only=False: api_engine)

    def text(*argv: str) -> str:
        args = cli.build_parser().parse_args(["search", "--all-projects", "--rollup", "root",
                                              *argv, QUERY])
        assert args.func(make_conf(), args) == 0
        return capsys.readouterr().out.splitlines()[0]

    exact = text()
    assert not exact.startswith("at least") and exact.split()[0].isdigit()
    roots = int(exact.split()[0])
    assert roots >= 2
    monkeypatch.setattr(searcher_mod, "ROLLUP_TOTAL_BOUND", 1)
    assert text("--limit", "1").startswith("at least 1 root stack(s)")
    assert text("--limit", "1", "--exact-total").startswith(f"{roots} root stack(s)")


def test_cli_exact_total_needs_a_rollup(monkeypatch, capsys, api_engine):
    monkeypatch.setattr(cli, "open_engine", lambda conf, read_only=False: api_engine)
    args = cli.build_parser().parse_args(["search", "--all-projects", "--exact-total", QUERY])
    assert args.func(make_conf(), args) == 2
    assert "--exact-total counts the root stacks of a --rollup root" in capsys.readouterr().err
