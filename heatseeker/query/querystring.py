"""The query-string syntax users type (and python-searchlightclient sends as ``query_string``).

``parse(text)`` turns it into a query tree (``tree.py``) or raises ``QueryError``.

Syntax, close to Lucene's / Elasticsearch's ``query_string``::

    cirros                           bare word: full text anywhere            Text(None, "cirros")
    "web server"                     phrase anywhere                           Phrase(None, ...)
    web*   w?b                       prefix / wildcard over full-text words    Prefix("_all", "web")
    *      *:*      (or nothing)     everything                                MatchAll()
    status:CREATE_FAILED             keyword field: exact value                Term
    status:CREATE_*  status:*_FAILED prefix (trailing * only) / wildcard        Prefix / Wildcard
    name:web   name:"web server"     text field: words / phrase                Text / Phrase
    name:web*                        text field prefix (on the exact name)     Prefix
    name.raw:web-1                   exact name (Searchlight's alias)          Term("name", ...)
    parameters.image:cirros          any path under parameters. outputs. resources. template.
    resources.type:OS::Nova::Server  environment. : exact value, compared as text   Term
    updated_at:2026-11-25            a date names its whole period             Range(gte, lte)
    updated_at:2026-11-25T10:00:00Z  a date with seconds is an instant         Term
    depth:2                          integers                                  Term("depth", 2)
    tags:*   _exists_:tags           the field has a value                     Exists
    depth:[1 TO 3]  depth:{1 TO 3}   inclusive / exclusive range, may be mixed; * is open
    updated_at:[now-1d/d TO now]     dates: ISO 8601, epoch millis or date math (datemath.py)
    depth:>1  depth:>=1  depth:<3  depth:<=3
    tags:(prod OR dev)  tags:(a b)   the field applies to every term of the group
    a AND b   a && b   a OR b   a || b   NOT a   !a   (a OR b) AND c
    +a  -a                           required / prohibited (see below)
    \\: \\( \\* \\/ ...                 a backslash makes any character literal

Decisions:

* Precedence: NOT > AND > OR; juxtaposition (``a b``) means ``default_operator``, AND unless asked
  otherwise. AND/OR/NOT are operators only in upper case and as whole words (``and``, ``ANDROID``
  are words), ``TO`` only inside ranges.
* NOT and ``!`` are logical negation: ``a OR NOT b`` is "a, or anything without b". ``+``/``-``
  keep Lucene's meaning: they mark a clause required/prohibited in the group it stands in, so in an
  OR group ``a OR -b`` (like Elasticsearch) means "a, and never b", and ``+a b`` (OR mode) requires
  a with b optional. In the default AND mode ``-b`` and ``NOT b`` only differ inside an OR group.
* Colons: the FIRST unescaped colon of a word separates field and value; the value may contain
  more colons (``resources.type:OS::Nova::Server``). When the part before the first colon is not a
  known field, the whole word is full text if it cannot be a field reference: the colon is
  doubled (``OS::Heat::Stack``), followed by ``//`` (``http://host``), or the part before it is not
  shaped like a field name (``10:30``). Otherwise it is a mistyped field and raises QueryError
  (``paramters.image:x``, with a suggestion). Inside ``field:( ... )`` every word is a value of
  that field: colons are literal there.
* Bare wildcards (``web*``) become Prefix/Wildcard on the full-text field ``fields.FULLTEXT``
  ("_all"): engines match them against the analysed words of everything a stack holds.
* ``/``: python-searchlightclient escapes it as ``\\/``; an unescaped ``/`` inside a word is literal
  too. A word that starts and ends with ``/`` looks like a Lucene regular expression, which is not
  supported: QueryError (escape the slashes).
* Not supported, QueryError rather than a silently different query: boosts (``^2``), fuzzy and
  proximity (``~``), regular expressions, wildcards in field names, a wildcard pattern containing
  an escaped ``*``/``?`` (the tree has no escape for them; a trailing-``*`` prefix may contain any).
* Quoted values are exact: keyword/dynamic → Term with no wildcard interpretation; text → Phrase
  (an empty phrase matches nothing, as Elasticsearch's zero-terms rule does).
* Flattening: AND chains and OR chains are spliced (associativity), a single clause is itself,
  MatchAll is dropped from AND, ``NOT NOT x`` is ``x``, OR of exact values of one field is one
  Terms node. A pure negation is ``Bool(must=(MatchAll(),), must_not=(...))``.
* Limits: ``max_length`` characters, ``max_clauses`` leaf clauses (a Terms counts its values) and
  at most ``MAX_NESTING`` levels of parentheses.
* Values are read by ``values.py`` (the DSL's rules: integers, dates, exact values, "any of");
  this module says where a bad one is, as a character offset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from heatseeker.query import fields, values
from heatseeker.query.errors import QueryError, shown
from heatseeker.query.tree import (
    Bool,
    Exists,
    MatchAll,
    MatchNone,
    Node,
    Prefix,
    Range,
    Scalar,
    Terms,
    Text,
    Wildcard,
)
from heatseeker.query.values import FULLTEXT, Target, any_of

MAX_NESTING = 64

# The kind of a field context beyond those of fields.py and values.FULLTEXT (bare words, _all:, *:)
_EXISTS = "exists"  # _exists_: its values are field names

# Occurrence of a clause in its group.
_PLAIN, _MUST, _MUST_NOT = "plain", "must", "must_not"

_AND, _OR, _NOT = "AND", "OR", "NOT"
_OPERATORS = {"AND": _AND, "&&": _AND, "OR": _OR, "||": _OR, "NOT": _NOT}

_WORD_END = frozenset('()"^~')  # and whitespace
_RANGE_WORD_END = frozenset("]}")  # and whitespace
_FIELD_SHAPED = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_COLON_ADVICE = "(to search for a colon, escape it as \\: or quote the text)"
_COMPARISONS = (">=", "<=", ">", "<")
_COMPARISON_KEYS = {">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}


def parse(
    text: str,
    *,
    now: datetime | None = None,
    # AND, not Elasticsearch's OR: several words typed should narrow the stacks found (precision);
    # the DSL can still ask for OR.
    default_operator: str = "and",
    max_clauses: int = 1024,
    max_length: int = 10_000,
) -> Node:
    """Parse a query string into a query tree; raise QueryError for anything invalid."""
    if len(text) > max_length:
        raise QueryError(
            f"query too long: {len(text)} characters, at most {max_length} allowed", max_length
        )
    operator = default_operator.lower() if isinstance(default_operator, str) else default_operator
    if operator not in ("and", "or"):
        raise QueryError(
            f"invalid default operator {shown(str(default_operator))}: expected 'and' or 'or'"
        )
    if now is None:
        now = datetime.now(UTC)
    if not text.strip():
        return MatchAll()
    node = _Parser(text, now, default_and=operator == "and").parse()
    clauses = _count_clauses(node)
    if clauses > max_clauses:
        raise QueryError(f"query has {clauses} clauses, more than the limit of {max_clauses}")
    return node


# -- lexical pieces ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Word:
    """An unquoted word: its text with escapes resolved, and which characters were escaped."""

    text: str
    escaped: tuple[bool, ...]
    offsets: tuple[int, ...]  # where each character starts in the query
    start: int
    end: int  # offset just after the word

    def at(self, i: int) -> int:
        return self.offsets[i] if i < len(self.offsets) else self.end

    def sub(self, i: int, j: int | None = None) -> _Word:
        j = len(self.text) if j is None else j
        return _Word(self.text[i:j], self.escaped[i:j], self.offsets[i:j], self.at(i), self.at(j))

    def find(self, char: str) -> int:
        for i, c in enumerate(self.text):
            if c == char and not self.escaped[i]:
                return i
        return -1

    def is_plain(self, text: str) -> bool:
        return self.text == text and not any(self.escaped)

    def has_wildcard(self) -> bool:
        return any(c in "*?" and not e for c, e in zip(self.text, self.escaped, strict=True))

    def looks_like_regex(self) -> bool:
        return (
            len(self.text) >= 2
            and self.text[0] == "/"
            and self.text[-1] == "/"
            and not self.escaped[0]
            and not self.escaped[-1]
        )


@dataclass(frozen=True)
class _Quoted:
    text: str
    start: int


# -- the parser --------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str, now: datetime, default_and: bool):
        self.s = text
        self.n = len(text)
        self.pos = 0
        self.now = now
        self.default_and = default_and
        self.nesting = 0

    def parse(self) -> Node:
        occ, node = self.parse_or(None)
        self.skip_ws()
        if self.pos < self.n:  # parse_or stops only at the end or at a ")"
            raise QueryError(
                f"unbalanced parenthesis at {self.pos}: this ) closes nothing", self.pos
            )
        return _to_node(occ, node)

    # characters

    def skip_ws(self) -> None:
        while self.pos < self.n and self.s[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        return self.s[self.pos] if self.pos < self.n else ""

    def at_group_end(self) -> bool:
        return self.pos >= self.n or self.s[self.pos] == ")"

    def read_word(self, range_mode: bool = False) -> _Word:
        ends = _RANGE_WORD_END if range_mode else _WORD_END
        start = self.pos
        chars: list[str] = []
        escaped: list[bool] = []
        offsets: list[int] = []
        first_colon = -1  # index of the first unescaped colon in chars
        while self.pos < self.n:
            c = self.s[self.pos]
            if c == "\\":
                if self.pos + 1 >= self.n:
                    raise QueryError(
                        f"trailing backslash at {self.pos}: write \\\\ to search for a backslash",
                        self.pos,
                    )
                chars.append(self.s[self.pos + 1])
                escaped.append(True)
                offsets.append(self.pos)
                self.pos += 2
                continue
            if c.isspace() or c in ends:
                break
            if c in "[{" and not range_mode and 0 <= first_colon == len(chars) - 1:
                break  # field:[a TO b] — elsewhere [ and { are ordinary characters
            if c == ":" and first_colon < 0:
                first_colon = len(chars)
            chars.append(c)
            escaped.append(False)
            offsets.append(self.pos)
            self.pos += 1
        return _Word("".join(chars), tuple(escaped), tuple(offsets), start, self.pos)

    def read_quoted(self) -> _Quoted:
        start = self.pos
        self.pos += 1
        chars: list[str] = []
        while self.pos < self.n:
            c = self.s[self.pos]
            if c == "\\" and self.pos + 1 < self.n:
                chars.append(self.s[self.pos + 1])
                self.pos += 2
                continue
            if c == '"':
                self.pos += 1
                return _Quoted("".join(chars), start)
            chars.append(c)
            self.pos += 1
        raise QueryError(f'unterminated quoted text at {start}: missing the closing "', start)

    def peek_operator(self) -> str | None:
        """The operator word at the current position (not consumed), if there is one."""
        c = self.peek()
        if not c or c in _WORD_END or c == "\\" or c.isspace():
            return None
        saved = self.pos
        try:
            word = self.read_word()
        finally:
            self.pos = saved
        return _OPERATORS.get(word.text) if not any(word.escaped) else None

    def consume_operator(self) -> None:
        self.read_word()

    # grammar

    def parse_or(self, ctx: Target | None) -> tuple[str, Node]:
        items = [self.parse_and(ctx)]
        while True:
            self.skip_ws()
            if self.at_group_end():
                break
            op = self.peek_operator()
            if op == _OR:
                op_pos = self.pos
                self.consume_operator()
                self.skip_ws()
                if self.at_group_end():
                    raise QueryError(f"expected a term after OR at {op_pos}", op_pos)
            items.append(self.parse_and(ctx))  # after OR, or juxtaposed (OR mode)
        if len(items) == 1:
            return items[0]
        return _PLAIN, _build_or(items)

    def parse_and(self, ctx: Target | None) -> tuple[str, Node]:
        items = [self.parse_unary(ctx)]
        while True:
            self.skip_ws()
            if self.at_group_end():
                break
            op = self.peek_operator()
            if op == _OR:
                break
            if op == _AND:
                op_pos = self.pos
                self.consume_operator()
                self.skip_ws()
                if self.at_group_end():
                    raise QueryError(f"expected a term after AND at {op_pos}", op_pos)
            elif not self.default_and:
                break  # juxtaposition is OR: parse_or takes it
            items.append(self.parse_unary(ctx))
        if len(items) == 1:
            return items[0]
        return _PLAIN, _build_and(items)

    def parse_unary(self, ctx: Target | None) -> tuple[str, Node]:
        modifiers: list[str] = []  # "+", "-" or "!" (NOT), outermost first
        while True:
            self.skip_ws()
            c = self.peek()
            symbol_pos = self.pos
            if c in ("+", "-", "!"):
                symbol = c
                self.pos += 1
            elif self.peek_operator() == _NOT:
                symbol = "NOT"
                self.consume_operator()
            else:
                break
            modifiers.append("!" if symbol == "NOT" else symbol)
            self.skip_ws()
            if self.at_group_end():
                raise QueryError(f"expected a term after {symbol} at {symbol_pos}", symbol_pos)
        occ, node = _PLAIN, self.parse_primary(ctx)
        for modifier in reversed(modifiers):
            node = _to_node(occ, node)
            if modifier == "!":
                occ, node = _PLAIN, _negate(node)
            else:
                occ = _MUST if modifier == "+" else _MUST_NOT
        return occ, node

    def parse_primary(self, ctx: Target | None) -> Node:
        self.skip_ws()
        pos = self.pos
        c = self.peek()
        self.refuse_at_term(c, ctx, pos)
        if c == "(":
            return self.parse_group(ctx)
        if c == '"':
            return self.value(ctx or (None, FULLTEXT), self.read_quoted())
        if c in "[{" and ctx is not None:
            return self.parse_range(ctx)
        word = self.read_word()
        if word.text in _OPERATORS and not any(word.escaped):
            raise QueryError(f"unexpected {word.text} at {pos}: expected a term", pos)
        if ctx is None:
            return self.field_or_text(word)
        return self.value(ctx, word)

    def refuse_at_term(self, c: str, ctx: Target | None, pos: int) -> None:
        """Raise for what cannot start a term (``c``, at ``pos``; "" is the end of the text)."""
        if not c:
            raise QueryError(f"expected a term at {pos}: the query ends too early", pos)
        if c == ")":
            if self.nesting == 0:
                raise QueryError(f"unbalanced parenthesis at {pos}: this ) closes nothing", pos)
            raise QueryError(f"expected a term at {pos}, found )", pos)
        if c in "[{" and ctx is None:
            raise QueryError(
                f"a range needs a field, as in field:[a TO b], at {pos} "
                f"(escape {c} as \\{c} to search for it)",
                pos,
            )
        if c in "]}":
            raise QueryError(f"unexpected {c} at {pos} (escape it as \\{c} to search for it)", pos)
        if c == "^":
            raise QueryError(
                f"boosts (^) are not supported, at {pos} (escape it as \\^ to search for it)", pos
            )
        if c == "~":
            raise QueryError(
                f"fuzzy and proximity searches (~) are not supported, at {pos} "
                f"(escape it as \\~ to search for it)",
                pos,
            )

    def parse_group(self, ctx: Target | None) -> Node:
        open_pos = self.pos
        self.pos += 1
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise QueryError(
                f"parentheses nested too deeply at {open_pos} (at most {MAX_NESTING} levels)",
                open_pos,
            )
        self.skip_ws()
        if self.peek() == ")":
            raise QueryError(f"empty parentheses at {open_pos}", open_pos)
        if not self.peek():
            raise QueryError(f"unbalanced parenthesis at {open_pos}: no ) closes this (", open_pos)
        occ, node = self.parse_or(ctx)
        self.skip_ws()
        if self.peek() != ")":
            raise QueryError(f"unbalanced parenthesis at {open_pos}: no ) closes this (", open_pos)
        self.pos += 1
        self.nesting -= 1
        return _to_node(occ, node)

    # fields

    def field_or_text(self, word: _Word) -> Node:
        colon = word.find(":")
        if colon < 0:
            return self.value((None, FULLTEXT), word)
        name, rest = word.sub(0, colon), word.sub(colon + 1)
        ctx = self.field_context(name, rest)
        if ctx is None:  # not a field reference: the whole word is text
            return self.value((None, FULLTEXT), word)
        if rest.text:
            return self.value(ctx, rest)
        # "field:" then the value after it: a group, a phrase, a range, or a word after spaces
        self.skip_ws()
        if self.at_group_end():
            raise QueryError(f"expected a value after {name.text}: at {self.pos}", self.pos)
        return self.parse_primary(ctx)

    def field_context(self, name: _Word, rest: _Word) -> Target | None:
        text = name.text
        if name.is_plain("_exists_"):
            return None, _EXISTS
        if name.is_plain(fields.FULLTEXT) or name.is_plain("*"):
            return None, FULLTEXT
        if not name.has_wildcard() and fields.lookup(text) is not None:
            return values.target(text)
        if (
            not text
            or rest.text.startswith((":", "//"))
            or not _FIELD_SHAPED.fullmatch(text.replace("*", "x").replace("?", "x"))
        ):
            return None
        if name.has_wildcard():
            raise QueryError(
                f"wildcards in field names are not supported: {shown(text)} at {name.start}",
                name.start,
            )
        raise _unknown_field(text, name.start)

    def resolve_field_name(self, text: str, pos: int) -> str:
        found = fields.lookup(text)
        if found is None:
            raise _unknown_field(text, pos)
        return found[0]

    # values

    def value(self, ctx: Target, v: _Word | _Quoted) -> Node:
        field, kind = ctx
        pos = v.start
        if isinstance(v, _Quoted):
            if kind in (fields.TEXT, FULLTEXT):
                return values.analysed(ctx, v.text, "and", self.now, phrase=True)
            return self.exact(ctx, v.text, pos)
        if kind != FULLTEXT and v.text[:1] in ("<", ">") and not v.escaped[0]:
            return self.comparison(ctx, v)
        if v.looks_like_regex():
            raise QueryError(
                f"regular expressions are not supported, at {pos} "
                f"(escape the slashes as \\/ to search for them)",
                pos,
            )
        if v.has_wildcard():
            return self.wildcard(ctx, v)
        if kind in (fields.TEXT, FULLTEXT):
            return Text(field, v.text)
        return self.exact(ctx, v.text, pos)

    def wildcard(self, ctx: Target, v: _Word) -> Node:
        field, kind = ctx
        pos = v.start
        if all(c == "*" and not e for c, e in zip(v.text, v.escaped, strict=True)):
            if kind == FULLTEXT:
                return MatchAll()
            if kind == _EXISTS:
                raise QueryError(f"_exists_ needs a field name at {pos}", pos)
            assert field is not None
            return Exists(field)
        if kind in (fields.DATE, fields.INT, _EXISTS):
            what = "_exists_" if kind == _EXISTS else f"{kind} field {field!r}"
            raise QueryError(f"wildcards are not supported on {what}, at {pos}", pos)
        target = field if field is not None else fields.FULLTEXT
        end = len(v.text)
        while end > 0 and v.text[end - 1] == "*" and not v.escaped[end - 1]:
            end -= 1
        head = v.sub(0, end)
        if not head.has_wildcard():
            return Prefix(target, head.text)
        if any(c in "*?" and e for c, e in zip(v.text, v.escaped, strict=True)):
            raise QueryError(f"a wildcard pattern cannot contain an escaped * or ?, at {pos}", pos)
        return Wildcard(target, v.text)

    def exact(self, ctx: Target, text: str, pos: int) -> Node:
        """The value of a non-text field, or any quoted value that is not a phrase."""
        if ctx[1] == _EXISTS:
            return Exists(self.resolve_field_name(text, pos))
        try:
            return values.exact(ctx, text, self.now)
        except values.BadValue as e:
            raise _bad_value(e, ctx, text, pos) from None

    def comparison(self, ctx: Target, v: _Word) -> Node:
        field, kind = ctx
        op = next(o for o in _COMPARISONS if v.text.startswith(o))
        if len(op) == 2 and v.escaped[1]:
            op = op[0]
        if kind == _EXISTS or field is None:
            raise QueryError(
                f"_exists_ needs a field name, not a comparison, at {v.start}", v.start
            )
        bound = v.sub(len(op))
        if bound.text:
            if bound.is_plain("*"):
                raise QueryError(
                    f"expected a value after {op} at {bound.start}, not *", bound.start
                )
            text, pos = bound.text, bound.start
        elif self.peek() == '"':
            pos = self.pos
            text = self.read_quoted().text
        else:
            raise QueryError(
                f"expected a value right after {op} at {v.end} (write {field}:{op}value)", v.end
            )
        key = _COMPARISON_KEYS[op]
        return Range(field, **{key: self.bound(ctx, text, pos, key)})

    def parse_range(self, ctx: Target) -> Node:
        start = self.pos
        opener = self.s[start]
        field, kind = ctx
        if field is None or kind == _EXISTS:
            raise QueryError(f"a range needs a field, as in field:[a TO b], at {start}", start)
        self.pos += 1
        self.skip_ws()
        low, low_pos = self.range_bound(start)
        self.skip_ws()
        to_pos = self.pos
        if self.peek() in ("", "]", "}") or not self.read_word(range_mode=True).is_plain("TO"):
            raise QueryError(f"expected TO in range at {to_pos}", to_pos)
        self.skip_ws()
        high, high_pos = self.range_bound(start)
        self.skip_ws()
        closer = self.peek()
        if closer not in ("]", "}"):
            raise QueryError(
                f"expected ] or }} to close the range started at {start}, at {self.pos}", self.pos
            )
        self.pos += 1
        if low is None and high is None:
            return Exists(field)
        bounds: dict[str, Scalar] = {}
        if low is not None:
            key = "gte" if opener == "[" else "gt"
            bounds[key] = self.bound(ctx, low, low_pos, key)
        if high is not None:
            key = "lte" if closer == "]" else "lt"
            bounds[key] = self.bound(ctx, high, high_pos, key)
        return Range(field, **bounds)  # type: ignore[arg-type]

    def range_bound(self, start: int) -> tuple[str | None, int]:
        pos = self.pos
        c = self.peek()
        if not c:
            raise QueryError(f"unterminated range at {start}", start)
        if c == '"':
            return self.read_quoted().text, pos
        if c in ("]", "}"):
            raise QueryError(f"expected a value in range at {pos}", pos)
        word = self.read_word(range_mode=True)
        if word.is_plain("*"):
            return None, pos
        return word.text, pos

    def bound(self, ctx: Target, text: str, pos: int, key: str) -> Scalar:
        try:
            return values.bound(ctx, text, self.now, key)
        except values.BadValue as e:
            raise _bad_value(e, ctx, text, pos) from None


def _bad_value(e: values.BadValue, ctx: Target, text: str, pos: int) -> QueryError:
    """The query string's words for a value its field cannot hold."""
    field = str(ctx[0])
    if isinstance(e, values.NotADate):
        return QueryError(f"{e.detail}, for field {shown(field)} at {pos}", pos)
    if isinstance(e, values.IntegerOutOfRange):
        return QueryError(
            f"integer {shown(text)} out of range for field {shown(field)} at {pos}", pos
        )
    return QueryError(f"invalid integer {shown(text)} for field {shown(field)} at {pos}", pos)


