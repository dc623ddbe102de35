"""``heatseeker.client.Client``: heatseeker's search API from Python, over a keystoneauth1 session.

Why it is built this way:

* **keystoneauth1 only.** The session carries the caller's identity (password, application
  credential, token: whatever the session's plugin does) and the ``Adapter`` finds the endpoint in
  the service catalog (service type ``search``, the interface and region asked for) exactly as every
  OpenStack client does; ``endpoint_override`` skips the catalog. Nothing of heatseeker's server
  side is imported (no store, engine or API module): a cloud user's machine needs this package's
  ``client`` folder and keystoneauth1, nothing else of the server's dependencies at run time.
* **The catalog URL is the service root** (``http://host:9393``), as Searchlight registered it and
  as python-searchlightclient expects; paths start with ``/v1``. An endpoint registered with the
  version (``…/v1``) works too: the suffix is dropped once.
* **Plain data back.** Answers are the API's JSON (``dict``), documented in
  ``heatseeker/api/openapi.yaml``; only a search page is a small dataclass, because paging needs its
  cursor. Errors are exceptions carrying the API's own message (``errors.py``).
* **Paging.** ``search`` is one page; ``iter_search`` walks every page with ``search_after`` (the
  API's deep-paging cursor: the ``sort`` values of the last hit, then its id), so it is not bound
  by ``max_result_window``; ``iter_roots`` pages a roll-up by offset (roll-ups order by score, which
  has no cursor).
* **A stack by name or id** (``find_stack``) is asked of heatseeker itself, not Heat: the answer is
  then exactly what the caller may see through every other call here (the same scope, the same
  ``all_projects`` policy), ids of stacks Heat no longer has (whose history heatseeker keeps)
  still pass, and the plugin needs no second service.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from keystoneauth1 import adapter
from keystoneauth1 import exceptions as ks_exc

from heatseeker.client import errors

SERVICE_TYPE = "search"
STACK_TYPE = "OS::Heat::Stack"
# The API's default most results per page ([api] max_limit); a smaller server maximum is learnt
# from its refusal on the first page.
PAGE_SIZE = 1000
_TOO_LARGE = re.compile(r"limit \d+ is too large: at most (\d+) allowed")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$")


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("heatseeker")
    except Exception:  # noqa: BLE001 - not installed (a source tree on sys.path)
        return "0"


@dataclass(frozen=True)
class SearchPage:
    """One page of ``POST /v1/search``: the hits as the API gives them (``_id``, ``_source``,
    ``sort`` when sorted; with roll-up, root stacks with ``matched`` and ``matches``)."""

    total: int
    hits: list[dict[str, Any]] = field(default_factory=list)
    rollup: dict[str, Any] | None = None  # roll-up: matched_stacks, truncated
    aggregations: dict[str, Any] | None = None
    took: int | None = None

    @property
    def search_after(self) -> list[Any] | None:
        """The cursor of the next page (the last hit's ``sort``), when the search was sorted."""
        return self.hits[-1].get("sort") if self.hits else None


def query_body(query: str | Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The DSL query for ``query``: a string is a query string (heatseeker's syntax, AND by
    default), a mapping is already the DSL, None matches every stack."""
    if query is None:
        return None
    if isinstance(query, str):
        return {"query_string": {"query": query}}
    return dict(query)


def _refused(exc: ks_exc.HttpError) -> errors.Unauthorized:
    """Keystone refused the session's credentials (while the session got a token)."""
    return errors.Unauthorized(f"Keystone refused the credentials: {exc.message}",
                               status=exc.http_status, request_id=exc.request_id)


def _flag(value: bool) -> str:
    return "true" if value else "false"


class Client:
    """heatseeker's search API (Searchlight v1 and heatseeker's extensions) for one session."""

    def __init__(self, session, region_name: str | None = None, interface: str | None = "public",
                 endpoint_override: str | None = None, *, service_type: str = SERVICE_TYPE,
                 page_size: int = PAGE_SIZE):
        self.http = adapter.Adapter(
            session, service_type=service_type, interface=interface or "public",
            region_name=region_name or None, endpoint_override=endpoint_override or None,
            client_name="heatseeker", client_version=_version(),
        )
        self.service_type = service_type
        self.page_size = page_size
        self._root: str | None = None

    # -- plumbing ---------------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """The service root (the catalog's URL, or the override), without a trailing ``/v1``."""
        if self._root is None:
            where = (f"service type {self.service_type!r}, interface "
                     f"{self.http.interface!r}, region {self.http.region_name or '(any)'!r}")
            try:
                url = self.http.get_endpoint()
            except ks_exc.EndpointNotFound:
                url = None
            except ks_exc.ConnectionError as exc:
                raise errors.Unreachable(f"cannot reach Keystone for the catalog: {exc}") from None
            except ks_exc.HttpError as exc:
                raise _refused(exc) from None
            if not url:
                raise errors.EndpointNotFound(
                    f"no heatseeker endpoint in the service catalog ({where}); ask your cloud "
                    "for the 'search' service, or give its URL (OS_SEARCH_ENDPOINT_OVERRIDE, "
                    "search_endpoint_override in clouds.yaml; endpoint_override= in Python)")
            url = url.rstrip("/")
            self._root = url[:-3] if url.endswith("/v1") else url
        return self._root

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                body: Any = None) -> Any:
        """``method path`` (a path under the service root, ``/v1/...``); the decoded JSON answer.
        Raises ``errors.HeatseekerError`` (by status) for any error answer."""
        url = self.endpoint + path
        kwargs: dict[str, Any] = {"headers": {"Accept": "application/json"}, "raise_exc": False}
        if params:
            kwargs["params"] = {k: v for k, v in params.items() if v is not None}
        if body is not None:
            kwargs["json"] = body
        try:
            resp = self.http.request(url, method, **kwargs)
        except ks_exc.ConnectionError as exc:
            raise errors.Unreachable(f"heatseeker at {self.endpoint} does not answer: {exc}") \
                from None
        except ks_exc.HttpError as exc:  # raise_exc is off: only Keystone's (a new token) raises
            raise _refused(exc) from None
        request_id = resp.headers.get("x-openstack-request-id")
        if resp.status_code >= 400:
            raise errors.from_response(resp.status_code, resp.text, resp.reason or "",
                                       request_id)
        try:
            return resp.json()
        except ValueError:
            raise errors.HeatseekerError(
                f"{method} {path} answered {resp.status_code} without JSON: "
                f"{resp.text[:200]!r}", status=resp.status_code, request_id=request_id) from None

    def _get(self, path: str, all_projects: bool = False, **params: Any) -> Any:
        if all_projects:
            params["all_projects"] = "true"
        return self.request("GET", path, params=params)

    # -- search ------------------------------------------------------------------------------------

    def search(self, query: str | Mapping[str, Any] | None = None, *, rollup: bool = False,
               under: str | None = None, all_projects: bool = False, limit: int | None = None,
               offset: int | None = None, sort: str | Sequence[Any] | None = None,
               search_after: Sequence[Any] | None = None, source: Any = None,
               highlight: Mapping[str, Any] | None = None,
               aggregations: Mapping[str, Any] | None = None) -> SearchPage:
        """One page of matching stacks (``rollup``: root stacks, each with its matching stacks).

        ``query``: a query string, or a DSL query as a mapping; ``under``: a stack id (only it
        and its nested stacks); ``sort``: ``"name"``, ``"updated_at:desc"``, a list of those;
        ``search_after``: the previous page's ``SearchPage.search_after`` (with the same sort);
        ``source``: the API's ``_source`` (fields to return)."""
        body: dict[str, Any] = {"type": STACK_TYPE}
        q = query_body(query)
        if q is not None:
            body["query"] = q
        optional = {"under": under, "limit": limit, "offset": offset, "_source": source,
                    "highlight": highlight, "aggs": aggregations,
                    "search_after": list(search_after) if search_after is not None else None,
                    "sort": sort if isinstance(sort, str | None) else list(sort)}
        body.update({k: v for k, v in optional.items() if v is not None})
        if rollup:
            body["rollup"] = "root"
        if all_projects:
            body["all_projects"] = True
        answer = self.request("POST", "/v1/search", body=body)
        hits = answer.get("hits") or {}
        return SearchPage(total=int(hits.get("total") or 0), hits=list(hits.get("hits") or []),
                          rollup=answer.get("rollup"), aggregations=answer.get("aggregations"),
                          took=answer.get("took"))

    def _page(self, limit: int | None, got: int) -> int:
        return self.page_size if limit is None else min(self.page_size, limit - got)

    def _search_learning_size(self, **kwargs: Any) -> SearchPage:
        """A search whose page size is lowered to the server's maximum if it refuses ours."""
        try:
            return self.search(**kwargs)
        except errors.BadRequest as exc:
            most = _TOO_LARGE.search(exc.message)
            if not most or int(most.group(1)) >= kwargs["limit"]:
                raise
            self.page_size = max(1, int(most.group(1)))
            kwargs["limit"] = min(kwargs["limit"], self.page_size)
            return self.search(**kwargs)

    def iter_search(self, query: str | Mapping[str, Any] | None = None, *,
                    sort: str | Sequence[Any] = "name", limit: int | None = None,
                    search_after: Sequence[Any] | None = None, **kwargs: Any
                    ) -> Iterator[dict[str, Any]]:
        """Every matching stack (at most ``limit``), page after page with ``search_after``, in
        ``sort`` order, ties by id. A sort on ``_score`` (relevance) has no cursor: it pages by
        offset, as far as the API's result window allows."""
        keys = [sort] if isinstance(sort, str) else list(sort)
        by_offset = search_after is None and any(str(k).split(":")[0] == "_score" for k in keys)
        got = 0
        cursor = list(search_after) if search_after is not None else None
        while limit is None or got < limit:
            size = self._page(limit, got)
            page = self._search_learning_size(
                query=query, sort=sort, limit=size, offset=(got or None) if by_offset else None,
                search_after=None if by_offset else cursor, **kwargs)
            yield from page.hits
            got += len(page.hits)
            cursor = page.search_after
            size = min(size, self.page_size)  # lowered if the server refused it
            if len(page.hits) < size or (by_offset and got >= page.total) or cursor is None:
                return

    def iter_roots(self, query: str | Mapping[str, Any] | None = None, *,
                   limit: int | None = None, offset: int = 0, **kwargs: Any
                   ) -> Iterator[dict[str, Any]]:
        """Every root stack of a roll-up (at most ``limit``), in the API's order (best match
        first), paged by offset; each with ``matched`` and ``matches``."""
        got = 0
        while limit is None or got < limit:
            size = self._page(limit, got)
            page = self._search_learning_size(query=query, rollup=True, limit=size,
                                              offset=offset + got, **kwargs)
            yield from page.hits
            got += len(page.hits)
            size = min(size, self.page_size)  # lowered if the server refused it
            # a total beyond the server's bound is a lower bound ("gte"): the short page ends it
            exact = (page.rollup or {}).get("total_relation", "eq") == "eq"
            if len(page.hits) < size or (exact and offset + got >= page.total):
                return

    def cursor(self, stack_id: str, sort: str | Sequence[Any] = "name", *,
               all_projects: bool = False) -> list[Any]:
        """The ``search_after`` that continues after stack ``stack_id`` in ``sort`` order (what
        a marker means: the last stack of the previous page)."""
        page = self.search({"term": {"id": stack_id}}, sort=sort, limit=1, source=["id"],
                           all_projects=all_projects)
        if not page.hits or not page.hits[0].get("sort"):
            raise errors.StackNotFound(f"no stack {stack_id!r} that you may see (the marker "
                                       "must be the id of a stack of the previous page)")
        return list(page.hits[0]["sort"])

    def find_stack(self, name_or_id: str, *, all_projects: bool = False) -> dict[str, Any]:
        """The stack named ``name_or_id`` or with that id, among those the caller may see:
        ``{"id", "name", "project_id", "status", "path"}``. An id wins over a name; a name that
        several stacks share raises ``AmbiguousStack``; nothing raises ``StackNotFound``, except
        that a string shaped like a stack id is returned as ``{"id": ...}`` (a deleted stack is no
        longer searchable, but its history is kept by id, and the API says 404 if not)."""
        wanted = name_or_id.strip()
        if not wanted:
            raise errors.StackNotFound("a stack name or id cannot be empty")
        query = {"bool": {"should": [{"term": {"id": wanted}}, {"term": {"name": wanted}}],
                          "minimum_should_match": 1}}
        page = self.search(query, all_projects=all_projects, limit=51, sort="name",
                           source=["id", "name", "project_id", "status", "path"])
        found = [dict(h.get("_source") or {}, id=h["_id"]) for h in page.hits]
        for stack in found:
            if stack["id"] == wanted:
                return stack
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            listed = "; ".join(
                f"{s['id']} ({' / '.join(s.get('path') or [s.get('name') or ''])}"
                + (f", project {s['project_id']}" if s.get("project_id") else "") + ")"
                for s in found[:10])
            more = f" and {page.total - 10} more" if page.total > 10 else ""
            raise errors.AmbiguousStack(
                f"{page.total} stacks you may see are named {wanted!r}: {listed}{more}; "
                "name one by its id", found)
        if _UUID.match(wanted):
            return {"id": wanted}
        scope = "in any project" if all_projects else "in your project"
        raise errors.StackNotFound(f"no stack named {wanted!r} (or with that id) that you may "
                                   f"see {scope}")

    # -- the other endpoints ------------------------------------------------------------------------

    def plugins(self) -> list[dict[str, Any]]:
        """The resource types the API serves (``OS::Heat::Stack``)."""
        return list(self._get("/v1/search/plugins").get("plugins") or [])

    def facets(self, *, all_projects: bool = False, include_fields: bool = True,
               exclude_options: bool = False, limit_terms: int | None = None) -> dict[str, Any]:
        """Facets of the stacks the caller may see: ``{"doc_count", "facets": [{"name",
        "type", "options": [{"key", "doc_count"}]}]}``."""
        answer = self._get("/v1/search/facets", all_projects, type=STACK_TYPE,
                           include_fields=_flag(include_fields),
                           exclude_options=_flag(exclude_options), limit_terms=limit_terms)
        return dict(answer.get(STACK_TYPE) or {"doc_count": 0, "facets": []})

    def show(self, stack_id: str, *, all_projects: bool = False) -> dict[str, Any]:
        """One stack and its nested tree: ``{"stack": {...}, "children": [...]}``."""
        return self._get(f"/v1/search/stacks/{quote(stack_id, safe='')}", all_projects)

    def uses(self, value: str, *, exact: bool = False, under: str | None = None,
             all_projects: bool = False) -> dict[str, Any]:
        """Every stack that uses ``value``, and where: ``{"value", "total", "roots",
        "stacks": [{"id", "name", "path", "where": [{"path", "match", "value"}]}],
        "candidates", "truncated"}``."""
        return self._get("/v1/search/uses", all_projects, value=value,
                         exact=_flag(exact) if exact else None, under=under)

    def history(self, stack_id: str, *, revision: int | None = None,
                all_projects: bool = False) -> dict[str, Any]:
        """A stack's revisions, oldest first (``revision``: that one, with its document)."""
        return self._get(f"/v1/search/stacks/{quote(stack_id, safe='')}/history", all_projects,
                         revision=revision)

    def diff(self, stack_id: str, rev_from: int | None = None, rev_to: int | None = None, *,
             all_projects: bool = False) -> dict[str, Any]:
        """The semantic diff of two revisions (default: the one before the latest → the latest):
        ``{"from", "to", "changes": [{"path", "kind", "old", "new"}]}``."""
        return self._get(f"/v1/search/stacks/{quote(stack_id, safe='')}/diff", all_projects,
                         **{"from": rev_from, "to": rev_to})

    def changes(self, field: str | None = None, *, since: str | None = None,
                until: str | None = None, include_created: bool = False,
                limit: int | None = None, all_projects: bool = False) -> dict[str, Any]:
        """Which stacks changed ``field`` (a query-string field name; None: any), when, old →
        new; ``since``/``until`` in date math (``7d``, ``now-1h``, ``2026-11-25``)."""
        return self._get("/v1/search/changes", all_projects, field=field or None, since=since,
                         until=until, limit=limit,
                         include_created=_flag(include_created) if include_created else None)
