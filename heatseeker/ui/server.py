"""The web UI's server side: sign-in, sessions, the page shells, static files, and the proxy to
the public API.

How the page reaches the API — a server-side proxy, not the token in JavaScript
------------------------------------------------------------------------------
The browser never sees a Keystone token. Signing in (``POST /ui/login``) gets a project-scoped
token with keystoneauth1 and keeps it in this process, in a session; the browser holds only the
session's random id, in an ``HttpOnly``, ``SameSite=Strict`` cookie (``Secure`` when the request
came over https). The page's JavaScript calls ``/ui/api/v1/...``; the proxy below checks the
session (and, for a POST, the session's CSRF token and the origin), strips every identity header
the browser sent, adds ``X-Auth-Token`` from the session, and hands the request to the *same*
WSGI application as ``/v1`` — keystonemiddleware, policy and the tenant scope included. So the
page uses nothing but the public API, and a script injected into the page (XSS) cannot read or
exfiltrate the token: it has no storage to read it from. Calling ``/v1`` from JavaScript with the
token in a header would have needed the token in JS-readable memory or storage.

Only ``GET /v1/...`` and ``POST /v1/search`` pass the proxy. A 401 from the API (the token expired
or was revoked) ends the session; the page then sends the user to the sign-in form.

In the development-only ``[api] auth_strategy = trusted-headers`` mode there is no Keystone: the
sign-in form asks for a project id (and whether to act as a cloud admin) and the proxy sets the
identity headers keystonemiddleware would have set. It is refused off loopback, as the API is.

Sessions live in the record, sealed by the browser's secret (``sessions.py``; ``[ui]
max_sessions``, least recently used dropped first), so they work on any worker or host and survive
a restart; one ends after ``[ui] session_idle_timeout`` without use, when its token expires, or
everywhere at sign-out.

The API does not know this module: whoever serves puts the UI in front of it (``with_ui``).
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import logging
import mimetypes
import os
import re
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

import webob
import webob.exc

from heatseeker.api.auth import HostCheck, admin_project_flag
from heatseeker.record import RecordUnavailable
from heatseeker.ui.sessions import Identity, Session, SessionStore

LOG = logging.getLogger(__name__)

STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
PREFIX = "/ui"
COOKIE = "heatseeker_ui"
LOGIN_COOKIE = "heatseeker_ui_login"  # the sign-in form's CSRF nonce (double submit)
CSRF_HEADER = "X-CSRF-Token"

# what the browser may not send through the proxy: identities, tokens, cookies
_KEEP_HEADERS = ("HTTP_HOST", "HTTP_ACCEPT")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


class LoginFailed(Exception):
    """Sign-in refused; the message is for the user."""


# -- signing in --------------------------------------------------------------------------------


class KeystoneLogin:
    """Password sign-in with keystoneauth1: a project-scoped token for user/project in a domain."""

    def __init__(self, auth_url: str, timeout: float = 15.0, cafile: str | None = None):
        self.auth_url = auth_url.rstrip("/")
        self.timeout = timeout
        self.verify: bool | str = cafile or True  # a private CA's bundle, or the system's

    def __call__(self, username: str, password: str, project: str, domain: str) -> Identity:
        from keystoneauth1 import exceptions as ks_exc
        from keystoneauth1 import session as ks_session
        from keystoneauth1.identity import v3

        auth = v3.Password(auth_url=self.auth_url, username=username, password=password,
                           project_name=project, user_domain_name=domain,
                           project_domain_name=domain)
        try:
            access = auth.get_access(ks_session.Session(auth=auth, timeout=self.timeout,
                                                         verify=self.verify))
        except ks_exc.Unauthorized:
            raise LoginFailed("Keystone refused these credentials: check the user name, "
                              "password, project and domain.") from None
        except ks_exc.ConnectFailure:
            LOG.warning("web UI sign-in: Keystone unreachable at %s", self.auth_url)
            raise LoginFailed("Keystone is not reachable; try again later.") from None
        except ks_exc.ClientException as exc:
            LOG.warning("web UI sign-in failed: %s", exc)
            raise LoginFailed(f"Keystone did not sign you in: {exc}") from None
        if not access.project_scoped or not access.project_id:
            raise LoginFailed("Keystone gave no project-scoped token for this project.")
        expires = access.expires.timestamp() if access.expires else None
        roles = set(access.role_names or ())
        admin = "admin" in roles and bool(admin_project_flag(getattr(access, "_data", None)))
        return Identity(user=access.username or username, project=access.project_name or project,
                        project_id=access.project_id, domain=domain, admin=admin,
                        token=access.auth_token, expires=expires)

    def revoke(self, token: str) -> None:
        """Best effort: a signed-out session's token is revoked in Keystone too."""
        from keystoneauth1 import session as ks_session

        try:
            ks_session.Session(timeout=self.timeout, verify=self.verify).delete(
                self.auth_url + "/auth/tokens",
                headers={"X-Auth-Token": token, "X-Subject-Token": token}, raise_exc=False)
        except Exception as exc:  # noqa: BLE001 - signing out must not fail on Keystone
            LOG.info("web UI sign-out: could not revoke the token: %s", exc)


