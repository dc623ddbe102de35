"""The reference evaluator: what a query tree means, and what a match scores, as plain Python over
documents. Every engine's answers are compared with it (hits, scores, order, ``max_score``,
buckets), on the corpus and on random corpora.

It reads values apart from the engines' own conversions (``engines/terms.py``) on purpose: an
oracle that shared them would agree with their bugs. The rules that are not conversions (how text
becomes words, which fields are analysed, ``minimum_should_match``) come from
``query/analysis.py``, where the engines get them too.

``MATCHERS`` and ``SCORERS`` hold one function per node type of ``query/tree.py``; a node type
missing from either fails ``test_every_node_type_is_handled``.

Semantics fixed here (and by the engine contract, ``engines/base.py``):

* Values of dynamic paths compare as text (``fields.scalar_text``): ``3`` and ``"3"`` are the same,
  ranges are text ranges, only the first ``MAX_VALUE_CHARS`` characters are exact values.
* Text/Phrase on a keyword, date or int field or a dynamic path is a Term on that field; only text
  fields and the full-text field (``field=None``) are analysed.
* Exists on a dynamic path is true when any leaf sits at or under the path (a null leaf counts:
  it is indexed as ``"null"``); on a typed field, when the document has a non-null value (an empty
  list has none).
* Wildcard: ``*`` any run of characters, ``?`` one character, a backslash makes the next character
  literal.
* Bool follows Elasticsearch: must and filter are required, must_not excluded, and at least
  ``minimum_should_match`` should clauses must match (default: 1 if the bool has should clauses but
  no must/filter, else 0); a bool without clauses matches everything.
* Sort: a list field sorts by its smallest value ascending and its largest descending; documents
  without a value go last in both directions; ties are broken by id; text fields sort by their
  exact value. ``BY_SCORE`` (what ``query/request.py`` makes of ``"_score"``) is score order, best
  first, at any place among the keys. Without sort keys: by score, best first, then by id. Scores
  are coordination scores (``score``, see ``base.py``).
* Aggregations count documents per value (a value repeated in one document counts once), most
  documents first, ties by value.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from functools import cmp_to_key
from typing import Any

from heatseeker.query import fields as F
from heatseeker.query import tree as t
from heatseeker.query.analysis import BY_SCORE, SCORE, is_analysed, minimum_should_match, words

# -- values, in the form they compare in ------------------------------------------------------------


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _as_text(value: Any) -> str:
    """Keyword/text exact form of a value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return _iso(value)
    return str(value)


def _as_dynamic(value: Any) -> str:
    if isinstance(value, datetime):
        return _iso(value)
    return F.scalar_text(value)


def _as_date(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC)


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _dynamic_leaves(doc: dict, root: str) -> list[tuple[str, str]]:
    value = doc.get(root)
    return [] if value is None else list(F.flatten(value, root))


def _typed_values(kind: str, values: list[Any]) -> list[Any]:
    if kind in (F.KEYWORD, F.TEXT):
        return [_as_text(v) for v in values]
    if kind == F.DATE:
        return [d for d in map(_as_date, values) if d is not None]
    return [int(n) for n in map(_as_number, values) if n is not None and n.is_integer()]


def field_values(doc: dict, field: str) -> list[Any]:
    """The values of ``field`` in ``doc``, in the form they compare in."""
    name, kind = F.resolve(field)
    if kind == "dynamic":
        return [text for path, text in _dynamic_leaves(doc, name.split(".", 1)[0]) if path == name]
    raw = doc.get(name)
    values = [v for v in (raw if isinstance(raw, (list, tuple)) else [raw]) if v is not None]
    return _typed_values(kind, values)


def _query_value(kind: str, value: Any) -> Any:
    if kind == "dynamic":
        return _as_dynamic(value)
    if kind in (F.KEYWORD, F.TEXT):
        return _as_text(value)
    if kind == F.DATE:
        return _as_date(value)
    return _as_number(value)


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield str(key)
            yield from _strings(child)
    elif isinstance(value, (list, tuple)):
        for child in value:
            yield from _strings(child)
    elif isinstance(value, bool):
        yield "true" if value else "false"
    elif value is not None:
        yield str(value)


def _analysed_values(doc: dict, field: str | None) -> list[list[str]]:
    if field is None or field == F.FULLTEXT:
        # typed fields in FULLTEXT_EXCLUDED (ids, times, owners) are asked for by field only
        kept = {k: v for k, v in doc.items() if k not in F.FULLTEXT_EXCLUDED}
        return [words(s) for s in _strings(kept)]
    return [words(v) for v in field_values(doc, field)]


def _present_words(doc: dict, field: str | None) -> set[str]:
    return {w for v in _analysed_values(doc, field) for w in v}


