"""The OpenSearch engine: the engine contract (``base.py``) on an OpenSearch 2.x cluster.

Indices and aliases (``P`` is ``[opensearch] index_prefix``)::

    P-gen-<n>     one index per generation (a complete copy of the projection)
    P             search alias: the live generation (every read goes through it)
    P-write       write alias (is_write_index): the live generation
    P-building    present only while ``rebuild()`` fills generation n+1

Writers resolve ``P-write`` and ``P-building`` before each bulk flush and write every action to both,
so a rebuild misses no live write; versions make the order of the two streams irrelevant.
``rebuild()`` creates ``P-gen-<n+1>``, points ``P-building`` at it, bulk-loads the items in chunks,
refreshes, and swaps ``P``/``P-write`` in one ``_aliases`` request (atomic: a search sees the old or
the new generation, never a mix). On any failure it removes ``P-building`` and deletes the new
index: search is untouched. The previous generation is retired (its mapping's
``_meta.heatseeker_retired_at``): every search resolves the alias per request, so only a request
already running may still read it, and none runs longer than ``[opensearch] timeout``. Once that
has passed, the next rebuild or commit of any process deletes it (issue #16: a kept previous
generation doubled the index). Two concurrent rebuilds collide on creating ``P-gen-<n+1>``: one
fails.

Schema. Every generation's mapping records ``_meta.heatseeker_schema_version``. Opening an index
whose version this code cannot use (``COMPATIBLE_SCHEMAS``; none recorded counts as unusable)
raises ``SchemaMismatch`` on every operation but ``health`` (which reports it), ``rebuild`` (which
replaces the index: ``heatseeker reindex``) and ``close``, as the embedded engine does.

Documents. One OpenSearch document per stack id, ``_id`` = the stack id. Mapping is explicit and
``dynamic: false``: user-named parameters, outputs and template keys never become fields. Every
search filters on ``hs_live``.

``hs_doc``       the stack document as given (object, ``enabled: false``: stored, not indexed)
``hs_live``      true for a live stack; false for tombstones and the checkpoint document
``k_<f>``        keyword fields, and the exact form of text fields (term, prefix, wildcard,
                 range, sort, aggregations). Lists sort by min ascending / max descending (the
                 OpenSearch default ``mode``), missing values last
``t_<f>``        text fields, analysed. Analysis is done here, in Python, identically for documents
                 and queries (``query/analysis.words``: runs of letters and digits, lower-cased,
                 shorter than 40 bytes, the embedded engine's analyser); the words are sent
                 space-joined to a ``whitespace`` analysed field, so phrase positions come from
                 OpenSearch while the words are exactly the embedded engine's
``d_<f>``, ``i_<f>``  dates (second precision) and integers
``kv``           keyword terms ``path + KV_SEP + value`` from ``fields.flatten`` over the dynamic
                 roots (flat_object's idea, with the embedded engine's exact semantics for dotted
                 keys, lists and nulls); Term/Terms/Prefix/Wildcard/Range on dynamic paths
``paths``        keyword: every dotted prefix of every dynamic leaf path (Exists)
``all``          the full text (``fields.FULLTEXT``), analysed like ``t_<f>``: each distinct
                 string once (scores never count terms, and a phrase stays within one value)

Only ``hs_doc`` and ``hs_live`` are kept in ``_source`` (the indexed forms are excluded).

Versions (several writer processes). Every write uses ``version_type=external``: OpenSearch applies
it only if its version is greater than the one it holds, atomically per document, whatever process
sent it. A live stack at version v is stored at external version v; a tombstone at version v is a
DOCUMENT (``hs_live: false``) stored at external version ``TOMBSTONE_BASE + v`` (2**62 + v). So:

* an older upsert never overwrites a newer one (OpenSearch refuses it: 409, counted as ignored);
* no upsert, whatever its version (< 2**62), can overwrite a tombstone: tombstones are final, and
  there is no ``index.gc_deletes`` window since nothing is ever really deleted;
* a later delete with a greater version raises the tombstone's version, a smaller one is refused.

A delete's tombstone version is the greater of its own and the version held (read from this
process's pending writes or the index just before): if another process raises the live version
between that read and the write, the tombstone still wins (it is above every live version) but
records the version it read.

Within one process, writes are buffered (so versions compare with uncommitted writes, as in the
contract) and flushed by ``commit()`` as bulk requests of ``bulk_size`` actions (and at most
``BULK_MAX_BYTES``) with ``refresh=true``, then the checkpoint document (``_id``
``__heatseeker_checkpoint__``, external version = the checkpoint, so an older checkpoint from
another process never overwrites a newer one). A document is encoded once (``prepare``); actions
refused for want of room (429) are sent again after a pause. A rebuild's documents are prepared by
projection.py's worker processes and sent ``bulk_concurrency`` requests at a time. The
checkpoint is written after the documents it covers: a crash in between leaves it behind, and
replaying writes is harmless (versions).

Queries. ``TRANSLATE`` holds one translation per node type of ``query/tree.py``. Scores are
coordination scores (the contract, ``base.py``), never BM25: OpenSearch's
statistics are index-wide (a filter restricts hits, not statistics), so they told a caller about
other projects' stacks. Every leaf is a ``constant_score`` (1); a Text on an analysed field is a
bool of one ``constant_score`` term query per distinct analysed word (should with
``minimum_should_match`` 1 for ``or``, must for ``and``), a Phrase a ``constant_score``
``match_phrase``; filter clauses score 0, must_not nothing, a bool sums. ``max_score`` is OpenSearch's
own (``track_scores``): the best of all matches, whatever the sort and page (null with size 0). The
keyword range is Lucene's TermRangeQuery (no cap); a bound holding a surrogate (no term does) becomes
the next valid string, as in the embedded engine. Order is always completed by ``k_id``: without
sort keys ``_score`` desc then id; ``_score`` may appear at any place among sort keys. Values are
converted here the way the reference evaluator compares them (ints: non-integer bounds rounded
inward; dates: ISO seconds; dynamic values: ``fields.scalar_text``); a value that
cannot be converted matches nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from itertools import islice
from typing import Any

import orjson
from oslo_config import cfg

from heatseeker.engines.base import Engine, EngineError, SchemaMismatch, WriteResult
from heatseeker.engines.terms import date as _date
from heatseeker.engines.terms import dynamic as _dynamic
from heatseeker.engines.terms import iso as _iso
from heatseeker.engines.terms import keyword as _keyword
from heatseeker.engines.terms import strings, walk
from heatseeker.query import fields as F
from heatseeker.query.analysis import SCORE, is_analysed, minimum_should_match, words
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

SCHEMA_VERSION = 4  # 2: template_fingerprint, registry_types/_map, created_by, link; 3: region;
# 4: no doc values on ``kv``/``paths`` and no norms on text fields (see ``mapping``)
# versions an index may have and still be used: 1 and 2 lack only fields later versions added
# (declared, and the index marked with this version, when a writer opens it; documents written
# before need `heatseeker reindex`, which `heatseeker db upgrade` says after labelling a record);
# 3 only stores more than 4 (the same terms, the same answers: a reindex makes it smaller). A
# version that changes how an existing field is indexed (its type, its analysis) is never in this
# set: a writer declares only the fields an index lacks (``_ensure``), never changes one it has
COMPATIBLE_SCHEMAS = frozenset({1, 2, 3, SCHEMA_VERSION})
LOG = logging.getLogger(__name__)
TOMBSTONE_BASE = 2**62
CHECKPOINT_ID = "__heatseeker_checkpoint__"
MAX_RESULT_WINDOW = 1_000_000
LOOKUP_BATCH = 1000
# how long opening an index waits for its primary shards (one made an instant ago by another
# process): OpenSearch's own default for _cluster/health?wait_for_status
ACTIVE_TIMEOUT = "30s"
PENDING_FLUSH = 5000  # buffered writes flushed (without a refresh) beyond this many
BULK_LOAD_SETTINGS = {"refresh_interval": "-1", "translog.durability": "async"}
RETIRED = "heatseeker_retired_at"  # a generation's _meta: when a rebuild replaced it (epoch s)
DISTINCT_PAGE = 10_000  # buckets per page of a composite aggregation (count_distinct)
_MATCH_NONE: dict = {"match_none": {}}



# -- configuration: the [opensearch] group ------------------------------------------------------------

OPTIONS = [
    cfg.ListOpt(
        "hosts",
        default=["http://127.0.0.1:9200"],
        help="OpenSearch nodes (URLs); requests are spread over them and fail over.",
    ),
    cfg.StrOpt("username", help="HTTP basic auth user (none: no auth)."),
    cfg.StrOpt("password", secret=True, help="HTTP basic auth password."),
    cfg.StrOpt("ca_file", help="CA bundle that signs the cluster's TLS certificates (https hosts)."),
    cfg.BoolOpt("verify_certs", default=True, help="Verify the cluster's TLS certificates."),
    cfg.StrOpt(
        "index_prefix",
        default="heatseeker",
        help="Names of heatseeker's indices and aliases: <prefix> (search alias), <prefix>-write, "
        "<prefix>-building, <prefix>-gen-<n> (one index per generation).",
    ),
    cfg.IntOpt("shards", default=1, min=1, help="Primary shards of a new index generation."),
    cfg.IntOpt("replicas", default=1, min=0, help="Replicas of each shard of a new generation."),
    cfg.FloatOpt("timeout", default=30.0, min=0.1, help="Seconds a request to OpenSearch may take."),
    cfg.IntOpt(
        "bulk_size", default=500, min=1, help="Documents per bulk request (sync, reindex, commits)."
    ),
    cfg.IntOpt(
        "bulk_concurrency",
        default=2,
        min=1,
        help="Bulk requests a reindex keeps in flight at once (its documents are prepared by "
        "worker processes meanwhile).",
    ),
]


# -- analysis and value conversions ----------------------------------------------------------------


def _analysed(text: str) -> str:
    return " ".join(words(text))


# The full text's strings repeat across a cloud's stacks (keys, resource types, images: ~87 % of
# the distinct strings of a generated stack were seen in an earlier one), and analysing one costs
# ~40x a lookup; a reindex spent a third of its preparing here. Only short strings are kept (a
# script or a certificate rarely repeats, and would make the cache large): at most ANALYSED_CACHE
# of them, ~60 MB; emptied when full.
ANALYSED_CACHE = 200_000
ANALYSED_CACHED_CHARS = 128
_analysed_seen: dict[str, str] = {}


def _analysed_cached(text: str) -> str:
    found = _analysed_seen.get(text)
    if found is None:
        found = " ".join(words(text))
        if len(text) <= ANALYSED_CACHED_CHARS:
            if len(_analysed_seen) >= ANALYSED_CACHE:
                _analysed_seen.clear()
            _analysed_seen[text] = found
    return found


def _number(value: Any) -> float | None:
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


def _values(raw: Any) -> list[Any]:
    return [v for v in (raw if isinstance(raw, (list, tuple)) else [raw]) if v is not None]


def _wildcard(pattern: str) -> str:
    """The contract's wildcard (``*``, ``?``, backslash escapes) as a canonical Lucene pattern."""
    out = []
    chars = iter(pattern)
    for c in chars:
        if c == "\\":
            nxt = next(chars, None)
            if nxt is not None:
                out.append("\\" + nxt)
        elif c in "*?":
            out.append(c)
        else:
            out.append(c)
    return "".join(out)


