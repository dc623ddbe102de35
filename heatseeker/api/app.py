"""The search API: Searchlight v1 where Searchlight defined it, extended only with optional keys.

The routes (one table, with each route's policy rule) are in ``routes.py``, the answers' shapes
(one builder, shared with the CLI) in ``responses.py``; this module decodes and checks requests,
runs them through the searcher, and turns errors into JSON answers. The web UI is not part of it:
whoever serves the API mounts the UI in front of it (``heatseeker serve``, ``api/wsgi.py``).

Errors are JSON ``{"error": {"code", "title", "message"}}``; bad input is a 4xx, never a 500.
Input is checked where it is decoded, before anything walks it: a body must be UTF-8 (or the
UTF-16/32 JSON allows) JSON without NaN/Infinity, nested at most ``4 x max_query_depth + 16``
levels of arrays and objects (``max_query_depth`` is at most ``dsl.MAX_DEPTH_CEILING``, 100;
deeper is refused before any recursive code sees it, and the JSON decoder's own recursion guard
answers 400 too), holding no lone UTF-16 surrogate (``"\\ud800"``, which no index or encoder can
take); a query string or path must be UTF-8; numbers in query strings are ASCII digits. Answers
never fail to encode: error messages quote user text with any surrogate escaped, and a
last-resort handler answers a fixed JSON 500 if even that fails.
Every answer about stacks is computed under the caller's ``Visibility`` (``auth.py``), applied by
the searcher — the one place tenant isolation happens.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import os
import re
import time
from collections.abc import Callable
from typing import Any

import webob
import webob.exc

from heatseeker.api import facets as facets_mod
from heatseeker.api import responses
from heatseeker.api.auth import Authorizer, Caller, Forbidden, Unauthorized
from heatseeker.api.routes import TABLE, NoRoute
from heatseeker.engines.base import EngineError, is_panic
from heatseeker.query import dsl
from heatseeker.query import highlight as highlight_mod
from heatseeker.query.errors import QueryError, shown
from heatseeker.query.request import (
    STACK_TYPE,
    RequestForbidden,
    RequestLimits,
    SearchRequest,
    parse_bool,
    parse_search,
)
from heatseeker.query.source import engine_fields
from heatseeker.query.visibility import HiddenField
from heatseeker.record import RecordUnavailable
from heatseeker.searcher import Searcher, total_bound, under

LOG = logging.getLogger(__name__)

OPENAPI = os.path.join(os.path.dirname(os.path.abspath(__file__)), "openapi.yaml")


class ApiError(Exception):
    def __init__(self, code: int, message: str, allow: tuple[str, ...] = ()):
        super().__init__(message)
        self.code = code
        self.message = message
        self.allow = allow


def _json_response(body: Any, status: int = 200) -> webob.Response:
    try:
        data = json.dumps(body, ensure_ascii=False).encode()
    except UnicodeEncodeError:  # a lone surrogate somewhere: escaped, the answer is still JSON
        data = json.dumps(body, ensure_ascii=True).encode()
    return webob.Response(
        body=data,
        status=status,
        content_type="application/json",
        charset="utf-8",
    )


def safe_text(text: str) -> str:
    """``text`` with any lone surrogate written as an escape (``\\ud800``): encodable as UTF-8."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def error_response(code: int, message: str) -> webob.Response:
    title = webob.exc.status_map[code].title if code in webob.exc.status_map else "Error"
    return _json_response(
        {"error": {"code": code, "title": title, "message": safe_text(message)}}, code)


# The answer when even an error answer cannot be built (never expected): fixed bytes.
_LAST_RESORT = json.dumps({"error": {"code": 500, "title": "Internal Server Error",
                                     "message": "internal error (logged)"}}).encode()

_SURROGATE = re.compile("[\ud800-\udfff]")
_MAX_NUMBER_DIGITS = 18


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def json_depth_limit(max_query_depth: int) -> int:
    """Levels of arrays and objects a request body may nest: room for the deepest DSL query
    allowed (a bool level is three JSON levels) and a little more, far below Python's stack."""
    return 4 * min(max_query_depth, dsl.MAX_DEPTH_CEILING) + 16