def _wildcard_regex(pattern: str) -> re.Pattern:
    out = []
    chars = iter(pattern)
    for c in chars:
        if c == "\\":
            nxt = next(chars, None)
            if nxt is not None:
                out.append(re.escape(nxt))
        elif c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        else:
            out.append(re.escape(c))
    return re.compile("".join(out), re.DOTALL)


def _in_range(value: Any, node: t.Range, conv: Callable[[Any], Any]) -> bool:
    for bound, test in (
        (node.gte, lambda v, b: v >= b),
        (node.gt, lambda v, b: v > b),
        (node.lte, lambda v, b: v <= b),
        (node.lt, lambda v, b: v < b),
    ):
        if bound is None:
            continue
        b = conv(bound)
        if b is None or not test(value, b):
            return False
    return True


# -- matching: one function per node type -----------------------------------------------------------


def matches(node: t.Node, doc: dict) -> bool:
    """Whether ``doc`` matches ``node``: the meaning of the query tree."""
    try:
        match = MATCHERS[type(node)]
    except KeyError:
        raise TypeError(f"unknown node {node!r}") from None
    return match(node, doc)


def _bool(node: t.Bool, doc: dict) -> bool:
    if not (node.must or node.should or node.must_not or node.filter):
        return True
    if not all(matches(c, doc) for c in node.must + node.filter):
        return False
    if any(matches(c, doc) for c in node.must_not):
        return False
    return sum(matches(c, doc) for c in node.should) >= minimum_should_match(node)


def _ids(node: t.Ids, doc: dict) -> bool:
    return doc["id"] in {str(v) for v in node.values}


def _text(node: t.Text, doc: dict) -> bool:
    if not is_analysed(node.field):
        return matches(t.Term(node.field or "", node.text), doc)
    query = words(node.text)
    if not query:
        return False
    present = _present_words(doc, node.field)
    hits = [w in present for w in query]
    return any(hits) if node.operator == "or" else all(hits)


def _phrase(node: t.Phrase, doc: dict) -> bool:
    if not is_analysed(node.field):
        return matches(t.Term(node.field or "", node.text), doc)
    query = words(node.text)
    if not query:
        return False
    n = len(query)
    analysed = _analysed_values(doc, node.field)
    return any(v[i : i + n] == query for v in analysed for i in range(len(v) - n + 1))


def _exists(node: t.Exists, doc: dict) -> bool:
    name, kind = F.resolve(node.field)
    if kind == "dynamic":
        leaves = _dynamic_leaves(doc, name.split(".", 1)[0])
        return any(p == name or p.startswith(name + ".") for p, _ in leaves)
    return bool(field_values(doc, name))


def _term(node: t.Term, doc: dict) -> bool:
    name, kind = F.resolve(node.field)
    wanted = _query_value(kind, node.value)
    return wanted is not None and wanted in field_values(doc, name)


def _terms(node: t.Terms, doc: dict) -> bool:
    name, kind = F.resolve(node.field)
    wanted = {_query_value(kind, v) for v in node.values} - {None}
    return any(v in wanted for v in field_values(doc, name))


def _prefix(node: t.Prefix, doc: dict) -> bool:
    if node.field == F.FULLTEXT:  # a bare ``web*``: the analysed words of the full text
        return any(w.startswith(node.value.lower()) for w in _present_words(doc, None))
    name, _ = F.resolve(node.field)
    return any(v.startswith(node.value) for v in field_values(doc, name))


def _wildcard(node: t.Wildcard, doc: dict) -> bool:
    if node.field == F.FULLTEXT:
        rx = _wildcard_regex(node.pattern.lower())
        return any(rx.fullmatch(w) for w in _present_words(doc, None))
    name, _ = F.resolve(node.field)
    rx = _wildcard_regex(node.pattern)
    return any(rx.fullmatch(v) for v in field_values(doc, name))


def _range(node: t.Range, doc: dict) -> bool:
    name, kind = F.resolve(node.field)
    conv: Callable[[Any], Any]
    if kind == F.INT:
        conv = _as_number
    elif kind == F.DATE:
        conv = _as_date
    else:
        conv = _as_dynamic if kind == "dynamic" else _as_text
    return any(_in_range(v, node, conv) for v in field_values(doc, name))


MATCHERS: dict[type, Callable[[Any, dict], bool]] = {
    t.MatchAll: lambda node, doc: True,
    t.MatchNone: lambda node, doc: False,
    t.Bool: _bool,
    t.Ids: _ids,
    t.Text: _text,
    t.Phrase: _phrase,
    t.Exists: _exists,
    t.Term: _term,
    t.Terms: _terms,
    t.Prefix: _prefix,
    t.Wildcard: _wildcard,
    t.Range: _range,
}


# -- scores: one function per node type -------------------------------------------------------------


