"""The one way to run a search: tree → scope → engine → roll-up. Used by the CLI and the API.

Every engine call here goes through ``scope()``: a caller names the projects it may see (``None``
only for a cloud admin asking for all projects) and nothing else reaches the engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from heatseeker.engines.base import Engine
from heatseeker.query import tree as t
from heatseeker.query.rollup import RootHit, rollup
from heatseeker.query.scope import scope

Projects = frozenset[str] | None

# Roll-up groups per-stack hits by root; it reads at most this many matching stacks.
ROLLUP_MAX_HITS = 10_000

# What a roll-up needs from each matching stack.
_ROLLUP_FIELDS = ("id", "name", "root_id", "path", "depth", "project_id")


@dataclass
class RollupResult:
    total: int  # roots
    roots: list[RootHit] = field(default_factory=list)
    matched_stacks: int = 0
    truncated: bool = False


def under(node: t.Node, stack_id: str) -> t.Node:
    """Limit a query to one stack and its descendants."""
    subtree = t.Bool(should=(t.Term("id", stack_id), t.Term("ancestors", stack_id)))
    return t.Bool(must=(node,), filter=(subtree,))


class Searcher:
    def __init__(self, engine: Engine):
        self.engine = engine

    def search(
        self,
        node: t.Node,
        *,
        projects: Projects,
        sort: Sequence[t.SortKey] = (),
        offset: int = 0,
        limit: int = 10,
        fields: Sequence[str] | None = None,
        subtree: str | None = None,
    ) -> t.SearchResult:
        if subtree:
            node = under(node, subtree)
        return self.engine.search(
            scope(node, projects), sort=sort, offset=offset, limit=limit, fields=fields
        )

    def search_roots(
        self,
        node: t.Node,
        *,
        projects: Projects,
        offset: int = 0,
        limit: int = 10,
        fields: Sequence[str] | None = None,
        subtree: str | None = None,
    ) -> RollupResult:
        """Matching stacks rolled up to their root stacks, each root with the matching paths."""
        if subtree:
            node = under(node, subtree)
        scoped = scope(node, projects)
        res = self.engine.search(scoped, offset=0, limit=ROLLUP_MAX_HITS, fields=_ROLLUP_FIELDS)
        wanted = {h.source.get("root_id") or h.id for h in res.hits}
        roots: dict[str, dict] = {}
        if wanted:
            # the roots themselves, within the same scope: another project's root stays unknown
            rres = self.engine.search(
                scope(t.Ids(tuple(sorted(wanted))), projects),
                limit=len(wanted),
                fields=fields,
            )
            roots = {h.id: h.source for h in rres.hits}
        grouped = rollup(res.hits, roots)
        return RollupResult(
            total=len(grouped),
            roots=grouped[offset : offset + limit],
            matched_stacks=res.total,
            truncated=res.total > len(res.hits),
        )

    def count(self, node: t.Node, *, projects: Projects) -> int:
        return self.engine.count(scope(node, projects))

    def aggregate(
        self, node: t.Node, aggs: dict[str, t.TermsAgg], *, projects: Projects
    ) -> dict[str, list[tuple[str, int]]]:
        return self.engine.aggregate(scope(node, projects), aggs)

    def get(self, stack_id: str, *, projects: Projects) -> dict | None:
        res = self.engine.search(scope(t.Ids((stack_id,)), projects), limit=1)
        return res.hits[0].source if res.hits else None

    def stack_tree(self, stack_id: str, *, projects: Projects) -> dict | None:
        """A stack's document and its nested tree: ``{"stack": doc, "children": [subtrees]}``."""
        doc = self.get(stack_id, projects=projects)
        if doc is None:
            return None
        res = self.engine.search(
            scope(t.Term("ancestors", stack_id), projects),
            sort=(t.SortKey("depth"), t.SortKey("name")),
            limit=ROLLUP_MAX_HITS,
            fields=("id", "name", "status", "parent_id", "parent_resource", "depth", "path"),
        )
        nodes: dict[str, dict] = {stack_id: {"stack": doc, "children": []}}
        for h in res.hits:
            nodes[h.id] = {"stack": h.source, "children": []}
        for h in res.hits:
            parent = nodes.get(h.source.get("parent_id") or "")
            if parent is not None:
                parent["children"].append(nodes[h.id])
        return nodes[stack_id]