def _literal(text: str) -> str:
    return re.sub(r"([*?\\])", r"\\\1", text)


def _field_of(name: str, kind: str) -> str:
    return {F.KEYWORD: "k_", F.TEXT: "k_", F.DATE: "d_", F.INT: "i_"}[kind] + name


def index_body(doc: dict) -> dict:
    """The OpenSearch source of a live stack document."""
    body: dict[str, Any] = {"hs_live": True, "hs_doc": doc}
    for name, kind in F.FIELDS.items():
        values = _values(doc.get(name))
        if values:
            _INDEX_KIND[kind](name, values, body)
    body["kv"], body["paths"], texts = _free_terms(doc)
    # each distinct string once: scores are constant per clause (never term frequencies) and a
    # phrase never spans two values (position_increment_gap), so a repeat changes no answer; it
    # only made bodies and OpenSearch's work larger
    analysed = dict.fromkeys(map(_analysed_cached, dict.fromkeys(texts)))
    analysed.pop("", None)
    body["all"] = list(analysed)
    return body


def _free_terms(doc: dict) -> tuple[list[str], list[str], list[str]]:
    """``(kv terms, paths, full-text strings)`` of ``doc``: the kv terms and paths of its dynamic
    roots (``terms.walk``: ``fields.flatten``'s terms; every dotted prefix of a path that holds a
    leaf, the root's included), and the strings of every field the full text takes."""
    kv: list[str] = []
    paths: set[str] = set()
    texts: list[str] = []
    add_kv, add_text, add_path = kv.append, texts.append, paths.add
    for key, value in doc.items():
        if key in F.FULLTEXT_EXCLUDED:
            continue
        add_text(str(key))
        if key in F.DYNAMIC_ROOTS:
            if value is not None and walk(value, key, add_kv, add_text, add_path):
                add_path(key)
        else:
            texts.extend(strings(value))
    return list(dict.fromkeys(kv)), sorted(paths), texts


def _index_text(name: str, values: list[Any], body: dict[str, Any]) -> None:
    """A keyword field's (``k_``) or a text field's exact form and analysed words (``t_``)."""
    body["k_" + name] = list(dict.fromkeys(_keyword(v) for v in values))
    if F.FIELDS[name] == F.TEXT:
        body["t_" + name] = [_analysed(_keyword(v)) for v in values]


def _index_date(name: str, values: list[Any], body: dict[str, Any]) -> None:
    dates = [_iso(d) for d in map(_date, values) if d is not None]
    if dates:
        body["d_" + name] = dates


def _index_int(name: str, values: list[Any], body: dict[str, Any]) -> None:
    ints = [int(n) for n in map(_number, values) if n is not None and n.is_integer()]
    if ints:
        body["i_" + name] = ints