def score(node: t.Node, doc: dict) -> float:
    """The score of a matching ``doc``: the coordination score, computed from the document and the
    query alone (no collection statistics, so no other stack can change it). Every leaf scores 1
    but a Text on an analysed field, which scores 1 per distinct query word the document holds (all
    of them for an ``and`` Text); a bool sums its must clauses and its matching should clauses
    (filter clauses score 0, must_not nothing); a bool without clauses scores 1."""
    return SCORERS[type(node)](node, doc)


def _bool_score(node: t.Bool, doc: dict) -> float:
    if not (node.must or node.should or node.must_not or node.filter):
        return 1.0
    total = sum(score(c, doc) for c in node.must)
    total += sum(score(c, doc) for c in node.should if matches(c, doc))
    return float(total)


def _text_score(node: t.Text, doc: dict) -> float:
    if not is_analysed(node.field):
        return 1.0
    present = _present_words(doc, node.field)
    return float(sum(1 for w in dict.fromkeys(words(node.text)) if w in present))


def _one(node: t.Node, doc: dict) -> float:
    return 1.0


SCORERS: dict[type, Callable[[Any, dict], float]] = {
    t.MatchAll: _one,
    t.MatchNone: lambda node, doc: 0.0,
    t.Bool: _bool_score,
    t.Ids: _one,
    t.Text: _text_score,
    t.Phrase: _one,
    t.Exists: _one,
    t.Term: _one,
    t.Terms: _one,
    t.Prefix: _one,
    t.Wildcard: _one,
    t.Range: _one,
}


# -- order, pages, aggregations ---------------------------------------------------------------------


def sort_value(doc: dict, key: t.SortKey) -> Any:
    values = field_values(doc, key.field)
    if not values:
        return None
    return max(values) if key.descending else min(values)


def _compare_key(a: dict, b: dict, key: t.SortKey, scores: dict[str, float] | None) -> int:
    if key.field == SCORE:
        if scores is None or scores[a["id"]] == scores[b["id"]]:
            return 0
        return -1 if scores[a["id"]] > scores[b["id"]] else 1
    va, vb = sort_value(a, key), sort_value(b, key)
    if va == vb:
        return 0
    if va is None:
        return 1
    if vb is None:
        return -1
    c = -1 if va < vb else 1
    return -c if key.descending else c


def reference_order(
    docs: Iterable[dict], sort: Sequence[t.SortKey], scores: dict[str, float] | None = None
) -> list[dict]:
    """``docs`` in the order of ``sort`` (missing values last, ties by id); ``_score`` keys order
    by ``scores`` (id → score, best first), or order nothing when no scores are given."""

    def compare(a: dict, b: dict) -> int:
        for key in sort:
            c = _compare_key(a, b, key, scores)
            if c:
                return c
        return -1 if a["id"] < b["id"] else (1 if a["id"] > b["id"] else 0)

    return sorted(docs, key=cmp_to_key(compare))


def reference_search(
    docs: Iterable[dict],
    node: t.Node,
    sort: Sequence[t.SortKey] = (),
    offset: int = 0,
    limit: int = 10,
) -> tuple[int, list[str]]:
    """``(total, ids of the page)``; without sort keys, by score (best first), then id."""
    total, page, _ = reference_page(docs, node, sort, offset, limit)
    return total, [sid for sid, _ in page]


def reference_page(
    docs: Iterable[dict],
    node: t.Node,
    sort: Sequence[t.SortKey] = (),
    offset: int = 0,
    limit: int = 10,
) -> tuple[int, list[tuple[str, float]], float | None]:
    """``(total, [(id, score)] of the page, max_score)``: what ``Engine.search`` must answer.

    ``max_score`` is the best score of all matches whatever the sort and the page (None without
    matches, and when ``limit`` is 0).
    """
    found = [d for d in docs if matches(node, d)]
    scores = {d["id"]: score(node, d) for d in found}
    ordered = reference_order(found, list(sort) or [BY_SCORE], scores)
    page = [(d["id"], scores[d["id"]]) for d in ordered[offset : offset + limit]]
    best = max(scores.values()) if scores and limit > 0 else None
    return len(found), page, best


def page_of(result: t.SearchResult) -> tuple[int, list[tuple[str, float]], float | None]:
    """An engine's answer in the form of ``reference_page``."""
    return result.total, [(h.id, h.score) for h in result.hits], result.max_score


def reference_aggregate(
    docs: Iterable[dict], node: t.Node, aggs: dict[str, t.TermsAgg]
) -> dict[str, list[tuple[str, int]]]:
    found = [d for d in docs if matches(node, d)]
    out = {}
    for name, agg in aggs.items():
        counts: Counter[str] = Counter()
        for doc in found:
            counts.update({str(v) for v in field_values(doc, agg.field)})
        out[name] = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: agg.size]
    return out
