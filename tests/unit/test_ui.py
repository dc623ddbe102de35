"""The web UI's server side, in process: sign-in and sessions, CSRF and same-origin checks, the
page shells and static files, and the proxy to the API (identity only from the session).

Two setups: the real API over the 40-stack CORPUS in trusted-headers mode (the UI's "pick a
project" sign-in), and keystone mode with a stand-in sign-in and a stand-in API that records
what reached it.
"""

from __future__ import annotations

import json
import re
from http.cookies import SimpleCookie

import pytest
import webob

pytest.register_assert_rewrite("tests.unit.api_fixtures")

from heatseeker.api.app import build_app  # noqa: E402
from heatseeker.record import Store  # noqa: E402
from heatseeker.searcher import Searcher  # noqa: E402
from heatseeker.ui import server as ui  # noqa: E402
from tests.unit.api_fixtures import ids_of, make_conf  # noqa: E402

pytest_plugins = ["tests.unit.api_fixtures"]

HOST = "http://localhost"


class Browser:
    """Cookies kept per path, like a browser on one site (SameSite is the browser's business)."""

    def __init__(self, app, base: str = HOST):
        self.app = app
        self.base = base
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, *, form: dict | None = None, body=None,
                headers: dict | None = None, cookies: bool = True) -> webob.Response:
        req = webob.Request.blank(path, method=method, base_url=self.base,
                                  POST=form if form is not None else None)
        if body is not None:
            req.body = json.dumps(body).encode()
            req.content_type = "application/json"
        if cookies and self.cookies:
            req.headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for k, v in (headers or {}).items():
            req.headers[k] = v
        resp = req.get_response(self.app)
        for raw in resp.headers.getall("Set-Cookie"):
            c = SimpleCookie()
            c.load(raw)
            for name, morsel in c.items():
                if morsel["max-age"] == "0" or "1970" in morsel["expires"]:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return resp

    def get(self, path: str, **kw) -> webob.Response:
        return self.request("GET", path, **kw)

    def login_nonce(self) -> str:
        page = self.get("/ui/login").text
        return re.search(r'name="csrf" value="([^"]+)"', page).group(1)

    def csrf(self) -> str:
        page = self.get("/ui/").text
        return re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)

    def search(self, body: dict, csrf: str | None = None, **kw) -> webob.Response:
        headers = {"X-CSRF-Token": csrf if csrf is not None else self.csrf()}
        headers.update(kw.pop("headers", {}))
        return self.request("POST", "/ui/api/v1/search", body=body, headers=headers, **kw)


def set_cookie(resp: webob.Response, name: str) -> str:
    for raw in resp.headers.getall("Set-Cookie"):
        if raw.startswith(name + "="):
            return raw
    raise AssertionError(f"no Set-Cookie {name} in {resp.headers.getall('Set-Cookie')}")


# -- trusted-headers mode, the real API -----------------------------------------------------


@pytest.fixture(scope="module")
def app(api_engine):
    conf = make_conf()
    Store.from_conf(conf, create=True).close()  # an installation's record (sessions live there)
    return ui.with_ui(conf, build_app(conf, Searcher(api_engine)))  # as the servers compose them


def signed_in(app, project: str = "p-alpha", admin: bool = False, base: str = HOST) -> Browser:
    b = Browser(app, base)
    form = {"csrf": b.login_nonce(), "project": project, "next": "/ui/?q=x"}
    if admin:
        form["admin"] = "1"
    resp = b.request("POST", "/ui/login", form=form)
    assert resp.status_int == 303 and resp.location.endswith("/ui/?q=x"), resp
    return b


def test_versions_document_unchanged_and_ui_needs_sign_in(app):
    b = Browser(app)
    assert b.get("/").status_int == 300
    assert b.get("/ui").status_int == 301 and b.get("/ui").location.endswith("/ui/")
    resp = b.get("/ui/?q=status:CREATE_FAILED")
    assert resp.status_int == 303
    assert resp.location.endswith("/ui/login?next=%2Fui%2F%3Fq%3Dstatus%3ACREATE_FAILED")
    stack = b.get("/ui/stacks/abc")
    assert stack.status_int == 303 and "/ui/login?next=%2Fui%2Fstacks%2Fabc" in stack.location
    assert b.get("/ui/nope").status_int == 404


