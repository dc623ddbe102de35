"""Every route of the search API, in one table: method, path template, handler, policy rule.

The table is the one place a route is declared: ``App.dispatch`` (``app.py``) matches a request
against it, checks the route's policy rule, then calls the handler (an ``App`` method, named here)
with the template's parameters; ``PublicFirst`` serves the routes without a rule before
authentication. A path that matches a route but not its method is a 405 whose ``Allow`` lists the
methods the path has; any other path is a 404. Tests keep the table, ``openapi.yaml`` and the
operations ``policy.py`` documents in step (``tests/unit/test_api_routes.py``,
``tests/unit/test_openapi.py``).

Templates are compiled once, at import: ``{name}`` matches one path segment (``[^/]+``),
everything else matches itself. No two routes of the table match the same path and method.

Adding a route:

1. a ``Route`` here: method, template, the handler's name, the policy rule (None: public);
2. the handler, an ``App`` method ``(req, caller, **params)`` (public: ``(req)``), its answer
   shaped in ``responses.py`` when it is Searchlight's format;
3. the rule in ``policy.py``, a ``DocumentedRuleDefault`` listing the operation, and
   ``etc/policy.yaml.sample`` regenerated (``test_api_routes.py`` and the sample's test fail
   until both are done);
4. the operation in ``openapi.yaml`` (``test_openapi.py`` fails until it is there);
5. tests of its behaviour (``tests/unit/test_api.py``; isolation in ``test_isolation.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # "/v1/search/stacks/{stack_id}"
    handler: str  # the name of the App method that answers
    rule: str | None = None  # the policy rule the caller must pass; None: public, no authentication


ROUTES = (
    # the versions document (300) and this version: public
    Route("GET", "/", "versions"),
    Route("GET", "/v1", "version"),
    Route("GET", "/v1/", "version"),
    # the OpenAPI description of all of it (openapi.yaml, or as JSON): public
    Route("GET", "/v1/openapi.yaml", "openapi_yaml"),
    Route("GET", "/v1/openapi.json", "openapi_json"),
    # the one resource type, OS::Heat::Stack
    Route("GET", "/v1/search/plugins", "plugins", "search:plugins"),
    # the fields one can filter on, with value counts
    Route("GET", "/v1/search/facets", "facets", "search:facets"),
    # search: the Elasticsearch DSL subset (query/dsl.py), a GET may carry the body too
    Route("GET", "/v1/search", "search", "search:query"),
    Route("POST", "/v1/search", "search", "search:query"),
    Route("GET", "/v1/search/", "search", "search:query"),
    Route("POST", "/v1/search/", "search", "search:query"),
    # heatseeker: which stacks changed a field, when, old → new values (history/service.py)
    Route("GET", "/v1/search/changes", "changes", "search:changes"),
    # heatseeker: every stack that uses a value, and where (?value=, uses.py)
    Route("GET", "/v1/search/uses", "uses", "search:uses"),
    # heatseeker: one stack and its nested tree
    Route("GET", "/v1/search/stacks/{stack_id}", "stack", "search:query"),
    # heatseeker: a stack's revisions, and the semantic diff of two (?from=&to=)
    Route("GET", "/v1/search/stacks/{stack_id}/history", "stack_history", "search:history"),
    Route("GET", "/v1/search/stacks/{stack_id}/diff", "stack_diff", "search:history"),
)

_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def compile_template(template: str) -> re.Pattern[str]:
    """``template`` as a regular expression: ``{name}`` a named group of one path segment."""
    out, at = [], 0
    for m in _PARAM.finditer(template):
        out.append(re.escape(template[at:m.start()]))
        out.append(f"(?P<{m.group(1)}>[^/]+)")
        at = m.end()
    out.append(re.escape(template[at:]))
    return re.compile("".join(out))


class NoRoute(Exception):
    """No route for a request: ``allow`` lists the path's methods (a 405), or is empty (a 404)."""

    def __init__(self, allow: tuple[str, ...]):
        super().__init__(allow)
        self.allow = allow


class Table:
    def __init__(self, routes: Iterable[Route]):
        self.routes = tuple(routes)
        self._compiled = tuple((compile_template(r.template), r) for r in self.routes)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        """The route for ``method`` on ``path`` and the template's parameters; NoRoute if none."""
        allow: list[str] = []
        for pattern, route in self._compiled:
            found = pattern.fullmatch(path)
            if found is None:
                continue
            if route.method == method:
                return route, found.groupdict()
            if route.method not in allow:
                allow.append(route.method)
        raise NoRoute(tuple(allow))

    def is_public(self, method: str, path: str) -> bool:
        """Whether ``method`` on ``path`` is a route served without authentication."""
        try:
            route, _ = self.match(method, path)
        except NoRoute:
            return False
        return route.rule is None


TABLE = Table(ROUTES)
