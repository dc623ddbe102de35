"""heatseeker.client and its openstackclient plugin, against a stub HTTP server: endpoint discovery
in a Keystone catalog (service type, interface, region, override), the error mapping (the API's
message kept), paging (search_after, offsets, a server maximum learnt), name-or-id resolution,
the commands' rows in table and JSON form, the plugin contract, no collision with
python-heatclient's or python-searchlightclient's command names, and that the client imports
nothing of the server. The real API, Keystone and the ``openstack`` CLI: tests/e2e/test_osc.py."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import tomllib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from keystoneauth1 import access, session
from keystoneauth1.identity import access as access_plugin

from heatseeker.client import Client, errors
from heatseeker.client.osc import common, history, plugin, search

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UUID1 = "0b6cbc4e-6c8d-4bd5-9c40-fb8f6a5e2f11"

# -- a stub API -----------------------------------------------------------------------------------

Route = Callable[[str, str, dict, Any], tuple[int, Any, dict]]


class _Handler(BaseHTTPRequestHandler):
    server: StubServer

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _answer(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.loads(raw) if raw else None
        self.server.seen.append({"method": self.command, "path": url.path, "query": query,
                                 "body": body, "token": self.headers.get("X-Auth-Token"),
                                 "agent": self.headers.get("User-Agent")})
        status, answer, headers = self.server.route(self.command, url.path, query, body)
        data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer


class StubServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self.seen: list[dict] = []
        self.route: Route = lambda method, path, query, body: (200, {}, {})


@pytest.fixture
def server() -> Iterator[StubServer]:
    srv = StubServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _endpoint(interface: str, url: str, region: str) -> dict:
    return {"id": f"{interface}-{region}", "interface": interface, "region": region,
            "region_id": region, "url": url}


def keystone_session(endpoints: list[dict], token: str = "tok-alice") -> session.Session:
    """A session whose token (as Keystone issues it) carries this catalog of 'search' endpoints."""
    body = {"token": {
        "methods": ["password"], "expires_at": "2999-01-01T00:00:00.000000Z",
        "issued_at": "2020-01-01T00:00:00.000000Z",
        "user": {"id": "u1", "name": "alice", "domain": {"id": "default", "name": "Default"}},
        "project": {"id": "p1", "name": "alpha", "domain": {"id": "default", "name": "Default"}},
        "catalog": [{"type": "search", "name": "heatseeker", "id": "s1",
                     "endpoints": endpoints}] if endpoints else [],
    }}
    return session.Session(auth=access_plugin.AccessInfoPlugin(
        access.create(body=body, auth_token=token)))


@pytest.fixture
def client(server: StubServer) -> Client:
    return Client(keystone_session([_endpoint("public", server.url, "RegionOne")]))


def ok(body: Any) -> tuple[int, Any, dict]:
    return 200, body, {}


def api_error(status: int, message: str) -> tuple[int, Any, dict]:
    return status, {"error": {"code": status, "title": "t", "message": message}}, \
        {"x-openstack-request-id": "req-123"}


# -- endpoint discovery ---------------------------------------------------------------------------


def test_endpoint_from_the_catalog_by_interface_and_region(server):
    server.route = lambda *a: ok({"plugins": [{"type": "OS::Heat::Stack"}]})
    sess = keystone_session([
        _endpoint("public", server.url + "/pub", "RegionOne"),
        _endpoint("internal", server.url + "/int/v1/", "RegionOne"),  # registered with /v1
        _endpoint("public", server.url + "/two", "RegionTwo"),
    ])
    Client(sess).plugins()
    Client(sess, interface="internal").plugins()
    Client(sess, region_name="RegionTwo").plugins()
    assert [s["path"] for s in server.seen] == [
        "/pub/v1/search/plugins", "/int/v1/search/plugins", "/two/v1/search/plugins"]
    assert {s["token"] for s in server.seen} == {"tok-alice"}
    assert server.seen[0]["agent"].startswith("heatseeker/")


def test_no_search_endpoint_names_what_was_looked_for(server):
    sess = keystone_session([_endpoint("public", server.url, "RegionOne")])
    with pytest.raises(errors.EndpointNotFound) as exc:
        Client(sess, region_name="RegionTwo").plugins()
    assert "'search'" in str(exc.value) and "RegionTwo" in str(exc.value)
    with pytest.raises(errors.EndpointNotFound):
        Client(keystone_session([])).plugins()
    assert exc.value.status is None and not server.seen


def test_endpoint_override_skips_the_catalog(server):
    server.route = lambda *a: ok({"plugins": []})
    Client(keystone_session([]), endpoint_override=server.url + "/over/").plugins()
    assert server.seen[0]["path"] == "/over/v1/search/plugins"


def test_nobody_listening_is_unreachable():
    sess = keystone_session([_endpoint("public", "http://127.0.0.1:9", "RegionOne")])
    with pytest.raises(errors.Unreachable) as exc:
        Client(sess).plugins()
    assert "http://127.0.0.1:9" in str(exc.value)


# -- errors ---------------------------------------------------------------------------------------


def test_credentials_keystone_refuses(server):
    from keystoneauth1.identity import v3

    server.route = lambda *a: (401, {"error": {"code": 401, "title": "Unauthorized",
                                               "message": "The request you have made requires "
                                               "authentication."}}, {})
    sess = session.Session(auth=v3.Password(
        auth_url=server.url + "/v3", username="alice", password="wrong", project_name="alpha",
        user_domain_id="default", project_domain_id="default"))
    with pytest.raises(errors.Unauthorized) as exc:
        Client(sess).plugins()
    assert exc.value.status == 401 and "Keystone refused the credentials" in str(exc.value)
    assert [s["path"] for s in server.seen] == ["/v3/auth/tokens"]


@pytest.mark.parametrize("status,cls", [
    (400, errors.BadRequest), (401, errors.Unauthorized), (403, errors.Forbidden),
    (404, errors.NotFound), (413, errors.RequestTooLarge), (503, errors.ServiceUnavailable),
    (500, errors.HeatseekerError),
])
def test_errors_carry_the_apis_message(server, client, status, cls):
    server.route = lambda *a: api_error(status, "unknown field 'statuz'")
    with pytest.raises(cls) as exc:
        client.search("statuz:x")
    err = exc.value
    assert type(err) is cls and isinstance(err, errors.HeatseekerError)
    assert (err.status, err.message, err.request_id) == (status, "unknown field 'statuz'",
                                                           "req-123")
    assert str(err).startswith(f"unknown field 'statuz' (HTTP {status}) (Request-ID: req-123)")


def test_errors_without_the_apis_json(server, client):
    server.route = lambda *a: (401, {"error": {"message": "The request you have made requires "
                                                         "authentication.", "code": 401}}, {})
    with pytest.raises(errors.Unauthorized) as exc:
        client.plugins()
    assert "requires authentication" in str(exc.value) and "expired" in str(exc.value)
    server.route = lambda *a: (502, b"<html><body>Bad Gateway</body></html>", {})
    with pytest.raises(errors.HeatseekerError) as exc2:
        client.plugins()
    assert exc2.value.status == 502 and exc2.value.message == "Bad Gateway"
    server.route = lambda *a: (200, b"not json", {})
    with pytest.raises(errors.HeatseekerError, match="without JSON"):
        client.plugins()


# -- search and paging ----------------------------------------------------------------------------

STACKS = [{"id": f"{i:08d}-0000-0000-0000-000000000000", "name": n, "status": "CREATE_COMPLETE",
           "path": ["root", n], "project_id": "p1"}
          for i, n in enumerate(["web", "db", "web", "app", "cache", "lb", "queue", "api"])]


def fake_search(stacks: list[dict], max_limit: int = 1000, rollup_bound: int | None = None) -> Route:
    """POST /v1/search over ``stacks``: term queries on id/name (in a bool should), sort by
    name (the cursor: name, id), search_after, offset, limit, roll-up by offset (its total
    capped at ``rollup_bound`` with ``total_relation`` "gte", as the API's default bound)."""

    def route(method, path, query, body):
        assert (method, path) == ("POST", "/v1/search")
        if (body.get("limit") or 0) > max_limit:
            return api_error(400, f"limit {body['limit']} is too large: at most {max_limit} "
                                  "allowed")
        q = body.get("query") or {}
        terms = [c["term"] for c in q.get("bool", {}).get("should", [])] or \
            ([q["term"]] if "term" in q else [])
        found = [s for s in stacks if not terms
                 or any(s.get(k) == v for t in terms for k, v in t.items())]
        found.sort(key=lambda s: (s["name"], s["id"]))
        if body.get("search_after"):
            after = tuple(body["search_after"])
            found = [s for s in found if (s["name"], s["id"]) > after]
        start = body.get("offset") or 0
        page = found[start:start + body.get("limit", 25)]
        total = len(found) if not body.get("search_after") else len(stacks)
        hits = [{"_id": s["id"], "_source": s, "sort": [s["name"], s["id"]]} for s in page]
        answer: dict = {"hits": {"total": total, "hits": hits}, "took": 1}
        if body.get("rollup"):
            for h in hits:
                h.update(matched=1, matches=[{"id": h["_id"], "path": h["_source"]["path"],
                                              "depth": 1}])
            relation = "eq"
            if rollup_bound is not None and total > rollup_bound:
                answer["hits"]["total"], relation = max(rollup_bound, start + len(page)), "gte"
            answer["rollup"] = {"matched_stacks": total, "truncated": False,
                                "total_relation": relation}
        return ok(answer)

    return route


def test_search_body(server, client):
    server.route = fake_search(STACKS)
    page = client.search("parameters.image:cirros", rollup=True, under=UUID1, all_projects=True,
                         limit=2, offset=1, source=["id"])
    assert server.seen[-1]["body"] == {
        "type": "OS::Heat::Stack", "query": {"query_string": {"query": "parameters.image:cirros"}},
        "rollup": "root", "under": UUID1, "all_projects": True, "limit": 2, "offset": 1,
        "_source": ["id"]}
    assert page.total == len(STACKS) and len(page.hits) == 2
    client.search({"term": {"name": "web"}}, sort=["name", "updated_at:desc"],
                  search_after=["web", "x"])
    assert server.seen[-1]["body"] == {
        "type": "OS::Heat::Stack", "query": {"term": {"name": "web"}},
        "sort": ["name", "updated_at:desc"], "search_after": ["web", "x"]}
    client.search()
    assert server.seen[-1]["body"] == {"type": "OS::Heat::Stack"}


def test_iter_search_walks_every_page_with_search_after(server):
    server.route = fake_search(STACKS)
    client = Client(keystone_session([_endpoint("public", server.url, "RegionOne")]),
                    page_size=3)
    want = [s["id"] for s in sorted(STACKS, key=lambda s: (s["name"], s["id"]))]
    assert [h["_id"] for h in client.iter_search()] == want
    bodies = [s["body"] for s in server.seen]
    assert [b.get("search_after") for b in bodies] == [
        None, ["cache", STACKS[4]["id"]], ["queue", STACKS[6]["id"]]]
    assert {b["limit"] for b in bodies} == {3} and all(b["sort"] == "name" for b in bodies)
    server.seen.clear()
    assert [h["_id"] for h in client.iter_search(limit=4)] == want[:4]
    assert [s["body"]["limit"] for s in server.seen] == [3, 1]
    # continuing after a marker: its cursor, then the rest
    cursor = client.cursor(want[2])
    assert cursor == ["cache", want[2]]
    assert [h["_id"] for h in client.iter_search(search_after=cursor)] == want[3:]


def test_a_smaller_server_maximum_is_learnt(server):
    server.route = fake_search(STACKS, max_limit=2)
    client = Client(keystone_session([_endpoint("public", server.url, "RegionOne")]))
    assert len(list(client.iter_search())) == len(STACKS)
    assert client.page_size == 2
    server.route = lambda *a: api_error(400, "unknown field 'x'")
    with pytest.raises(errors.BadRequest):
        list(client.iter_search("x:1"))


def test_iter_search_by_score_pages_by_offset(server):
    server.route = fake_search(STACKS)
    client = Client(keystone_session([_endpoint("public", server.url, "RegionOne")]),
                    page_size=5)
    assert len(list(client.iter_search(sort="_score"))) == len(STACKS)
    assert [(s["body"].get("offset"), s["body"].get("search_after")) for s in server.seen] == [
        (None, None), (5, None)]


def test_iter_roots_pages_by_offset(server):
    server.route = fake_search(STACKS)
    client = Client(keystone_session([_endpoint("public", server.url, "RegionOne")]),
                    page_size=3)
    roots = list(client.iter_roots("x", offset=1))
    assert len(roots) == len(STACKS) - 1 and all(r["matched"] == 1 for r in roots)
    assert [s["body"]["offset"] for s in server.seen] == [1, 4, 7]
    assert all(s["body"]["rollup"] == "root" for s in server.seen)


def test_iter_roots_goes_past_a_total_that_is_a_lower_bound(server):
    """A roll-up's total beyond the server's bound is "at least" (``total_relation`` gte): the
    client pages on until a short page, and stops at an exact total as before."""
    server.route = fake_search(STACKS, rollup_bound=2)
    client = Client(keystone_session([_endpoint("public", server.url, "RegionOne")]),
                    page_size=3)
    assert len(list(client.iter_roots("x"))) == len(STACKS)


# -- a stack by name or id ------------------------------------------------------------------------


def test_find_stack_by_id_or_name(server, client):
    server.route = fake_search(STACKS + [{"id": "app", "name": "db", "path": ["db"]}])
    assert client.find_stack(STACKS[3]["id"])["name"] == "app"
    assert client.find_stack("app")["id"] == "app"  # an id wins over another stack's name
    assert client.find_stack(" cache ")["id"] == STACKS[4]["id"]
    body = server.seen[-1]["body"]
    assert body["query"] == {"bool": {"should": [{"term": {"id": "cache"}},
                                                 {"term": {"name": "cache"}}],
                                      "minimum_should_match": 1}}
    with pytest.raises(errors.AmbiguousStack) as exc:
        client.find_stack("web", all_projects=True)
    assert server.seen[-1]["body"]["all_projects"] is True
    assert {c["id"] for c in exc.value.candidates} == {STACKS[0]["id"], STACKS[2]["id"]}
    assert "2 stacks you may see are named 'web'" in str(exc.value) and STACKS[0]["id"] in \
        str(exc.value)
    with pytest.raises(errors.StackNotFound, match="no stack named 'nope'"):
        client.find_stack("nope")
    with pytest.raises(errors.StackNotFound):
        client.find_stack("  ")
    # an id heatseeker no longer indexes (a deleted stack keeps its history): passed on
    assert client.find_stack(UUID1) == {"id": UUID1}
    assert isinstance(errors.StackNotFound("x"), errors.NotFound)


# -- the other endpoints --------------------------------------------------------------------------


def test_endpoints_and_their_parameters(server, client):
    server.route = lambda method, path, query, body: ok(
        {"OS::Heat::Stack": {"doc_count": 3, "facets": []}} if path.endswith("facets") else {})
    assert client.facets(all_projects=True, limit_terms=5)["doc_count"] == 3
    client.facets()
    client.show("a/b")
    client.uses("cirros", exact=True, under=UUID1)
    client.uses("cirros")
    client.history(UUID1, revision=2, all_projects=True)
    client.diff(UUID1, 1, 3)
    client.diff(UUID1)
    client.changes("parameters.image", since="7d", include_created=True, limit=10)
    client.changes()
    got = [(s["method"], s["path"], s["query"]) for s in server.seen]
    assert got == [
        ("GET", "/v1/search/facets", {"type": "OS::Heat::Stack", "include_fields": "true",
                                      "exclude_options": "false", "limit_terms": "5",
                                      "all_projects": "true"}),
        ("GET", "/v1/search/facets", {"type": "OS::Heat::Stack", "include_fields": "true",
                                      "exclude_options": "false"}),
        ("GET", "/v1/search/stacks/a%2Fb", {}),
        ("GET", "/v1/search/uses", {"value": "cirros", "exact": "true", "under": UUID1}),
        ("GET", "/v1/search/uses", {"value": "cirros"}),
        ("GET", f"/v1/search/stacks/{UUID1}/history", {"revision": "2", "all_projects": "true"}),
        ("GET", f"/v1/search/stacks/{UUID1}/diff", {"from": "1", "to": "3"}),
        ("GET", f"/v1/search/stacks/{UUID1}/diff", {}),
        ("GET", "/v1/search/changes", {"field": "parameters.image", "since": "7d",
                                       "include_created": "true", "limit": "10"}),
        ("GET", "/v1/search/changes", {}),
    ]


# -- the commands ---------------------------------------------------------------------------------


class _App:
    def __init__(self, client: Client):
        self.client_manager = argparse.Namespace(heatseeker=client)
        self.stderr = self
        self.notes: list[str] = []

    def write(self, text: str) -> None:
        self.notes.append(text)


def run(cls: type, client: Client, *argv: str) -> tuple[list[str], list[dict], _App]:
    """A command's columns, and its rows as ``-f json`` gives them (machine-readable)."""
    app = _App(client)
    cmd = cls(app, None)
    args = cmd.get_parser("openstack stack x").parse_args(list(argv))
    columns, data = cmd.take_action(args)
    rows = [{c: (v.machine_readable() if hasattr(v, "machine_readable") else v)
             for c, v in zip(columns, row, strict=True)} for row in data]
    return list(columns), rows, app


def test_stack_search_rows(server, client):
    server.route = fake_search(STACKS)
    columns, rows, _ = run(search.SearchStacks, client, "--limit", "3", "--all-projects")
    assert columns == ["ID", "Stack Name", "Project", "Path", "Stack Status", "Updated Time"]
    assert [r["Stack Name"] for r in rows] == ["api", "app", "cache"]
    assert rows[0]["Path"] == ["root", "api"] and rows[0]["Project"] == "p1"
    assert server.seen[-1]["body"]["_source"] == ["id", "name", "project_id", "path", "status",
                                                  "updated_at"]
    # after a marker, by name or id; under a stack named by its name
    _, rows, _ = run(search.SearchStacks, client, "--marker", STACKS[4]["id"], "--limit", "2")
    assert [r["Stack Name"] for r in rows] == ["db", "lb"]
    columns, rows, _ = run(search.SearchStacks, client, "--rollup", "--under", "queue", "x")
    assert columns == ["ID", "Stack Name", "Stack Status", "Updated Time", "Matched", "Matches"]
    assert server.seen[-1]["body"]["under"] == STACKS[6]["id"]
    assert rows[0]["Matches"] == [{"id": rows[0]["ID"], "path": ["root", "api"], "depth": 1}]
    _, rows, _ = run(search.SearchStacks, client, "--dsl", '{"term": {"name": "web"}}')
    assert {r["ID"] for r in rows} == {STACKS[0]["id"], STACKS[2]["id"]}


@pytest.mark.parametrize("argv,message", [
    (("--dsl", "{not json"), "not JSON"),
    (("--dsl", "[1]"), "JSON object"),
    (("--dsl",), "needs a <query>"),
    (("--rollup", "--marker", "x"), "--marker and --sort do not apply"),
    (("--offset", "2"), "--offset pages a --rollup"),
])
def test_stack_search_usage_errors(client, argv, message):
    from osc_lib import exceptions

    with pytest.raises(exceptions.CommandError, match=message):
        run(search.SearchStacks, client, *argv)


def test_columns_table_and_json_forms():
    assert common.PathColumn(["a", "b"]).human_readable() == "a / b"
    assert common.PathColumn(None).machine_readable() == []
    assert common.ValueColumn({"b": 1, "a": [1]}).human_readable() == '{"a": [1], "b": 1}'
    assert common.ValueColumn("x").human_readable() == "x"
    assert common.ValueColumn({"a": 1}).machine_readable() == {"a": 1}
    where = [{"path": "parameters.image", "match": "exact", "value": "c"},
             {"path": "outputs.u", "match": "within", "value": "http://c/x"}]
    assert common.WhereColumn(where).human_readable() == \
        "parameters.image\noutputs.u  (within: http://c/x)"
    assert common.OptionsColumn([{"key": "A", "doc_count": 2}]).human_readable() == "A (2)"
    assert common.MatchesColumn([{"id": "i", "path": ["r", "c"], "depth": 1}]).human_readable() \
        == "r / c"


def test_history_diff_changes_uses_facets_rows(server, client):
    revisions = [{"revision": 1, "at": "2026-11-25T12:20:01Z", "status": "CREATE_COMPLETE",
                  "action": "CREATE", "user_id": "u1", "user_name": None, "request_id": "r1",
                  "project_id": "p1", "changed": []},
                 {"revision": 2, "at": "2026-11-25T12:20:17Z", "status": "UPDATE_COMPLETE",
                  "action": "UPDATE", "user_id": "u1", "user_name": "alice", "request_id": "r2",
                  "project_id": "p1", "changed": ["parameters.image"]}]
    change = {"path": "resources.box.properties", "kind": "changed", "old": {"f": "m1.small"},
              "new": {"f": "m1.large"}}

    def route(method, path, query, body):
        if method == "POST":
            return fake_search(STACKS)(method, path, query, body)
        if path.endswith("/history"):
            return ok({"stack_id": UUID1, "name": "web", "deleted": True,
                       "revisions": revisions})
        if path.endswith("/diff"):
            return ok({"name": "web", "from": revisions[0], "to": revisions[1],
                       "changes": [change]})
        if path.endswith("/changes"):
            return ok({"total": 2, "truncated": True, "changes": [
                dict(change, stack_id=UUID1, name="web", revision=2, previous_revision=1,
                     at="2026-11-25T12:20:17Z", status="UPDATE_COMPLETE")]})
        if path.endswith("/uses"):
            return ok({"truncated": False, "stacks": [
                {"id": UUID1, "name": "web", "path": ["web"], "status": "CREATE_COMPLETE",
                 "where": [{"path": "parameters.image", "match": "exact", "value": "c"}]}]})
        return ok({"OS::Heat::Stack": {"doc_count": 8, "facets": [
            {"name": "status", "type": "string",
             "options": [{"key": "CREATE_COMPLETE", "doc_count": 8}]}]}})

    server.route = route
    columns, rows, app = run(history.StackHistory, client, UUID1, "--long")
    assert columns == ["Revision", "At", "Stack Status", "User", "Request ID", "Changed",
                       "Action", "User ID", "Project"]
    assert [(r["Revision"], r["User"], r["Changed"]) for r in rows] == [
        (1, "u1", []), (2, "alice", ["parameters.image"])]
    assert "was deleted" in "".join(app.notes)
    columns, rows, app = run(history.StackDiff, client, UUID1, "1", "2")
    assert columns == ["Path", "Kind", "Old", "New"]
    assert rows == [{"Path": "resources.box.properties", "Kind": "changed",
                     "Old": {"f": "m1.small"}, "New": {"f": "m1.large"}}]
    assert "revision 1 (CREATE_COMPLETE" in "".join(app.notes)
    assert server.seen[-1]["query"] == {"from": "1", "to": "2"}
    columns, rows, app = run(history.StackChanges, client, "parameters.image", "--since", "1h")
    assert columns[:4] == ["At", "Stack ID", "Stack Name", "Revision"]
    assert rows[0]["Revision"] == 2 and rows[0]["Old"] == {"f": "m1.small"}
    assert "more than 1 changes matched" in "".join(app.notes)
    columns, rows, _ = run(search.StackUses, client, "c", "--all-projects")
    assert columns == ["ID", "Stack Name", "Project", "Path", "Stack Status", "Where"]
    assert rows[0]["Where"] == [{"path": "parameters.image", "match": "exact", "value": "c"}]
    columns, rows, _ = run(search.SearchFacets, client, "--limit-terms", "3")
    assert rows == [{"Name": "status", "Type": "string",
                     "Options": [{"key": "CREATE_COMPLETE", "doc_count": 8}]}]
    with pytest.raises(Exception, match="a revision is a number from 1"):
        run(history.StackDiff, client, UUID1, "0")


# -- the plugin contract, entry points, names -----------------------------------------------------


def _pyproject() -> dict:
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)


