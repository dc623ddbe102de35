"""Elasticsearch's ``simple_query_string`` syntax (Lucene's SimpleQueryParser), leniently.

The second query grammar of the DSL (``dsl.py`` hands it the text, the target fields and a way to
make leaves), apart from the query string (``querystring.py``) because its rules differ on purpose:

* ``+`` AND, ``|`` OR, ``-`` NOT (before a term or group), ``"phrase"``, ``prefix*``, ``( )``,
  ``\\`` escapes; whitespace means ``default_operator``.
* As in Lucene the operators have equal precedence and apply left to right: when the operator
  changes, what was read so far becomes one clause (``a | b + c`` is ``(a | b) + c``).
* As in Elasticsearch, bad syntax is not an error: a dangling operator or a stray ``)`` is ignored,
  an unclosed ``(`` or ``"`` ends with the text, an empty query or one with nothing left matches
  nothing. ``-b`` alone is "everything without b", so with OR ``a -b`` is "a, or anything without
  b" (Elasticsearch's behaviour).
* Fuzzy and proximity (``~``) are not supported: QueryError.
* Each word, phrase or prefix is one leaf per target field (an OR over several); how a leaf reads
  its value is the host's (``Leaves``), so the DSL's typing and messages apply unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from heatseeker.query.errors import QueryError
from heatseeker.query.tree import Bool, Exists, MatchAll, MatchNone, Node, Prefix
from heatseeker.query.values import Target, any_of

_SPECIAL = frozenset('"|+()')


class Leaves(Protocol):
    """How the host grammar turns a word, a phrase or a prefix into a node on one target."""

    def analysed(self, target: Target, text: Any, operator: str, path: str, phrase: bool) -> Node:
        ...

    def pattern_target(self, target: Target, qtype: str, path: str) -> str:
        ...


def parse(
    text: str,
    targets: list[Target],
    default_operator: str,
    path: str,
    *,
    leaves: Leaves,
    max_depth: int,
    max_clauses: int,
) -> Node:
    """The tree of ``text`` over ``targets``; ``path`` is where the text is, for messages."""
    parser = _Parser(text, targets, default_operator, path, leaves, max_depth, max_clauses)
    top = parser.sequence(0)
    return MatchNone() if top is None else _build(top)


@dataclass
class _Not:
    node: Node


@dataclass
class _Group:
    op: str  # "and" | "or"
    items: list


@dataclass
class _Sequence:
    """The items of one level, combined left to right as they are read."""

    default: str
    top: Any = None
    current: str | None = None  # the operator written since the last item
    previous: str | None = None  # the operator of the group ``top`` is
    negations: int = 0

    def operator(self, op: str) -> None:
        if self.current is None and self.top is not None:
            self.current = op  # the first operator counts; one before any item is ignored

    def add(self, item: Any) -> None:
        """Add an item (None: nothing was there, which only drops pending operators)."""
        if item is not None:
            if self.negations % 2 == 1:
                item = _Not(_build(item))
            if self.top is None:
                self.top = item
            else:
                op = self.current or self.default
                if not (isinstance(self.top, _Group) and self.previous == op):
                    self.top = _Group(op, [self.top])
                self.top.items.append(item)
                self.previous = op
        self.current = None
        self.negations = 0


@dataclass
class _Parser:
    s: str
    targets: list[Target]
    default: str
    path: str
    leaves: Leaves
    max_depth: int
    max_clauses: int
    pos: int = 0
    count: int = 0  # leaves made so far
    n: int = field(init=False)

    def __post_init__(self) -> None:
        self.n = len(self.s)

    def sequence(self, nesting: int) -> Any:
        seq = _Sequence(self.default)
        while self.pos < self.n:
            c = self.s[self.pos]
            if c == ")":
                self.pos += 1
                if nesting > 0:
                    break  # a stray ) at the top is ignored
            elif c in "+|":
                self.pos += 1
                seq.operator("and" if c == "+" else "or")
            elif c == "-":
                self.pos += 1
                seq.negations += 1
            elif c.isspace():
                self.pos += 1
            else:
                seq.add(self.item(c, nesting))
        return seq.top

    def item(self, c: str, nesting: int) -> Any:
        """A group, a phrase or a term; None when there was nothing in it."""
        if c == "(":
            self.pos += 1
            if nesting + 1 >= self.max_depth:
                raise QueryError(
                    f"parentheses nested too deeply in the query at {self.path} "
                    f"(at most {self.max_depth} levels)"
                )
            return self.sequence(nesting + 1)
        if c == '"':
            return self.phrase()
        return self.term()

    def phrase(self) -> Node | None:
        self.pos += 1  # the opening quote
        chars: list[str] = []
        while self.pos < self.n:
            c = self.s[self.pos]
            if c == "\\" and self.pos + 1 < self.n:
                chars.append(self.s[self.pos + 1])
                self.pos += 2
                continue
            self.pos += 1
            if c == '"':
                break
            chars.append(c)
        if self.pos < self.n and self.s[self.pos] == "~":
            raise QueryError(f"proximity searches (~) are not supported, at {self.path}")
        text = "".join(chars)
        if not text.strip():
            return None
        return self.leaf(lambda t: self.leaves.analysed(t, text, "and", self.path, phrase=True))

    def term(self) -> Node | None:
        chars: list[str] = []
        escaped: list[bool] = []
        while self.pos < self.n:
            c = self.s[self.pos]
            if c == "\\":
                if self.pos + 1 < self.n:
                    chars.append(self.s[self.pos + 1])
                    escaped.append(True)
                    self.pos += 2
                else:
                    self.pos += 1  # a trailing backslash escapes nothing
                continue
            if c.isspace() or c in _SPECIAL:
                break
            if c == "~":
                raise QueryError(
                    f"fuzzy and proximity searches (~) are not supported, at {self.path} "
                    f"(escape it as \\~ to search for it)"
                )
            chars.append(c)
            escaped.append(False)
            self.pos += 1
        if not chars:
            return None
        if chars[-1] == "*" and not escaped[-1]:
            while chars and chars[-1] == "*" and not escaped[-1]:
                chars.pop()
                escaped.pop()
            head = "".join(chars)
            return self.leaf(lambda t: self.prefix(t, head))
        text = "".join(chars)
        return self.leaf(
            lambda t: self.leaves.analysed(t, text, self.default, self.path, phrase=False)
        )

    def prefix(self, target: Target, head: str) -> Node:
        name, _ = target
        if not head:
            return MatchAll() if name is None else Exists(name)
        return Prefix(self.leaves.pattern_target(target, "prefix", self.path), head)

    def leaf(self, make: Callable[[Target], Node]) -> Node:
        self.count += 1
        if self.count > self.max_clauses:
            raise QueryError(f"query at {self.path} has more than {self.max_clauses} clauses")
        return any_of([make(t) for t in self.targets])


def _build(item: Any) -> Node:
    if isinstance(item, _Not):
        return Bool(must=(MatchAll(),), must_not=(item.node,))
    if not isinstance(item, _Group):
        return item
    if item.op == "or":
        return Bool(should=tuple(_build(i) for i in item.items))
    must = tuple(_build(i) for i in item.items if not isinstance(i, _Not))
    must_not = tuple(i.node for i in item.items if isinstance(i, _Not))
    return Bool(must=must or (MatchAll(),), must_not=must_not)
