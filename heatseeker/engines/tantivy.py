"""The embedded default engine: a tantivy index in a local directory.

Layout on disk::

    <path>/writer.lock       held (flock) by the one process that writes; see WriterBusy
    <path>/CURRENT           the name of the live generation ("gen-3"), replaced atomically
    <path>/gen-<n>/          one complete tantivy index
    <path>/gen-<n>/heatseeker.json   {"schema_version", "tantivy", "created_at"}

``rebuild()`` writes a fresh generation next to the live one and swaps ``CURRENT`` when it is
complete; every reader and writer notices the swap on its next operation (one ``stat``) and reopens.
A generation no longer current is removed as soon as no process reads it: each process that opens
a generation holds a shared ``flock`` on its ``readers.lock`` for as long as it may search it (the
lock goes with the last search on it); the rebuild, and any process that moves to a newer
generation, removes each older one whose lock it can take exclusively (issue #16: a kept previous
generation doubled the index on disk). A generation written by another schema version (or another tantivy) raises
``SchemaMismatch`` on every operation but ``health``/``rebuild``/``close``: ``heatseeker reindex``
repairs it.

Schema (one tantivy document per stack id; tombstones are documents too):

``id``                raw term, fast (string column), stored
``_idkey``            u64 indexed + fast: the first 8 bytes of the id, big-endian. Ordering by a
                      string column is ~10x slower in tantivy than by a number, so id order is
                      ``_idkey`` order refined by ``id`` only among documents sharing a key
``_rootkey``          u64 fast: a 64-bit hash (BLAKE2b) of ``root_id``, the column the roll-up's
                      bounded count of roots aggregates (``count_distinct`` with ``at_most``):
                      a string column costs tantivy ~2 µs per matching document to aggregate
                      and a u64 one ~0.3 µs (measured at 300k stacks). Two root ids
                      share a key with a chance of n²/2⁶⁵ (10⁻¹² for 10,000 roots); the unbounded
                      count reads ``root_id`` itself
``_rootord``          u64 indexed + fast: the first 8 bytes of ``root_id``, as ``_idkey``: a sort
                      on ``root_id`` (the roll-up's order among equal scores) orders by it, refined
                      by ``root_id`` only among documents sharing a key (a string column sorted
                      ~8 ms per round of a roll-up at 300k stacks, this one ~2 ms)
``_version``          i64 fast + stored: the engine version of the write
``_deleted``          bool indexed + fast: a tombstone (no ``_source``, no other field)
``_source``           bytes, stored only: compact JSON of the document without its dynamic roots
``_body``             bytes, stored only: compact JSON of its dynamic roots (parameters, outputs,
                      resources, template, environment), decoded only when a hit needs them
keyword fields        raw term, fast (string column; multi-valued lists are de-duplicated so
                      aggregations count documents). List fields (tags, ancestors, path,
                      resource_types, files) also get ``<f>__min`` / ``<f>__max`` single-valued
                      columns: sorting a list sorts by its smallest value ascending and its largest
                      value descending (Elasticsearch's rule)
text fields           ``<f>`` analysed by tantivy's "default" analyser (split on non-alphanumerics,
                      drop tokens of 40+ bytes, lower-case; positions for phrases) and ``<f>__raw``:
                      the exact value, raw term + fast column (term, prefix, sort, aggregations)
date / int fields     indexed + fast (date precision: seconds)
``_kv``               exact terms ``path + KV_SEP + value`` from ``fields.flatten`` over the
                      dynamic roots (Term/Terms/Prefix/Wildcard/Range on dynamic paths), one
                      string of them joined by spaces, split by tantivy's whitespace tokenizer;
                      the terms that hold whitespace go to ``_kv_spaced`` (a list, raw tokenizer)
``_paths``            the same for every dotted prefix of every dynamic leaf path (Exists), and
                      ``_paths_spaced``
``_all``              analysed like text fields: every key and every scalar value of the document,
                      in full (FULLTEXT), but for the typed fields in ``fields.FULLTEXT_EXCLUDED``;
                      one value, the strings joined with ``GAP_WORD``, which its analyser drops
                      and whose empty position keeps a phrase from spanning two strings

Scores (the contract, ``base.py``): coordination scores, from the document and the query alone.
Every leaf scores a constant 1 when it matches (``const_score_query``; MatchAll too: tantivy drops
the score of a bare AllQuery in a boolean query); a Text on an analysed field is a bool of one
constant-scoring term query per distinct analysed word (``or``: should, ``and``: must), a Phrase on
one is a constant 1; filter clauses score 0, must_not nothing; a bool sums its scoring clauses. No
BM25 statistic (document frequency, document count, average length) is left: those are index-wide,
and the project filter only restricts the hits, so they told a caller about other projects' stacks.
Only an ``or`` Text of several words and optional should clauses make scores vary (``_varies``);
any other tree gives every match the same score (``_const_score``), and its "score, then id" order
is plain id order (``_idkey``, then ``id`` within equal keys).

Query translation (``_Translator``; ``TRANSLATE`` holds one function per node type of
``query/tree.py``). Text/Phrase on keyword, date, int fields and dynamic paths are exact Terms (the
contract; ``query/analysis.py`` says which fields are analysed, and the words are tantivy's simple
tokenizer with ``analysis.MAX_WORD_BYTES`` and lower-casing, ``analysis.words``' rule). Prefix
and Wildcard are regex queries over the term dictionary (literal parts escaped as ``\\x{..}``).
Range on ints and dates uses the fast columns. Range on keyword, text (exact form)
and dynamic values is one regular expression that tantivy runs against the term dictionary
(``_range_rx``: no Python enumeration, no cap, nothing that depends on what else the index holds):
past the bounds' common prefix p, ``p a0 (>= rest of lo) | p [a0 < c < b0] | p b0 (<= rest of
hi)``, each side an alternation ``s[:i]`` + a character above (below) ``s[i]``, followed by one
shared ``.*``, plus the exact prefixes of the upper bound as a term set. Its automaton has about
one state per byte of the bounds, tantivy's limit is 1,000 states, and its text grows with the
square of the bounds' length: a bound longer than RANGE_BOUND_BYTES past the common prefix (or whose
automaton tantivy refuses) is a QueryError, which depends on the caller's input only. Bounds never
hold a surrogate (no term does): one becomes the next valid string. Range on ``id`` (what
``search_after`` adds) is a ``_idkey`` range for every id whose first 8 bytes differ from the
bound's, and the regex only among ids sharing them. Exists: tantivy's ``exists_query`` on fast
columns, a ``_paths`` term for dynamic paths. ``minimum_should_match`` maps to tantivy's own
BooleanQuery parameter (exact); ES's default is applied here (1 for a bool with should clauses and
no must/filter, else 0; an explicit 0 with only should clauses matches all).

Sorting. tantivy orders by one fast column (missing values last in both directions, ties by
document address). For keys k1..kn: fetch the top offset+limit+1 by k1; a run of equal k1 values
that has several members (or reaches the page boundary) is re-asked as ``query AND k1 == v`` ordered
by k2..kn, recursively, ending with ``_idkey`` and then ``id``. The common cases cost one tantivy
search: a unique-ish numeric/date key or id order. Score order: fetch by score; when scores tie at
the page boundary, fetch more (up to SCORE_TIE_WINDOW hits) and order ties by the next keys, then
``_idkey`` and id. Coordination scores tie often: beyond the window every match is fetched with its
score and the tie at the boundary is walked in the order of the next keys (cost: the caller's
matches, the query being scoped; never an error). ``max_score`` is the best score of all matches
whatever the sort and page (None when ``limit`` is 0, as OpenSearch). Hits decode ``_source`` (and
``_body`` unless ``fields`` leaves the dynamic roots out): with ~10 KB stacks the JSON decoding of
full hits is most of a search's time.

Writes. One writer process (``writer.lock``, taken lazily on the first write; a second writer gets
WriterBusy). Versions are checked against this process's uncommitted writes (a dict) and else the
committed index (one term-set query per batch of 1,000); a replacement is
``delete_documents_by_term(id)`` + add. ``commit()`` commits and reloads this process's searcher;
other processes notice the new ``meta.json`` (one ``stat``) before their next read.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import json
import math
import os
import re
import shutil
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cmp_to_key
from itertools import islice
from typing import Any, NamedTuple

import tantivy

from heatseeker.engines.base import Engine, EngineError, SchemaMismatch, WriterBusy, WriteResult
from heatseeker.engines.terms import date as _date
from heatseeker.engines.terms import dynamic as _dynamic
from heatseeker.engines.terms import iso as _iso
from heatseeker.engines.terms import keyword as _keyword
from heatseeker.engines.terms import strings, walk
from heatseeker.query import fields as F
from heatseeker.query.analysis import (
    MAX_WORD_BYTES,
    SCORE,
    is_analysed,
    minimum_should_match,
)
from heatseeker.query.errors import QueryError
from heatseeker.query.tree import (
    Bool,
    Exists,
    Hit,
    Ids,
    MatchAll,
    MatchNone,
    Node,
    Phrase,
    Prefix,
    Range,
    SearchResult,
    SortKey,
    Term,
    Terms,
    TermsAgg,
    Text,
    Wildcard,
)

SCHEMA_VERSION = 9  # 5: the full text as one value per string (phrases stay within one); 6: region;
# 7: the full text as one value with a gap word between strings (FULLTEXT_TOKENIZER); 8: _rootkey,
# _rootord; 9: _kv and _paths as one string each (TERMS_TOKENIZER) and their _spaced twins
try:
    TANTIVY_VERSION = importlib.metadata.version("tantivy")
except importlib.metadata.PackageNotFoundError:  # pragma: no cover - tantivy is a dependency
    TANTIVY_VERSION = "unknown"

META_FILE = "heatseeker.json"
CURRENT_FILE = "CURRENT"
LOCK_FILE = "writer.lock"
READERS_FILE = "readers.lock"  # in each generation: a shared flock per process reading it
GEN_PREFIX = "gen-"

CHECKPOINT_ID = "\x00checkpoint"  # the id of the document holding the checkpoint (never a stack id)
LIST_FIELDS = F.LIST_FIELDS
BATCH = 1000  # writes handled per version lookup
SCORE_TIE_WINDOW = 100_000  # hits examined at most to order documents that tie on score by id
# a run of one root's stacks this long at most, wholly inside a page's window, is ordered by its
# members' ``_idkey`` column instead of being asked again (``_one_root``)
SMALL_RUN = 64
RANGE_BOUND_BYTES = 256  # UTF-8 bytes of a text range bound past the common prefix (regex: n**2)
AGG_ALL = 2**31 - 1
# tantivy's default AggregationLimits: a terms aggregation fails beyond this many buckets
AGG_BUCKET_LIMIT = 65_000
AGG_SPLIT_DEPTH = 4  # count_distinct cuts ranges this many characters deep at most (16^4 ranges)
KEY_TWINS = {"root_id": "_rootkey"}  # keyword fields with a u64 hash column (count_distinct)
ORD_TWINS = {"root_id": "_rootord"}  # keyword fields with a u64 prefix column (sorting)
# a bounded count_distinct of root_id trusts the cardinality estimate (HyperLogLog, ~1 % error)
# to say "more than at_most" only beyond this multiple of the bound (plus 100); else it counts
ESTIMATE_MARGIN = 2

_Q = tantivy.Query
_MUST = tantivy.Occur.Must
_SHOULD = tantivy.Occur.Should
_MUST_NOT = tantivy.Occur.MustNot


def _build_schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("id", stored=True, fast=True, tokenizer_name="raw", index_option="basic")
    sb.add_unsigned_field("_idkey", indexed=True, fast=True)
    sb.add_unsigned_field("_rootkey", fast=True)
    sb.add_unsigned_field("_rootord", indexed=True, fast=True)
    sb.add_integer_field("_version", stored=True, fast=True)
    sb.add_boolean_field("_deleted", indexed=True, fast=True)
    sb.add_bytes_field("_source", stored=True)
    sb.add_bytes_field("_body", stored=True)
    for name, kind in F.FIELDS.items():
        if name == "id":
            continue
        if kind == F.KEYWORD:
            sb.add_text_field(name, fast=True, tokenizer_name="raw", index_option="basic")
            if name in LIST_FIELDS:
                for suffix in ("__min", "__max"):
                    sb.add_text_field(
                        name + suffix, fast=True, tokenizer_name="raw", index_option="basic"
                    )
        elif kind == F.TEXT:
            sb.add_text_field(name, tokenizer_name="default")
            sb.add_text_field(name + "__raw", fast=True, tokenizer_name="raw", index_option="basic")
        elif kind == F.DATE:
            sb.add_date_field(name, indexed=True, fast=True)
        elif kind == F.INT:
            sb.add_integer_field(name, indexed=True, fast=True)
        else:  # pragma: no cover - the catalog has four kinds
            raise AssertionError(kind)
    for name in _TERM_LISTS:
        sb.add_text_field(name, tokenizer_name=TERMS_TOKENIZER, index_option="basic")
        sb.add_text_field(name + _SPACED, tokenizer_name="raw", index_option="basic")
    sb.add_text_field(F.FULLTEXT, tokenizer_name=FULLTEXT_TOKENIZER)
    return sb.build()


# The full text of a stack is ~600 strings (every key and scalar value). Handing tantivy one list
# value per string cost ~0.3 ms of CPU per document in the Python thread alone (each string
# converted on its own), half a reindex's Python time. So they are joined into one value, with
# GAP_WORD between two strings; the field's analyser is tantivy's "default" one (simple
# tokenizer, remove_long, lowercase) plus a stop-word filter that drops GAP_WORD. A stop-word
# filter leaves the position of the word it drops empty, so a phrase still never spans two
# strings, as with one value per string (tantivy leaves one position between values too); and a
# dropped word is not counted in the field's length. Only a literal search for GAP_WORD itself
# answers differently (nothing, where OpenSearch finds documents holding the word): it is an
# improbable word, chosen for that (tests/unit/test_tantivy_fulltext.py).
FULLTEXT_TOKENIZER = "hs_fulltext"
GAP_WORD = "heatseekergap0x1f"
_GAP = " " + GAP_WORD + " "


def _default_analyzer(*extra: tantivy.Filter) -> tantivy.TextAnalyzer:
    """tantivy's "default" analyser (simple tokenizer, remove_long, lowercase), then ``extra``."""
    builder = (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(MAX_WORD_BYTES))
        .filter(tantivy.Filter.lowercase())
    )
    for f in extra:
        builder = builder.filter(f)
    return builder.build()


