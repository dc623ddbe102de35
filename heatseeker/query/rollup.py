"""Roll per-stack hits up to their root stacks (pure).

Heat nests stacks: a root stack's resources may be stacks (``OS::Heat::Stack``, provider templates,
every member of an ``OS::Heat::ResourceGroup``), which may nest further. Heatseeker indexes every
stack as its own document; users mostly want to know which top-level stacks are concerned. A hit's
source carries ``id``, ``root_id`` (its own id for a root), ``path`` (stack names from the root down
to it, ``[root name]`` for a root) and ``depth`` (0 for a root).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from heatseeker.query.tree import Hit


@dataclass
class Match:
    """One stack of a root's tree that matched the query."""

    id: str
    path: list[str]
    depth: int
    score: float


@dataclass
class RootHit:
    root_id: str
    score: float  # the best score among its matches
    matches: list[Match] = field(default_factory=list)
    source: dict | None = None  # the root's document when known
    matched: int = 0  # how many stacks of its tree matched (``matches`` may list fewer)


def rollup(hits: Sequence[Hit], roots: Mapping[str, dict]) -> list[RootHit]:
    """Group ``hits`` by root stack.

    Matches are ordered by score (best first), then path, then id; roots by score (best first), then
    root id. ``roots`` maps root ids to root documents (the caller fetches those that were not
    hits); a root found neither there nor among the hits (another project's, not indexed yet) still
    appears, with ``source=None``. A source without ``root_id`` counts as its own root; an id that
    appears in several hits counts once, with its best score.
    """
    best: dict[str, tuple[Hit, str]] = {}
    for hit in hits:
        source = hit.source or {}
        stack_id = str(source.get("id") or hit.id)
        root_id = str(source.get("root_id") or stack_id)
        if stack_id not in best or hit.score > best[stack_id][0].score:
            best[stack_id] = (hit, root_id)

    groups: dict[str, list[Match]] = {}
    own_sources: dict[str, dict] = {}
    for stack_id, (hit, root_id) in best.items():
        source = hit.source or {}
        path = source.get("path")
        groups.setdefault(root_id, []).append(
            Match(
                id=stack_id,
                path=[str(p) for p in path] if isinstance(path, list | tuple) else [],
                depth=int(source.get("depth") or 0),
                score=float(hit.score),
            )
        )
        if stack_id == root_id and hit.source:
            own_sources[root_id] = hit.source

    result = []
    for root_id, matches in groups.items():
        matches.sort(key=lambda m: (-m.score, m.path, m.id))
        root_source = roots.get(root_id)
        if root_source is None:
            root_source = own_sources.get(root_id)
        result.append(RootHit(root_id, matches[0].score, matches, root_source, len(matches)))
    result.sort(key=lambda r: (-r.score, r.root_id))
    return result
