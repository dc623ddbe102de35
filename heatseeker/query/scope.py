"""Tenant isolation: the ONE place it happens.

Every query heatseeker sends to an engine goes through ``scope()`` first (the searcher enforces it);
engines never add tenant filters themselves. The user's tree is kept whole under ``must`` and the
project filter sits beside it as a ``filter`` clause of the top node, so nothing inside the user's
tree (a ``should``, a ``must_not``, a ``minimum_should_match``, its own ``project_id`` terms) can
loosen it: a document must match both.
"""

from __future__ import annotations

from heatseeker.query.tree import Bool, MatchNone, Node, Terms

PROJECT_FIELD = "project_id"


def scope(tree: Node, projects: frozenset[str] | None) -> Node:
    """Restrict ``tree`` to stacks of ``projects``.

    ``None`` means every project (a cloud admin asking for all projects): the tree is unchanged. An
    empty set means no project at all: nothing matches (never everything).
    """
    if projects is None:
        return tree
    if isinstance(projects, str):  # a lone project id would be iterated as characters
        raise TypeError("projects must be a set of project ids, not a string")
    if not projects:
        return MatchNone()
    return Bool(must=(tree,), filter=(Terms(PROJECT_FIELD, tuple(sorted(projects))),))
