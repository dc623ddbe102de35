"""What a DSL query may cost and contain, checked apart from what it means.

The API's configuration sets ``Limits`` (``[api] max_query_depth`` and friends); ``dsl.parse``
checks a body against them while it reads (nesting, list lengths, query-string lengths) and, with
``check_tree``, on the finished tree (levels, leaf clauses, terms/ids values). ``reject_scripts``
refuses a script anywhere in a body, before anything else is read; ``request.parse_search`` runs it
over the whole body so a script in a sort or an aggregation gets the same answer.

Pure and iterative where the input can be deep: a body nested past any limit costs linear time and
is a QueryError, never a RecursionError.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from heatseeker.query.errors import QueryError
from heatseeker.query.tree import Bool, Ids, MatchAll, MatchNone, Node, Terms, depth, walk

# However deep a configuration allows, parsing and every walk of the tree recurse a few frames per
# level: past this ceiling a query would reach Python's recursion limit (a 500), so it is the most
# ``max_depth`` can be.
MAX_DEPTH_CEILING = 100


@dataclass(frozen=True)
class Limits:
    max_depth: int = 20
    max_clauses: int = 1024
    max_terms: int = 1024
    max_query_string: int = 10_000


SCRIPT_KEYS = frozenset({"script", "_script", "script_score", "script_fields", "scripted_metric"})



def reject_scripts(value: Any, path: str) -> None:
    """Raise QueryError if any object key at any depth of ``value`` is a script."""
    # Iterative, and the path of an item is a linked chain built into text only for the error:
    # a deeply nested body costs linear time, never a RecursionError.
    Chain = tuple[Any, str] | None
    stack: list[tuple[Any, Chain]] = [(value, None)]
    while stack:
        item, chain = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                if key in SCRIPT_KEYS:
                    raise QueryError(f"scripts are not allowed: {key!r} at {_path(path, chain)}")
                if isinstance(child, dict | list):
                    stack.append((child, (chain, f".{key}")))
        elif isinstance(item, list):
            for i, child in enumerate(item):
                if isinstance(child, dict | list):
                    stack.append((child, (chain, f"[{i}]")))


def _path(root: str, chain: Any) -> str:
    parts: list[str] = []
    while chain is not None:
        chain, part = chain
        parts.append(part)
    return root + "".join(reversed(parts))


def check_tree(node: Node, limits: Limits) -> None:
    """Enforce the depth, clause and terms limits on a finished tree."""
    levels = depth(node)
    if levels > limits.max_depth:
        raise QueryError(
            f"query nested too deeply: {levels} levels, at most {limits.max_depth} allowed"
        )
    clauses = terms = 0
    for n in walk(node):
        if isinstance(n, Bool | MatchAll | MatchNone):
            continue
        clauses += 1
        if isinstance(n, Terms | Ids):
            terms += len(n.values)
    if clauses > limits.max_clauses:
        raise QueryError(
            f"query has {clauses} clauses, more than the limit of {limits.max_clauses}"
        )
    if terms > limits.max_terms:
        raise QueryError(
            f"query has {terms} terms/ids values, more than the limit of {limits.max_terms}"
        )
