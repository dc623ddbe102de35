"""The one builder of Searchlight-format answers: the API's bodies and ``heatseeker search --json``.

Searchlight v1 answered in Elasticsearch's shape (``hits.hits[]._id/_index/_type/_score/_source``,
``_shards``, ``timed_out``, ``took``); heatseeker keeps it and adds optional keys only (a roll-up's
``matched``/``matches`` per root and its ``rollup`` summary). The API and the CLI used to shape
answers each on their own and drifted (the CLI's roll-up lacked ``rollup`` and ``_shards``), so
both build them here. Plain dictionaries, no webob: encoding and HTTP stay with the caller.
``took`` is the caller's to add, since only the caller knows when its work started.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from heatseeker.query.request import STACK_TYPE
from heatseeker.query.source import SourceSpec, select
from heatseeker.query.visibility import Visibility
from heatseeker.searcher import Found, RollupResult

INDEX_NAME = "heatseeker"
PLUGIN = {
    "type": STACK_TYPE,
    "alias-searching": "heatseeker-search",
    "alias-indexing": "heatseeker-listener",
}


def versions(base_url: str) -> dict:
    """``GET /``: the API versions (served with status 300)."""
    return {"versions": [{"id": "v1.0", "status": "CURRENT",
                          "links": [{"rel": "self", "href": base_url + "/v1/"}]}]}


def version(base_url: str) -> dict:
    """``GET /v1``: this version, and where its OpenAPI description is."""
    return {"version": {"id": "v1.0", "status": "CURRENT", "links": [
        {"rel": "self", "href": base_url + "/v1/"},
        {"rel": "describedby", "type": "application/vnd.oai.openapi",
         "href": base_url + "/v1/openapi.yaml"}]}}


def plugins() -> dict:
    """``GET /v1/search/plugins``: the one resource type."""
    return {"plugins": [PLUGIN]}


def facets(fields: list) -> dict:
    """``GET /v1/search/facets``: the facets of the one resource type."""
    return {STACK_TYPE: fields}


def hit(stack_id: str, score: float | None, source: dict, **extra: Any) -> dict:
    """One hit: ``_id``, ``_index``, ``_type``, ``_score``, ``_source``, then ``extra``."""
    out = {"_id": stack_id, "_index": INDEX_NAME, "_type": STACK_TYPE, "_score": score,
           "_source": source}
    out.update(extra)
    return out


def _shell() -> dict:
    return {"timed_out": False,
            "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0}}


def search(found: Found, *, source: SourceSpec = True, versions: bool = False) -> dict:
    """A page of matching stacks; ``_version`` per hit when ``versions``, ``highlight`` and
    ``sort`` (the cursor) where the searcher computed them."""
    hits = []
    for h in found.hits:
        one = hit(h.id, h.score, select(h.source, source))
        if versions:
            one["_version"] = h.version
        if h.id in found.highlights:
            one["highlight"] = found.highlights[h.id]
        if h.id in found.cursors:
            one["sort"] = found.cursors[h.id]
        hits.append(one)
    answer = _shell()
    answer["hits"] = {"total": found.total, "max_score": found.max_score, "hits": hits}
    return answer


def rollup(rolled: RollupResult, view: Visibility, *, source: SourceSpec = True) -> dict:
    """A page of root stacks, each with how many of its stacks matched and the matches listed."""
    hits = [
        hit(r.root_id, r.score, select(r.source or {"id": r.root_id}, source),
            matched=r.matched,
            matches=[view.source({"id": m.id, "path": m.path, "depth": m.depth,
                                  "_score": m.score}) for m in r.matches])
        for r in rolled.roots
    ]
    answer = _shell()
    answer["hits"] = {"total": rolled.total,
                      "max_score": rolled.roots[0].score if rolled.roots else None,
                      "hits": hits}
    answer["rollup"] = {"matched_stacks": rolled.matched_stacks, "truncated": rolled.truncated,
                        "total_relation": rolled.total_relation}
    return answer


def aggregations(result: dict[str, list[tuple[str, int]]], names: Iterable[str]) -> dict:
    """Terms aggregations in Elasticsearch's shape, one per name asked for."""
    return {
        name: {"doc_count_error_upper_bound": 0, "sum_other_doc_count": 0,
               "buckets": [{"key": k, "doc_count": n} for k, n in result.get(name, [])]}
        for name in names
    }