_INDEX_KIND: dict[str, Callable[[str, list[Any], dict[str, Any]], None]] = {
    F.KEYWORD: _index_text,
    F.TEXT: _index_text,
    F.DATE: _index_date,
    F.INT: _index_int,
}


# What the layout leaves out (schema 4), because no query needs it: doc values on ``kv`` and
# ``paths`` (~450 terms a stack, never sorted or aggregated on: aggregations and sorts use the
# ``k_``/``d_``/``i_`` fields) and norms on text fields (every text clause is a constant score,
# ``_const``, so a field's length never scores). Measured: the index 11 % smaller at 100k generated
# stacks (bench/results/indexing §6); the node's CPU a stack 2 % less there (1.58 -> 1.55 ms under
# the raw load), though 13 % less in a 9,000-stack load (1.42 -> 1.24 ms).
_UNSORTED = {"doc_values": False}
_UNSCORED_TEXT = {"type": "text", "analyzer": "whitespace", "norms": False}


def mapping() -> dict:
    props: dict[str, Any] = {
        "hs_live": {"type": "boolean"},
        "hs_doc": {"type": "object", "enabled": False},
        "kv": {"type": "keyword", **_UNSORTED},
        "paths": {"type": "keyword", **_UNSORTED},
        "all": dict(_UNSCORED_TEXT),
    }
    for name, kind in F.FIELDS.items():
        if kind in (F.KEYWORD, F.TEXT):
            props["k_" + name] = {"type": "keyword"}
            if kind == F.TEXT:
                props["t_" + name] = dict(_UNSCORED_TEXT)
        elif kind == F.DATE:
            props["d_" + name] = {"type": "date", "format": "strict_date_optional_time"}
        else:
            props["i_" + name] = {"type": "long"}
    return {
        "dynamic": False,
        "_source": {"excludes": ["k_*", "t_*", "d_*", "i_*", "kv", "paths", "all"]},
        "_meta": {"heatseeker_schema_version": SCHEMA_VERSION},
        "properties": props,
    }


# -- query translation ----------------------------------------------------------------------------


def _const(query: dict) -> dict:
    return {"constant_score": {"filter": query, "boost": 1.0}}


def _term_value(kind: str, value: Any) -> Any:
    """The indexed form of a query value (None: matches nothing)."""
    if kind == "dynamic":
        return _dynamic(value)
    if kind in (F.KEYWORD, F.TEXT):
        return _keyword(value)
    if kind == F.DATE:
        d = _date(value)
        return None if d is None else _iso(d)
    n = _number(value)
    if n is None or not n.is_integer():
        return None
    return int(n)


def translate(node: Node) -> dict:
    """The OpenSearch query of a tree (``TRANSLATE``: one function per node type)."""
    try:
        return TRANSLATE[type(node)](node)
    except KeyError:
        raise EngineError(f"unknown query node {node!r}") from None


def _match_all(node: MatchAll) -> dict:
    return _const({"match_all": {}})


def _match_none(node: MatchNone) -> dict:
    return _MATCH_NONE


def _bool(node: Bool) -> dict:
    if not (node.must or node.should or node.must_not or node.filter):
        return _const({"match_all": {}})
    msm = minimum_should_match(node)
    if msm > len(node.should):
        return _MATCH_NONE
    body: dict[str, Any] = {}
    for occur in ("must", "filter", "must_not", "should"):
        clauses = getattr(node, occur)
        if clauses:
            body[occur] = [translate(c) for c in clauses]
    body["minimum_should_match"] = msm
    if msm == 0 and node.should and not (node.must or node.filter):
        # only optional should clauses (and perhaps must_not): everything (not excluded)
        # matches, scoring what its should clauses score
        body["filter"] = [{"match_all": {}}]
    return {"bool": body}


def _ids(node: Ids) -> dict:
    values = [str(v) for v in node.values]
    return _const({"terms": {"k_id": values}}) if values else _MATCH_NONE


def _analysed_target(field: str | None) -> str | None:
    """The analysed field a Text/Phrase on ``field`` searches (None: an exact Term instead)."""
    if not is_analysed(field):
        return None
    return "all" if field is None or field == F.FULLTEXT else "t_" + F.resolve(field)[0]


def _text(node: Text) -> dict:
    target = _analysed_target(node.field)
    if target is None:
        return _term(Term(node.field or "", node.text))
    found = words(node.text)
    if not found:
        return _MATCH_NONE
    # coordination scoring: each distinct word scores 1 (no collection statistics)
    each = [_const({"term": {target: w}}) for w in dict.fromkeys(found)]
    if len(each) == 1:
        return each[0]
    if node.operator == "or":
        return {"bool": {"should": each, "minimum_should_match": 1}}
    return {"bool": {"must": each}}


def _phrase(node: Phrase) -> dict:
    target = _analysed_target(node.field)
    if target is None:
        return _term(Term(node.field or "", node.text))
    found = words(node.text)
    if not found:
        return _MATCH_NONE
    if len(found) == 1:
        return _const({"term": {target: found[0]}})
    return _const({"match_phrase": {target: {"query": " ".join(found), "analyzer": "whitespace"}}})


def _exists(node: Exists) -> dict:
    name, kind = F.resolve(node.field)
    if kind == "dynamic":
        return _const({"term": {"paths": name}})
    return _const({"exists": {"field": _field_of(name, kind)}})


def _target(field: str) -> tuple[str, str, str]:
    """``(kind, OpenSearch field, head)`` of a field: a dynamic path's terms are ``kv`` terms
    that start with ``head`` (the path and ``KV_SEP``)."""
    name, kind = F.resolve(field)
    if kind == "dynamic":
        return kind, "kv", name + F.KV_SEP
    return kind, _field_of(name, kind), ""


def _term(node: Term) -> dict:
    kind, field, head = _target(node.field)
    value = _term_value(kind, node.value)
    if value is None:
        return _MATCH_NONE
    return _const({"term": {field: head + value if head else value}})


def _terms(node: Terms) -> dict:
    kind, field, head = _target(node.field)
    values = [_term_value(kind, v) for v in node.values]
    kept = [head + v if head else v for v in values if v is not None]
    return _const({"terms": {field: kept}}) if kept else _MATCH_NONE


def _prefix(node: Prefix) -> dict:
    if node.field == F.FULLTEXT:  # a bare ``web*``: the analysed words of the full text
        return _const({"prefix": {"all": {"value": node.value.lower()}}})
    kind, field, head = _target(node.field)
    if kind in (F.DATE, F.INT):
        return _MATCH_NONE  # prefixes apply to text forms only
    return _const({"prefix": {field: {"value": head + node.value}}})


def _wildcard_node(node: Wildcard) -> dict:
    if node.field == F.FULLTEXT:
        return _const({"wildcard": {"all": {"value": _wildcard(node.pattern.lower())}}})
    kind, field, head = _target(node.field)
    if kind in (F.DATE, F.INT):
        return _MATCH_NONE
    return _const({"wildcard": {field: {"value": _literal(head) + _wildcard(node.pattern)}}})


def _range_node(node: Range) -> dict:
    kind, field, head = _target(node.field)
    return _range(node, kind, field, head)


