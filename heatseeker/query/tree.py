"""The engine-neutral query tree.

Every way of asking (the query string, the Elasticsearch-style DSL of the API) is parsed into these
nodes; tenant isolation (``scope.py``) wraps them; every engine translates them. Nodes are immutable
and carry already-validated, already-typed values: a ``Range`` on a date field holds ``datetime``
objects (date math already resolved), never the text the user typed.

Fields are named by their user-facing dotted path (see ``fields.py``): a known field such as
``status`` or ``updated_at``, or a path inside a stack's free-form data such as ``parameters.image``
or ``resources.type``. ``field=None`` on a text node means "anywhere" (the full-text field).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

Scalar = str | int | float | bool | datetime


@dataclass(frozen=True)
class MatchAll:
    pass


@dataclass(frozen=True)
class MatchNone:
    pass


@dataclass(frozen=True)
class Term:
    """Exact value of a keyword/number/date/bool field or of a dynamic path."""

    field: str
    value: Scalar


@dataclass(frozen=True)
class Terms:
    field: str
    values: tuple[Scalar, ...]


@dataclass(frozen=True)
class Prefix:
    field: str
    value: str


@dataclass(frozen=True)
class Wildcard:
    """``*`` any run of characters, ``?`` one character; matched against the exact value."""

    field: str
    pattern: str


@dataclass(frozen=True)
class Range:
    field: str
    gte: Scalar | None = None
    gt: Scalar | None = None
    lte: Scalar | None = None
    lt: Scalar | None = None


@dataclass(frozen=True)
class Exists:
    field: str


@dataclass(frozen=True)
class Text:
    """Full-text match: the text is analysed (lower-cased, split into words).

    ``operator`` says whether all words must match ("and") or any ("or").
    ``field=None`` searches everything a stack holds.
    """

    field: str | None
    text: str
    operator: str = "and"


@dataclass(frozen=True)
class Phrase:
    """The analysed words in this order, next to each other."""

    field: str | None
    text: str


@dataclass(frozen=True)
class Ids:
    values: tuple[str, ...]


@dataclass(frozen=True)
class Bool:
    must: tuple[Node, ...] = ()
    should: tuple[Node, ...] = ()
    must_not: tuple[Node, ...] = ()
    filter: tuple[Node, ...] = ()
    # None: Elasticsearch's rule (1 if there is no must/filter clause, else 0)
    minimum_should_match: int | None = None


Node = (
    MatchAll | MatchNone | Term | Terms | Prefix | Wildcard | Range | Exists | Text | Phrase | Ids | Bool
)


@dataclass(frozen=True)
class SortKey:
    field: str
    descending: bool = False


@dataclass(frozen=True)
class TermsAgg:
    """Count documents per distinct value of ``field`` (top ``size`` values)."""

    field: str
    size: int = 10


@dataclass
class Hit:
    id: str
    score: float
    version: int
    source: dict


@dataclass
class SearchResult:
    total: int
    hits: list[Hit] = field(default_factory=list)
    max_score: float | None = None


def walk(node: Node):
    """Yield every node of the tree, depth first."""
    yield node
    if isinstance(node, Bool):
        for group in (node.must, node.should, node.must_not, node.filter):
            for child in group:
                yield from walk(child)


def depth(node: Node) -> int:
    if isinstance(node, Bool):
        children = node.must + node.should + node.must_not + node.filter
        return 1 + max((depth(c) for c in children), default=0)
    return 1