def _fulltext_analyzer() -> tantivy.TextAnalyzer:
    return _default_analyzer(tantivy.Filter.custom_stopword([GAP_WORD]))


def _with_analyzers(index: tantivy.Index) -> tantivy.Index:
    """``index`` with the analysers the schema names (tantivy keeps them per opened Index)."""
    index.register_tokenizer(FULLTEXT_TOKENIZER, _fulltext_analyzer())
    index.register_tokenizer(
        TERMS_TOKENIZER, tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build()
    )
    return index


# ``_kv`` and ``_paths`` hold ~200 and ~240 exact terms per stack (the generator's documents).
# Given to tantivy as a list (one value per term, raw tokenizer), each value costs tantivy a
# token stream of its own: indexing them took ~0.5 ms of CPU per stack, more than any other part
# of a reindex. So the terms travel as one string, joined by a space, and the field's analyser is
# tantivy's whitespace tokenizer, which gives them back as they were (~0.25 ms; measured on 5,000
# generated stacks; the pipe from the reindex workers carries one string instead of a list, too).
# That tokenizer splits on exactly _SPLITS (Rust's ``is_ascii_whitespace``; test_projection's
# tokenizer test tries every code point), so a term holding one of them goes, whole, to the
# raw-tokenized ``<field>_spaced`` twin instead. Each term is in exactly one of the two: an exact
# lookup asks the one its text names (``_term_field``), a pattern (prefix, wildcard, range) asks
# both. Scores are constants, so the split changes none.
TERMS_TOKENIZER = "hs_terms"
_SPLITS = "\t\n\x0c\r "
_SPLITS_RE = re.compile("[\t\n\x0c\r ]")
_SPACED = "_spaced"
_TERM_LISTS = ("_kv", "_paths")


def _term_field(field: str, term: str) -> str:
    """Which of ``field`` (``_kv``, ``_paths``) and its ``_spaced`` twin holds ``term``."""
    return field + _SPACED if _SPLITS_RE.search(term) else field


def _split_spaced(terms: list[str]) -> tuple[list[str], list[str]]:
    """``terms`` without any of _SPLITS, and those with one (each in its first order). Most
    stacks hold a space and a newline somewhere: the test is written out for one or two."""
    probe = "".join(terms)
    present = [c for c in _SPLITS if c in probe]
    if not present:
        return terms, []
    if len(present) == 1:
        c = present[0]
        flags = [c in t for t in terms]
    elif len(present) == 2:
        c, d = present
        flags = [c in t or d in t for t in terms]
    else:
        search = _SPLITS_RE.search
        flags = [search(t) is not None for t in terms]
    if not any(flags):
        return terms, []
    plain = [t for t, f in zip(terms, flags, strict=True) if not f]
    return plain, [t for t, f in zip(terms, flags, strict=True) if f]


def _put_terms(data: dict[str, Any], field: str, terms: list[str]) -> None:
    plain, spaced = _split_spaced(terms)
    if plain:
        data[field] = " ".join(plain)
    if spaced:
        data[field + _SPACED] = spaced


# -- value conversions (the text/number/date forms values are indexed and compared under) -------
# (the shared ones are engines/terms.py)

_INT_RE = re.compile(r"^[+-]?\d+$")


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INT_RE.match(value.strip()):
        return int(value.strip())
    return None


def _idkey(stack_id: str) -> int:
    return int.from_bytes(stack_id.encode("utf-8")[:8].ljust(8, b"\0"), "big")


def _hashkey(value: str) -> int:
    """``_rootkey``: 64 bits of BLAKE2b of the value."""
    return int.from_bytes(hashlib.blake2b(value.encode("utf-8"), digest_size=8).digest(), "big")


def _dt_from_ns(ns: int) -> datetime:
    seconds, rest = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=rest // 1000)


def _rx_escape(text: str) -> str:
    return "".join(c if c.isascii() and c.isalnum() else f"\\x{{{ord(c):x}}}" for c in text)


