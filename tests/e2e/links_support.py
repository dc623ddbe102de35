"""What heatseeker's tree should say about a stack, from Heat alone: Heat's parent, or — for a stack
an ``OS::Heat::Stack`` resource created (Heat keeps no parent for it) — the creating stack of the
same project (heatseeker/links.py). Used by the e2e tests that compare the tree with Heat."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from heatseeker.links import creator_names


def tree_parents(listing: dict[str, dict], heat: Callable[[str], Any]) -> dict[str, tuple[str | None, bool]]:
    """stack id -> (its parent in heatseeker's tree, whether that is a link), for every stack of
    an admin listing (``global_tenant``, ``show_nested``; items as dicts)."""
    by_name: dict[tuple[str, str], list[str]] = {}
    for sid, s in listing.items():
        by_name.setdefault((s["project"], s["stack_name"]), []).append(sid)
    out: dict[str, tuple[str | None, bool]] = {}
    resources: dict[str, list] = {}
    for sid, s in listing.items():
        if s.get("parent"):
            out[sid] = (s["parent"], False)
            continue
        out[sid] = (None, False)
        for name in creator_names(s["stack_name"]):
            for cid in by_name.get((s["project"], name), []):
                if cid not in resources:
                    resources[cid] = list(heat(s["project"]).resources.list(cid))
                if any(r.resource_type == "OS::Heat::Stack" and r.physical_resource_id == sid
                       for r in resources[cid]):
                    out[sid] = (cid, True)
    return out


def tree_chain(parents: dict[str, tuple[str | None, bool]], sid: str) -> list[str]:
    """The ancestors of ``sid`` in heatseeker's tree, root first."""
    chain: list[str] = []
    cursor = parents.get(sid, (None, False))[0]
    while cursor and cursor not in chain:
        chain.insert(0, cursor)
        cursor = parents.get(cursor, (None, False))[0]
    return chain