def trusted_identity(project: str, admin: bool) -> Identity:
    """DEVELOPMENT ONLY (trusted-headers): the headers auth_token would set for such a token."""
    roles = "reader,member,admin" if admin else "reader,member"
    headers = {"X-Identity-Status": "Confirmed", "X-Project-Id": project,
               "X-User-Id": f"ui-{project}", "X-User-Name": f"ui-{project}", "X-Roles": roles,
               "X-Is-Admin-Project": "True" if admin else "False"}
    return Identity(user=f"ui-{project}", project=project, project_id=project, domain="",
                    admin=admin, headers=headers)


# -- the application ---------------------------------------------------------------------------


def _asset_versions() -> dict[str, str]:
    out = {}
    for name in sorted(os.listdir(STATIC)):
        path = os.path.join(STATIC, name)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                out[name] = hashlib.sha256(f.read()).hexdigest()[:12]
    return out


def _safe_next(value: str | None) -> str:
    """Where to go after signing in: a path under /ui/ only (no open redirect)."""
    if not value or not value.startswith(PREFIX + "/") or value.startswith("//") \
            or "\\" in value or any(ord(c) < 32 for c in value):
        return PREFIX + "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return PREFIX + "/"
    return value


def _host(netloc: str) -> str:
    """host[:port] without a default port (80, 443), lower case."""
    netloc = netloc.lower()
    for port in (":80", ":443"):
        if netloc.endswith(port):
            return netloc[: -len(port)]
    return netloc


_STACK_PAGE = re.compile(r"^/stacks/[A-Za-z0-9._-]{1,128}$")