def _wildcard_rx(pattern: str) -> str:
    """``*`` any run, ``?`` one character, ``\\`` escapes the next character (as in Lucene)."""
    out = []
    chars = iter(pattern)
    for c in chars:
        if c == "\\":
            nxt = next(chars, None)
            if nxt is not None:
                out.append(_rx_escape(nxt))
        elif c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        else:
            out.append(_rx_escape(c))
    return "".join(out)


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def _dedupe(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _walk(value: Any, path: str, out: _Flat) -> bool:
    """``terms.walk`` into a ``_Flat``: ``fields.flatten`` (same terms, same order) fused with the
    collection of full-text strings and of the dotted paths that hold a leaf; returns whether
    ``value`` has a leaf.

    ``test_walk_is_flatten`` holds it to ``fields.flatten``.
    """
    return walk(value, path, out.kv.append, out.strings.append, out.paths.add)


class _Flat:
    """What ``_walk`` collects from one document."""

    __slots__ = ("kv", "paths", "strings")

    def __init__(self) -> None:
        self.kv: list[str] = []
        self.paths: set[str] = set()
        self.strings: list[str] = []


def _typed_fields(doc: dict, data: dict[str, Any]) -> None:
    """Index the catalogued fields of ``doc`` (``fields.FIELDS``) into ``data``, each by kind."""
    for name, kind in F.FIELDS.items():
        if name == "id":
            continue
        raw = doc.get(name)
        if raw is None:
            continue
        values = [v for v in (raw if isinstance(raw, (list, tuple)) else [raw]) if v is not None]
        if values:
            _INDEX_KIND[kind](name, values, data)


def _index_keyword(name: str, values: list[Any], data: dict[str, Any]) -> None:
    texts = _dedupe(_keyword(v) for v in values)
    data[name] = texts
    if name in LIST_FIELDS:
        data[name + "__min"] = min(texts)
        data[name + "__max"] = max(texts)


def _index_text(name: str, values: list[Any], data: dict[str, Any]) -> None:
    data[name] = [str(v) for v in values]
    data[name + "__raw"] = _dedupe(_keyword(v) for v in values)


def _index_date(name: str, values: list[Any], data: dict[str, Any]) -> None:
    dates = [d for d in (_date(v) for v in values) if d is not None]
    if dates:
        data[name] = dates


def _index_int(name: str, values: list[Any], data: dict[str, Any]) -> None:
    ints = [i for i in (_int(v) for v in values) if i is not None]
    if ints:
        data[name] = ints


_INDEX_KIND: dict[str, Callable[[str, list[Any], dict[str, Any]], None]] = {
    F.KEYWORD: _index_keyword,
    F.TEXT: _index_text,
    F.DATE: _index_date,
    F.INT: _index_int,
}


def _free_fields(doc: dict, data: dict[str, Any]) -> None:
    """Index the dynamic paths (``_kv``, ``_paths``) and the full text of ``doc`` into ``data``."""
    flat = _Flat()
    kv, text, paths = flat.kv.append, flat.strings.append, flat.paths.add
    for key, value in doc.items():
        if key in F.FULLTEXT_EXCLUDED:
            continue  # asked for by field; and admin-only fields must not leak through words
        text(str(key))
        if key in F.DYNAMIC_ROOTS:
            if value is not None:
                walk(value, key, kv, text, paths)
        else:
            flat.strings.extend(strings(value))
    if flat.kv:
        _put_terms(data, "_kv", _dedupe(flat.kv))
        _put_terms(data, "_paths", list(flat.paths))  # a set of terms: their order does not matter
    if flat.strings:
        # a phrase never spans two strings: GAP_WORD's position is left empty between them
        data[F.FULLTEXT] = _GAP.join(flat.strings)


def _stack_data(doc: dict, version: int) -> dict[str, Any]:
    """The fields of a stack's tantivy document (``Document.from_dict``'s input)."""
    sid = doc.get("id")
    if not isinstance(sid, str) or not sid or sid == CHECKPOINT_ID:
        raise ValueError("a stack document needs a non-empty string id")
    head = {k: v for k, v in doc.items() if k not in _BODY_KEYS}
    body = {k: v for k, v in doc.items() if k in _BODY_KEYS}
    data: dict[str, Any] = {
        "id": sid,
        "_idkey": _idkey(sid),
        "_version": int(version),
        "_deleted": False,
        "_source": _dumps(head),
        "_body": _dumps(body),
    }
    root = doc.get("root_id")
    if root is not None and not isinstance(root, (list, tuple, dict)):
        text = _keyword(root)  # as the root_id column holds it
        data["_rootkey"] = _hashkey(text)
        data["_rootord"] = _idkey(text)
    _typed_fields(doc, data)
    _free_fields(doc, data)
    return data


def _tombstone_data(sid: str, version: int) -> dict[str, Any]:
    if not isinstance(sid, str) or not sid:
        raise ValueError("a tombstone needs a non-empty string id")
    return {"id": sid, "_idkey": _idkey(sid), "_version": int(version), "_deleted": True}


def prepare(item: tuple[dict | None, str, int]) -> dict[str, Any]:
    """``TantivyEngine.preparer``: a rebuild item as the fields of its tantivy document, a plain
    dict that pickles (a ``tantivy.Document`` pickles 5x slower than it is made from one); its
    long term lists are one string each (``_put_terms``), which pickles fast. Nearly all of a
    rebuild's Python time is here, so projection.py runs it in worker processes."""
    return _item_data(item)


def _item_data(item: tuple[dict | None, str, int]) -> dict[str, Any]:
    doc, sid, version = item
    if doc is None:
        return _tombstone_data(sid, version)
    if doc.get("id") != sid:
        doc = {**doc, "id": sid}
    return _stack_data(doc, version)


def _sig(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _atomic_write(path: str, text: str) -> None:
    tmp = f"{path}.tmp-{os.getpid()}-{threading.get_ident()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    with contextlib.suppress(OSError):
        dfd = os.open(os.path.dirname(path), os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


class _Hold:
    """A shared flock on a generation's ``readers.lock``: held while any state of this process
    on that generation lives (the states of one generation share it); released when the last
    goes (CPython frees it when its last search returns)."""

    def __init__(self, fd: int | None):
        self.fd = fd

    def __del__(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None


def _hold(gdir: str) -> _Hold | None:
    """A shared hold on the generation in ``gdir``; None when it is being removed (a remover has
    it exclusively: the caller reads CURRENT again). A generation whose lock file cannot be made
    (a read-only directory) is read without a hold."""
    try:
        fd = os.open(os.path.join(gdir, READERS_FILE), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        try:
            fd = os.open(os.path.join(gdir, READERS_FILE), os.O_RDONLY)
        except OSError:
            return _Hold(None)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return _Hold(fd)


@dataclass(frozen=True)
class _State:
    """One opened generation; immutable, so a search can use it without holding a lock."""

    gen: str
    index: tantivy.Index
    searcher: tantivy.Searcher
    schema: tantivy.Schema
    meta_sig: tuple[int, int, int] | None
    hold: _Hold | None = None  # this process's shared lock on the generation


class _Removed(Exception):
    """The generation asked for is being removed (CURRENT moved on meanwhile)."""


@dataclass(frozen=True)
class _Broken:
    """A generation this code cannot use (written by another schema version)."""

    gen: str
    error: SchemaMismatch


class TantivyEngine(Engine):
    name = "tantivy"
    description = "embedded index under data_dir, no set-up"
    # its options are [engine] writer_memory_mb and commit_interval (config.py)

    @classmethod
    def from_conf(cls, conf: Any, *, read_only: bool = False) -> TantivyEngine:
        return cls(
            os.path.join(conf.data_dir, "index"),
            writer_memory_mb=conf.engine.writer_memory_mb,
            read_only=read_only,
        )

    def __init__(self, path: str, *, writer_memory_mb: int = 128, read_only: bool = False):
        self.path = os.path.abspath(path)
        self.read_only = read_only
        self._heap = max(writer_memory_mb, 16) * 1_000_000
        self._threads = max(1, min(os.cpu_count() or 1, writer_memory_mb // 20, 8))
        self._write_lock = threading.RLock()
        self._state_lock = threading.Lock()
        self._state: _State | _Broken | None = None
        self._current_sig: tuple[int, int, int] | None = None
        self._writer: tantivy.IndexWriter | None = None
        self._writer_gen: str | None = None
        self._lock_fd: int | None = None
        # id -> (version, is_tombstone, source JSON) for writes not committed yet
        self._pending: dict[str, tuple[int, bool, tuple[bytes, bytes] | None]] = {}
        # queries' words: without the gap-word filter (a query naming GAP_WORD matches nothing)
        self._analyzer = _default_analyzer()
        if not read_only:
            os.makedirs(self.path, exist_ok=True)
            if not os.path.exists(self._current_path):
                gen = self._create_generation(1)
                _atomic_write(self._current_path, gen + "\n")
        with self._state_lock:
            try:
                self._refresh_locked()
            except EngineError:
                if not read_only:
                    raise
                # a reader (the API) starts on an index it cannot open, and every use raises
                # the reason (503 per request, 503 at /healthcheck) until the index is repaired:
                # _refresh_locked tries again each time, as _state stays None
                self._state, self._current_sig = None, None

    # -- files and generations --------------------------------------------------------------------

    @property
    def _current_path(self) -> str:
        return os.path.join(self.path, CURRENT_FILE)

    def _gen_dir(self, gen: str) -> str:
        return os.path.join(self.path, gen)

    def _generations(self) -> list[tuple[int, str]]:
        gens = []
        for entry in os.listdir(self.path):
            if entry.startswith(GEN_PREFIX) and entry[len(GEN_PREFIX) :].isdigit():
                gens.append((int(entry[len(GEN_PREFIX) :]), entry))
        return sorted(gens)

    def _create_generation(self, number: int) -> str:
        gen = f"{GEN_PREFIX}{number}"
        gdir = self._gen_dir(gen)
        os.makedirs(gdir, exist_ok=True)
        _with_analyzers(tantivy.Index(_build_schema(), path=gdir, reuse=True))
        meta = {
            "schema_version": SCHEMA_VERSION,
            "tantivy": TANTIVY_VERSION,
            "created_at": _iso(datetime.now(UTC)),
        }
        _atomic_write(os.path.join(gdir, META_FILE), json.dumps(meta) + "\n")
        return gen

    def _open_generation(self, gen: str) -> _State | _Broken:
        gdir = self._gen_dir(gen)
        if not os.path.isdir(gdir):
            raise EngineError(f"{self._current_path} names {gen!r}, which is not in {self.path}")
        try:
            with open(os.path.join(gdir, META_FILE), encoding="utf-8") as fh:
                meta = json.load(fh)
        except (OSError, ValueError):
            meta = {}
        if meta.get("schema_version") != SCHEMA_VERSION or meta.get("tantivy") != TANTIVY_VERSION:
            found = (
                f"schema version {meta.get('schema_version')} and tantivy {meta.get('tantivy')}"
                if meta
                else f"no readable {META_FILE}"
            )
            err = SchemaMismatch(
                f"the search index at {gdir} was written with {found}; this heatseeker uses "
                f"schema version {SCHEMA_VERSION} and tantivy {TANTIVY_VERSION}: run "
                "`heatseeker reindex`"
            )
            return _Broken(gen, err)
        hold = _hold(gdir)
        if hold is None:
            raise _Removed(gen)
        meta_sig = _sig(os.path.join(gdir, "meta.json"))
        try:
            index = _with_analyzers(tantivy.Index.open(gdir))
            index.config_reader(reload_policy="manual")
            searcher = index.searcher()
        except ValueError as exc:
            raise EngineError(f"cannot open the search index at {gdir}: {exc}") from exc
        return _State(gen, index, searcher, index.schema, meta_sig, hold)

    def _refresh_locked(self, force_reload: bool = False) -> None:
        """Follow CURRENT and new commits; called with ``_state_lock`` held."""
        cur_sig = _sig(self._current_path)
        if cur_sig is None:
            self._state, self._current_sig = None, None
            return
        st = self._state
        if st is None or cur_sig != self._current_sig:
            with open(self._current_path, encoding="utf-8") as fh:
                gen = fh.read().strip()
            if st is None or gen != st.gen or isinstance(st, _Broken):
                try:
                    self._state = self._open_generation(gen)
                except _Removed:  # CURRENT moved on since it was read: follow it
                    if _sig(self._current_path) != cur_sig:
                        return self._refresh_locked(force_reload)
                    raise EngineError(f"{self._current_path} names {gen!r}, which is being "
                                      "removed") from None
                self._current_sig = cur_sig
                moved = st is not None and not isinstance(st, _Broken) and st.gen != gen
                del st
                if moved and not self.read_only:
                    self._remove_unused_generations()
                return
            self._current_sig = cur_sig
        if isinstance(st, _Broken):
            return
        meta_sig = _sig(os.path.join(self._gen_dir(st.gen), "meta.json"))
        if force_reload or meta_sig != st.meta_sig:
            try:
                st.index.reload()
                searcher = st.index.searcher()
            except ValueError as exc:
                raise EngineError(f"cannot reload the search index at {self.path}: {exc}") from exc
            self._state = _State(st.gen, st.index, searcher, st.schema, meta_sig, st.hold)

    def _remove_unused_generations(self) -> list[str]:
        """Remove every generation but CURRENT's that no process holds (``_hold``); returns the
        ones removed. One a reader still holds stays: whoever moves on later removes it."""
        try:
            with open(self._current_path, encoding="utf-8") as fh:
                current = fh.read().strip()
        except OSError:
            return []
        removed = []
        for _, name in self._generations():
            if name == current:
                continue
            gdir = self._gen_dir(name)
            try:
                fd = os.open(os.path.join(gdir, READERS_FILE), os.O_RDWR | os.O_CREAT, 0o644)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue  # still read
            try:
                shutil.rmtree(gdir, ignore_errors=True)
                removed.append(name)
            finally:
                os.close(fd)
        return removed

    def _snapshot(self) -> _State | None:
        with self._state_lock:
            self._refresh_locked()
            st = self._state
        if isinstance(st, _Broken):
            raise st.error
        return st

    # -- the writer ---------------------------------------------------------------------------------

    def _take_lock(self) -> None:
        if self._lock_fd is not None:
            return
        fd = os.open(os.path.join(self.path, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise WriterBusy(
                f"another process (or engine) is writing to the search index at {self.path}: "
                "the embedded index allows one writer (stop the listener before a reindex)"
            ) from None
        self._lock_fd = fd

    def _drop_writer(self) -> None:
        writer, self._writer, self._writer_gen = self._writer, None, None
        self._pending = {}
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.rollback()
            with contextlib.suppress(Exception):
                writer.wait_merging_threads()
            del writer

    def _open_writer(self, index: tantivy.Index, where: str) -> tantivy.IndexWriter:
        try:
            return index.writer(heap_size=self._heap, num_threads=self._threads)
        except ValueError as exc:
            if "LockBusy" in str(exc):
                raise WriterBusy(
                    f"another process holds the tantivy writer of the search index at {where}"
                ) from exc
            raise EngineError(f"cannot open a writer on {where}: {exc}") from exc

    def _writable(self) -> tuple[tantivy.IndexWriter, _State]:
        """The writer of the live generation (taken on first use); ``_write_lock`` held."""
        if self.read_only:
            raise EngineError(f"the search index at {self.path} was opened read-only")
        self._take_lock()
        st = self._snapshot()
        if st is None:
            raise EngineError(f"no search index at {self.path}")
        if self._writer is None or self._writer_gen != st.gen:
            self._drop_writer()
            self._writer = self._open_writer(st.index, self._gen_dir(st.gen))
            self._writer_gen = st.gen
        return self._writer, st

    def _held(self, st: _State, ids: list[str]) -> dict[str, tuple[int, bool]]:
        """Committed ``(version, is_tombstone)`` of those ids."""
        assert st.searcher is not None and st.schema is not None
        wanted = _dedupe(ids)
        if not wanted:
            return {}
        s = st.searcher
        res = s.search(
            _Q.term_set_query(st.schema, "id", wanted),
            len(wanted),
            count=False,
            order_by_field="id",
            order=tantivy.Order.Asc,
        )
        addrs = [addr for _, addr in res.hits]
        if not addrs:
            return {}
        versions = s.fast_field_values("_version", addrs)
        deleted = s.fast_field_values("_deleted", addrs)
        return {
            sid: (int(v or 0), bool(d))
            for (sid, _), v, d in zip(res.hits, versions, deleted, strict=True)
        }

    def _document(
        self, schema: tantivy.Schema, doc: dict, version: int
    ) -> tuple[tantivy.Document, tuple[bytes, bytes]]:
        """The tantivy document of a stack, and its stored JSON (head, body)."""
        data = _stack_data(doc, version)
        return tantivy.Document.from_dict(data, schema), (data["_source"], data["_body"])

    def _tombstone(self, schema: tantivy.Schema, sid: str, version: int) -> tantivy.Document:
        return tantivy.Document.from_dict(_tombstone_data(sid, version), schema)

    # -- writing --------------------------------------------------------------------------------

    def upsert(self, items: Iterable[tuple[dict, int]]) -> WriteResult:
        result = WriteResult()
        with self._write_lock:
            writer, st = self._writable()
            schema = st.schema
            try:
                for chunk in _chunks(items, BATCH):
                    held = self._held(st, [doc.get("id") for doc, _ in chunk])
                    for doc, version in chunk:
                        version = int(version)
                        sid = doc.get("id")
                        pending = self._pending.get(sid)
                        known = (pending[0], pending[1]) if pending else held.get(sid)
                        if known is not None and (known[1] or known[0] >= version):
                            result.ignored += 1
                            continue
                        tdoc, source = self._document(schema, doc, version)
                        if known is not None:
                            writer.delete_documents_by_term("id", sid)
                        writer.add_document(tdoc)
                        self._pending[sid] = (version, False, source)
                        result.applied += 1
            except ValueError as exc:
                if isinstance(exc, EngineError) or "id" in str(exc):
                    raise
                raise EngineError(f"indexing failed: {exc}") from exc
        return result

    def delete(self, items: Iterable[tuple[str, int]]) -> WriteResult:
        result = WriteResult()
        with self._write_lock:
            writer, st = self._writable()
            schema = st.schema
            for chunk in _chunks(items, BATCH):
                held = self._held(st, [sid for sid, _ in chunk])
                for sid, version in chunk:
                    version = int(version)
                    if sid == CHECKPOINT_ID:
                        raise ValueError(f"{sid!r} is not a stack id")
                    pending = self._pending.get(sid)
                    known = (pending[0], pending[1]) if pending else held.get(sid)
                    if known is not None and known[1] and known[0] >= version:
                        result.ignored += 1
                        continue
                    keep = max(version, known[0]) if known is not None else version
                    tomb = self._tombstone(schema, sid, keep)
                    if known is not None:
                        writer.delete_documents_by_term("id", sid)
                    writer.add_document(tomb)
                    self._pending[sid] = (keep, True, None)
                    result.applied += 1
        return result

    def commit(self, checkpoint: int | None = None) -> None:
        """Commit; ``checkpoint`` (the store sequence projected so far) is stored atomically with
        the writes (an extension the indexer uses; see ``checkpoint()``)."""
        with self._write_lock:
            if checkpoint is not None:
                writer, st = self._writable()
                writer.delete_documents_by_term("id", CHECKPOINT_ID)
                writer.add_document(self._tombstone(st.schema, CHECKPOINT_ID, int(checkpoint)))
            if self._writer is not None:
                try:
                    self._writer.commit()
                except ValueError as exc:
                    raise EngineError(f"commit failed on {self.path}: {exc}") from exc
                self._pending = {}
            with self._state_lock:
                self._refresh_locked(force_reload=self._writer is not None)
                if len(self._generations()) > 1:  # one a reader held at the swap, let go since
                    self._remove_unused_generations()

    def checkpoint(self) -> int:
        """The ``checkpoint`` of the last commit that gave one (0 if none): committed with the
        writes in the same tantivy commit, as a tombstone-like document no search sees."""
        st = self._snapshot()
        if st is None:
            return 0
        addr = self._lookup(st, CHECKPOINT_ID)
        if addr is None:
            return 0
        return int(st.searcher.fast_field_values("_version", [addr])[0] or 0)

    preparer = staticmethod(prepare)
    # The rebuild is CPU-bound: when the worker processes won the cores, the reindex process's
    # adds outran tantivy's indexing threads, and the documents waiting in tantivy's own queue
    # (it holds up to 10,000) held ~440 MB of that process's anonymous memory at 100k stacks,
    # with peaks above 800 MB. Niced, the workers use what indexing leaves, the queue stays short
    # (~265 MB) and the rate is the same (bench/indexing.py).
    preparer_nice = 10

    def rebuild(
        self, items: Iterable[tuple[dict | None, str, int]], checkpoint: int | None = None
    ) -> int:
        return self.rebuild_prepared(map(_item_data, items), checkpoint)

    def rebuild_prepared(self, prepared: Iterable[Any], checkpoint: int | None = None) -> int:
        with self._write_lock:
            if self.read_only:
                raise EngineError(f"the search index at {self.path} was opened read-only")
            self._take_lock()
            with self._state_lock:
                self._refresh_locked()
                old = self._state
            numbers = [n for n, _ in self._generations()]
            gen = self._create_generation(max(numbers, default=0) + 1)
            gdir = self._gen_dir(gen)
            count = 0
            writer = None
            try:
                index = _with_analyzers(tantivy.Index.open(gdir))
                schema = index.schema
                writer = self._open_writer(index, gdir)
                for data in prepared:
                    writer.add_document(tantivy.Document.from_dict(data, schema))
                    count += 1
                if checkpoint is not None:
                    writer.add_document(self._tombstone(schema, CHECKPOINT_ID, int(checkpoint)))
                writer.commit()
            except BaseException:
                del writer
                shutil.rmtree(gdir, ignore_errors=True)
                raise
            _atomic_write(self._current_path, gen + "\n")
            self._drop_writer()
            self._writer, self._writer_gen = writer, gen
            del old
            with self._state_lock:
                self._refresh_locked()
                self._remove_unused_generations()
            return count

    # -- reading --------------------------------------------------------------------------------

    def _lookup(self, st: _State, stack_id: str) -> tantivy.DocAddress | None:
        res = st.searcher.search(_Q.term_query(st.schema, "id", stack_id), 1, count=False)
        return res.hits[0][1] if res.hits else None

    def get(self, stack_id: str) -> tuple[dict, int] | None:
        pending = self._pending.get(stack_id)
        if pending is not None:
            version, deleted, source = pending
            if deleted or source is None:
                return None
            return {**json.loads(source[0]), **json.loads(source[1])}, version
        st = self._snapshot()
        if st is None:
            return None
        addr = self._lookup(st, stack_id)
        if addr is None:
            return None
        doc = st.searcher.doc(addr)
        if _field(doc, "_source") is None:
            return None
        return _source(doc, None), int(_field(doc, "_version"))

    def get_version(self, stack_id: str) -> tuple[int, bool] | None:
        pending = self._pending.get(stack_id)
        if pending is not None:
            return pending[0], pending[1]
        st = self._snapshot()
        if st is None:
            return None
        addr = self._lookup(st, stack_id)
        if addr is None:
            return None
        version = st.searcher.fast_field_values("_version", [addr])[0]
        deleted = st.searcher.fast_field_values("_deleted", [addr])[0]
        return int(version or 0), bool(deleted)

    def _live(self, st: _State, query: tantivy.Query) -> tantivy.Query:
        return _Q.boolean_query(
            [(_MUST, query), (_MUST_NOT, _Q.term_query(st.schema, "_deleted", True))]
        )

    def search(
        self,
        query: Node,
        *,
        sort: Sequence[SortKey] = (),
        offset: int = 0,
        limit: int = 10,
        fields: Sequence[str] | None = None,
    ) -> SearchResult:
        offset, limit = max(0, int(offset)), max(0, int(limit))
        st = self._snapshot()
        if st is None:
            return SearchResult(total=0)
        keys = [column for key in sort for column in self._sort_columns(key)] or [_BY_SCORE]
        analyse = self._analyzer.analyze
        varies = _varies(query, analyse)
        if not varies:  # every match has the same score: score keys order nothing
            keys = [key for key in keys if key.column != SCORE]
        keys.append(_BY_IDKEY)
        q = self._live(st, self._translate(query, st))
        k = offset + limit
        scores: dict[tuple[int, int], float] = {}
        const = None if varies else _const_score(query, analyse)
        try:
            if limit == 0:  # no page: no max_score either (as OpenSearch with size 0)
                return SearchResult(total=_count(st.searcher.search(q, 1, count=True)))
            addrs, total = self._ordered(st, q, keys, k, scores, count=True)
            if varies and keys[0].column == SCORE and addrs:
                max_score: float | None = scores[_ak(addrs[0])]
            else:
                max_score = self._max_score(st, q, const, total)
            page = [(addr, st.searcher.doc(addr)) for addr in addrs[offset:k]]
            if varies:
                missing = [a for a, _ in page if _ak(a) not in scores]
                if missing:  # hits that never needed their score to be ordered
                    self._score_of(st, q, missing, scores)
            hits = []
            for addr, doc in page:
                score = const if const is not None else scores.get(_ak(addr), 0.0)
                hits.append(
                    Hit(
                        id=_field(doc, "id"),
                        score=score,
                        version=int(_field(doc, "_version")),
                        source=_source(doc, fields),
                    )
                )
        except ValueError as exc:
            raise EngineError(f"search failed: {exc}") from exc
        return SearchResult(total=total, hits=hits, max_score=max_score)

    def _max_score(
        self, st: _State, q: tantivy.Query, const: float | None, total: int
    ) -> float | None:
        """The best score among all matches (None without matches), whatever the page."""
        if not total:
            return None
        if const is not None:
            return const
        res = st.searcher.search(q, 1, count=False)
        return float(res.hits[0][0]) if res.hits else None

    def count(self, query: Node) -> int:
        st = self._snapshot()
        if st is None:
            return 0
        q = self._live(st, self._translate(query, st))
        try:
            return _count(st.searcher.search(q, 1, count=True))
        except ValueError as exc:
            raise EngineError(f"count failed: {exc}") from exc

    def count_distinct(self, query: Node, field: str, at_most: int | None = None) -> int:
        """Exact, however many values: a terms aggregation makes a bucket per value, and tantivy
        refuses more than ``AGG_BUCKET_LIMIT`` of them (a roll-up at a million stacks matches
        ~110,000 roots). Beyond that, the values are counted range by range of their text
        (``_distinct_ranges``), each range's matches under the limit.

        With ``at_most`` (the contract: ``min(exact, at_most + 1)``), ``root_id`` is counted on
        its u64 twin ``_rootkey`` (``_bounded``)."""
        column = self._agg_column(field)
        st = self._snapshot()
        if st is None:
            return 0
        if at_most is not None:
            at_most = max(0, int(at_most))
            twin = KEY_TWINS.get(F.resolve(field)[0])
            if twin is not None:
                bounded = self._bounded(st, self._live(st, self._translate(query, st)), twin,
                                        at_most)
                if bounded is not None:
                    return bounded
        if F.resolve(field)[1] not in (F.KEYWORD, F.TEXT):
            n = len(self._buckets(st, self._live(st, self._translate(query, st)), column))
        else:
            n = self._distinct_ranges(st, query, field, column, None, None, "")
        return n if at_most is None else min(n, at_most + 1)

    def _bounded(self, st: _State, q: tantivy.Query, twin: str, at_most: int) -> int | None:
        """``min(distinct values of twin, at_most + 1)`` among the matches of ``q``: a
        cardinality estimate (one pass over a u64 column, no bucket per value) far beyond the
        bound (``ESTIMATE_MARGIN``) answers "more" (a roll-up matching 100,000 roots); any other,
        the buckets, counted. None: too many buckets for one aggregation (a bound near
        ``AGG_BUCKET_LIMIT``), the caller counts exactly."""
        s = st.searcher
        try:
            estimate = s.aggregate(q, {"c": {"cardinality": {"field": twin}}})["c"]["value"]
            if float(estimate or 0) > ESTIMATE_MARGIN * at_most + 100:
                return at_most + 1
        except ValueError as exc:
            raise EngineError(f"aggregation failed: {exc}") from exc
        try:
            return min(len(self._buckets(st, q, twin)), at_most + 1)
        except EngineError as exc:
            if "bucket limit" not in str(exc):
                raise
            return None

    def _buckets(self, st: _State, q: tantivy.Query, column: str) -> list[dict]:
        spec = {"d": {"terms": {"field": column, "size": AGG_ALL, "segment_size": AGG_ALL}}}
        try:
            return st.searcher.aggregate(q, spec)["d"]["buckets"]
        except ValueError as exc:
            raise EngineError(f"aggregation failed: {exc}") from exc

    def _distinct_ranges(self, st: _State, query: Node, field: str, column: str,
                         lo: str | None, hi: str | None, prefix: str) -> int:
        """The distinct values of ``field`` in ``[lo, hi)`` among the matches of ``query``.
        Too many for one aggregation: the range is cut by the character after ``prefix`` (ids
        are hexadecimal UUIDs: 17 ranges, each ~1/16 of them), recursively. A match with several
        values is in every range one of them falls in, so only the values of the range are
        counted in it: exact whatever the field holds."""
        node = query if lo is None and hi is None else Bool(
            must=(query,), filter=(Range(field, gte=lo, lt=hi),))  # fmt: skip
        q = self._live(st, self._translate(node, st))
        deepest = len(prefix) >= AGG_SPLIT_DEPTH
        if deepest or _count(st.searcher.search(q, 1, count=True)) <= AGG_BUCKET_LIMIT:
            try:
                buckets = self._buckets(st, q, column)
            except EngineError as exc:
                if deepest or "bucket limit" not in str(exc):
                    raise
            else:
                return sum(1 for b in buckets if (lo is None or str(b["key"]) >= lo)
                           and (hi is None or str(b["key"]) < hi))  # fmt: skip
        edges = [lo, *(prefix + c for c in "123456789abcdefg"), hi]
        total = 0
        for a, b in zip(edges, edges[1:], strict=False):
            below = prefix + (a[len(prefix)] if a is not None and len(a) > len(prefix) else "0")
            total += self._distinct_ranges(st, query, field, column, a, b, below)
        return total

    def aggregate(self, query: Node, aggs: dict[str, TermsAgg]) -> dict[str, list[tuple[str, int]]]:
        st = self._snapshot()
        result: dict[str, list[tuple[str, int]]] = {name: [] for name in aggs}
        columns = {name: self._agg_column(agg.field) for name, agg in aggs.items()}
        if st is None or not aggs:
            return result
        q = self._live(st, self._translate(query, st))
        wanted = {name: agg.size for name, agg in aggs.items() if agg.size > 0}
        fetch = {name: max(2 * size, size + 10) for name, size in wanted.items()}
        while fetch:
            spec = {
                name: {"terms": {"field": columns[name], "size": n, "segment_size": AGG_ALL}}
                for name, n in fetch.items()
            }
            try:
                raw = st.searcher.aggregate(q, spec)
            except ValueError as exc:
                raise EngineError(f"aggregation failed: {exc}") from exc
            again = {}
            for name, n in fetch.items():
                buckets = [(_agg_key(b["key"]), int(b["doc_count"])) for b in raw[name]["buckets"]]
                size = wanted[name]
                # buckets tying with the last wanted one may have been cut: ask for all of them
                if (
                    len(buckets) >= n
                    and n < AGG_ALL
                    and buckets[-1][1] == _nth_count(buckets, size)
                ):
                    again[name] = AGG_ALL
                    continue
                buckets.sort(key=lambda b: (-b[1], b[0]))
                result[name] = buckets[:size]
            fetch = again
        return result

    def health(self) -> dict:
        info: dict[str, Any] = {"ok": False, "engine": self.name, "documents": None}
        info.update(path=self.path, read_only=self.read_only, writer=self._writer is not None)
        try:
            st = self._snapshot()
            if st is None:
                info.update(ok=True, documents=0, tombstones=0, generation=None)
                return info
            tombs = _Q.term_query(st.schema, "_deleted", True)
            info.update(
                ok=True,
                generation=st.gen,
                documents=_count(st.searcher.search(self._live(st, _Q.all_query()), 1)),
                tombstones=_count(st.searcher.search(tombs, 1))
                - (self._lookup(st, CHECKPOINT_ID) is not None),
                segments=st.searcher.num_segments,
                schema_version=SCHEMA_VERSION,
            )
        except Exception as exc:  # noqa: BLE001 - health never raises
            info["error"] = str(exc)
        return info

    def close(self) -> None:
        with self._write_lock:
            self._drop_writer()
            if self._lock_fd is not None:
                os.close(self._lock_fd)  # releases the flock
                self._lock_fd = None
            with self._state_lock:  # lets go of its generation (used again, it reopens)
                self._state, self._current_sig = None, None

    # -- ordering ------------------------------------------------------------------------------

    def _sort_columns(self, key: SortKey) -> list[_Key]:
        """The columns one sort key orders by: one, or a u64 prefix column and the field itself
        where ties of the prefix are asked again (``ORD_TWINS``, as ``_idkey`` for ``id``)."""
        if key.field == SCORE:
            return [_BY_SCORE]
        if not F.is_sortable(key.field):
            raise ValueError(f"cannot sort on {key.field!r}: only top-level stack fields sort")
        name, kind = F.resolve(key.field)
        if kind == F.TEXT:
            return [_Key(name + "__raw", kind, key.descending, name)]
        if name in LIST_FIELDS:
            return [_Key(name + ("__max" if key.descending else "__min"), kind, key.descending, name)]
        if name in ORD_TWINS:
            return [_Key(ORD_TWINS[name], "_idkey", key.descending, name),
                    _Key(name, kind, key.descending, name)]
        return [_Key(name, kind, key.descending, name)]

    def _ordered(
        self,
        st: _State,
        q: tantivy.Query,
        keys: list[_Key],
        k: int,
        scores: dict[tuple[int, int], float],
        *,
        count: bool = False,
    ) -> tuple[list[tantivy.DocAddress], int]:
        """The top ``k`` matches of ``q`` ordered by ``keys``, then by id.

        tantivy orders by one column and breaks ties by document address: each run of equal values
        that has several members, or that reaches past the page, is asked again as
        ``q AND column == value`` ordered by the remaining keys. A run followed by another value
        within the window holds all its members: a short one (``SMALL_RUN``) of one root's
        stacks in a sort on ``root_id`` is ordered by id from the ``_idkey`` column instead
        (``_one_root``). Scores seen go to ``scores``.
        """
        s = st.searcher
        if not keys:
            res = s.search(q, k, count=count, order_by_field="id", order=tantivy.Order.Asc)
            return [addr for _, addr in res.hits], _count(res)
        key = keys[0]
        if key.column == SCORE:
            return self._by_score(st, q, keys[1:], k, scores, count=count)
        order = tantivy.Order.Desc if key.descending else tantivy.Order.Asc
        res = s.search(q, k + 1, count=count, order_by_field=key.column, order=order)
        hits = res.hits
        out: list[tantivy.DocAddress] = []
        i = 0
        while i < min(len(hits), k) and len(out) < k:
            value = hits[i][0]
            j = i + 1
            while j < len(hits) and hits[j][0] == value:
                j += 1
            if j - i == 1:
                out.append(hits[i][1])
            elif j < len(hits) and j - i <= SMALL_RUN and self._one_root(st, key, keys, hits[i:j]):
                group = [addr for _, addr in hits[i:j]]
                out.extend(self._order_group(st, group, [_BY_IDKEY])[: k - len(out)])
            else:
                if value is None:
                    same = (_MUST_NOT, _Q.exists_query(key.column))
                else:
                    term = _Q.term_query(st.schema, key.column, _column_value(value, key.kind))
                    same = (_MUST, _Q.const_score_query(term, 0.0))
                sub = _Q.boolean_query([(_MUST, q), same])
                addrs, _ = self._ordered(st, sub, keys[1:], min(k - len(out), j - i), scores)
                out.extend(addrs)
            i = j
        return out[:k], _count(res)

    def _one_root(self, st: _State, key: _Key, keys: list[_Key], run: list) -> bool:
        """Whether a run of equal ``_rootord`` values (a sort on ``root_id``, then id) is one
        root's stacks: its members share one ``_rootkey`` (the hash of the whole root id), so
        their order is id order, read from the ``_idkey`` column (``_order_group``) instead of
        two searches (~0.5-1 ms each at 300k stacks). Only fast columns are read: loading the
        members' documents would cost more with large stacks."""
        twin = KEY_TWINS.get(key.field)
        if twin is None or key.column != ORD_TWINS.get(key.field) or keys[2:] != [_BY_IDKEY]:
            return False
        if keys[1].column != key.field:
            return False
        values = st.searcher.fast_field_values(twin, [addr for _, addr in run])
        return len(set(values)) == 1 and values[0] is not None

    def _by_score(
        self,
        st: _State,
        q: tantivy.Query,
        rest: list[_Key],
        k: int,
        scores: dict[tuple[int, int], float],
        *,
        count: bool = False,
    ) -> tuple[list[tantivy.DocAddress], int]:
        """Best score first; documents with equal scores ordered by ``rest``.

        Scores cannot be filtered on, so when the scores tie at the page boundary more hits are
        fetched until the tie is complete. Beyond SCORE_TIE_WINDOW hits (coordination scores tie
        often), every match is fetched with its score and the tie at the boundary is walked in the
        order of ``rest`` until enough of its members are found: the cost grows with the number of
        matches (the caller's own: the query is scoped), never an error.
        """
        s = st.searcher
        n = k + 1
        walk = False
        while True:
            res = s.search(q, n, count=True)
            hits = res.hits
            if len(hits) < n or hits[-1][0] != hits[k - 1][0]:
                break
            if n >= SCORE_TIE_WINDOW:
                walk = True
                res = s.search(q, max(_count(res), n), count=True)
                hits = res.hits
                break
            n = min(n * 4, SCORE_TIE_WINDOW)
        for score, addr in hits:
            scores[_ak(addr)] = score
        out: list[tantivy.DocAddress] = []
        i = 0
        while i < len(hits) and len(out) < k:
            j = i + 1
            while j < len(hits) and hits[j][0] == hits[i][0]:
                j += 1
            group = [addr for _, addr in hits[i:j]]
            if walk and len(out) + len(group) > k:
                out.extend(self._walk_tie(st, q, rest, hits[i][0], k - len(out), scores))
            else:
                out.extend(self._order_group(st, group, rest) if len(group) > 1 else group)
            i = j
        return out[:k], _count(res)

    def _walk_tie(
        self,
        st: _State,
        q: tantivy.Query,
        rest: list[_Key],
        score: float,
        need: int,
        scores: dict[tuple[int, int], float],
    ) -> list[tantivy.DocAddress]:
        """The first ``need`` matches scoring ``score`` in the order of ``rest`` (``scores`` holds
        the score of every match)."""
        rest = [key for key in rest if key.column != SCORE]
        m = max(4 * need, 1024)
        while True:
            addrs, total = self._ordered(st, q, rest, m, scores, count=True)
            tied = [a for a in addrs if scores.get(_ak(a)) == score]
            if len(tied) >= need or m >= total:
                return tied[:need]
            m *= 4

    def _score_of(
        self,
        st: _State,
        q: tantivy.Query,
        addrs: list[tantivy.DocAddress],
        scores: dict[tuple[int, int], float],
    ) -> None:
        """Put the scores of those matches of ``q`` into ``scores`` (one search)."""
        s = st.searcher
        wanted = [_field(s.doc(a), "id") for a in addrs]
        only = _Q.const_score_query(_Q.term_set_query(st.schema, "id", wanted), 0.0)
        res = s.search(_Q.boolean_query([(_MUST, q), (_MUST, only)]), len(wanted), count=False)
        for score, addr in res.hits:
            scores[_ak(addr)] = score

    def _order_group(
        self, st: _State, addrs: list[tantivy.DocAddress], keys: list[_Key]
    ) -> list[tantivy.DocAddress]:
        """Documents with equal scores, ordered by ``keys`` (ending with the id order)."""
        s = st.searcher
        keys = [key for key in keys if key.column != SCORE]
        if keys == [_BY_IDKEY]:
            idkeys = [int(v or 0) for v in s.fast_field_values("_idkey", addrs)]
            seen = Counter(idkeys)
            shared = {v for v, n in seen.items() if n > 1}
            rows = [
                (v, _field(s.doc(a), "id") if v in shared else "", a)
                for v, a in zip(idkeys, addrs, strict=True)
            ]
            rows.sort(key=lambda r: (r[0], r[1]))
            return [a for _, _, a in rows]
        sources = [(json.loads(_field(s.doc(a), "_source")), a) for a in addrs]

        def compare(x: tuple[dict, Any], y: tuple[dict, Any]) -> int:
            for key in keys:
                if key is _BY_IDKEY:
                    vx, vy = x[0].get("id"), y[0].get("id")
                else:
                    vx, vy = _py_sort_value(x[0], key), _py_sort_value(y[0], key)
                if vx == vy:
                    continue
                if vx is None or vy is None:
                    return 1 if vx is None else -1  # missing last, both directions
                c = -1 if vx < vy else 1
                return -c if key.descending else c
            return 0

        return [a for _, a in sorted(sources, key=cmp_to_key(compare))]

    # -- aggregations --------------------------------------------------------------------------

    def _agg_column(self, field: str) -> str:
        name, kind = F.resolve(field)
        if kind == F.KEYWORD:
            return name
        if kind == F.TEXT:
            return name + "__raw"
        if kind == F.INT:
            return name
        raise ValueError(f"cannot aggregate on {field!r} ({kind}): use a keyword field")

    # -- query translation ---------------------------------------------------------------------

    def _translate(self, node: Node, st: _State) -> tantivy.Query:
        return _Translator(st.schema, self._analyzer.analyze).translate(node)


# -- query translation: one function per node type ----------------------------------------------------


class _Translator:
    """Query trees → tantivy queries over one generation's schema.

    ``TRANSLATE`` maps each node type of ``query/tree.py`` to its translation; every leaf scores a
    constant 1 when it matches (``_const``), a Text on an analysed field 1 per distinct word (see
    the module docstring). Errors: ValueError for a node that cannot apply to its field (the
    searcher's 400), QueryError for a range bound too long to search.
    """

    def __init__(self, schema: tantivy.Schema, analyse: Callable[[str], list[str]]):
        self.schema = schema
        self.analyse = analyse

    def translate(self, node: Node) -> tantivy.Query:
        try:
            translate = TRANSLATE[type(node)]
        except KeyError:
            raise ValueError(f"unsupported query node {type(node).__name__}") from None
        return translate(self, node)

    # -- structure ----------------------------------------------------------------------------

    def boolean(self, node: Bool) -> tantivy.Query:
        if not (node.must or node.should or node.must_not or node.filter):
            return _const(_Q.all_query())
        msm = minimum_should_match(node)
        if msm > len(node.should):
            return _Q.empty_query()
        subs: list[tuple[tantivy.Occur, tantivy.Query]] = []
        subs += [(_MUST, self.translate(c)) for c in node.must]
        subs += [(_MUST, _Q.const_score_query(self.translate(c), 0.0)) for c in node.filter]
        subs += [(_MUST_NOT, self.translate(c)) for c in node.must_not]
        subs += [(_SHOULD, self.translate(c)) for c in node.should]
        if msm == 0 and not (node.must or node.filter):
            subs.append((_MUST, _Q.const_score_query(_Q.all_query(), 0.0)))
        return _Q.boolean_query(subs, msm if msm > 0 else None)

    # -- full text ----------------------------------------------------------------------------

    def text(self, node: Text) -> tantivy.Query:
        """Coordination scoring: each distinct word of a Text scores 1 when present."""
        field = _analysed(node.field)
        if field is None:
            return _const(self.term(node.field or "", node.text))
        found = _dedupe(self.analyse(node.text))
        if not found:
            return _Q.empty_query()
        each = [_const(_Q.term_query(self.schema, field, w)) for w in found]
        if len(each) == 1:
            return each[0]
        occur = _SHOULD if node.operator == "or" else _MUST
        return _Q.boolean_query([(occur, q) for q in each])

    def phrase(self, node: Phrase) -> tantivy.Query:
        """A phrase scores 1."""
        field = _analysed(node.field)
        if field is None:
            return _const(self.term(node.field or "", node.text))
        found = self.analyse(node.text)
        if not found:
            return _Q.empty_query()
        if len(found) == 1:
            return _const(_Q.term_query(self.schema, field, found[0]))
        return _const(_Q.phrase_query(self.schema, field, list[str | tuple[int, str]](found)))

    # -- exact values -------------------------------------------------------------------------

    def term(self, field: str, value: Any) -> tantivy.Query:
        name, kind = F.resolve(field)
        if kind == "dynamic":
            term = name + F.KV_SEP + _dynamic(value)
            return _Q.term_query(self.schema, _term_field("_kv", term), term)
        if kind in (F.KEYWORD, F.TEXT):
            return _Q.term_query(self.schema, _exact_field(name, kind), _keyword(value))
        typed = _int(value) if kind == F.INT else _date(value)
        if typed is None:
            return _Q.empty_query()
        return _Q.term_query(self.schema, name, typed)

    def terms(self, node: Terms) -> tantivy.Query:
        name, kind = F.resolve(node.field)
        values: list[Any]
        if kind == "dynamic":
            return self._term_set("_kv", [name + F.KV_SEP + _dynamic(v) for v in node.values])
        if kind in (F.KEYWORD, F.TEXT):
            field, values = _exact_field(name, kind), [_keyword(v) for v in node.values]
        else:
            conv = _int if kind == F.INT else _date
            field, values = name, [t for t in (conv(v) for v in node.values) if t is not None]
        values = list(dict.fromkeys(values))
        return _Q.term_set_query(self.schema, field, values) if values else _Q.empty_query()

    def _term_set(self, field: str, terms: list[str]) -> tantivy.Query:
        """Any of ``terms`` in a split field (``_kv``): each asked of the twin that holds it."""
        plain, spaced = _split_spaced(_dedupe(terms))
        subs = [(_SHOULD, _Q.term_set_query(self.schema, f, t))
                for f, t in ((field, plain), (field + _SPACED, spaced)) if t]  # fmt: skip
        if not subs:
            return _Q.empty_query()
        return subs[0][1] if len(subs) == 1 else _Q.boolean_query(subs)

    def ids(self, node: Ids) -> tantivy.Query:
        values = _dedupe(str(v) for v in node.values)
        return _Q.term_set_query(self.schema, "id", values) if values else _Q.empty_query()

    def exists(self, node: Exists) -> tantivy.Query:
        name, kind = F.resolve(node.field)
        if kind == "dynamic":
            return _Q.term_query(self.schema, _term_field("_paths", name), name)
        return _Q.exists_query(_exact_field(name, kind))

    # -- patterns -----------------------------------------------------------------------------

    def prefix(self, node: Prefix) -> tantivy.Query:
        if node.field == F.FULLTEXT:  # a bare ``web*``: the analysed words of the full text
            return self._regex(F.FULLTEXT, _rx_escape(node.value.lower()) + ".*")
        field, literal = self._pattern_field(node.field, "prefix")
        return self._regex(field, _rx_escape(literal + node.value) + ".*")

    def wildcard(self, node: Wildcard) -> tantivy.Query:
        if node.field == F.FULLTEXT:
            return self._regex(F.FULLTEXT, _wildcard_rx(node.pattern.lower()))
        field, literal = self._pattern_field(node.field, "wildcard")
        return self._regex(field, _rx_escape(literal) + _wildcard_rx(node.pattern))

    def _pattern_field(self, field: str, what: str) -> tuple[str, str]:
        """The tantivy field a pattern on ``field`` runs against, and the literal its terms start
        with (a dynamic path's ``path + KV_SEP``)."""
        name, kind = F.resolve(field)
        if kind == "dynamic":
            return "_kv", name + F.KV_SEP
        if kind in (F.KEYWORD, F.TEXT):
            return _exact_field(name, kind), ""
        raise ValueError(f"{what} queries need a keyword or text field, not {kind} {name!r}")

    def _regex(self, field: str, rx: str) -> tantivy.Query:
        """Terms of ``field`` matching ``rx``; of a split field (``_kv``), of both twins."""
        if field not in _TERM_LISTS:
            return _Q.regex_query(self.schema, field, "(?s)" + rx)
        return _Q.boolean_query([(_SHOULD, _Q.regex_query(self.schema, f, "(?s)" + rx))
                                 for f in (field, field + _SPACED)])  # fmt: skip

    # -- ranges -------------------------------------------------------------------------------

    def range_query(self, node: Range) -> tantivy.Query:
        name, kind = F.resolve(node.field)
        if node.gte is None and node.gt is None and node.lte is None and node.lt is None:
            # no bound: every document with a value there
            if kind == "dynamic":
                return self._regex("_kv", _rx_escape(name + F.KV_SEP) + ".*")
            return _Q.exists_query(_exact_field(name, kind))
        if kind == F.INT:
            return self._int_range(node, name)
        if kind == F.DATE:
            return self._date_range(node, name)
        conv = _dynamic if kind == "dynamic" else _keyword
        slo, slo_inc, shi, shi_inc = _text_bounds(*_bounds(node, conv, repr(name)))
        if (slo is not None and shi is not None) and (
            slo > shi or (slo == shi and not (slo_inc and shi_inc))
        ):
            return _Q.empty_query()
        if kind == "dynamic":
            field, literal = "_kv", name + F.KV_SEP
        else:
            field, literal = _exact_field(name, kind), ""
        if field == "id":
            return self._id_range(slo, slo_inc, shi, shi_inc)
        return self._text_range(field, literal, slo, slo_inc, shi, shi_inc, name)

    def _int_range(self, node: Range, name: str) -> tantivy.Query:
        lo, lo_inc, hi, hi_inc = _int_bounds(node)
        if lo is not None and hi is not None and lo > hi:
            return _Q.empty_query()
        return _Q.range_query(self.schema, name, tantivy.FieldType.Integer, lo, hi, lo_inc, hi_inc)

    def _date_range(self, node: Range, name: str) -> tantivy.Query:
        lo, lo_inc, hi, hi_inc = _bounds(node, _date, f"date field {name!r}")
        if lo is not None and hi is not None and lo > hi:
            return _Q.empty_query()
        return _Q.range_query(self.schema, name, tantivy.FieldType.Date, lo, hi, lo_inc, hi_inc)

    def _text_range(
        self,
        field: str,
        literal: str,
        lo: str | None,
        lo_inc: bool,
        hi: str | None,
        hi_inc: bool,
        name: str,
    ) -> tantivy.Query:
        """Terms ``literal + v`` with ``v`` in the range: one regular expression run by tantivy
        against the term dictionary (and the few exact terms ``v`` a prefix of ``hi``)."""
        rx, exact = _range_rx(lo, lo_inc, hi, hi_inc)
        subs: list[tuple[tantivy.Occur, tantivy.Query]] = []
        if rx is not None:
            # the regex grows with the square of what follows the bounds' common prefix
            p = os.path.commonprefix([lo, hi]) if lo is not None and hi is not None else ""
            if any(len(b.encode()) - len(p.encode()) > RANGE_BOUND_BYTES for b in (lo, hi) if b):
                raise QueryError(_too_long(name))
            try:
                subs.append((_SHOULD, self._regex(field, _rx_escape(literal) + rx)))
            except ValueError as exc:  # the automaton of these bounds is too large
                raise QueryError(_too_long(name)) from exc
        if exact:
            terms = [literal + v for v in exact]
            subs.append((_SHOULD, self._term_set(field, terms) if field in _TERM_LISTS
                         else _Q.term_set_query(self.schema, field, terms)))  # fmt: skip
        if not subs:
            return _Q.empty_query()
        return subs[0][1] if len(subs) == 1 else _Q.boolean_query(subs)

    def _id_range(
        self, lo: str | None, lo_inc: bool, hi: str | None, hi_inc: bool
    ) -> tantivy.Query:
        """A range of ids: the ``_idkey`` column (the ids' first 8 bytes) for every id whose key
        differs from the bounds' keys, a regular expression only among ids sharing a bound's key
        (so ``search_after`` costs the same however many ids the index holds)."""
        parts: list[tantivy.Query] = []
        for bound, inclusive, upper in ((lo, lo_inc, False), (hi, hi_inc, True)):
            if bound is None:
                continue
            key = _idkey(bound)
            if upper:
                beyond = _Q.range_query(
                    self.schema, "_idkey", tantivy.FieldType.Unsigned, None, key, True, False
                ) if key > 0 else _Q.empty_query()
            else:
                beyond = _Q.range_query(
                    self.schema, "_idkey", tantivy.FieldType.Unsigned, key, None, False, True
                ) if key < 2**64 - 1 else _Q.empty_query()
            # ids with this key start with the bound's first 8 bytes up to the first NUL byte
            head = bound.encode()[:8].split(b"\0", 1)[0].decode(errors="ignore")
            head = head if bound.startswith(head) else ""
            rest = bound[len(head) :]
            if upper:
                alts, tail = _below(rest, inclusive)
                exact = [head + v for v in tail]
            else:
                alts, exact = _above(rest, inclusive), []
            same: list[tuple[tantivy.Occur, tantivy.Query]] = []
            if alts:
                if len(bound.encode()) > RANGE_BOUND_BYTES:
                    raise QueryError(_too_long("id"))
                rx = "(?s)" + _rx_escape(head) + _group(alts) + ".*"
                try:
                    same.append((_SHOULD, _Q.regex_query(self.schema, "id", rx)))
                except ValueError as exc:
                    raise QueryError(_too_long("id")) from exc
            if exact:
                same.append((_SHOULD, _Q.term_set_query(self.schema, "id", exact)))
            within = _Q.boolean_query(
                [
                    (_MUST, _Q.term_query(self.schema, "_idkey", key)),
                    (_MUST, _Q.boolean_query(same) if same else _Q.empty_query()),
                ]
            )
            parts.append(_Q.boolean_query([(_SHOULD, beyond), (_SHOULD, within)]))
        if len(parts) == 1:
            return parts[0]
        return _Q.boolean_query([(_MUST, p) for p in parts])


def _const(query: tantivy.Query) -> tantivy.Query:
    """A query that scores 1 when it matches (tantivy drops the score of a bare AllQuery in a
    boolean query: MatchAll is wrapped too)."""
    return _Q.const_score_query(query, 1.0)


TRANSLATE: dict[type, Callable[[_Translator, Any], tantivy.Query]] = {
    MatchAll: lambda t, node: _const(_Q.all_query()),
    MatchNone: lambda t, node: _Q.empty_query(),
    Bool: _Translator.boolean,
    Text: _Translator.text,
    Phrase: _Translator.phrase,
    Term: lambda t, node: _const(t.term(node.field, node.value)),
    Terms: lambda t, node: _const(t.terms(node)),
    Ids: lambda t, node: _const(t.ids(node)),
    Exists: lambda t, node: _const(t.exists(node)),
    Prefix: lambda t, node: _const(t.prefix(node)),
    Wildcard: lambda t, node: _const(t.wildcard(node)),
    Range: lambda t, node: _const(t.range_query(node)),
}
TantivyEngine.node_types = frozenset(TRANSLATE)


# -- ranges of text as regular expressions -----------------------------------------------------------
# tantivy-py has no range query on text terms. A range [lo, hi] of strings (code point order, which is
# the UTF-8 byte order of the term dictionary) is a regular language; written as below its automaton
# has about one state per byte of the bounds, and tantivy runs it against the term dictionary.

_LEN_MAX = (0x7F, 0x7FF, 0xFFFF, 0x10FFFF)  # the greatest code point of 1, 2, 3, 4 UTF-8 bytes
_LEN_MIN = (0x0, 0x80, 0x800, 0x10000)


def _utf8_len(cp: int) -> int:
    return 1 if cp < 0x80 else 2 if cp < 0x800 else 3 if cp < 0x10000 else 4


def _cls(lo: int, hi: int) -> str | None:
    """A class of the code points lo..hi (surrogates are never in a term), None if empty."""
    if 0xD800 <= lo <= 0xDFFF:
        lo = 0xE000
    if 0xD800 <= hi <= 0xDFFF:
        hi = 0xD7FF
    if lo > hi:
        return None
    if lo == hi:
        return f"\\x{{{lo:x}}}"
    return f"[\\x{{{lo:x}}}-\\x{{{hi:x}}}]"


def _group(alts: list[str]) -> str:
    return "(?:" + "|".join(alts) + ")"


def _above(s: str, inclusive: bool) -> list[str]:
    """Alternatives ``A`` such that ``(?:A1|A2|…).*`` matches exactly the strings ``>= s``
    (``> s`` unless ``inclusive``): ``s`` itself (then anything, or at least one character), or
    ``s[:i]`` then a character greater than ``s[i]``. The greater characters of another UTF-8
    length are one class shared by every position (one automaton state for all of them)."""
    alts = [_rx_escape(s) + ("" if inclusive else ".")]
    longer: dict[int, list[str]] = {}
    for i, c in enumerate(s):
        cp, n = ord(c), _utf8_len(ord(c))
        head = _rx_escape(s[:i])
        same = _cls(cp + 1, _LEN_MAX[n - 1])
        if same is not None:
            alts.append(head + same)
        if n < 4:
            longer.setdefault(n, []).append(head)
    for n, heads in sorted(longer.items()):
        alts.append(_group(heads) + str(_cls(_LEN_MIN[n], 0x10FFFF)))
    return alts


def _below(s: str, inclusive: bool) -> tuple[list[str], list[str]]:
    """``(alternatives, exact)``: the strings ``<= s`` (``< s`` unless ``inclusive``) are those
    matching ``(?:A1|A2|…).*`` (``s[:i]`` then a character smaller than ``s[i]``) and the exact
    prefixes of ``s`` (``s`` itself only if ``inclusive``)."""
    exact = [s[:k] for k in range(len(s) + (1 if inclusive else 0))]
    alts: list[str] = []
    shorter: dict[int, list[str]] = {}
    for i, c in enumerate(s):
        cp, n = ord(c), _utf8_len(ord(c))
        head = _rx_escape(s[:i])
        same = _cls(_LEN_MIN[n - 1], cp - 1)
        if same is not None:
            alts.append(head + same)
        if n > 1:
            shorter.setdefault(n, []).append(head)
    for n, heads in sorted(shorter.items()):
        alts.append(_group(heads) + str(_cls(0, _LEN_MAX[n - 2])))
    return alts, exact


def _range_rx(
    lo: str | None, lo_inc: bool, hi: str | None, hi_inc: bool
) -> tuple[str | None, list[str]]:
    """``(regex, exact)``: the strings ``v`` in the range are those the regex (to be compiled with
    ``(?s)``) matches in full (None: no such string) and the ``exact`` ones. Bounds hold no surrogate (``_text_bounds``).

    Two bounds share a common prefix ``p``; past it the lower bound's first character ``a0`` is
    below the upper's ``b0``: ``p a0 (>= rest of lo) | p (a0 < c < b0) … | p b0 (<= rest of hi)``.
    """
    if lo is None and hi is None:
        return ".*", []
    if hi is None:
        assert lo is not None
        return _group(_above(lo, lo_inc)) + ".*", []
    if lo is None:
        alts, exact = _below(hi, hi_inc)
        return (_group(alts) + ".*" if alts else None), exact
    if lo > hi or (lo == hi and not (lo_inc and hi_inc)):
        return None, []
    if lo == hi:
        return None, [lo]
    p = os.path.commonprefix([lo, hi])
    a, b = lo[len(p) :], hi[len(p) :]
    if not a:  # lo is a prefix of hi: everything from p up to hi
        alts, tail = _below(b, hi_inc)
        exact = [p + v for v in tail if v or lo_inc]
    else:
        alts = [_rx_escape(a[0]) + _group(_above(a[1:], lo_inc))]
        middle = _cls(ord(a[0]) + 1, ord(b[0]) - 1)
        if middle is not None:
            alts.append(middle)
        below, tail = _below(b[1:], hi_inc)
        if below:
            alts.append(_rx_escape(b[0]) + _group(below))
        exact = [p + b[0] + v for v in tail]
    if not alts:
        return None, exact
    return _rx_escape(p) + _group(alts) + ".*", exact


def _text_bounds(
    lo: str | None, lo_inc: bool, hi: str | None, hi_inc: bool
) -> tuple[str | None, bool, str | None, bool]:
    """The same range with bounds that hold no surrogate (no term does): a bound with one at ``j``
    becomes ``bound[:j] + "\\ue000"``, inclusive below and exclusive above."""
    if lo is not None:
        j = _surrogate_at(lo)
        if j is not None:
            lo, lo_inc = lo[:j] + "\ue000", True
    if hi is not None:
        j = _surrogate_at(hi)
        if j is not None:
            hi, hi_inc = hi[:j] + "\ue000", False
    return lo, lo_inc, hi, hi_inc


def _surrogate_at(text: str) -> int | None:
    for i, c in enumerate(text):
        if 0xD800 <= ord(c) <= 0xDFFF:
            return i
    return None


def _too_long(name: str) -> str:
    return (
        f"a range bound on {name!r} is too long to search: at most {RANGE_BOUND_BYTES} bytes "
        "(UTF-8) past the prefix both bounds share, fewer with many non-ASCII characters"
    )


# -- helpers on trees ----------------------------------------------------------------------------


def _exact_field(name: str, kind: str) -> str:
    return name + "__raw" if kind == F.TEXT else name


def _analysed(field: str | None) -> str | None:
    """The analysed tantivy field a Text/Phrase on ``field`` searches, or None for exact ones."""
    if not is_analysed(field):
        return None
    return F.FULLTEXT if field is None or field == F.FULLTEXT else F.resolve(field)[0]


def _words(node: Text, analyse: Callable[[str], list[str]]) -> int:
    """How many distinct words a Text on an analysed field asks for."""
    return len(_dedupe(analyse(node.text)))


def _varies(node: Node, analyse: Callable[[str], list[str]]) -> bool:
    """Whether matches of this tree can have different scores (see the module docstring): only an
    ``or`` Text of several distinct words and optional should clauses can."""
    if isinstance(node, Text):
        return (
            node.operator == "or"
            and _analysed(node.field) is not None
            and _words(node, analyse) > 1
        )
    if isinstance(node, Bool):
        if not (node.must or node.should or node.must_not or node.filter):
            return False
        msm = minimum_should_match(node)
        if msm > len(node.should):
            return False
        if node.should and msm < len(node.should):
            return True
        return any(_varies(c, analyse) for c in node.must + node.should)
    return False


def _const_score(node: Node, analyse: Callable[[str], list[str]]) -> float:
    """The score every match of a tree for which ``_varies`` is False gets."""
    if isinstance(node, MatchNone):
        return 0.0
    if isinstance(node, Text) and _analysed(node.field) is not None:
        return float(_words(node, analyse))  # an ``and`` Text: every word is present
    if isinstance(node, Bool):
        if not (node.must or node.should or node.must_not or node.filter):
            return 1.0
        return float(sum(_const_score(c, analyse) for c in node.must + node.should))
    return 1.0


def _bounds(node: Range, conv, what: str) -> tuple[Any, bool, Any, bool]:
    """Tightest ``(lower, inclusive, upper, inclusive)`` of a range after ``conv``."""
    lows: list[tuple[Any, bool]] = []
    highs: list[tuple[Any, bool]] = []
    for raw, inclusive, side in (
        (node.gte, True, lows),
        (node.gt, False, lows),
        (node.lte, True, highs),
        (node.lt, False, highs),
    ):
        if raw is None:
            continue
        value = conv(raw)
        if value is None:
            raise ValueError(f"range bound {raw!r} does not fit {what}")
        side.append((value, inclusive))
    lo, lo_inc, hi, hi_inc = None, True, None, True
    if lows:
        # the greatest bound; on equal values the exclusive one
        lo, lo_inc = max(lows, key=lambda b: (b[0], not b[1]))
    if highs:
        hi, hi_inc = min(highs, key=lambda b: (b[0], b[1]))
    return lo, lo_inc, hi, hi_inc


def _int_bounds(node: Range) -> tuple[int | None, bool, int | None, bool]:
    def lower(raw: Any, inclusive: bool) -> tuple[int, bool]:
        value = _number(raw)
        if value.is_integer():
            return int(value), inclusive
        return math.ceil(value), True

    def upper(raw: Any, inclusive: bool) -> tuple[int, bool]:
        value = _number(raw)
        if value.is_integer():
            return int(value), inclusive
        return math.floor(value), True

    lows = [lower(r, inc) for r, inc in ((node.gte, True), (node.gt, False)) if r is not None]
    highs = [upper(r, inc) for r, inc in ((node.lte, True), (node.lt, False)) if r is not None]
    lo, lo_inc, hi, hi_inc = None, True, None, True
    if lows:
        lo, lo_inc = max(lows, key=lambda b: (b[0], not b[1]))
    if highs:
        hi, hi_inc = min(highs, key=lambda b: (b[0], b[1]))
    return lo, lo_inc, hi, hi_inc


def _number(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueError(f"range bound {raw!r} is not a number")
    if isinstance(raw, (int, float)):
        return float(raw)
    if isinstance(raw, str):
        try:
            return float(raw.strip())
        except ValueError:
            pass
    raise ValueError(f"range bound {raw!r} is not a number")


def _in_range(value: str, lo: str | None, lo_inc: bool, hi: str | None, hi_inc: bool) -> bool:
    if lo is not None and (value < lo or (value == lo and not lo_inc)):
        return False
    return not (hi is not None and (value > hi or (value == hi and not hi_inc)))


def _field(doc: tantivy.Document, name: str) -> Any:
    """The first stored value of ``name`` (typed Any: tantivy's stubs say Optional)."""
    return doc.get_first(name)


_BODY_KEYS = frozenset(F.DYNAMIC_ROOTS)


class _Key(NamedTuple):
    """One sort key: the fast column ordered on, the field's kind, direction, field name."""

    column: str
    kind: str
    descending: bool
    field: str


_BY_SCORE = _Key(SCORE, SCORE, True, SCORE)
_BY_IDKEY = _Key("_idkey", "_idkey", False, "id")


def _ak(addr: tantivy.DocAddress) -> tuple[int, int]:
    return addr.segment_ord, addr.doc


def _py_sort_value(source: dict, key: _Key) -> Any:
    """The value a document sorts by under ``key``, from its stored source (None: missing)."""
    raw = source.get(key.field)
    values = raw if isinstance(raw, (list, tuple)) else [raw]
    if key.kind == F.DATE:
        typed: list[Any] = [d for d in (_date(v) for v in values if v is not None) if d]
    elif key.kind == F.INT:
        typed = [i for i in (_int(v) for v in values if v is not None) if i is not None]
    else:
        typed = [_keyword(v) for v in values if v is not None]
    if not typed:
        return None
    return max(typed) if key.descending else min(typed)


# documents are decoded JSON, never circular: without the check, encoding is ~15 % faster
_ENCODER = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), default=str, check_circular=False
)


def _dumps(value: Any) -> bytes:
    return _ENCODER.encode(value).encode()


def _source(doc: tantivy.Document, fields: Sequence[str] | None) -> dict:
    """The stored document (only ``fields`` of it: the body is decoded only if asked for)."""
    source = json.loads(_field(doc, "_source"))
    if fields is None or not _BODY_KEYS.isdisjoint(fields):
        source.update(json.loads(_field(doc, "_body")))
    if fields is not None:
        source = {key: source[key] for key in fields if key in source}
    return source


def _count(res: Any) -> int:
    """The hit count of a tantivy SearchResult (searched with ``count=True``)."""
    return int(res.count or 0)


def _column_value(value: Any, kind: str) -> Any:
    """A value tantivy's ``order_by_field`` returned, as a term of its column."""
    if kind == F.DATE:
        return _dt_from_ns(int(value))
    if kind == "_idkey":
        return int(value)
    return value


def _agg_key(key: Any) -> str:
    if isinstance(key, float) and key.is_integer():
        return str(int(key))
    return str(key)


def _nth_count(buckets: list[tuple[str, int]], size: int) -> int:
    return buckets[size - 1][1] if len(buckets) >= size else -1