def test_plugin_contract():
    assert plugin.API_NAME == "heatseeker" and plugin.API_VERSION_OPTION == \
        "os_heatseeker_api_version"
    assert set(plugin.API_VERSIONS) == {plugin.DEFAULT_API_VERSION}
    parser = plugin.build_option_parser(argparse.ArgumentParser())
    assert parser.parse_args([]).os_heatseeker_api_version == "1"

    class Instance:
        session = keystone_session([])
        region_name = "RegionTwo"
        interface = "internal"

        def get_configuration(self):
            return {"search_endpoint_override": "http://override:9393"}

    made = plugin.make_client(Instance())
    assert isinstance(made, Client)
    assert (made.http.region_name, made.http.interface, made.endpoint) == (
        "RegionTwo", "internal", "http://override:9393")


def test_entry_points_name_every_command():
    eps = _pyproject()["project"]["entry-points"]
    assert eps["openstack.cli.extension"] == {"heatseeker": "heatseeker.client.osc.plugin"}
    group = eps[f"openstack.{plugin.API_NAME}.v{plugin.DEFAULT_API_VERSION}"]
    assert set(group) == {"stack_search", "stack_search_facets", "stack_uses", "stack_history",
                          "stack_diff", "stack_changes"}
    from osc_lib.command import command

    for target in group.values():
        module, _, name = target.partition(":")
        cls = getattr(__import__(module, fromlist=[name]), name)
        assert issubclass(cls, command.Lister), target