def test_login_form_and_session_cookie_attributes(app):
    b = Browser(app)
    page = b.get("/ui/login?next=/ui/stacks/x")
    assert page.status_int == 200 and "Development mode" in page.text
    assert 'name="password"' not in page.text  # trusted-headers: pick a project
    nonce_cookie = set_cookie(page, ui.LOGIN_COOKIE).lower()
    assert "httponly" in nonce_cookie and "samesite=strict" in nonce_cookie
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert page.headers["X-Frame-Options"] == "DENY"
    nonce = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    resp = b.request("POST", "/ui/login", form={"csrf": nonce, "project": "p-alpha",
                                                "next": "/ui/stacks/x"})
    assert resp.status_int == 303 and resp.location.endswith("/ui/stacks/x")
    cookie = set_cookie(resp, ui.COOKIE).lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/ui/" in cookie
    assert "secure" not in cookie  # plain http
    assert len(b.cookies[ui.COOKIE]) >= 40  # a random id, nothing else
    https = Browser(app, "https://localhost")
    resp = https.request("POST", "/ui/login", form={"csrf": https.login_nonce(),
                                                    "project": "p-alpha"})
    assert "; secure" in set_cookie(resp, ui.COOKIE).lower()
    # behind a TLS-terminating proxy: the page's origin is https, this server sees http
    proxied = Browser(app)
    resp = proxied.request("POST", "/ui/login",
                           form={"csrf": proxied.login_nonce(), "project": "p-alpha"},
                           headers={"Origin": "https://localhost", "X-Forwarded-Proto": "https"})
    assert resp.status_int == 303 and "; secure" in set_cookie(resp, ui.COOKIE).lower()


def test_login_refuses_forged_forms_and_open_redirects(app):
    b = Browser(app)
    nonce = b.login_nonce()
    # a form without the nonce its cookie holds (another site's form)
    assert b.request("POST", "/ui/login", form={"csrf": "forged", "project": "p-alpha"}) \
        .status_int == 403
    # the right nonce, but from another origin
    resp = b.request("POST", "/ui/login", form={"csrf": nonce, "project": "p-alpha"},
                     headers={"Origin": "https://evil.example"})
    assert resp.status_int == 403 and ui.COOKIE not in b.cookies
    for nxt in ("https://evil.example/", "//evil.example/ui/", "/ui\\..\\x", "/v1/search",
                "javascript:alert(1)"):
        b2 = Browser(app)
        resp = b2.request("POST", "/ui/login", form={"csrf": b2.login_nonce(), "project": "p",
                                                     "next": nxt})
        assert resp.status_int == 303 and resp.location == HOST + "/ui/", nxt
    b3 = Browser(app)
    resp = b3.request("POST", "/ui/login", form={"csrf": b3.login_nonce(), "project": " "})
    assert resp.status_int == 401 and "Pick a project" in resp.text


def test_shell_carries_a_csrf_token_and_no_secret(app):
    b = signed_in(app)
    page = b.get("/ui/")
    assert page.status_int == 200 and page.cache_control.no_store
    assert 'data-project="p-alpha"' in page.text and 'data-admin="false"' in page.text
    assert re.search(r'<meta name="csrf-token" content="[^"]{30,}">', page.text)
    assert b.cookies[ui.COOKIE] not in page.text  # the session id stays in the cookie
    assert "<script src=\"/ui/static/app.js?v=" in page.text
    assert "http://" not in page.text.replace(HOST, "") and "https://" not in page.text
    assert b.get("/ui/stacks/some-id").status_int == 200


def test_static_files_cached_and_conditional(app):
    b = Browser(app)
    js = b.get("/ui/static/app.js")
    assert js.status_int == 200 and js.content_type == "text/javascript"
    assert b.get("/ui/static/app.css").content_type == "text/css"
    etag = js.headers["ETag"]
    assert b.get("/ui/static/app.js", headers={"If-None-Match": etag}).status_int == 304
    versioned = b.get(f"/ui/static/app.js?v={etag.strip(chr(34))}")
    assert "max-age=86400" in versioned.headers["Cache-Control"]
    assert b.get("/ui/static/../server.py").status_int == 404
    assert b.get("/ui/static/nope.js").status_int == 404
    # nothing the page loads comes from elsewhere
    for name in ui._asset_versions():
        with open(f"{ui.STATIC}/{name}") as f:
            text = f.read()
        assert not re.search(r"(src|href)=[\"']?(https?:)?//", text), name
        assert "@import" not in text and "url(http" not in text, name