class UI:
    """The WSGI application of ``/ui`` (``mount`` puts it in front of the API)."""

    def __init__(self, api: Callable, *, mode: str, login: Callable[..., Identity] | None = None,
                 sessions: SessionStore, max_body_bytes: int = 1_048_576):
        self.api = api
        self.mode = mode  # "keystone" or "trusted-headers"
        self.login_with = login
        self.sessions = sessions
        self.max_body_bytes = max_body_bytes
        self.assets = _asset_versions()

    # -- plumbing ---------------------------------------------------------------------------

    def __call__(self, environ, start_response):
        req = webob.Request(environ)
        try:
            resp = self.dispatch(req)
        except RecordUnavailable as exc:  # sessions live in the record: no record, no sign-in
            LOG.error("web UI on %s %s: %s", req.method, req.path, exc)
            resp = self._error_page(503, "The record is not available; try again later.")
        except Exception:  # noqa: BLE001 - logged, answered
            LOG.exception("web UI error on %s %s", req.method, req.path)
            resp = self._error_page(500, "Internal error (logged).")
        for k, v in SECURITY_HEADERS.items():
            resp.headers.setdefault(k, v)
        return resp(environ, start_response)

    def dispatch(self, req: webob.Request) -> webob.Response:
        path = req.path_info or "/"
        rest = path[len(PREFIX):] if path.startswith(PREFIX) else None
        if rest is None:
            return self._error_page(404, "Not found.")
        if rest == "":
            return webob.exc.HTTPMovedPermanently(location=PREFIX + "/")  # type: ignore[return-value]
        if rest.startswith("/static/"):
            return self.static(req, rest[len("/static/"):])
        if rest.startswith("/api/"):
            return self.proxy(req, rest[len("/api"):])
        if rest == "/login":
            if req.method == "POST":
                return self.login_post(req)
            if req.method in ("GET", "HEAD"):
                return self.login_form(req)
            return self._error_page(405, "Use GET or POST.")
        if rest == "/logout":
            if req.method != "POST":
                return self._error_page(405, "Sign out with the button (a POST).")
            return self.logout(req)
        if rest == "/" or _STACK_PAGE.match(rest):
            if req.method not in ("GET", "HEAD"):
                return self._error_page(405, "Use GET.")
            return self.shell(req)
        return self._error_page(404, "Not found.")

    def _session(self, req: webob.Request) -> Session | None:
        return self.sessions.get(req.cookies.get(COOKIE))

    @staticmethod
    def _same_origin(req: webob.Request) -> bool:
        """The request comes from a page of this site (Origin or, failing it, Sec-Fetch-Site).
        The host is compared, not the scheme: behind a TLS-terminating proxy the page is https
        while this server sees http."""
        origin = req.headers.get("Origin")
        if origin is not None:
            return _host(urlsplit(origin).netloc) == _host(req.host or "")
        site = req.headers.get("Sec-Fetch-Site")
        return site in (None, "same-origin", "none")

    @staticmethod
    def _https(req: webob.Request) -> bool:
        # a proxy's X-Forwarded-Proto can only make the cookie stricter (Secure), never looser
        return req.scheme == "https" or \
            req.headers.get("X-Forwarded-Proto", "").lower() == "https"

    def _cookie(self, resp: webob.Response, req: webob.Request, name: str, value: str,
                max_age: int | None = None) -> None:
        resp.set_cookie(name, value, path=PREFIX + "/", httponly=True, samesite="strict",
                        secure=self._https(req), max_age=max_age)

    def _html(self, body: str, status: int = 200) -> webob.Response:
        resp = webob.Response(body=body.encode(), status=status, content_type="text/html",
                              charset="utf-8")
        resp.cache_control = "no-store"
        return resp

    def _asset(self, name: str) -> str:
        return f"{PREFIX}/static/{name}?v={self.assets.get(name, '0')}"

    def _page(self, title: str, main: str, *, body_attrs: str = "", head: str = "",
              header: str = "") -> str:
        return (
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(title)} · heatseeker</title>"
            f"<link rel=\"stylesheet\" href=\"{self._asset('app.css')}\">"
            f"<link rel=\"icon\" href=\"{self._asset('favicon.svg')}\" type=\"image/svg+xml\">"
            f"{head}</head><body{body_attrs}>"
            "<a class=\"skip\" href=\"#main\">Skip to content</a>"
            "<header class=\"top\"><a class=\"brand\" href=\"/ui/\">heatseeker</a>"
            f"{header}</header><main id=\"main\" tabindex=\"-1\">{main}</main></body></html>"
        )

    def _error_page(self, status: int, message: str) -> webob.Response:
        main = (f"<h1>{status}</h1><p class=\"error\" role=\"alert\">{html.escape(message)}</p>"
                "<p><a href=\"/ui/\">Back to the search</a></p>")
        return self._html(self._page("Error", main), status)

    # -- static files -----------------------------------------------------------------------

    def static(self, req: webob.Request, name: str) -> webob.Response:
        if name not in self.assets or req.method not in ("GET", "HEAD"):
            return self._error_page(404, "Not found.")
        path = os.path.join(STATIC, name)
        with open(path, "rb") as f:
            data = f.read()
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if name.endswith(".js"):
            ctype = "text/javascript"
        resp = webob.Response(body=data, content_type=ctype)
        if ctype.startswith("text/") or ctype.endswith(("javascript", "svg+xml")):
            resp.charset = "utf-8"
        resp.etag = self.assets[name]
        # asset URLs carry their hash: a changed file is a new URL
        resp.cache_control = "public, max-age=86400" if req.GET.get("v") == self.assets[name] \
            else "no-cache"
        resp.conditional_response = True  # ETag + If-None-Match: 304
        return resp

    # -- signing in and out -----------------------------------------------------------------

    def login_form(self, req: webob.Request, *, error: str | None = None, status: int = 200,
                   values: dict[str, str] | None = None) -> webob.Response:
        values = values or {}
        nonce = secrets.token_urlsafe(24)
        nxt = _safe_next(req.params.get("next"))
        if req.params.get("reason") == "expired" and not error:
            notice = ("<p class=\"notice\" role=\"status\">Your session has ended (the token "
                      "expired or was revoked). Please sign in again.</p>")
        elif req.params.get("reason") == "signed-out" and not error:
            notice = "<p class=\"notice\" role=\"status\">You have signed out.</p>"
        else:
            notice = ""
        if error:
            notice = f"<p class=\"error\" role=\"alert\" id=\"login-error\">{html.escape(error)}</p>"
        v = {k: html.escape(values.get(k, ""), quote=True)
             for k in ("username", "project", "domain")}
        if self.mode == "keystone":
            fields = (
                "<label for=\"username\">User name</label>"
                f"<input id=\"username\" name=\"username\" autocomplete=\"username\" required "
                f"autofocus value=\"{v['username']}\">"
                "<label for=\"password\">Password</label>"
                "<input id=\"password\" name=\"password\" type=\"password\" "
                "autocomplete=\"current-password\" required>"
                "<label for=\"project\">Project</label>"
                f"<input id=\"project\" name=\"project\" required value=\"{v['project']}\">"
                "<label for=\"domain\">Domain</label>"
                f"<input id=\"domain\" name=\"domain\" required "
                f"value=\"{v['domain'] or 'Default'}\">"
            )
            intro = "<p>Sign in with your OpenStack (Keystone) credentials.</p>"
        else:
            fields = (
                "<label for=\"project\">Project id</label>"
                f"<input id=\"project\" name=\"project\" required autofocus "
                f"value=\"{v['project']}\">"
                "<label class=\"check\"><input type=\"checkbox\" name=\"admin\" value=\"1\"> "
                "act as a cloud admin (may look at every project)</label>"
            )
            intro = ("<p class=\"warning\"><strong>Development mode</strong> (<code>[api] "
                     "auth_strategy = trusted-headers</code>): no password; pick the project "
                     "to look at.</p>")
        main = (
            "<div class=\"login\"><h1>Sign in</h1>" + intro + notice +
            "<form method=\"post\" action=\"/ui/login\" class=\"login-form\">"
            f"<input type=\"hidden\" name=\"csrf\" value=\"{nonce}\">"
            f"<input type=\"hidden\" name=\"next\" value=\"{html.escape(nxt, quote=True)}\">"
            + fields + "<button type=\"submit\">Sign in</button></form></div>"
        )
        resp = self._html(self._page("Sign in", main), status)
        self._cookie(resp, req, LOGIN_COOKIE, nonce, max_age=3600)
        return resp

    def login_post(self, req: webob.Request) -> webob.Response:
        form = req.POST
        nonce, cookie = form.get("csrf", ""), req.cookies.get(LOGIN_COOKIE, "")
        if not self._same_origin(req) or not nonce or not hmac.compare_digest(nonce, cookie):
            return self.login_form(req, status=403, error="The sign-in form expired or came from "
                                   "another site; please try again.")
        values = {k: str(form.get(k, "")).strip() for k in ("username", "project", "domain")}
        try:
            if self.mode == "keystone":
                if not all(values.values()) or not form.get("password"):
                    raise LoginFailed("Fill in the user name, password, project and domain.")
                if self.login_with is None:
                    raise LoginFailed("Signing in is not configured on this server ([ui] "
                                      "auth_url); ask the operator.")
                identity = self.login_with(values["username"], str(form.get("password")),
                                           values["project"], values["domain"])
            else:
                if not values["project"]:
                    raise LoginFailed("Pick a project id.")
                identity = trusted_identity(values["project"], form.get("admin") == "1")
        except LoginFailed as exc:
            return self.login_form(req, error=str(exc), status=401, values=values)
        old = req.cookies.get(COOKIE)
        if old:
            self.sessions.drop(old)  # a new session id at each sign-in (no fixation)
        session = self.sessions.create(identity)
        resp = webob.Response(status=303, location=_safe_next(form.get("next")))
        self._cookie(resp, req, COOKIE, session.id)
        resp.delete_cookie(LOGIN_COOKIE, path=PREFIX + "/")
        resp.cache_control = "no-store"
        return resp

    def logout(self, req: webob.Request) -> webob.Response:
        session = self._session(req)
        token = req.POST.get("csrf", "")
        if session is not None:
            if not self._same_origin(req) or not hmac.compare_digest(token, session.csrf):
                return self._error_page(403, "Sign-out refused: the form did not come from this "
                                        "page. Use the Sign out button.")
            self.sessions.drop(session.id)
            revoke = getattr(self.login_with, "revoke", None)
            if session.identity.token and revoke is not None:
                revoke(session.identity.token)
        resp = webob.Response(status=303, location=PREFIX + "/login?reason=signed-out")
        resp.delete_cookie(COOKIE, path=PREFIX + "/")
        resp.cache_control = "no-store"
        return resp

    # -- the page shells ----------------------------------------------------------------------

    def _to_login(self, req: webob.Request, reason: str | None = None) -> webob.Response:
        nxt = req.path_qs if req.path_qs.startswith(PREFIX + "/") else PREFIX + "/"
        location = f"{PREFIX}/login?next={quote(nxt, safe='')}"
        if reason:
            location += f"&reason={reason}"
        resp = webob.Response(status=303, location=location)
        resp.cache_control = "no-store"
        return resp

    def shell(self, req: webob.Request) -> webob.Response:
        session = self._session(req)
        if session is None:
            return self._to_login(req, "expired" if req.cookies.get(COOKIE) else None)
        ident = session.identity
        who = f"{ident.user} · {ident.project}" + (f" ({ident.domain})" if ident.domain else "")
        header = (
            "<div class=\"who\"><span class=\"user\" title=\"signed in as\">"
            f"{html.escape(who)}</span>"
            "<form method=\"post\" action=\"/ui/logout\" class=\"logout\">"
            f"<input type=\"hidden\" name=\"csrf\" value=\"{html.escape(session.csrf)}\">"
            "<button type=\"submit\">Sign out</button></form></div>"
        )
        head = (
            f"<meta name=\"csrf-token\" content=\"{html.escape(session.csrf)}\">"
            f"<script src=\"{self._asset('app.js')}\" defer></script>"
        )
        attrs = (f" data-admin=\"{'true' if ident.admin else 'false'}\""
                 f" data-project=\"{html.escape(ident.project_id, quote=True)}\""
                 f" data-mode=\"{html.escape(self.mode)}\"")
        main = "<noscript>This page needs JavaScript.</noscript><div id=\"app\"></div>"
        return self._html(self._page("Stacks", main, body_attrs=attrs, head=head, header=header))

    # -- the proxy to the API ---------------------------------------------------------------

    def _api_error(self, status: int, message: str, **extra: Any) -> webob.Response:
        title = webob.exc.status_map[status].title if status in webob.exc.status_map else "Error"
        body = {"error": {"code": status, "title": title, "message": message}, **extra}
        resp = webob.Response(body=json.dumps(body).encode(), status=status,
                              content_type="application/json", charset="utf-8")
        resp.cache_control = "no-store"
        return resp

    def proxy(self, req: webob.Request, path: str) -> webob.Response:
        session = self._session(req)
        if session is None:
            return self._api_error(401, "You are not signed in (or your session ended).",
                                   signin=f"{PREFIX}/login?reason=expired")
        if not path.startswith("/v1/"):
            return self._api_error(404, f"the UI proxies the API's /v1 only, not {path}")
        if req.method == "POST":
            if path not in ("/v1/search", "/v1/search/"):
                return self._api_error(405, f"POST is not allowed on {path} through the UI")
            token = req.headers.get(CSRF_HEADER, "")
            if not self._same_origin(req) or not hmac.compare_digest(token, session.csrf):
                return self._api_error(403, "missing or wrong CSRF token (reload the page)")
        elif req.method not in ("GET", "HEAD"):
            return self._api_error(405, f"{req.method} is not allowed through the UI")

        ident = session.identity
        headers = {"Accept": "application/json"}
        if ident.token:
            headers["X-Auth-Token"] = ident.token
        headers.update(ident.headers)
        sub = webob.Request.blank(path + ("?" + req.query_string if req.query_string else ""),
                                  base_url=req.host_url, method=req.method, headers=headers)
        sub.environ["REMOTE_ADDR"] = req.remote_addr or ""
        allowed = {"HTTP_" + k.upper().replace("-", "_") for k in headers} | set(_KEEP_HEADERS)
        for key in list(sub.environ):  # a fresh environ: nothing of the browser's but the path
            if key.startswith("HTTP_") and key not in allowed:
                del sub.environ[key]
        if req.method == "POST":
            raw = req.body_file.read(self.max_body_bytes + 1)
            if len(raw) > self.max_body_bytes:
                return self._api_error(413, f"request body larger than {self.max_body_bytes} "
                                       "bytes")
            sub.body = raw
            sub.content_type = "application/json"
        answer = sub.get_response(self.api)
        if answer.status_int == 401:
            self.sessions.drop(session.id)
            LOG.info("web UI session ended: the API answered 401")
            return self._api_error(401, "Your session has ended (the token expired or was "
                                   "revoked): sign in again.",
                                   signin=f"{PREFIX}/login?reason=expired")
        resp = webob.Response(body=answer.body, status=answer.status,
                              content_type=answer.content_type or "application/json")
        if answer.charset:
            resp.charset = answer.charset
        resp.cache_control = "no-store"
        return resp