def _unknown_field(name: str, pos: int) -> fields.UnknownField:
    return fields.UnknownField(name, str(pos), position=pos, advice=_COLON_ADVICE)


# -- building the tree -------------------------------------------------------------------------


def _is_pure_negation(node: Node) -> bool:
    return (
        isinstance(node, Bool)
        and node.must == (MatchAll(),)
        and len(node.must_not) > 0
        and not node.should
        and not node.filter
        and node.minimum_should_match is None
    )


def _negate(node: Node) -> Node:
    if isinstance(node, MatchAll):
        return MatchNone()
    if isinstance(node, MatchNone):
        return MatchAll()
    if isinstance(node, Bool) and _is_pure_negation(node) and len(node.must_not) == 1:
        return node.must_not[0]
    return Bool(must=(MatchAll(),), must_not=(node,))


def _to_node(occ: str, node: Node) -> Node:
    return _negate(node) if occ == _MUST_NOT else node


def _build_and(items: list[tuple[str, Node]]) -> Node:
    must: list[Node] = []
    must_not: list[Node] = []
    for occ, item in items:
        node = _to_node(occ, item)
        if (
            isinstance(node, Bool)
            and not node.should
            and not node.filter
            and node.minimum_should_match is None
        ):
            must.extend(node.must)  # (a AND b) AND c: splice
            must_not.extend(node.must_not)
        else:
            must.append(node)
    must = [n for n in must if not isinstance(n, MatchAll)]
    if any(isinstance(n, MatchNone) for n in must) or any(
        isinstance(n, MatchAll) for n in must_not
    ):
        return MatchNone()
    must_not = [n for n in must_not if not isinstance(n, MatchNone)]
    if not must_not:
        if not must:
            return MatchAll()
        if len(must) == 1:
            return must[0]
    return Bool(must=tuple(must) or (MatchAll(),), must_not=tuple(must_not))


def _build_or(items: list[tuple[str, Node]]) -> Node:
    should = [node for occ, node in items if occ == _PLAIN]
    must = [node for occ, node in items if occ == _MUST]
    must_not = [node for occ, node in items if occ == _MUST_NOT]
    if not must:
        # Without required clauses, at least one optional one must match (the plain OR), and the
        # prohibited ones apply to the whole group: (a OR b) AND NOT c.
        parts = [(_PLAIN, any_of(should))] if should else []
        return _build_and(parts + [(_MUST_NOT, n) for n in must_not])
    if not should:
        return _build_and([(_PLAIN, n) for n in must] + [(_MUST_NOT, n) for n in must_not])
    # +a b: a is required, b only adds to the score (Lucene's and Elasticsearch's meaning).
    return Bool(must=tuple(must), should=tuple(should), must_not=tuple(must_not))


def _count_clauses(node: Node) -> int:
    if isinstance(node, Bool):
        return sum(_count_clauses(c) for c in node.must + node.should + node.must_not + node.filter)
    if isinstance(node, Terms):
        return len(node.values)
    if isinstance(node, MatchAll | MatchNone):
        return 0
    return 1
