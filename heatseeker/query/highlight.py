"""Highlights, computed from a hit's (already visibility-stripped) source and the query tree.

Engine-neutral on purpose: every engine gives the same highlights, and a field a caller may not see
is not in the source handed here, so it can never be highlighted. As Searchlight did
(``require_field_match: false``), every positive term of the query is highlighted in every requested
field. Words match case-insensitively at word boundaries; exact values (term queries, dynamic
paths) match as whole substrings; prefixes match the start of a word.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from heatseeker.query import tree as t

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
MAX_PATTERNS = 64


def _positive(node: t.Node) -> Iterator[t.Node]:
    """Leaves that make a document match (never those under must_not)."""
    if isinstance(node, t.Bool):
        for group in (node.must, node.should, node.filter):
            for child in group:
                yield from _positive(child)
    else:
        yield node


def patterns(node: t.Node) -> re.Pattern | None:
    """One regular expression for every positive term of the query, or None."""
    parts: list[str] = []
    for leaf in _positive(node):
        if isinstance(leaf, t.Text | t.Phrase):
            parts += [r"\b" + re.escape(w) + r"\b" for w in _WORD.findall(leaf.text)]
        elif isinstance(leaf, t.Term) and isinstance(leaf.value, str) and leaf.value:
            parts.append(re.escape(leaf.value))
        elif isinstance(leaf, t.Terms):
            parts += [re.escape(v) for v in leaf.values if isinstance(v, str) and v]
        elif isinstance(leaf, t.Prefix) and leaf.value:
            parts.append(r"\b" + re.escape(leaf.value) + r"[^\W_]*")
        elif isinstance(leaf, t.Wildcard):
            rx = "".join(
                r"[^\W_]*" if ch == "*" else r"[^\W_]" if ch == "?" else re.escape(ch)
                for ch in leaf.pattern
            )
            if rx.strip("[^\\W_]*?"):
                parts.append(rx)
    parts = sorted(set(parts), key=len, reverse=True)[:MAX_PATTERNS]
    return re.compile("|".join(parts), re.IGNORECASE | re.UNICODE) if parts else None


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


def _fragments(text: str, rx: re.Pattern, pre: str, post: str, size: int, count: int) -> list[str]:
    out: list[str] = []
    for m in rx.finditer(text):
        if len(out) >= count:
            break
        start = max(0, m.start() - size // 2)
        end = min(len(text), max(m.end(), start + size))
        piece = text[start:end]
        marked = rx.sub(lambda mm: pre + mm.group(0) + post, piece)
        if marked not in out:
            out.append(marked)
    return out


def highlight(node: t.Node, source: dict, spec: dict) -> dict[str, list[str]]:
    """``{field: [fragments]}`` for the fields ``spec["fields"]`` names (``*`` for all)."""
    rx = patterns(node)
    if rx is None:
        return {}
    pre = (spec.get("pre_tags") or ["<em>"])[0]
    post = (spec.get("post_tags") or ["</em>"])[0]
    size = int(spec.get("fragment_size") or 100)
    count = int(spec.get("number_of_fragments") or 5)
    wanted = list((spec.get("fields") or {}).keys())
    if "*" in wanted:
        wanted = [k for k in source if k not in ("id",)]
    out: dict[str, list[str]] = {}
    for name in wanted:
        frags: list[str] = []
        for text in _values(source, name.split(".")):
            frags += _fragments(text, rx, pre, post, size, count - len(frags))
            if len(frags) >= count:
                break
        if frags:
            out[name] = frags
    return out
