"""The one way to run a search: tree → visibility (tenant scope, admin-only fields) → engine →
roll-up, highlights, cursor. Used by the CLI and the API.

Every engine call here goes through ``Visibility.query()``, every returned source through
``Visibility.source()``, and every sort or aggregation field through ``Visibility.check_field()``:
nothing else reaches an engine on a caller's behalf.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from heatseeker.engines.base import Engine
from heatseeker.query import fields as F
from heatseeker.query import tree as t
from heatseeker.query.analysis import BY_SCORE, SCORE
from heatseeker.query.errors import QueryError
from heatseeker.query.highlight import highlight
from heatseeker.query.rollup import RootHit, rollup
from heatseeker.query.visibility import Visibility

# A roll-up lists at most this many matching stacks under the roots of one page (each root
# also says how many of its stacks matched); a stack tree reads at most this many descendants.
ROLLUP_MAX_MATCHES = 1_000
TREE_MAX_STACKS = 10_000
# A roll-up's total of roots is exact up to this many, beyond it "at least this many"
# (``total_relation`` "gte"), as Elasticsearch's and OpenSearch's ``track_total_hits`` default:
# an exact distinct count of roots is a bucket per root (~110,000 at a million stacks), the most
# costly part of a roll-up (bench/results/million); ``track_total_hits: true`` asks for it.
ROLLUP_TOTAL_BOUND = 10_000


def total_bound(track_total_hits: bool | int | None) -> int | None:
    """A request's ``track_total_hits`` as ``search_roots``' ``track_total``: not given, the
    default bound; true, exact (None); false, 0; a number, that bound."""
    if track_total_hits is None:
        return ROLLUP_TOTAL_BOUND
    if track_total_hits is True:
        return None
    return int(track_total_hits)

# What a roll-up needs from each matching stack.
_ROLLUP_FIELDS = ("id", "name", "root_id", "path", "depth", "project_id")


@dataclass
class Found:
    """One page of matching stacks, as the caller may see them."""

    total: int
    hits: list[t.Hit] = field(default_factory=list)
    max_score: float | None = None
    highlights: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # id → field → frags
    cursors: dict[str, list] = field(default_factory=dict)  # id → its "sort" values


@dataclass
class RollupResult:
    total: int  # roots: exact when total_relation is "eq", else a lower bound ("gte")
    roots: list[RootHit] = field(default_factory=list)
    matched_stacks: int = 0
    truncated: bool = False
    total_relation: str = "eq"


def under(node: t.Node, stack_id: str) -> t.Node:
    """Limit a query to one stack and its descendants."""
    subtree = t.Bool(should=(t.Term("id", stack_id), t.Term("ancestors", stack_id)))
    return t.Bool(must=(node,), filter=(subtree,))


def _typed(name: str, value):
    kind = F.FIELDS.get(name)
    if value is None:
        return None
    if kind == F.INT and isinstance(value, float) and not math.isfinite(value):
        raise QueryError(f"search_after value {value!r} for {name!r} must be a whole number")
    if kind == F.DATE:
        try:
            return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise QueryError(f"search_after value {value!r} for {name!r} must be a date") from None
    if kind == F.INT:
        if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
            raise QueryError(f"search_after value {value!r} for {name!r} must be a whole number")
        return int(value)
    return value


def after(sort: Sequence[t.SortKey], values: Sequence) -> t.Node:
    """Documents that sort after ``values`` (the sort values of the last hit, then its id).

    Missing values sort last in both directions, as the engines do.
    """
    if len(values) != len(sort) + 1:
        raise QueryError(f"search_after needs {len(sort) + 1} values: one per sort key, then the id")
    clauses: list[t.Node] = []
    equal: list[t.Node] = []
    for key, raw in zip(sort, values, strict=False):
        if key.field in F.LIST_FIELDS:
            raise QueryError(f"search_after cannot page through a sort on the list field {key.field!r}")
        value = _typed(key.field, raw)
        missing = t.Bool(must=(t.MatchAll(),), must_not=(t.Exists(key.field),))
        if value is None:
            beyond: t.Node = t.MatchNone()
            same: t.Node = missing
        else:
            rng = t.Range(key.field, lt=value) if key.descending else t.Range(key.field, gt=value)
            beyond = t.Bool(should=(rng, missing))
            same = t.Term(key.field, value)
        clauses.append(t.Bool(filter=(*equal, beyond)) if equal else beyond)
        equal.append(same)
    last_id = values[-1]
    if not isinstance(last_id, str):
        raise QueryError("the last search_after value must be a stack id")
    clauses.append(t.Bool(filter=(*equal, t.Range("id", gt=last_id))))
    return t.Bool(should=tuple(clauses), minimum_should_match=1)


class Searcher:
    def __init__(self, engine: Engine):
        self.engine = engine

    def search(
        self,
        node: t.Node,
        *,
        view: Visibility,
        sort: Sequence[t.SortKey] = (),
        offset: int = 0,
        limit: int = 10,
        fields: Sequence[str] | None = None,
        subtree: str | None = None,
        highlight_spec: dict | None = None,
        search_after: Sequence | None = None,
    ) -> Found:
        for key in sort:
            if key.field != SCORE:
                view.check_field(key.field, "sort")
        query = node
        if subtree:
            view.check_feature("search under a stack")
            query = under(query, subtree)
        if search_after is not None:
            if not sort or any(k.field == SCORE for k in sort):
                raise QueryError("search_after needs a sort on fields (not on _score)")
            query = t.Bool(must=(query,), filter=(after(sort, search_after),))
        # the engine must return what highlights and cursors are computed from
        want = None if fields is None else tuple(fields)
        extra: set[str] = set()
        if want is not None:
            if highlight_spec:
                extra |= {f.split(".")[0] for f in (highlight_spec.get("fields") or {})}
            if search_after is not None or sort:
                extra |= {k.field for k in sort if k.field != SCORE} | {"id"}
            want = tuple(dict.fromkeys(want + tuple(sorted(extra))))
        res = self.engine.search(
            view.query(query), sort=sort, offset=offset, limit=limit, fields=want
        )
        found = Found(total=res.total, max_score=res.max_score)
        for hit in res.hits:
            full = view.source(hit.source)
            if highlight_spec:
                marks = highlight(node, full, highlight_spec)
                if marks:
                    found.highlights[hit.id] = marks
            if sort:
                found.cursors[hit.id] = [
                    hit.score if k.field == SCORE else full.get(k.field) for k in sort
                ] + [hit.id]
            shown = full if fields is None else {k: v for k, v in full.items() if k in fields}
            found.hits.append(t.Hit(hit.id, hit.score, hit.version, shown))
        return found

    def search_roots(
        self,
        node: t.Node,
        *,
        view: Visibility,
        offset: int = 0,
        limit: int = 10,
        fields: Sequence[str] | None = None,
        subtree: str | None = None,
        track_total: int | None = ROLLUP_TOTAL_BOUND,
    ) -> RollupResult:
        """Matching stacks rolled up to their root stacks, each root with the matching paths.

        Roots are ordered by their best match's score, then root id; ``total`` is the number of
        roots (a distinct count of ``root_id`` in the engine), exact up to ``track_total`` (None:
        always), else ``track_total`` with ``total_relation`` "gte". Only the page's roots are read:
        the matches ordered by score then root id give the roots in their order of first
        appearance, and each round asks again without the roots already found, so a root with
        thousands of matching stacks costs one round, not thousands of hits.
        """
        view.check_feature("roll up")
        if subtree:
            view.check_feature("search under a stack")
            node = under(node, subtree)
        q = view.query(node)
        by_score = (BY_SCORE, t.SortKey("root_id"))
        want = max(0, offset) + max(0, limit)
        order: list[str] = []
        best: dict[str, float] = {}
        matched_stacks: int | None = None
        while len(order) < want:
            rest = q if not order else t.Bool(
                must=(q,), must_not=(t.Terms("root_id", tuple(order)),))
            res = self.engine.search(rest, sort=by_score, limit=want - len(order),
                                     fields=("id", "root_id"))
            if matched_stacks is None:
                matched_stacks = res.total
            if not res.hits:
                break
            for h in res.hits:
                root = str(h.source.get("root_id") or h.id)
                if root not in best:
                    best[root] = h.score
                    order.append(root)
        page = order[offset:want]
        if matched_stacks is None:
            matched_stacks = self.engine.count(q)
        total = self.engine.count_distinct(q, "root_id", at_most=track_total) if matched_stacks else 0
        relation = "eq"
        if track_total is not None and total > track_total:
            total, relation = track_total, "gte"
        # the page's roots are roots: a bound below them is raised to what was seen
        total = max(total, len(order))
        if not page:
            return RollupResult(total=total, matched_stacks=matched_stacks,
                                total_relation=relation)

        in_page = t.Bool(must=(q,), filter=(t.Terms("root_id", tuple(page)),))
        res = self.engine.search(in_page, sort=by_score, limit=ROLLUP_MAX_MATCHES,
                                 fields=_ROLLUP_FIELDS)
        counts = dict(self.engine.aggregate(
            in_page, {"r": t.TermsAgg("root_id", size=len(page))})["r"])
        # the roots themselves, under the same visibility: another project's root stays unknown
        rres = self.engine.search(view.query(t.Ids(tuple(page))), limit=len(page), fields=fields)
        roots = {h.id: view.source(h.source) for h in rres.hits}
        grouped = {r.root_id: r for r in rollup(res.hits, roots)}
        result = []
        for root in page:
            r = grouped.get(root) or RootHit(root, best[root], [], roots.get(root))
            r.score = best[root]
            r.matched = counts.get(root, len(r.matches))
            result.append(r)
        return RollupResult(
            total=total,
            roots=result,
            matched_stacks=matched_stacks,
            truncated=res.total > len(res.hits),
            total_relation=relation,
        )

    def count(self, node: t.Node, *, view: Visibility) -> int:
        return self.engine.count(view.query(node))

    def aggregate(
        self, node: t.Node, aggs: dict[str, t.TermsAgg], *, view: Visibility
    ) -> dict[str, list[tuple[str, int]]]:
        for agg in aggs.values():
            view.check_field(agg.field, "aggregate")
        return self.engine.aggregate(view.query(node), aggs)

    def get(self, stack_id: str, *, view: Visibility) -> dict | None:
        res = self.engine.search(view.query(t.Ids((stack_id,))), limit=1)
        return view.source(res.hits[0].source) if res.hits else None

    def stack_tree(self, stack_id: str, *, view: Visibility) -> dict | None:
        """A stack's document and its nested tree: ``{"stack": doc, "children": [subtrees]}``."""
        doc = self.get(stack_id, view=view)
        if doc is None:
            return None
        res = self.engine.search(
            view.query(t.Term("ancestors", stack_id)),
            sort=(t.SortKey("depth"), t.SortKey("name")),
            limit=TREE_MAX_STACKS,
            fields=("id", "name", "status", "parent_id", "parent_resource", "depth", "path",
                    "link", "created_by"),
        )
        nodes: dict[str, dict] = {stack_id: {"stack": doc, "children": []}}
        for h in res.hits:
            nodes[h.id] = {"stack": view.source(h.source), "children": []}
        for h in res.hits:
            parent = nodes.get(h.source.get("parent_id") or "")
            if parent is not None:
                parent["children"].append(nodes[h.id])
        return nodes[stack_id]