def test_proxy_uses_only_the_sessions_identity(app):
    alice = signed_in(app, "p-alpha")
    # the browser claims another project and the admin role: ignored
    forged = {"X-Project-Id": "p-beta", "X-Roles": "admin", "X-Is-Admin-Project": "True",
              "X-Identity-Status": "Confirmed", "X-Auth-Token": "x"}
    resp = alice.search({"limit": 100, "_source": ["project_id"]}, headers=forged)
    assert resp.status_int == 200, resp.text
    hits = resp.json["hits"]["hits"]
    assert {h["_id"] for h in hits} == ids_of("p-alpha")
    facets = alice.get("/ui/api/v1/search/facets", headers=forged).json["OS::Heat::Stack"]
    assert facets["doc_count"] == len(ids_of("p-alpha"))
    # all_projects is the API's decision: a member is refused
    r = alice.get("/ui/api/v1/search/facets?all_projects=true", headers=forged)
    assert r.status_int == 403 and "all_projects" in r.json["error"]["message"]
    other = next(iter(ids_of("p-beta")))
    assert alice.get(f"/ui/api/v1/search/stacks/{other}").status_int == 404
    # a cloud admin (development sign-in) may look at every project
    admin = signed_in(app, "p-admin", admin=True)
    assert 'data-admin="true"' in admin.get("/ui/").text
    every = admin.search({"limit": 100, "all_projects": True}).json["hits"]["hits"]
    assert ids_of("p-beta") <= {h["_id"] for h in every}