TRANSLATE: dict[type, Callable[[Any], dict]] = {
    MatchAll: _match_all,
    MatchNone: _match_none,
    Bool: _bool,
    Ids: _ids,
    Text: _text,
    Phrase: _phrase,
    Exists: _exists,
    Term: _term,
    Terms: _terms,
    Prefix: _prefix,
    Wildcard: _wildcard_node,
    Range: _range_node,
}


def _range(node: Range, kind: str, field: str, head: str) -> dict:
    bounds = (("gte", node.gte), ("gt", node.gt), ("lte", node.lte), ("lt", node.lt))
    given = [(op, bound) for op, bound in bounds if bound is not None]
    if kind == F.INT:
        spec = _int_range(given)
    elif kind == F.DATE:
        spec = _date_range(given)
    else:
        spec = _text_range(given, _dynamic if kind == "dynamic" else _keyword, head)
    return _MATCH_NONE if spec is None else _const({"range": {field: spec}})


def _int_range(given: list[tuple[str, Any]]) -> dict | None:
    """Integer bounds (non-integer ones rounded inward); None: nothing can match."""
    spec: dict[str, Any] = {}
    for op, bound in given:
        n = _number(bound)
        if n is None or math.isnan(n):
            return None
        if math.isinf(n):
            if (op in ("gte", "gt")) == (n > 0):
                return None
            continue
        if op in ("gte", "gt"):
            low = math.ceil(n) if op == "gte" or not n.is_integer() else int(n) + 1
            spec["gte"] = max(spec.get("gte", low), low)
        else:
            high = math.floor(n) if op == "lte" or not n.is_integer() else int(n) - 1
            spec["lte"] = min(spec.get("lte", high), high)
    return spec


def _date_range(given: list[tuple[str, Any]]) -> dict | None:
    spec: dict[str, Any] = {}
    for op, bound in given:
        d = _date(bound)
        if d is None:
            return None
        spec[op] = d.isoformat().replace("+00:00", "Z")
    return spec


def _text_range(given: list[tuple[str, Any]], conv: Callable[[Any], str], head: str) -> dict:
    """The tightest text bounds, within the terms of a dynamic path (``head``) if one is given."""
    spec: dict[str, Any] = {}
    lows = [_valid_bound(op, conv(b)) for op, b in given if op in ("gte", "gt")]
    highs = [_valid_bound(op, conv(b)) for op, b in given if op in ("lte", "lt")]
    if lows:  # the tightest: the greatest value, exclusive on a tie
        op, text = max(lows, key=lambda ob: (ob[1], ob[0] == "gt"))
        spec[op] = head + text
    if highs:  # the least value, exclusive on a tie
        op, text = min(highs, key=lambda ob: (ob[1], ob[0] == "lte"))
        spec[op] = head + text
    if head:  # stay within the path's terms
        if "gte" not in spec and "gt" not in spec:
            spec["gte"] = head
        if "lte" not in spec and "lt" not in spec:
            spec["lt"] = head[:-1] + chr(ord(F.KV_SEP) + 1)
    return spec


def _valid_bound(op: str, text: str) -> tuple[str, str]:
    """A text bound without surrogates (no term holds one, and JSON would garble it): a bound with
    one at ``j`` selects the same terms as ``text[:j] + "\\ue000"``, inclusive below and exclusive
    above."""
    for j, c in enumerate(text):
        if 0xD800 <= ord(c) <= 0xDFFF:
            return ("gte" if op in ("gte", "gt") else "lt"), text[:j] + "\ue000"
    return op, text


def _sort_clause(key: SortKey) -> dict:
    if key.field == SCORE:
        return {SCORE: {"order": "desc"}}
    name, kind = F.resolve(key.field)
    if kind == "dynamic":
        raise EngineError(f"cannot sort on {key.field!r}")
    order = "desc" if key.descending else "asc"
    return {
        _field_of(name, kind): {
            "order": order,
            "mode": "max" if key.descending else "min",
            "missing": "_last",
        }
    }


# -- bulk requests ---------------------------------------------------------------------------------
# A document is encoded once, by ``prepare`` (in a reindex worker process, or in this one for live
# writes), and its bytes go into bulk requests as they are: a reindex's own process only frames
# them (``_pair``) and sends them, several requests at a time (``_Sender``).

Prepared = tuple[str, int, bytes]  # (stack id, external version, the source's JSON)
_TOMBSTONE_BODY = b'{"hs_live":false}'
BULK_MAX_BYTES = 8 * 2**20  # a bulk request is cut here too (OpenSearch's advice: 5-15 MB)
BULK_RETRIES = 8  # a request or its items refused with 429 (queue full) are sent again this often
BULK_BACKOFF = 0.5  # seconds before the first retry, doubled each time (at most 8 s)


def prepare(item: tuple[dict | None, str, int]) -> Prepared:
    """``OpenSearchEngine.preparer``: a rebuild item (or a live write) as its ``_id``, its external
    version (``TOMBSTONE_BASE + v`` for a tombstone) and its source encoded. Nearly all of a
    reindex's Python time is here, so projection.py runs it in worker processes."""
    doc, sid, version = item
    sid = str(sid)
    if doc is None:
        return sid, TOMBSTONE_BASE + int(version), _TOMBSTONE_BODY
    if doc.get("id") != sid:
        doc = {**doc, "id": sid}
    return sid, int(version), _encode(index_body(doc))


def _encode(body: dict) -> bytes:
    """A source as compact UTF-8 JSON. orjson takes a fifth of json's time (0.05 against 0.24 ms
    for a generated stack's 37 KB source, of ~1.1 ms of a reindex's reading and preparing); json
    writes what orjson refuses: an integer beyond 64 bits, a lone surrogate (escaped), a key that
    is not a string. A document holds no NaN (``documents._jsonable`` writes it as text)."""
    try:
        return orjson.dumps(body)
    except TypeError:  # orjson.JSONEncodeError is one
        return json.dumps(body, separators=(",", ":")).encode("ascii")


def _pair(index: str, item: Prepared) -> bytes:
    """An index action and its source: two lines of a bulk request's body."""
    sid, external, body = item
    head = json.dumps({"index": {"_index": index, "_id": sid, "version": external,
                                 "version_type": "external"}}, separators=(",", ":"))  # fmt: skip
    return head.encode("ascii") + b"\n" + body + b"\n"


def _requests(items: Iterable[Prepared], size: int) -> Iterator[list[Prepared]]:
    """``items`` in runs of at most ``size`` items and about ``BULK_MAX_BYTES``."""
    run: list[Prepared] = []
    nbytes = 0
    for item in items:
        run.append(item)
        nbytes += len(item[2])
        if len(run) >= size or nbytes >= BULK_MAX_BYTES:
            yield run
            run, nbytes = [], 0
    if run:
        yield run


# -- the engine -------------------------------------------------------------------------------------


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def _decode_version(external: int) -> tuple[int, bool]:
    if external >= TOMBSTONE_BASE:
        return external - TOMBSTONE_BASE, True
    return external, False


