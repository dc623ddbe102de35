"""The search API: Searchlight v1 where Searchlight defined it, extended only with optional keys.

    GET  /                          300, the versions document (no auth)
    GET  /v1/openapi.yaml|.json     the OpenAPI description of all of it (no auth)
    GET  /v1/search/plugins         the one resource type, OS::Heat::Stack
    GET  /v1/search/facets          facets with value counts
    POST /v1/search  (GET + body)   search (the Elasticsearch DSL subset, see query/dsl.py)
    GET  /v1/search/stacks/{id}     one stack and its nested tree (heatseeker)
    GET  /v1/search/uses?value=     every stack that uses a value, and where (heatseeker)
    GET  /v1/search/stacks/{id}/history   its revisions (heatseeker, history/service.py)
    GET  /v1/search/stacks/{id}/diff      the semantic diff of two revisions (?from=&to=)
    GET  /v1/search/changes         which stacks changed a field, when, old → new values

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
import copy
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
from heatseeker.api.auth import Authorizer, Caller, Forbidden, Unauthorized
from heatseeker.engines.base import EngineError
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
from heatseeker.query.visibility import HiddenField
from heatseeker.searcher import Searcher, under

LOG = logging.getLogger(__name__)

OPENAPI = os.path.join(os.path.dirname(os.path.abspath(__file__)), "openapi.yaml")
INDEX_NAME = "heatseeker"
PLUGIN = {
    "type": STACK_TYPE,
    "alias-searching": "heatseeker-search",
    "alias-indexing": "heatseeker-listener",
}


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


def _select(source: dict, spec) -> dict:
    """Apply a normalised ``_source`` spec (True, False, include tuple, or include/exclude)."""
    if spec is True:
        return source
    if spec is False:
        return {}
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    if isinstance(spec, tuple):
        include = spec
    elif isinstance(spec, dict):
        include = tuple(spec.get("include") or ())
        exclude = tuple(spec.get("exclude") or ())
    out = _pick(source, include) if include else dict(source)
    if exclude:
        out = copy.deepcopy(out)  # nested parts may be shared with the source
    for path in exclude:
        _drop(out, path.split("."))
    return out


def _pick_value(value, rest: str):
    """The part of ``value`` under the dotted path ``rest`` (lists: per item), or _NOTHING."""
    if isinstance(value, list):
        items = [_pick_value(v, rest) for v in value]
        kept = [i for i in items if i is not _NOTHING]
        return kept if kept else _NOTHING
    if isinstance(value, dict):
        sub = _pick(value, (rest,))
        return sub if sub else _NOTHING
    return _NOTHING  # the path goes on below a scalar: nothing there


_NOTHING = object()


def _merge(into: dict, key: str, value) -> None:
    have = into.get(key, _NOTHING)
    if have is _NOTHING:
        into[key] = value
    elif isinstance(have, dict) and isinstance(value, dict):
        for k, v in value.items():
            _merge(have, k, v)
    elif isinstance(have, list) and isinstance(value, list) and len(have) == len(value):
        into[key] = [
            (_merged(a, b) if isinstance(a, dict) and isinstance(b, dict) else b)
            for a, b in zip(have, value, strict=True)
        ]
    else:
        into[key] = value


def _merged(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        _merge(out, k, v)
    return out


def _pick(source: dict, paths: tuple[str, ...]) -> dict:
    out: dict = {}
    for path in paths:
        head, _, rest = path.partition(".")
        if head == "*":
            return dict(source)
        if head.endswith("*"):
            for k, v in source.items():
                if k.startswith(head[:-1]):
                    _merge(out, k, v)
            continue
        if head not in source:
            continue
        if not rest:
            _merge(out, head, source[head])
            continue
        sub = _pick_value(source[head], rest)
        if sub is not _NOTHING:
            _merge(out, head, sub)
    return out


def _drop(doc, path: list[str]) -> None:
    if not path:
        return
    if isinstance(doc, list):
        for item in doc:
            _drop(item, path)
        return
    if not isinstance(doc, dict):
        return
    if len(path) == 1:
        doc.pop(path[0], None)
    elif path[0] in doc:
        _drop(doc[path[0]], path[1:])


def _engine_fields(spec) -> tuple[str, ...] | None:
    """The top-level keys the engine must return for a ``_source`` spec (None: all)."""
    if spec is True or isinstance(spec, dict):
        return None
    if spec is False:
        return ("id",)
    heads = {p.split(".")[0] for p in spec}
    if any(h.endswith("*") for h in heads):
        return None
    return tuple(sorted(heads | {"id"}))


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
        self.routes: list[tuple[str, tuple[str, ...], Callable]] = [
            ("/", ("GET",), self.versions),
            ("/v1", ("GET",), self.version),
            ("/v1/", ("GET",), self.version),
            ("/v1/openapi.yaml", ("GET",), self.openapi_yaml),
            ("/v1/openapi.json", ("GET",), self.openapi_json),
            ("/v1/search/plugins", ("GET",), self.plugins),
            ("/v1/search/facets", ("GET",), self.facets),
            ("/v1/search", ("GET", "POST"), self.search),
            ("/v1/search/", ("GET", "POST"), self.search),
            ("/v1/search/changes", ("GET",), self.changes),
            ("/v1/search/uses", ("GET",), self.uses),
        ]

    # -- plumbing -------------------------------------------------------------------------------

    PUBLIC = ("/", "/v1", "/v1/", "/v1/openapi.yaml", "/v1/openapi.json")

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
        except Exception:  # noqa: BLE001 - a bug must still answer JSON, and be logged
            LOG.exception("unexpected error on %s %s", req.method, req.environ.get("PATH_INFO"))
            resp = error_response(500, "internal error (logged)")
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
        for route, methods, handler in self.routes:
            if path == route:
                if req.method not in methods:
                    raise ApiError(405, f"{req.method} is not allowed on {path}", methods)
                return handler(req)
        prefix = "/v1/search/stacks/"
        history_route = self._history_route(req, path, prefix)
        if history_route is not None:
            return history_route
        if path.startswith(prefix) and "/" not in path[len(prefix):] and len(path) > len(prefix):
            if req.method != "GET":
                raise ApiError(405, f"{req.method} is not allowed on {path}", ("GET",))
            return self.stack(req, path[len(prefix):])
        raise ApiError(404, f"no such resource: {path}")

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

    def versions(self, req: webob.Request) -> webob.Response:
        body = {"versions": [{"id": "v1.0", "status": "CURRENT",
                              "links": [{"rel": "self", "href": req.host_url + "/v1/"}]}]}
        return _json_response(body, 300)

    def version(self, req: webob.Request) -> webob.Response:
        return _json_response({"version": {"id": "v1.0", "status": "CURRENT", "links": [
            {"rel": "self", "href": req.host_url + "/v1/"},
            {"rel": "describedby", "type": "application/vnd.oai.openapi",
             "href": req.host_url + "/v1/openapi.yaml"}]}})

    def openapi_yaml(self, req: webob.Request) -> webob.Response:
        with open(OPENAPI, "rb") as f:
            return webob.Response(body=f.read(), content_type="application/yaml", charset="utf-8")

    def openapi_json(self, req: webob.Request) -> webob.Response:
        import yaml

        with open(OPENAPI) as f:
            return _json_response(yaml.safe_load(f))

    def plugins(self, req: webob.Request) -> webob.Response:
        self.authorizer.require("search:plugins", self._caller(req))
        return _json_response({"plugins": [PLUGIN]})

    # -- facets --------------------------------------------------------------------------------

    def facets(self, req: webob.Request) -> webob.Response:
        caller = self._caller(req)
        self.authorizer.require("search:facets", caller)
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
        return _json_response({STACK_TYPE: body})

    # -- search --------------------------------------------------------------------------------

    def search(self, req: webob.Request) -> webob.Response:
        caller = self._caller(req)
        self.authorizer.require("search:query", caller)
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
        fields = _engine_fields(request.source)
        shell = {"timed_out": False,
                 "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0}}
        if request.rollup == "root":
            rolled = self.searcher.search_roots(
                request.query, view=view, offset=request.offset, limit=request.limit,
                fields=fields, subtree=request.under,
            )
            hits = []
            for r in rolled.roots:
                hits.append({
                    "_id": r.root_id, "_index": INDEX_NAME, "_type": STACK_TYPE, "_score": r.score,
                    "_source": _select(r.source or {"id": r.root_id}, request.source),
                    "matched": r.matched,
                    "matches": [view.source({"id": m.id, "path": m.path, "depth": m.depth,
                                             "_score": m.score}) for m in r.matches],
                })
            shell["hits"] = {"total": rolled.total,
                             "max_score": rolled.roots[0].score if rolled.roots else None,
                             "hits": hits}
            shell["rollup"] = {"matched_stacks": rolled.matched_stacks,
                               "truncated": rolled.truncated}
        else:
            found = self.searcher.search(
                request.query, view=view, sort=request.sort, offset=request.offset,
                limit=request.limit, fields=fields, subtree=request.under,
                highlight_spec=request.highlight, search_after=request.search_after,
            )
            hits = []
            for h in found.hits:
                hit: dict = {"_id": h.id, "_index": INDEX_NAME, "_type": STACK_TYPE,
                             "_score": h.score, "_source": _select(h.source, request.source)}
                if request.version:
                    hit["_version"] = h.version
                if h.id in found.highlights:
                    hit["highlight"] = found.highlights[h.id]
                if h.id in found.cursors:
                    hit["sort"] = found.cursors[h.id]
                hits.append(hit)
            shell["hits"] = {"total": found.total, "max_score": found.max_score, "hits": hits}
        if request.aggs:
            scope = under(request.query, request.under) if request.under else request.query
            result = self.searcher.aggregate(scope, request.aggs, view=view)
            shell["aggregations"] = {
                name: {"doc_count_error_upper_bound": 0, "sum_other_doc_count": 0,
                       "buckets": [{"key": k, "doc_count": n} for k, n in result.get(name, [])]}
                for name in request.aggs
            }
        return shell

    # -- one stack -------------------------------------------------------------------------------

    def stack(self, req: webob.Request, stack_id: str) -> webob.Response:
        caller = self._caller(req)
        self.authorizer.require("search:query", caller)
        view = self.authorizer.visibility(caller, self._flag(req, "all_projects", False))
        node = self._timed(lambda: self.searcher.stack_tree(stack_id, view=view))
        if node is None:
            raise ApiError(404, f"no stack {stack_id} that you may see")
        return _json_response(node)


    # -- history and diffs (heatseeker/history) ------------------------------------------------------

    # routes with a stack id inside, served by dispatch (each GET only)
    TEMPLATED = (
        "/v1/search/stacks/{stack_id}",
        "/v1/search/stacks/{stack_id}/history",
        "/v1/search/stacks/{stack_id}/diff",
    )

    def _history_route(self, req: webob.Request, path: str, prefix: str):
        for suffix, handler in (("/history", self.stack_history), ("/diff", self.stack_diff)):
            if path.startswith(prefix) and path.endswith(suffix):
                stack_id = path[len(prefix) : -len(suffix)]
                if stack_id and "/" not in stack_id:
                    if req.method != "GET":
                        raise ApiError(405, f"{req.method} is not allowed on {path}", ("GET",))
                    return handler(req, stack_id)
        return None

    def history_service(self):
        if self._history_service is None:
            from heatseeker.history.service import History
            from heatseeker.store import Store

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

    def stack_history(self, req: webob.Request, stack_id: str) -> webob.Response:
        caller = self._caller(req)
        self.authorizer.require("search:history", caller)
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

    def stack_diff(self, req: webob.Request, stack_id: str) -> webob.Response:
        from heatseeker.history.service import RevisionNotFound

        caller = self._caller(req)
        self.authorizer.require("search:history", caller)
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

    def changes(self, req: webob.Request) -> webob.Response:
        caller = self._caller(req)
        self.authorizer.require("search:changes", caller)
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

    def uses(self, req: webob.Request) -> webob.Response:
        from heatseeker.uses import find_uses

        caller = self._caller(req)
        self.authorizer.require("search:uses", caller)
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
        if environ.get("PATH_INFO", "/") in App.PUBLIC and environ.get("REQUEST_METHOD") == "GET":
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
    root = PublicFirst(app, protected)
    if conf.ui.enabled:  # the web UI under /ui/, a client of this same app (heatseeker/ui)
        from heatseeker.ui import mount

        return mount(conf, root)
    return root