def decode_json(raw: bytes, max_depth: int, what: str = "the request body") -> Any:
    """``raw`` as JSON, checked before any recursive code walks it; ApiError(400) otherwise."""
    try:
        text = raw.decode(json.detect_encoding(raw))
    except UnicodeDecodeError:
        raise ApiError(400, f"{what} is not valid JSON: it is not UTF-8 text") from None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:  # the decoder's own guard, far deeper than max_depth
        raise ApiError(400, f"{what} is nested too deeply: at most {max_depth} levels of "
                       f"arrays and objects allowed") from None
    except ValueError as exc:
        raise ApiError(400, f"{what} is not valid JSON: {exc}") from None
    check_json(value, max_depth, what)
    return value


def check_json(value: Any, max_depth: int, what: str = "the request body") -> None:
    """Refuse (ApiError 400) nesting deeper than ``max_depth`` and strings holding a lone
    surrogate. Iterative: linear in the size of ``value``, whatever its depth."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, str):
            bad = None if item.isascii() else _SURROGATE.search(item)
            if bad is not None:
                raise ApiError(400, f"{what} holds a lone UTF-16 surrogate "
                               f"({safe_text(bad.group())}) in {safe_text(shown(item))}: text "
                               f"must be valid Unicode")
        elif isinstance(item, dict | list):
            if level >= max_depth:
                raise ApiError(400, f"{what} is nested too deeply: at most {max_depth} levels "
                               f"of arrays and objects allowed")
            if isinstance(item, dict):
                stack.extend((k, level) for k in item)
                stack.extend((v, level + 1) for v in item.values())
            else:
                stack.extend((v, level + 1) for v in item)


def _count_param(value: str | None) -> int | None:
    """A whole number written in ASCII digits (as a query string gives it), else None."""
    if value is None or not value.isascii() or not value.isdigit():
        return None
    if len(value) > _MAX_NUMBER_DIGITS:
        return None
    return int(value)


class App:
    def __init__(self, conf, searcher: Searcher, authorizer: Authorizer, history=None):
        self.conf = conf
        self.searcher = searcher
        self.authorizer = authorizer
        self._history_service = history  # heatseeker.history.service.History, opened on first use
        self.limits = RequestLimits(
            max_limit=conf.api.max_limit,
            max_offset_plus_limit=conf.api.max_result_window,
            default_limit=min(conf.api.default_limit, conf.api.max_limit),
            dsl=dsl.Limits(max_depth=conf.api.max_query_depth,
                           max_clauses=conf.api.max_query_clauses),
        )
        self.max_json_depth = json_depth_limit(conf.api.max_query_depth)
        self.pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=max(2, conf.api.threads), thread_name_prefix="search"
        )
        missing = sorted({r.handler for r in TABLE.routes
                          if not callable(getattr(self, r.handler, None))})
        if missing:  # a route naming no method of App fails here, not on its first request
            raise TypeError(f"routes.py names handlers App does not have: {', '.join(missing)}")

    # -- plumbing -------------------------------------------------------------------------------

    def __call__(self, environ, start_response):
        try:
            resp = self._respond(webob.Request(environ))
        except Exception:  # noqa: BLE001 - even building the error answer failed: fixed bytes
            LOG.exception("could not answer %s %s", environ.get("REQUEST_METHOD"),
                          environ.get("PATH_INFO"))
            resp = webob.Response(body=_LAST_RESORT, status=500,
                                  content_type="application/json", charset="utf-8")
        return resp(environ, start_response)

    def _respond(self, req: webob.Request) -> webob.Response:
        try:
            resp = self.dispatch(req)
        except ApiError as exc:
            resp = error_response(exc.code, exc.message)
            if exc.allow:
                resp.allow = exc.allow
        except Unauthorized as exc:
            resp = error_response(401, str(exc))
        except (Forbidden, RequestForbidden, HiddenField) as exc:
            resp = error_response(403, str(exc))
        except (QueryError, ValueError) as exc:
            # engines raise ValueError for a query they cannot run (e.g. a prefix on a number)
            resp = error_response(400, str(exc))
        except EngineError as exc:
            LOG.error("engine error: %s", exc)
            resp = error_response(503, f"the search index is not available: {exc}")
        except RecordUnavailable as exc:  # never an empty answer for a missing record
            LOG.error("record unavailable: %s", exc)
            resp = error_response(503, f"the record is not available: {exc}")
        except Exception:  # noqa: BLE001 - a bug must still answer JSON, and be logged
            LOG.exception("unexpected error on %s %s", req.method, req.environ.get("PATH_INFO"))
            resp = error_response(500, "internal error (logged)")
        except BaseException as exc:
            if not is_panic(exc):
                raise  # SystemExit, KeyboardInterrupt: the server's own business
            LOG.exception("the search index library panicked on %s %s", req.method,
                          req.environ.get("PATH_INFO"))
            resp = error_response(503, "the search index is not available: the index library "
                                  "failed (logged)")
        return resp

    def dispatch(self, req: webob.Request) -> webob.Response:
        try:
            path = req.path_info or "/"
        except UnicodeDecodeError:
            raise ApiError(400, "the path is not valid UTF-8") from None
        try:
            req.GET  # noqa: B018 - decoded once here, so that a bad query string is a clear 400
        except UnicodeDecodeError:
            raise ApiError(400, "the query string is not valid UTF-8") from None
        try:
            route, params = TABLE.match(req.method, path)
        except NoRoute as exc:
            if exc.allow:
                raise ApiError(405, f"{req.method} is not allowed on {path}", exc.allow) from None
            raise ApiError(404, f"no such resource: {path}") from None
        handler = getattr(self, route.handler)
        if route.rule is None:  # public: no caller
            return handler(req, **params)
        caller = self._caller(req)
        self.authorizer.require(route.rule, caller)
        return handler(req, caller, **params)

    def _caller(self, req: webob.Request) -> Caller:
        return Caller.from_environ(req.environ)

    def _timed(self, fn: Callable[[], Any]) -> Any:
        future = self.pool.submit(fn)
        try:
            return future.result(timeout=self.conf.api.search_timeout)
        except concurrent.futures.TimeoutError:
            raise ApiError(503, f"the search timed out after {self.conf.api.search_timeout}s") from None

    def _body(self, req: webob.Request) -> Any:
        if req.content_length and req.content_length > self.conf.api.max_body_bytes:
            raise ApiError(413, f"request body larger than {self.conf.api.max_body_bytes} bytes")
        raw = req.body_file.read(self.conf.api.max_body_bytes + 1)
        if len(raw) > self.conf.api.max_body_bytes:
            raise ApiError(413, f"request body larger than {self.conf.api.max_body_bytes} bytes")
        if not raw.strip():
            return {}
        return decode_json(raw, self.max_json_depth)

    def _flag(self, req: webob.Request, name: str, default: bool) -> bool:
        value = req.GET.get(name)
        return default if value in (None, "") else parse_bool(value, name)

    # -- versions, description, plugins ---------------------------------------------------------

    # Handlers: public ones take the request; the others also the caller, who passed the route's
    # policy rule (routes.py), then the route's path parameters.

    def versions(self, req: webob.Request) -> webob.Response:
        return _json_response(responses.versions(req.host_url), 300)

    def version(self, req: webob.Request) -> webob.Response:
        return _json_response(responses.version(req.host_url))

    def openapi_yaml(self, req: webob.Request) -> webob.Response:
        with open(OPENAPI, "rb") as f:
            return webob.Response(body=f.read(), content_type="application/yaml", charset="utf-8")

    def openapi_json(self, req: webob.Request) -> webob.Response:
        import yaml

        with open(OPENAPI) as f:
            return _json_response(yaml.safe_load(f))

    def plugins(self, req: webob.Request, caller: Caller) -> webob.Response:
        return _json_response(responses.plugins())

    # -- facets --------------------------------------------------------------------------------

    def facets(self, req: webob.Request, caller: Caller) -> webob.Response:
        wanted = req.GET.get("type")
        if wanted and wanted != STACK_TYPE:
            raise ApiError(400, f"unknown resource type {wanted!r}; heatseeker knows {STACK_TYPE}")
        limit_terms = req.GET.get("limit_terms", "0") or "0"
        terms = _count_param(limit_terms)
        if terms is None or terms > self.limits.max_agg_size:
            raise ApiError(400, "limit_terms must be a whole number from 0 (all) to "
                           f"{self.limits.max_agg_size}, not {limit_terms!r}")
        view = self.authorizer.visibility(caller, self._flag(req, "all_projects", False))
        body = self._timed(lambda: facets_mod.facets(
            self.searcher, view,
            include_fields=self._flag(req, "include_fields", True),
            exclude_options=self._flag(req, "exclude_options", False),
            limit_terms=terms,
        ))
        return _json_response(responses.facets(body))

    # -- search --------------------------------------------------------------------------------

    def search(self, req: webob.Request, caller: Caller) -> webob.Response:
        started = time.monotonic()
        body = self._body(req)
        request = parse_search(body, limits=self.limits)
        if request.aggs:
            self.authorizer.require("search:query:aggregations", caller)
        view = self.authorizer.visibility(caller, request.all_projects)
        answer = self._timed(lambda: self._search(request, view))
        answer["took"] = int((time.monotonic() - started) * 1000)
        return _json_response(answer)

    def _search(self, request: SearchRequest, view) -> dict:
        # one highlighting budget for the whole request, whatever the number of hits and fields
        with highlight_mod.request_budget() as budget:
            answer = self._search_in_budget(request, view)
        if budget.exhausted:
            LOG.info("highlighting stopped after %d steps (the per-request budget)", budget.spent)
        return answer

    def _search_in_budget(self, request: SearchRequest, view) -> dict:
        fields = engine_fields(request.source)
        if request.rollup == "root":
            rolled = self.searcher.search_roots(
                request.query, view=view, offset=request.offset, limit=request.limit,
                fields=fields, subtree=request.under,
                track_total=total_bound(request.track_total_hits),
            )
            answer = responses.rollup(rolled, view, source=request.source)
        else:
            found = self.searcher.search(
                request.query, view=view, sort=request.sort, offset=request.offset,
                limit=request.limit, fields=fields, subtree=request.under,
                highlight_spec=request.highlight, search_after=request.search_after,
            )
            answer = responses.search(found, source=request.source, versions=request.version)
        if request.aggs:
            scope = under(request.query, request.under) if request.under else request.query
            result = self.searcher.aggregate(scope, request.aggs, view=view)
            answer["aggregations"] = responses.aggregations(result, request.aggs)
        return answer

    # -- one stack -------------------------------------------------------------------------------

    def stack(self, req: webob.Request, caller: Caller, stack_id: str) -> webob.Response:
        view = self.authorizer.visibility(caller, self._flag(req, "all_projects", False))
        node = self._timed(lambda: self.searcher.stack_tree(stack_id, view=view))
        if node is None:
            raise ApiError(404, f"no stack {stack_id} that you may see")
        return _json_response(node)


    # -- history and diffs (heatseeker/history) ------------------------------------------------------

    def history_service(self):
        if self._history_service is None:
            from heatseeker.history.service import History
            from heatseeker.record import Store

            # a reader: a missing or unreachable record is RecordUnavailable (503), and the next
            # request tries again
            self._history_service = History(Store.from_conf(self.conf))
        return self._history_service

    def _revision_param(self, req: webob.Request, name: str) -> int | None:
        value = req.GET.get(name)
        if value in (None, ""):
            return None
        number = _count_param(value)
        if number is None or number < 1:
            raise ApiError(400, f"{name} must be a revision number (1, 2, …), not {value!r}")
        return number

    def stack_history(self, req: webob.Request, caller: Caller, stack_id: str) -> webob.Response:
        from heatseeker.history.service import RevisionNotFound

        view = self.authorizer.visibility(caller, self._flag(req, "all_projects", False))
        revision = self._revision_param(req, "revision")
        try:
            body = self._timed(lambda: self.history_service().history(stack_id, view, revision))
        except RevisionNotFound as exc:
            raise ApiError(404, str(exc)) from None
        if body is None:
            raise ApiError(404, f"no stack {stack_id} that you may see")
        return _json_response(body)

    def stack_diff(self, req: webob.Request, caller: Caller, stack_id: str) -> webob.Response:
        from heatseeker.history.service import RevisionNotFound

        view = self.authorizer.visibility(caller, self._flag(req, "all_projects", False))
        rev_from = self._revision_param(req, "from")
        rev_to = self._revision_param(req, "to")
        try:
            body = self._timed(
                lambda: self.history_service().diff(stack_id, view, rev_from, rev_to))
        except RevisionNotFound as exc:
            raise ApiError(404, str(exc)) from None
        if body is None:
            raise ApiError(404, f"no stack {stack_id} that you may see")
        return _json_response(body)

    def changes(self, req: webob.Request, caller: Caller) -> webob.Response:
        view = self.authorizer.visibility(caller, self._flag(req, "all_projects", False))
        limit_text = req.GET.get("limit") or "1000"
        limit = _count_param(limit_text)
        if limit is None or not 1 <= limit <= 1000:
            raise ApiError(400, f"limit must be a whole number from 1 to 1000, not {limit_text!r}")
        body = self._timed(lambda: self.history_service().changes(
            req.GET.get("field") or "", view, since=req.GET.get("since"),
            until=req.GET.get("until"), include_created=self._flag(req, "include_created", False),
            limit=limit))
        return _json_response(body)

    # -- reverse lookup (heatseeker/uses.py) ------------------------------------------------------

    def uses(self, req: webob.Request, caller: Caller) -> webob.Response:
        from heatseeker.uses import find_uses

        view = self.authorizer.visibility(caller, self._flag(req, "all_projects", False))
        value = req.GET.get("value")
        if not value:
            raise ApiError(400, "give the value to look for: ?value=…")
        exact = self._flag(req, "exact", False)
        under_id = req.GET.get("under") or None
        started = time.monotonic()
        answer = self._timed(lambda: find_uses(self.searcher, value, view=view, exact=exact,
                                               subtree=under_id))
        body = answer.as_dict()
        body["took"] = int((time.monotonic() - started) * 1000)
        return _json_response(body)


class PublicFirst:
    """Serve the public routes (versions, the API description) without authentication and
    everything else through the authentication middleware."""

    def __init__(self, app: App, protected):
        self.app = app
        self.protected = protected

    def __call__(self, environ, start_response):
        if TABLE.is_public(environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "/")):
            return self.app(environ, start_response)
        return self.protected(environ, start_response)


def build_app(conf, searcher: Searcher | None = None, history=None):
    """The WSGI application for ``conf`` (``[api]``, ``[keystone_authtoken]``, ``[oslo_policy]``)."""
    from heatseeker.api import policy
    from heatseeker.api.auth import TrustedHeaders
    from heatseeker.engines import open_engine
    from heatseeker.query.visibility import check_admin_only

    if searcher is None:
        searcher = Searcher(open_engine(conf, read_only=True))
    authorizer = Authorizer(policy.enforcer(conf), check_admin_only(conf.api.admin_only_fields))
    app = App(conf, searcher, authorizer, history)
    if conf.api.auth_strategy == "keystone":
        from keystonemiddleware import auth_token

        protected = auth_token.AuthProtocol(app, {"oslo_config_config": conf})
    else:
        protected = TrustedHeaders(app, conf.api.trusted_headers_hosts)
    return PublicFirst(app, protected)