class Mount:
    """``/ui`` and below to the UI, everything else to the API, unchanged."""

    def __init__(self, api: Callable, ui: Callable):
        self.api = api
        self.ui = ui

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO") or "/"
        if path == PREFIX or path.startswith(PREFIX + "/"):
            return self.ui(environ, start_response)
        return self.api(environ, start_response)

    def __getattr__(self, name: str) -> Any:
        if name == "api":
            raise AttributeError(name)
        return getattr(self.api, name)  # transparent: the API's attributes (e.g. its App)


def auth_url(conf) -> str | None:
    """Keystone for signing in: ``[ui] auth_url``, else ``[keystone_authtoken]
    www_authenticate_uri`` (auth_token registers that group when it loads)."""
    if conf.ui.auth_url:
        return conf.ui.auth_url
    for name in ("www_authenticate_uri", "auth_uri"):
        try:
            value = getattr(conf.keystone_authtoken, name)
        except Exception:  # noqa: BLE001 - the option or the group may not be registered
            continue
        if value:
            return str(value)
    return None


def with_ui(conf, api: Callable) -> Callable:
    """What a server serves: the API ``api`` with the web UI under /ui when ``[ui] enabled``.

    The API does not know the UI (it must not import it); whoever serves composes the two:
    ``heatseeker serve`` and ``heatseeker.api.wsgi``."""
    return mount(conf, api) if conf.ui.enabled else api


def mount(conf, api: Callable, login: Callable[..., Identity] | None = None) -> Mount:
    """The API with the web UI under /ui (``[ui]``)."""
    mode = conf.api.auth_strategy
    if mode == "keystone" and login is None:
        url = auth_url(conf)
        if url:
            login = KeystoneLogin(url, cafile=conf.ui.cafile)
        else:
            LOG.warning("the web UI cannot sign anybody in: set [ui] auth_url or "
                        "[keystone_authtoken] www_authenticate_uri (or [ui] enabled = false)")
    from heatseeker.record import Store

    sessions = SessionStore(lambda: Store.from_conf(conf), conf.ui.session_idle_timeout,
                            conf.ui.max_sessions)
    ui = UI(api, mode=mode, login=login, sessions=sessions,
            max_body_bytes=conf.api.max_body_bytes)
    if mode == "trusted-headers":  # the project pick proves nothing: addressed to loopback only
        # (the API behind it checks the same)
        return Mount(api, HostCheck(ui, conf.api.trusted_headers_hosts))
    return Mount(api, ui)