class OpenSearchEngine(Engine):
    name = "opensearch"
    description = "an OpenSearch cluster (see [opensearch]); several writers may run"
    shared = True
    options = OPTIONS
    node_types = frozenset(TRANSLATE)

    def __init__(
        self,
        hosts: Sequence[str] = ("http://127.0.0.1:9200",),
        *,
        index_prefix: str = "heatseeker",
        username: str | None = None,
        password: str | None = None,
        ca_file: str | None = None,
        verify_certs: bool = True,
        shards: int = 1,
        replicas: int = 1,
        timeout: float = 30.0,
        bulk_size: int = 500,
        bulk_concurrency: int = 2,
        read_only: bool = False,
        client: Any = None,
    ):
        from opensearchpy import OpenSearch

        self.prefix = index_prefix
        self.search_alias = index_prefix
        self.write_alias = f"{index_prefix}-write"
        self.building_alias = f"{index_prefix}-building"
        self.shards, self.replicas = shards, replicas
        self.bulk_size = bulk_size
        self.bulk_concurrency = max(1, bulk_concurrency)
        self.read_only = read_only
        self.timeout = timeout
        self._retired_checked = float("-inf")  # when _drop_retired last looked (monotonic)
        if client is None:
            kwargs: dict[str, Any] = {
                "hosts": list(hosts),
                "timeout": timeout,
                "max_retries": 2,
                "retry_on_timeout": True,
                "verify_certs": verify_certs,
                # a connection per bulk request in flight (urllib3 keeps one by default, and opens
                # and drops another for each request beyond it)
                "pool_maxsize": max(4, self.bulk_concurrency + 2),
            }
            if username:
                kwargs["http_auth"] = (username, password or "")
            if ca_file:
                kwargs["ca_certs"] = ca_file
            if not verify_certs:
                kwargs["ssl_show_warn"] = False
            client = OpenSearch(**kwargs)
        self.client = client
        self._lock = threading.RLock()
        self._pending: dict[str, tuple[dict | None, int]] = {}  # id -> (doc or None, version)
        self._ready = False

    @classmethod
    def from_conf(cls, conf: Any, *, read_only: bool = False) -> OpenSearchEngine:
        group = conf.opensearch
        return cls(
            group.hosts,
            index_prefix=group.index_prefix,
            username=group.username,
            password=group.password,
            ca_file=group.ca_file,
            verify_certs=group.verify_certs,
            shards=group.shards,
            replicas=group.replicas,
            timeout=group.timeout,
            bulk_size=group.bulk_size,
            bulk_concurrency=group.bulk_concurrency,
            read_only=read_only,
        )

    # -- indices and aliases -------------------------------------------------------------------

    def _call(self, fn, *args, **kwargs):
        from opensearchpy.exceptions import OpenSearchException

        try:
            return fn(*args, **kwargs)
        except OpenSearchException as exc:
            raise EngineError(f"opensearch: {exc}") from exc

    def _index_settings(self) -> dict:
        return {
            "number_of_shards": self.shards,
            "number_of_replicas": self.replicas,
            "max_result_window": MAX_RESULT_WINDOW,
            "mapping": {"total_fields": {"limit": 1000}},
        }

    def _generations(self) -> dict[str, set[str]]:
        """``{index: {aliases}}`` for every generation of this prefix."""
        from opensearchpy.exceptions import NotFoundError

        try:
            raw = self._call(self.client.indices.get_alias, index=f"{self.prefix}-gen-*")
        except EngineError as exc:
            if isinstance(exc.__cause__, NotFoundError):
                return {}
            raise
        return {name: set(info.get("aliases", {})) for name, info in raw.items()}

    @staticmethod
    def _gen_number(index: str) -> int:
        try:
            return int(index.rsplit("-", 1)[1])
        except (IndexError, ValueError):
            return 0

    def _ensure(self) -> None:
        """Create generation 1 with both aliases if this prefix has no live generation."""
        if self._ready:
            return
        gens = self._generations()
        if not any(self.search_alias in aliases for aliases in gens.values()):
            if self.read_only:
                return
            from opensearchpy.exceptions import RequestError

            try:
                self.client.indices.create(
                    index=f"{self.prefix}-gen-1",
                    body={
                        "settings": self._index_settings(),
                        "mappings": mapping(),
                        "aliases": {
                            self.search_alias: {},
                            self.write_alias: {"is_write_index": True},
                        },
                    },
                    params={"wait_for_active_shards": "1"},
                )
            except RequestError as exc:  # another process created it first
                if "resource_already_exists" not in str(exc):
                    raise EngineError(f"opensearch: {exc}") from exc
            except Exception as exc:  # noqa: BLE001
                raise EngineError(f"opensearch: {exc}") from exc
            self._wait_active()
        else:
            # another process may have made it an instant ago: its shards may still be
            # recovering (a search or a get would answer 503 no_shard_available)
            self._wait_active()
            self._check_schema()
            if not self.read_only:
                # fields added since the index was made (mappings only grow): declared so that
                # new writes index them, and the index marked with this version (it holds every
                # field of it); documents written before need `heatseeker reindex`. Only the
                # fields an index lacks: an older field keeps its parameters (doc values cannot
                # be taken away from a field, and schema 3's kv/paths have them), and an index
                # that lacks none is left as it is (a schema-3 index stays 3: the previous
                # release's processes still open it, as they would before this one wrote)
                current = mapping()
                try:
                    held = self.client.indices.get_mapping(index=self.write_alias)
                    missing = {name for info in held.values()
                               for name in current["properties"]
                               if name not in ((info.get("mappings") or {}).get("properties")
                                               or {})}  # fmt: skip
                    if missing:
                        body = {"_meta": current["_meta"],
                                "properties": {n: current["properties"][n] for n in missing}}
                        self.client.indices.put_mapping(index=self.write_alias, body=body)
                except Exception as exc:  # noqa: BLE001
                    raise EngineError(f"opensearch: {exc}") from exc
        self._ready = True

    def _wait_active(self) -> None:
        """Until the primary shards behind the search alias are active (none initialising), at
        most ``ACTIVE_TIMEOUT``: then an EngineError that says so."""
        health = self._call(self.client.cluster.health, index=self.search_alias,
                            params={"wait_for_status": "yellow",
                                    # a new index's primary counts as yellow while it initialises
                                    # (measured: yellow, 0 active, 1 initialising), and a search
                                    # or get on it answers 503 until it is active
                                    "wait_for_no_initializing_shards": "true",
                                    "request_timeout": 40})
        if health.get("timed_out") or health.get("status") not in ("yellow", "green") \
                or not health.get("active_primary_shards"):
            raise EngineError(f"opensearch: the index behind {self.search_alias!r} is "
                              f"{health.get('status')} after {ACTIVE_TIMEOUT}: its primary shards "
                              "are not active (see _cluster/allocation/explain)")

    def _check_schema(self) -> None:
        """SchemaMismatch unless every index behind the search alias has a schema version this
        code can use (``COMPATIBLE_SCHEMAS``), read back from the ``_meta`` it was created with."""
        raw = self._call(self.client.indices.get_mapping, index=self.search_alias)
        for index, info in sorted(raw.items()):
            meta = (info.get("mappings") or {}).get("_meta") or {}
            found = meta.get("heatseeker_schema_version")
            if found not in COMPATIBLE_SCHEMAS:
                written = "no schema version" if found is None else f"schema version {found}"
                raise SchemaMismatch(
                    f"the OpenSearch index {index} (behind {self.search_alias!r}) was written "
                    f"with {written}; this heatseeker uses schema version {SCHEMA_VERSION}: run "
                    "`heatseeker reindex`"
                )

    def _write_targets(self) -> list[str]:
        gens = self._generations()
        targets = [
            name
            for name, aliases in gens.items()
            if self.write_alias in aliases or self.building_alias in aliases
        ]
        if not targets:
            raise EngineError(f"no index behind {self.write_alias!r}")
        return sorted(targets)

    # -- versions -------------------------------------------------------------------------------

    def _held(self, stack_ids: Sequence[str]) -> dict[str, tuple[int, bool]]:
        """Versions held by the index (committed or not: realtime get) for ``stack_ids``."""
        self._ensure()
        out: dict[str, tuple[int, bool]] = {}
        if not self._ready:
            return out
        for chunk in _chunks(dict.fromkeys(stack_ids), LOOKUP_BATCH):
            raw = self._call(
                self.client.mget,
                index=self.search_alias,
                body={"ids": chunk},
                params={"_source": "false"},
            )
            for doc in raw.get("docs", []):
                if doc.get("found"):
                    out[doc["_id"]] = _decode_version(int(doc["_version"]))
        return out

    def _current(self, stack_ids: Sequence[str]) -> dict[str, tuple[int, bool]]:
        known = {
            sid: (v, doc is None) for sid in stack_ids if sid in self._pending
            for doc, v in [self._pending[sid]]
        }
        missing = [sid for sid in stack_ids if sid not in known]
        if missing:
            known.update(self._held(missing))
        return known

    def upsert(self, items: Iterable[tuple[dict, int]]) -> WriteResult:
        self._check_writable()
        result = WriteResult()
        with self._lock:
            for chunk in _chunks(items, LOOKUP_BATCH):
                held = self._current([doc["id"] for doc, _ in chunk])
                for doc, version in chunk:
                    sid = str(doc["id"])
                    cur = held.get(sid)
                    if cur is not None and (cur[1] or cur[0] >= version):
                        result.ignored += 1
                        continue
                    self._pending[sid] = (doc, int(version))
                    held[sid] = (int(version), False)
                    result.applied += 1
            self._maybe_flush()
        return result

    def delete(self, items: Iterable[tuple[str, int]]) -> WriteResult:
        self._check_writable()
        result = WriteResult()
        with self._lock:
            for chunk in _chunks(items, LOOKUP_BATCH):
                held = self._current([str(sid) for sid, _ in chunk])
                for sid, version in chunk:
                    sid = str(sid)
                    cur = held.get(sid)
                    if cur is not None and cur[1] and cur[0] >= version:
                        result.ignored += 1
                        continue
                    final = max(int(version), cur[0]) if cur is not None else int(version)
                    self._pending[sid] = (None, final)
                    held[sid] = (final, True)
                    result.applied += 1
            self._maybe_flush()
        return result

    def _check_writable(self) -> None:
        if self.read_only:
            raise EngineError("this engine was opened read-only")

    def _maybe_flush(self) -> None:
        if len(self._pending) >= PENDING_FLUSH:
            self._flush(refresh=False)

    def _send(self, pairs: list[bytes], indices: list[str], refresh: bool = False,
              cancel: threading.Event | None = None) -> dict[str, int]:
        """One bulk request of ``pairs`` (``_pair``, naming ``indices[i]``); returns the actions
        applied per index. A version conflict (a newer version held) is not an error; a request or
        the items OpenSearch refused for want of room (429) are sent again after a pause, up to
        ``BULK_RETRIES`` times (not once ``cancel`` is set: a failed rebuild stops at once); any
        other refusal is an ``EngineError`` naming the reason (what was written stays written:
        versions make writing it again harmless)."""
        from opensearchpy.exceptions import TransportError

        pause = cancel.wait if cancel is not None else time.sleep
        params = {"refresh": "true" if refresh else "false"}
        applied: dict[str, int] = {}
        refused = 0
        for attempt in range(BULK_RETRIES + 1):
            if attempt and cancel is not None and cancel.is_set():
                raise EngineError("opensearch bulk write cancelled (the rebuild failed)")
            try:
                raw = self.client.bulk(body=b"".join(pairs), params=params)
            except TransportError as exc:
                if exc.status_code == 429 and attempt < BULK_RETRIES:
                    refused = len(pairs)
                    pause(min(8.0, BULK_BACKOFF * 2**attempt))
                    continue
                raise EngineError(f"opensearch: {exc}") from exc
            except Exception as exc:  # noqa: BLE001 - connection errors and the like
                raise EngineError(f"opensearch: {exc}") from exc
            again: list[int] = []
            for i, item in enumerate(raw.get("items", [])):
                op = item.get("index", {})
                status = int(op.get("status", 500))
                if status == 409:
                    continue
                if status == 429:
                    again.append(i)
                elif status >= 300:
                    raise EngineError(f"opensearch bulk write failed: {op.get('error')}")
                else:
                    applied[indices[i]] = applied.get(indices[i], 0) + 1
            if not again:
                return applied
            refused = len(again)
            if attempt < BULK_RETRIES:
                pairs, indices = [pairs[i] for i in again], [indices[i] for i in again]
                pause(min(8.0, BULK_BACKOFF * 2**attempt))
        raise EngineError(
            f"opensearch bulk write failed: {refused} action(s) still refused for want of room "
            f"(429) after {BULK_RETRIES} retries"
        )

    def _bulk(self, actions: Iterable[tuple[str, dict | None, int]], targets: Sequence[str],
              refresh: bool) -> int:
        """Write ``(id, doc or None, version)`` to every target index; returns actions applied
        to the first target (conflicts, i.e. newer versions held, are not errors). Documents are
        encoded one request at a time (the next one is looked at only to know the last)."""
        applied = 0
        runs = _requests((prepare((doc, sid, v)) for sid, doc, v in actions), self.bulk_size)
        run = next(runs, None)
        if run is None:
            if refresh:
                self._call(self.client.indices.refresh, index=",".join(targets))
            return 0
        while run is not None:
            following = next(runs, None)
            pairs = [_pair(index, item) for index in targets for item in run]
            indices = [index for index in targets for _ in run]
            last = following is None
            applied += self._send(pairs, indices, refresh=refresh and last).get(targets[0], 0)
            run = following
        return applied

    def _flush(self, refresh: bool) -> None:
        pending, self._pending = self._pending, {}
        if not pending and not refresh:
            return
        self._ensure()
        try:
            self._bulk(
                ((sid, doc, v) for sid, (doc, v) in pending.items()), self._write_targets(), refresh
            )
        except Exception:
            # keep what was not written for the next commit (versions make a re-send harmless)
            for sid, item in pending.items():
                self._pending.setdefault(sid, item)
            raise

    def commit(self, checkpoint: int | None = None) -> None:
        if self.read_only:
            return
        with self._lock:
            self._flush(refresh=True)
            if checkpoint is not None:
                self._write_checkpoint(self.write_alias, int(checkpoint))
            self._drop_retired()

    def _write_checkpoint(self, index: str, checkpoint: int) -> None:
        from opensearchpy.exceptions import ConflictError

        try:
            self.client.index(
                index=index,
                id=CHECKPOINT_ID,
                body={"hs_live": False, "checkpoint": checkpoint},
                params={"version": str(checkpoint), "version_type": "external_gte"},
            )
        except ConflictError:
            pass  # another process committed a later checkpoint
        except Exception as exc:  # noqa: BLE001
            raise EngineError(f"opensearch: {exc}") from exc

    def checkpoint(self) -> int:
        self._ensure()
        if not self._ready:
            return 0
        from opensearchpy.exceptions import NotFoundError

        try:
            raw = self.client.get(index=self.search_alias, id=CHECKPOINT_ID)
        except NotFoundError:
            return 0
        except Exception as exc:  # noqa: BLE001
            raise EngineError(f"opensearch: {exc}") from exc
        return int(raw["_source"].get("checkpoint", 0))

    preparer = staticmethod(prepare)

    def rebuild(
        self, items: Iterable[tuple[dict | None, str, int]], checkpoint: int | None = None
    ) -> int:
        return self.rebuild_prepared(map(prepare, items), checkpoint)

    def rebuild_prepared(self, prepared: Iterable[Any], checkpoint: int | None = None) -> int:
        """``rebuild`` of items ``prepare`` made (by projection.py's worker processes): sent in
        bulk requests, ``bulk_concurrency`` at a time."""
        self._check_writable()
        with self._lock:
            try:
                self._ensure()
            except SchemaMismatch:
                self._pending.clear()  # writes meant for the stale index: the rebuild replaces it
            else:
                self._flush(refresh=False)
            gens = self._generations()
            live = sorted(n for n, a in gens.items() if self.search_alias in a)
            number = max((self._gen_number(n) for n in gens), default=0) + 1
            new = f"{self.prefix}-gen-{number}"
            self._call(
                self.client.indices.create,
                index=new,
                body={
                    # a bulk load: no refresh and an asynchronous translog until the swap (a
                    # rebuild that fails is abandoned whole, so nothing relies on them before)
                    "settings": {**self._index_settings(), **BULK_LOAD_SETTINGS},
                    "mappings": mapping(),
                    "aliases": {self.building_alias: {}},
                },
                params={"wait_for_active_shards": "1"},
            )
            written = 0
            try:
                with _Sender(self, new) as sender:
                    for run in _requests(prepared, self.bulk_size):
                        written += len(run)
                        sender.send(run)
                if checkpoint is not None:
                    self._write_checkpoint(new, int(checkpoint))
                self._call(self.client.indices.put_settings, index=new,
                           body={k: None for k in BULK_LOAD_SETTINGS})
                self._call(self.client.indices.flush, index=new)
                self._call(self.client.indices.refresh, index=new)
                actions: list[dict] = [
                    {"remove": {"index": old, "alias": alias}}
                    for old in live
                    for alias in (self.search_alias, self.write_alias)
                    if alias in gens[old]
                ]
                actions += [
                    {"remove": {"index": new, "alias": self.building_alias}},
                    {"add": {"index": new, "alias": self.search_alias}},
                    {"add": {"index": new, "alias": self.write_alias, "is_write_index": True}},
                ]
                self._call(self.client.indices.update_aliases, body={"actions": actions})
            except BaseException:
                close = getattr(prepared, "close", None)
                if close is not None:
                    close()  # projection.py's workers stop now, not when the traceback goes
                self._abandon(new)
                raise
            # the previous generation: a search already running may still read it
            for old in live:
                with contextlib.suppress(Exception):  # at worst it is deleted without waiting
                    self.client.indices.put_mapping(index=old, body={"_meta": {
                        "heatseeker_schema_version": self._schema_of(old),
                        RETIRED: time.time()}})
            self._drop_retired(force=True)
            return written

    def _schema_of(self, index: str):
        raw = self._call(self.client.indices.get_mapping, index=index)
        return ((raw.get(index, {}).get("mappings") or {}).get("_meta") or {}).get(
            "heatseeker_schema_version")

    def _drop_retired(self, force: bool = False) -> list[str]:
        """Delete the generations no alias names whose retirement is older than a request may
        run (``timeout``; one retired by an older heatseeker, without a time: at once); at most
        once per ``timeout`` in a process unless ``force``. Returns the indices deleted."""
        now = time.monotonic()
        if not force and now - self._retired_checked < self.timeout:
            return []
        self._retired_checked = now
        gens = self._generations()
        idle = [n for n, aliases in gens.items() if not aliases]
        if not idle:
            return []
        raw = self._call(self.client.indices.get_mapping, index=",".join(idle))
        gone = []
        for name in idle:
            meta = ((raw.get(name) or {}).get("mappings") or {}).get("_meta") or {}
            retired = meta.get(RETIRED)
            if not isinstance(retired, int | float) or time.time() - retired > self.timeout:
                gone.append(name)
        if gone:
            self._call(self.client.indices.delete, index=",".join(sorted(gone)),
                       params={"ignore_unavailable": "true"})
        return sorted(gone)

    def _abandon(self, index: str) -> None:
        # best effort: the alias swap never happened, search is untouched either way
        with contextlib.suppress(Exception):
            self.client.indices.delete(index=index, params={"ignore_unavailable": "true"})

    # -- reading --------------------------------------------------------------------------------

    def _live_query(self, node: Node) -> dict:
        return {"bool": {"must": [translate(node)], "filter": [{"term": {"hs_live": True}}]}}

    def get(self, stack_id: str) -> tuple[dict, int] | None:
        with self._lock:
            if stack_id in self._pending:
                doc, version = self._pending[stack_id]
                return None if doc is None else (doc, version)
        if stack_id == CHECKPOINT_ID:
            return None
        self._ensure()
        if not self._ready:
            return None
        from opensearchpy.exceptions import NotFoundError

        try:
            raw = self.client.get(index=self.search_alias, id=stack_id)
        except NotFoundError:
            return None
        except Exception as exc:  # noqa: BLE001
            raise EngineError(f"opensearch: {exc}") from exc
        version, dead = _decode_version(int(raw["_version"]))
        source = raw.get("_source", {})
        if dead or not source.get("hs_live"):
            return None
        return source["hs_doc"], version

    def get_version(self, stack_id: str) -> tuple[int, bool] | None:
        if stack_id == CHECKPOINT_ID:
            return None
        with self._lock:
            return self._current([stack_id]).get(stack_id)

    def search(
        self,
        query: Node,
        *,
        sort: Sequence[SortKey] = (),
        offset: int = 0,
        limit: int = 10,
        fields: Sequence[str] | None = None,
    ) -> SearchResult:
        self._ensure()
        if not self._ready:
            return SearchResult(total=0)
        clauses = [_sort_clause(k) for k in sort] if sort else [{SCORE: {"order": "desc"}}]
        clauses.append({"k_id": {"order": "asc"}})
        body: dict[str, Any] = {
            "query": self._live_query(query),
            "sort": clauses,
            "from": offset,
            "size": limit,
            "track_total_hits": True,
            "track_scores": True,
            "version": True,
            "_source": ["hs_doc." + f for f in fields] if fields is not None else ["hs_doc"],
        }
        raw = self._call(self.client.search, index=self.search_alias, body=body)
        hits = []
        for h in raw["hits"]["hits"]:
            version, _ = _decode_version(int(h.get("_version", 0)))
            source = h.get("_source", {}).get("hs_doc", {})
            if fields is not None:
                source = {f: source[f] for f in fields if f in source}
            hits.append(Hit(id=h["_id"], score=float(h.get("_score") or 0.0), version=version,
                            source=source))
        total = int(raw["hits"]["total"]["value"])
        max_score = raw["hits"].get("max_score")  # over every match (track_scores), any page
        return SearchResult(
            total=total, hits=hits, max_score=None if max_score is None else float(max_score)
        )

    def count(self, query: Node) -> int:
        self._ensure()
        if not self._ready:
            return 0
        raw = self._call(
            self.client.count, index=self.search_alias, body={"query": self._live_query(query)}
        )
        return int(raw["count"])

    def count_distinct(self, query: Node, field: str, at_most: int | None = None) -> int:
        """Exact: a composite aggregation paged to the end (a ``cardinality`` aggregation is
        approximate, and a terms aggregation stops at ``search.max_buckets``); with ``at_most``,
        paged only until more than that many are counted (``min(exact, at_most + 1)``)."""
        name, kind = F.resolve(field)
        if kind == "dynamic":
            raise EngineError(f"cannot aggregate on {field!r}")
        self._ensure()
        if not self._ready:
            return 0
        bound = None if at_most is None else max(0, int(at_most)) + 1
        composite: dict[str, Any] = {
            "sources": [{"v": {"terms": {"field": _field_of(name, kind)}}}],
        }
        n = 0
        while bound is None or n < bound:
            # a page at most, and no more buckets than the bound still needs
            composite["size"] = DISTINCT_PAGE if bound is None else min(DISTINCT_PAGE, bound - n)
            raw = self._call(
                self.client.search,
                index=self.search_alias,
                body={"query": self._live_query(query), "size": 0,
                      "aggs": {"d": {"composite": composite}}},
            )
            agg = raw["aggregations"]["d"]
            n += len(agg["buckets"])
            after = agg.get("after_key")
            if len(agg["buckets"]) < composite["size"] or not after:
                break
            composite["after"] = after
        return n if bound is None else min(n, bound)

    def aggregate(self, query: Node, aggs: dict[str, TermsAgg]) -> dict[str, list[tuple[str, int]]]:
        result: dict[str, list[tuple[str, int]]] = {name: [] for name in aggs}
        wanted = {name: agg for name, agg in aggs.items() if agg.size > 0}
        self._ensure()
        if not wanted or not self._ready:
            return result
        spec: dict[str, Any] = {}
        kinds = {}
        for i, (name, agg) in enumerate(wanted.items()):
            field, kind = F.resolve(agg.field)
            if kind == "dynamic":
                raise EngineError(f"cannot aggregate on {agg.field!r}")
            kinds[name] = kind
            spec[f"a{i}"] = {
                "terms": {
                    "field": _field_of(field, kind),
                    "size": agg.size,
                    "shard_size": max(10_000, agg.size),
                    "order": [{"_count": "desc"}, {"_key": "asc"}],
                }
            }
        raw = self._call(
            self.client.search,
            index=self.search_alias,
            body={"query": self._live_query(query), "size": 0, "aggs": spec},
        )
        for i, name in enumerate(wanted):
            buckets = []
            for b in raw["aggregations"][f"a{i}"]["buckets"]:
                key = b["key"]
                if kinds[name] == F.DATE:
                    key = str(datetime.fromtimestamp(int(key) / 1000, UTC))
                buckets.append((str(key), int(b["doc_count"])))
            buckets.sort(key=lambda kv: (-kv[1], kv[0]))
            result[name] = buckets[: wanted[name].size]
        return result

    def health(self) -> dict:
        info: dict[str, Any] = {"ok": False, "engine": self.name, "documents": None,
                                "index_prefix": self.prefix}
        try:
            cluster = self.client.cluster.health(params={"request_timeout": 5})
            info["cluster_status"] = cluster.get("status")
            gens = self._generations()
            live = [n for n, a in gens.items() if self.search_alias in a]
            info["generation"] = live[0] if live else None
            info["rebuilding"] = any(self.building_alias in a for a in gens.values())
            if live:
                info["documents"] = self.count(MatchAll())
            else:
                info["documents"] = 0
            info["ok"] = cluster.get("status") in ("green", "yellow")
        except Exception as exc:  # noqa: BLE001 - health never raises
            info["error"] = str(exc)
        return info

    def close(self) -> None:
        with self._lock:
            self._pending.clear()  # uncommitted writes are lost, as with every engine
        with contextlib.suppress(Exception):
            self.client.close()


