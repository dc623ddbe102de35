"""Highlights, computed from a hit's (already visibility-stripped) source and the query tree.

Engine-neutral on purpose: every engine gives the same highlights, and a field a caller may not see
is not in the source handed here, so it can never be highlighted. As Searchlight did
(``require_field_match: false``), every positive term of the query is highlighted in every requested
field. Words match case-insensitively at word boundaries; exact values (term queries, dynamic
paths) match as whole substrings; prefixes match the start of a word and run to its end; in a
wildcard ``?`` is one letter or digit and ``*`` any run of them.

Linear, and bounded. User patterns never become Python regular expressions (``re`` backtracks:
``?*?*?*?*?*?*x`` against 64 letters took seconds, holding the GIL). Each pattern is a tiny NFA
(one state per literal or ``?``; a ``*`` is a loop on a state, so there are no epsilon moves)
simulated over the text once, right to left, as a set of live states each tagged with the furthest
end it can reach: O(len(text) x states) for any pattern. That single pass gives, for every
position, the longest match starting there; matches are then taken leftmost-longest and never
overlap. Every step (a live state advanced over one character, a position visited, a character of
a fragment written) is charged to a ``Budget``; the API gives each request one budget
(``request_budget``, ``WORK_BUDGET`` steps) shared by all its hits. When it runs out, highlighting
stops: the hits and fields done so far keep their highlights, the text being scanned and everything
after it get none. Highlights are computed only on the caller's own visible hits, so the budget
depends on nothing another tenant stores, and running out is never an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from heatseeker.query import tree as t
from heatseeker.query.analysis import WORD, WORD_CHARS

_WORD_RUN = re.compile(WORD_CHARS + "*")  # a fixed, linear expression (no user text)
MAX_PATTERNS = 64
# Steps one request may spend on highlights. The weights below make a step at most about half a
# microsecond of CPU here whatever the pattern and text, so a request's highlights cost well under
# a second in the worst case (and Python switches threads every few ms meanwhile).
WORK_BUDGET = 1_000_000
_VISIT = 4  # a position visited, a literal occurrence checked, a match taken or marked
# C-level scans (``str.find``/``rfind``, the end of a word) are charged one step per this many
# characters; a fragment's characters one step per _OUTPUT_CHARS_PER_STEP (so the output of one
# request is bounded too).
_SCAN_CHARS_PER_STEP = 32
_OUTPUT_CHARS_PER_STEP = 4


class Budget:
    """Work a highlighter may do; ``spent`` counts every step taken (exposed for tests)."""

    def __init__(self, steps: int = WORK_BUDGET):
        self.left = steps
        self.spent = 0
        self.exhausted = False
        self._compiled: dict[int, tuple[t.Node, list[Pattern]]] = {}

    def take(self, steps: int) -> bool:
        """Charge ``steps``; False (and exhausted from then on) when they are not left."""
        if self.exhausted or steps > self.left:
            self.exhausted = True
            return False
        self.left -= steps
        self.spent += steps
        return True

    def patterns(self, node: t.Node) -> list[Pattern]:
        """``patterns(node)``, compiled once per budget (per request) and node."""
        held = self._compiled.get(id(node))
        if held is None or held[0] is not node:
            held = (node, patterns(node))
            self._compiled[id(node)] = held
        return held[1]


class _OutOfBudget(Exception):
    pass


_REQUEST: ContextVar[Budget | None] = ContextVar("heatseeker_highlight_budget", default=None)


@contextmanager
def request_budget(steps: int = WORK_BUDGET) -> Iterator[Budget]:
    """Make every ``highlight`` call in this context share one ``Budget`` of ``steps``."""
    budget = Budget(steps)
    token = _REQUEST.set(budget)
    try:
        yield budget
    finally:
        _REQUEST.reset(token)


@dataclass(frozen=True)
class Pattern:
    """A pattern as a sequence of states: ``tokens[s]`` moves state s to s + 1 (a lower-case
    character, or None for ``?``: one letter or digit); ``loops[s]`` says a ``*`` sits at state s
    (any run of letters and digits). ``word_start``/``word_end``: the match must begin/end at a
    word boundary (as ``\\b``: letters, digits and ``_`` are word characters)."""

    tokens: tuple[str | None, ...]
    loops: tuple[bool, ...]
    word_start: bool = False
    word_end: bool = False
    key: str = field(default="", compare=False)  # the source text, for ordering

    @classmethod
    def build(cls, source: str, *, wildcard: bool = False, word_start: bool = False,
              word_end: bool = False, trailing_star: bool = False) -> Pattern | None:
        tokens: list[str | None] = []
        loops = [False]
        for ch in source:
            if wildcard and ch == "*":
                loops[-1] = True
            elif wildcard and ch == "?":
                tokens.append(None)
                loops.append(False)
            else:
                tokens.append(ch.lower())
                loops.append(False)
        if trailing_star:
            loops[-1] = True
        if not any(tok is not None for tok in tokens):
            return None  # nothing literal: it would mark every word
        return cls(tuple(tokens), tuple(loops), word_start, word_end, source)

    # computed once per pattern (a pattern is compiled once per request), not once per text

    @cached_property
    def literal(self) -> str | None:
        """The text to look for when the pattern is only one-character literals, else None."""
        if any(self.loops) or any(tok is None or len(tok) != 1 for tok in self.tokens):
            return None
        return "".join(self.tokens)  # type: ignore[arg-type]

    @cached_property
    def core(self) -> Pattern | None:
        """The pattern without its trailing ``*`` when it has one (and no word_end), else None."""
        if not self.loops[-1] or self.word_end:
            return None
        return Pattern(self.tokens, self.loops[:-1] + (False,), self.word_start, self.word_end,
                       self.key)

    @property
    def size(self) -> int:
        return len(self.tokens)


def _positive(node: t.Node) -> Iterator[t.Node]:
    """Leaves that make a document match (never those under must_not)."""
    if isinstance(node, t.Bool):
        for group in (node.must, node.should, node.filter):
            for child in group:
                yield from _positive(child)
    else:
        yield node


_Spec = tuple[str, bool, bool, bool, bool]  # text, wildcard, word start, word end, stretch


def _exact(values: Iterable[t.Scalar]) -> list[_Spec]:
    return [(v, False, False, False, False) for v in values if isinstance(v, str) and v]


# what each leaf node type highlights (Bool: its positive clauses', ``_positive``); a node type
# missing here fails test_every_node_type_is_handled (tests/conformance)
LEAF_SPECS: dict[type, Callable[[Any], Iterable[_Spec]]] = {
    t.Text: lambda leaf: [(w, False, True, True, False) for w in WORD.findall(leaf.text)],
    t.Phrase: lambda leaf: [(w, False, True, True, False) for w in WORD.findall(leaf.text)],
    t.Term: lambda leaf: _exact([leaf.value]),
    t.Terms: lambda leaf: _exact(leaf.values),
    t.Prefix: lambda leaf: [(leaf.value, False, True, False, True)] if leaf.value else [],
    t.Wildcard: lambda leaf: [(leaf.pattern, True, False, False, False)],
    # nothing to highlight: they name no text
    t.MatchAll: lambda leaf: [],
    t.MatchNone: lambda leaf: [],
    t.Exists: lambda leaf: [],
    t.Ids: lambda leaf: [],
    t.Range: lambda leaf: [],
}


def patterns(node: t.Node) -> list[Pattern]:
    """The patterns of every positive term of the query (at most MAX_PATTERNS, longest first).

    Only the patterns kept are compiled: the cost is linear in the query's size.
    """
    specs: set[_Spec] = set()
    for leaf in _positive(node):
        specs.update(LEAF_SPECS[type(leaf)](leaf))
    found: dict[tuple, Pattern] = {}
    for text, wildcard, start, end, stretch in sorted(specs, key=lambda s: (-len(s[0]), s)):
        p = Pattern.build(text, wildcard=wildcard, word_start=start, word_end=end,
                          trailing_star=stretch)
        if p is not None:
            found.setdefault((p.tokens, p.loops, p.word_start, p.word_end), p)
            if len(found) >= MAX_PATTERNS:
                break
    return list(found.values())


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


class _Text:
    """A text prepared for matching: per-character lower case, and a string aligned with it for
    C-level skipping (characters whose lower case is longer than one character become NUL there:
    no one-character token can equal them)."""

    def __init__(self, text: str):
        self.text = text
        self.n = len(text)
        if text.isascii():
            self.low: str | list[str] = text.lower()
            self.skip = self.low
        else:
            low = [c.lower() for c in text]
            self.low = low
            self.skip = "".join(c if len(c) == 1 else "\0" for c in low)

    def boundary(self, i: int) -> bool:
        text = self.text
        before = i > 0 and _is_word(text[i - 1])
        after = i < self.n and _is_word(text[i])
        return before != after


def _literal_ends(doc: _Text, pattern: Pattern, needle: str, ends: dict[int, int],
                  budget: Budget) -> None:
    """``_longest_ends`` for a pattern of plain characters: every occurrence, found in C."""
    size = len(needle)
    at = doc.skip.find(needle)
    scanned = 0
    while at >= 0:
        if not budget.take(_VISIT + (at - scanned + size) // _SCAN_CHARS_PER_STEP):
            raise _OutOfBudget
        end = at + size
        if (end > ends.get(at, -1) and (not pattern.word_start or doc.boundary(at))
                and (not pattern.word_end or doc.boundary(end))):
            ends[at] = end
        scanned = at
        at = doc.skip.find(needle, at + 1)
    if not budget.take(1 + (doc.n - scanned) // _SCAN_CHARS_PER_STEP):  # the last, fruitless scan
        raise _OutOfBudget


def _longest_ends(doc: _Text, pattern: Pattern, ends: dict[int, int], budget: Budget) -> None:
    """For every start position i, raise ``ends[i]`` to the end of the longest match of
    ``pattern`` that starts at i. One right-to-left pass: O(len(text) x pattern.size) steps."""
    if pattern.literal is not None:
        _literal_ends(doc, pattern, pattern.literal, ends, budget)
        return
    text, low, n = doc.text, doc.low, doc.n
    tokens, loops, k = pattern.tokens, pattern.loops, pattern.size
    last = tokens[k - 1]
    # a new thread can only start by reading ``last``: when nothing is live, skip to it in C
    can_skip = last is not None and not loops[k] and len(last) == 1
    live: dict[int, int] = {}  # state → the furthest end reachable from it
    i = n
    while True:
        if not live and can_skip and i > 0:
            assert last is not None
            j = doc.skip.rfind(last, 0, i)  # the last position that can read ``last``
            nxt = j + 1  # -1 (none) → 0
            if not budget.take(_VISIT + (i - nxt) // _SCAN_CHARS_PER_STEP):
                raise _OutOfBudget
            i = nxt
            if j < 0:
                return
        elif not budget.take(_VISIT + len(live)):
            raise _OutOfBudget
        if k not in live and (not pattern.word_end or doc.boundary(i)):
            live[k] = i
        start = live.get(0)
        if (start is not None and start > ends.get(i, -1)
                and (not pattern.word_start or doc.boundary(i))):
            ends[i] = start
        if i == 0:
            return
        i -= 1
        ch, lo = text[i], low[i]
        alnum = ch.isalnum()
        moved: dict[int, int] = {}
        for s, end in live.items():
            if loops[s] and alnum and moved.get(s, -1) < end:
                moved[s] = end
            if s:
                tok = tokens[s - 1]
                if (tok == lo if tok is not None else alnum) and moved.get(s - 1, -1) < end:
                    moved[s - 1] = end
        live = moved


def find(text: str, pats: list[Pattern], budget: Budget) -> list[tuple[int, int]]:
    """Leftmost-longest, non-overlapping matches of any of ``pats`` in ``text``.

    Raises ``_OutOfBudget`` when the budget runs out.
    """
    if not text or not pats:
        return []
    n = len(text)
    # preparing the text: C-level for ASCII, a Python loop per character otherwise
    if not budget.take(1 + (n // _SCAN_CHARS_PER_STEP if text.isascii() else n // _VISIT)):
        raise _OutOfBudget
    doc = _Text(text)
    ends: dict[int, int] = {}  # start → the longest end of a match starting there
    # A trailing ``*`` (prefixes, "web*") only stretches a match to the end of its word: match
    # the pattern without it, and stretch while taking the matches below.
    stretched: dict[int, int] = {}
    for p in pats:
        if p.core is not None:
            _longest_ends(doc, p.core, stretched, budget)
        else:
            _longest_ends(doc, p, ends, budget)
    out: list[tuple[int, int]] = []
    starts = sorted(ends.keys() | stretched.keys())
    if not budget.take(1 + _VISIT * len(starts)):
        raise _OutOfBudget
    taken = 0  # matches never overlap: the next one starts at or after this
    for i in starts:
        if i < taken:
            continue
        end = ends.get(i, -1)
        core = stretched.get(i, -1)
        if core > i:
            run = _WORD_RUN.match(text, core).end()  # type: ignore[union-attr]
            if not budget.take(_VISIT + (run - core) // _SCAN_CHARS_PER_STEP):
                raise _OutOfBudget
            end = max(end, run)
        out.append((i, end))
        taken = end  # the next stretch starts beyond this one: every character is read once
    return out


def _values(value, path: list[str]) -> Iterator[str]:
    if not path:
        if isinstance(value, dict):
            for child in value.values():
                yield from _values(child, [])
        elif isinstance(value, list):
            for child in value:
                yield from _values(child, [])
        elif isinstance(value, str):
            yield value
        return
    if isinstance(value, list):
        for child in value:
            yield from _values(child, path)
    elif isinstance(value, dict):
        head, rest = path[0], path[1:]
        if head in value:
            yield from _values(value[head], rest)
        # a key that itself contains dots ("a.b") answers the dotted path too
        for n in range(2, len(path) + 1):
            joined = ".".join(path[:n])
            if joined in value:
                yield from _values(value[joined], path[n:])


def _fragments(text: str, pats: list[Pattern], pre: str, post: str, size: int, count: int,
               budget: Budget) -> list[str]:
    matches = find(text, pats, budget)
    out: list[str] = []
    seen: set[str] = set()
    first = 0  # the first match that may lie in the next window (windows move right)
    shown_to = 0  # the end of the last window: a match inside it is marked there already
    for m_start, m_end in matches:
        if len(out) >= count:
            break
        if m_end <= shown_to:
            continue
        start = max(0, m_start - size // 2)
        end = min(len(text), max(m_end, start + size))
        while first < len(matches) and matches[first][0] < start:
            first += 1
        last = first
        while last < len(matches) and matches[last][1] <= end:
            last += 1
        written = end - start + (last - first) * (len(pre) + len(post))
        if not budget.take(_VISIT * (1 + last - first) + written // _OUTPUT_CHARS_PER_STEP):
            raise _OutOfBudget
        parts: list[str] = []
        at = start
        for a, b in matches[first:last]:
            parts += [text[at:a], pre, text[a:b], post]
            at = b
        parts.append(text[at:end])
        shown_to = end
        marked = "".join(parts)
        if marked not in seen:
            seen.add(marked)
            out.append(marked)
    return out


def highlight(node: t.Node, source: dict, spec: dict,
              budget: Budget | None = None) -> dict[str, list[str]]:
    """``{field: [fragments]}`` for the fields ``spec["fields"]`` names (``*`` for all).

    ``budget``: the work allowed (default: the request's, see ``request_budget``, else a fresh
    ``WORK_BUDGET``). Once it is spent this returns what was done (possibly nothing).
    """
    if budget is None:
        budget = _REQUEST.get() or Budget()
    if budget.exhausted:
        return {}
    pats = budget.patterns(node)
    if not pats:
        return {}
    pre = (spec.get("pre_tags") or ["<em>"])[0]
    post = (spec.get("post_tags") or ["</em>"])[0]
    size = int(spec.get("fragment_size") or 100)
    count = int(spec.get("number_of_fragments") or 5)
    wanted = list((spec.get("fields") or {}).keys())
    if "*" in wanted:
        wanted = [k for k in source if k not in ("id",)]
    out: dict[str, list[str]] = {}
    name, frags = "", list[str]()
    try:
        for name in wanted:
            frags = []
            for text in _values(source, name.split(".")):
                frags += _fragments(text, pats, pre, post, size, count - len(frags), budget)
                if len(frags) >= count:
                    break
            if frags:
                out[name] = frags
    except _OutOfBudget:  # keep what was done; the text being scanned gets nothing
        if frags:
            out[name] = frags
    return out
