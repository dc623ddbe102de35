"""``GET /v1/search/facets``: the fields of a stack a user can filter on, with value counts."""

from __future__ import annotations

from heatseeker.query import fields as F
from heatseeker.query import tree as t
from heatseeker.query.visibility import Visibility
from heatseeker.searcher import Searcher

# facets with options (value counts), in the order shown
WITH_OPTIONS = ("region", "status", "action", "state", "tags", "resource_types", "template_version",
                "registry_types")
ADMIN_WITH_OPTIONS = ("project_id",)  # only when a cloud admin looks at every project

_TYPES = {F.KEYWORD: "string", F.TEXT: "string", F.DATE: "date", F.INT: "integer"}

# facets without options: the other fields worth filtering on
WITHOUT_OPTIONS = (
    "id", "name", "description", "status_reason", "parent_id", "root_id", "ancestors", "path",
    "parent_resource", "fingerprint", "files", "stack_owner", "stack_user_project_id",
    "created_at", "updated_at", "deleted_at", "indexed_at", "depth", "template_fingerprint",
    "registry_map", "created_by", "link",
)  # fmt: skip

DYNAMIC = ("parameters", "outputs", "resources", "template", "environment")


def facets(
    searcher: Searcher,
    view: Visibility,
    *,
    include_fields: bool = True,
    exclude_options: bool = False,
    limit_terms: int = 0,
) -> dict:
    doc_count = searcher.count(t.MatchAll(), view=view)
    body: dict = {"doc_count": doc_count}
    if not include_fields:
        return body
    optioned = list(WITH_OPTIONS) + (list(ADMIN_WITH_OPTIONS) if view.projects is None else [])
    optioned = [f for f in optioned if f not in view.hidden_fields]
    options: dict[str, list[tuple[str, int]]] = {}
    if not exclude_options and optioned:
        size = limit_terms if limit_terms > 0 else 1000
        options = searcher.aggregate(
            t.MatchAll(), {f: t.TermsAgg(f, size) for f in optioned}, view=view
        )
    out = []
    for name in optioned:
        facet: dict = {"name": name, "type": "string"}
        if not exclude_options:
            facet["options"] = [{"key": k, "doc_count": n} for k, n in options.get(name, [])]
        out.append(facet)
    for name in WITHOUT_OPTIONS:
        if name in view.hidden_fields:
            continue
        out.append({"name": name, "type": _TYPES[F.FIELDS[name]]})
    for name in DYNAMIC:
        out.append({"name": name, "type": "object"})
    body["facets"] = out
    return body