class _Sender:
    """A reindex's bulk requests to one index, ``bulk_concurrency`` in flight at once (while this
    thread frames the next one). ``send`` raises the first failure of a request already sent.
    Leaving the ``with`` block waits for every request, so none still writes into an index that a
    failed rebuild then deletes: on a failure it first tells them to stop retrying (``cancel``),
    logs their own failures, and lets the first failure go on."""

    def __init__(self, engine: OpenSearchEngine, index: str):
        self.engine, self.index = engine, index
        self.limit = engine.bulk_concurrency
        self.pool = ThreadPoolExecutor(self.limit, thread_name_prefix="opensearch-bulk")
        self.flying: deque[Future] = deque()
        self.cancel = threading.Event()

    def send(self, run: list[Prepared]) -> None:
        while len(self.flying) >= self.limit:
            self.flying.popleft().result()
        pairs = [_pair(self.index, item) for item in run]
        self.flying.append(self.pool.submit(self.engine._send, pairs, [self.index] * len(pairs),
                                            False, self.cancel))  # fmt: skip

    def __enter__(self) -> _Sender:
        return self

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        if kind is not None:
            self.cancel.set()
        self.pool.shutdown(wait=True, cancel_futures=kind is not None)
        if kind is None:
            while self.flying:
                self.flying.popleft().result()
            return
        for future in self.flying:
            if not future.cancelled() and future.exception() is not None:
                LOG.warning("a bulk request of the failed rebuild of %s also failed: %s",
                            self.index, future.exception())  # fmt: skip


def prefix_for(key: str, base: str = "hs-test") -> str:
    """A valid, stable index prefix derived from ``key`` (tests: one per temporary directory)."""
    return f"{base}-{hashlib.sha1(key.encode()).hexdigest()[:12]}"  # noqa: S324 - a name, not a secret


__all__ = ["OpenSearchEngine", "index_body", "mapping", "prefix_for", "translate"]