def test_proxy_csrf_and_method_rules(app):
    b = signed_in(app)
    csrf = b.csrf()
    assert b.search({}, csrf="wrong").status_int == 403
    assert b.search({}, csrf="").status_int == 403
    r = b.search({}, csrf=csrf, headers={"Origin": "https://evil.example"})
    assert r.status_int == 403
    r = b.search({}, csrf=csrf, headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status_int == 403
    assert b.search({}, csrf=csrf, headers={"Origin": HOST}).status_int == 200
    # POST only to the search; other methods never
    assert b.request("POST", "/ui/api/v1/search/facets", body={},
                     headers={"X-CSRF-Token": csrf}).status_int == 405
    assert b.request("DELETE", "/ui/api/v1/search").status_int == 405
    assert b.get("/ui/api/admin").status_int == 404
    # the API's own errors come through as they are
    bad = b.search({"query": {"query_string": {"query": "nosuchfield:x"}}}, csrf=csrf)
    assert bad.status_int == 400 and "nosuchfield" in bad.json["error"]["message"]


def test_no_session_no_proxy(app):
    b = Browser(app)
    r = b.get("/ui/api/v1/search/facets")
    assert r.status_int == 401 and r.json["signin"].startswith("/ui/login")
    r = b.get("/ui/api/v1/search/facets", headers={"Cookie": f"{ui.COOKIE}=made-up"})
    assert r.status_int == 401


def test_sign_out(app):
    b = signed_in(app)
    sid = b.cookies[ui.COOKIE]
    csrf = b.csrf()
    assert b.request("POST", "/ui/logout", form={"csrf": "wrong"}).status_int == 403
    assert b.get("/ui/").status_int == 200  # still signed in
    assert b.request("GET", "/ui/logout").status_int == 405
    resp = b.request("POST", "/ui/logout", form={"csrf": csrf})
    assert resp.status_int == 303 and resp.location.endswith("/ui/login?reason=signed-out")
    assert ui.COOKIE not in b.cookies
    # the old id is dead even if replayed
    b.cookies[ui.COOKIE] = sid
    assert b.get("/ui/").status_int == 303
    assert b.get("/ui/api/v1/search/facets").status_int == 401


def test_ui_can_be_disabled(api_engine):
    conf = make_conf()
    conf.set_override("enabled", False, group="ui")
    app = ui.with_ui(conf, build_app(conf, Searcher(api_engine)))
    assert Browser(app).get("/ui/").status_int == 404  # the API's 404
    assert Browser(app).get("/").status_int == 300


# -- keystone mode: a stand-in Keystone and API -------------------------------------------


class FakeLogin:
    def __init__(self):
        self.revoked: list[str] = []
        self.n = 0

    def __call__(self, username, password, project, domain):
        if password != "pw":
            raise ui.LoginFailed("Keystone refused these credentials")
        self.n += 1
        return ui.Identity(user=username, project=project, project_id="pid-" + project,
                           domain=domain, admin=False, token=f"tok-{self.n}")

    def revoke(self, token):
        self.revoked.append(token)


class RecordingApi:
    """Answers 200 with the headers it got; 401 for tokens in ``expired``."""

    def __init__(self):
        self.seen: list[dict] = []
        self.expired: set[str] = set()

    def __call__(self, environ, start_response):
        req = webob.Request(environ)
        self.seen.append({"path": req.path_qs, "method": req.method, "headers": dict(req.headers),
                          "body": req.body})
        status = 401 if req.headers.get("X-Auth-Token") in self.expired else 200
        resp = webob.Response(json={"ok": status == 200}, status=status)
        resp.headers["WWW-Authenticate"] = "Keystone uri=x"
        resp.set_cookie("leak", "x")
        return resp(environ, start_response)


@pytest.fixture
def keystone(tmp_path):
    login, api = FakeLogin(), RecordingApi()
    sessions = ui.SessionStore(lambda: Store(str(tmp_path / "state.sqlite")), 3600, 100)
    app = ui.Mount(api, ui.UI(api, mode="keystone", login=login, sessions=sessions))
    return app, login, api


def ks_signed_in(app, password="pw") -> tuple[Browser, webob.Response]:
    b = Browser(app)
    form = {"csrf": b.login_nonce(), "username": "alice", "password": password,
            "project": "alpha", "domain": "Default"}
    return b, b.request("POST", "/ui/login", form=form)


def test_keystone_sign_in_form_and_refusal(keystone):
    app, login, _ = keystone
    page = Browser(app).get("/ui/login?reason=expired")
    for field in ("username", "password", "project", "domain"):
        assert f'id="{field}"' in page.text
    assert "session has ended" in page.text
    b, resp = ks_signed_in(app, password="bad")
    assert resp.status_int == 401 and "refused" in resp.text
    assert 'value="alice"' in resp.text and "bad" not in resp.text.replace("badge", "")
    assert ui.COOKIE not in b.cookies


def test_keystone_proxy_adds_the_token_and_strips_the_browsers(keystone):
    app, _, api = keystone
    b, resp = ks_signed_in(app)
    assert resp.status_int == 303
    csrf = b.csrf()
    r = b.search({"query": {"match_all": {}}}, csrf=csrf,
                 headers={"X-Auth-Token": "stolen", "X-Project-Id": "other",
                          "X-Identity-Status": "Confirmed", "X-Service-Token": "s"})
    assert r.status_int == 200 and r.json == {"ok": True}
    assert "leak" not in r.headers.get("Set-Cookie", "") and "WWW-Authenticate" not in r.headers
    got = api.seen[-1]
    assert got["path"] == "/v1/search" and got["method"] == "POST"
    assert got["headers"]["X-Auth-Token"] == "tok-1"
    for h in ("X-Project-Id", "X-Identity-Status", "X-Service-Token", "Cookie", "X-Csrf-Token"):
        assert h not in got["headers"], h
    assert json.loads(got["body"]) == {"query": {"match_all": {}}}
    b.get("/ui/api/v1/search/facets?all_projects=true&limit_terms=5")
    assert api.seen[-1]["path"] == "/v1/search/facets?all_projects=true&limit_terms=5"
    assert api.seen[-1]["headers"]["X-Auth-Token"] == "tok-1"


def test_keystone_expired_token_leads_back_to_sign_in(keystone):
    app, _, api = keystone
    b, _ = ks_signed_in(app)
    api.expired.add("tok-1")
    r = b.get("/ui/api/v1/search/plugins")
    assert r.status_int == 401 and r.json["signin"] == "/ui/login?reason=expired"
    # the session is gone: the page now sends the user to sign in
    page = b.get("/ui/?q=a")
    assert page.status_int == 303 and "reason=expired" in page.location
    assert "next=%2Fui%2F%3Fq%3Da" in page.location


def test_keystone_sign_out_revokes_the_token(keystone):
    app, login, _ = keystone
    b, _ = ks_signed_in(app)
    b.request("POST", "/ui/logout", form={"csrf": b.csrf()})
    assert login.revoked == ["tok-1"]


def test_keystone_login_unreachable_is_a_clear_message():
    with pytest.raises(ui.LoginFailed, match="not reachable"):
        ui.KeystoneLogin("http://127.0.0.1:9/v3", timeout=2)("a", "b", "c", "Default")


def test_auth_url_comes_from_auth_token_options():
    conf = make_conf()
    assert ui.auth_url(conf) is None
    conf.set_override("auth_url", "http://ks:5000/v3", group="ui")
    assert ui.auth_url(conf) == "http://ks:5000/v3"


# -- sessions ----------------------------------------------------------------------------------


def test_sessions_idle_expiry_token_expiry_and_eviction(tmp_path):
    now = [1000.0]
    store = ui.SessionStore(lambda: Store(str(tmp_path / "state.sqlite")), idle_timeout=60,
                            max_sessions=2, clock=lambda: now[0])
    ident = ui.Identity("u", "p", "pid", "d", False, token="t", expires=1100.0)
    a = store.create(ident)
    got = store.get(a.id)
    assert got is not None and (got.id, got.csrf, got.identity) == (a.id, a.csrf, ident)
    assert a.csrf != a.id
    now[0] = 1050
    assert store.get(a.id).identity == ident  # type: ignore[union-attr]  # used: idle restarts
    now[0] = 1101
    assert store.get(a.id) is None  # the token expired
    b = store.create(ui.Identity("u", "p", "pid", "d", False))
    now[0] = 1162
    assert store.get(b.id) is None  # idle too long
    c, d, e = (store.create(ui.Identity("u", "p", "pid", "d", False)) for _ in range(3))
    assert store.get(c.id) is None and store.get(d.id) and store.get(e.id)  # LRU out
    assert store.get(None) is None and store.get("") is None