# python-searchlightclient 2.1.1 (its last release, 2020): its plugin and commands
SEARCHLIGHTCLIENT = {"api_name": "search", "commands": {
    "search_facet_list", "search_query", "search_resource_type_list"}}


def test_no_collision_with_heatclient_or_searchlightclient():
    ours = set(_pyproject()["project"]["entry-points"]["openstack.heatseeker.v1"])
    heat = {e.name for e in metadata.entry_points(group="openstack.orchestration.v1")}
    assert "stack_list" in heat and "stack_show" in heat  # python-heatclient is installed
    assert not ours & heat
    assert not ours & SEARCHLIGHTCLIENT["commands"]
    # the plugin's name (its global option, its client_manager attribute) is neither's
    heat_plugin = {e.name: e.value for e in metadata.entry_points(group="openstack.cli.extension")}
    assert "orchestration" in heat_plugin
    assert plugin.API_NAME not in {"orchestration", SEARCHLIGHTCLIENT["api_name"]}
    # cliff picks the longest command name that prefixes the words typed: our two-word names
    # under "stack" must not be a prefix of one of heatclient's (or the reverse)
    for a in ours:
        for b in heat:
            assert not b.startswith(a + "_") and not a.startswith(b + "_"), (a, b)


def test_the_client_imports_nothing_of_the_server():
    code = ("import sys, heatseeker.client, heatseeker.client.osc.plugin, "
            "heatseeker.client.osc.search, heatseeker.client.osc.history; "
            "print(sorted(m for m in sys.modules if m.startswith('heatseeker') or m in "
            "('tantivy', 'oslo_messaging', 'webob', 'opensearchpy', 'oslo_config')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    loaded = set(eval(out))  # noqa: S307 - our own print of a list of strings
    assert loaded <= {"heatseeker", "heatseeker.client", "heatseeker.client.client",
                      "heatseeker.client.errors", "heatseeker.client.osc",
                      "heatseeker.client.osc.plugin", "heatseeker.client.osc.search",
                      "heatseeker.client.osc.history", "heatseeker.client.osc.common"}, loaded
