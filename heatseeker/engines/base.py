"""The engine contract: what every search engine behind heatseeker must do.

The conformance suite (``conformance/``) is its executable specification; every engine runs it
unchanged. Engines are plug-ins (``registry.py``): each is built from the configuration by
``from_conf`` and declares its name, its one-line description and its own options. Engines receive stack documents (plain dicts, see ``heatseeker/documents.py``) and query
trees (``heatseeker/query/tree.py``); they know nothing of Heat, notifications or HTTP.

Versions: every write carries an integer version. An engine applies an upsert only if its version is
greater than the version it holds for that id. A delete always applies and leaves a tombstone whose
version is the greater of its own and the one held; no later upsert, whatever its version, brings a
tombstoned id back (Heat never reuses a stack id, and DELETE_COMPLETE is final: a delete can be
observed "before" a read that raced it, and must still win). Tombstones are
never returned by ``search``/``count``/``aggregate``; ``get`` returns None for them.

Scope: engines never add tenant filters themselves; ``heatseeker/query/scope.py`` wraps every tree
before it reaches an engine. So nothing an engine answers for a scoped tree may depend on documents
the scope excludes: not the hits, totals, counts or buckets, nor the scores, their order,
``max_score``, an error or a limit. The conformance suite holds every engine to it
(``test_noninterference``: two indexes that differ only in other projects' stacks).

Scores are coordination scores, computed from the document and the query alone (no collection
statistic such as BM25's document frequency, document count or average length: those are
index-wide, and a filter restricts hits, not statistics). Every leaf scores 1 when it matches but a
Text on an analysed field (a text field or the full text), which scores 1 per distinct analysed
word the document holds (for an ``and`` Text: all of them); a Phrase scores 1; a bool sums its must
clauses and its matching should clauses, filter clauses score 0, must_not nothing; a bool without
clauses scores 1. Engines agree exactly (``conformance.reference.score`` is the reference). ``max_score`` is the
best score of all matches, whatever the sort and page (None without matches or when ``limit`` is 0).

Ranges on keyword, text (exact form) and dynamic values compare code points (UTF-8 byte order) and
cost nothing that grows with what else the index holds beyond the terms in the range; an engine
may refuse a bound it cannot search (``QueryError``, a 400) only for a reason that depends on the
bound itself.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from heatseeker.query.tree import Node, SearchResult, SortKey, TermsAgg


class EngineError(Exception):
    """The engine failed (I/O, corrupt index, unreachable cluster)."""


def is_panic(exc: BaseException) -> bool:
    """A panic inside a native engine library: tantivy-py raises pyo3's ``PanicException``, which
    derives from ``BaseException`` so that ``except Exception`` lets it through. Whoever answers
    a request or a health check treats it as an :class:`EngineError`, never as a crash."""
    return type(exc).__name__ == "PanicException"


class SchemaMismatch(EngineError):
    """The index on disk was written by another schema version: run ``heatseeker reindex``."""


class WriterBusy(EngineError):
    """Another process holds the index writer (the embedded engine allows one writer)."""


class OneHostOnly(EngineError):
    """The configured engine serves one host, but the record is on a server (shared by hosts)."""


@dataclass
class WriteResult:
    applied: int = 0  # writes that changed the index
    ignored: int = 0  # writes refused because their version was not newer (or the id is a tombstone)


class Engine(abc.ABC):
    name: ClassVar[str] = "?"  # its [engine] backend value
    # several hosts may write and read the one index (listeners, syncs and APIs anywhere, with the
    # record on a database server); False: the index lives on one host (``OneHostOnly``)
    shared: ClassVar[bool] = False
    description: ClassVar[str] = ""  # one line: what choosing it means (the option's help)
    options: ClassVar[Sequence[Any]] = ()  # its own oslo.config options, in the group [<name>]
    # the query node types it translates (the keys of its dispatch table): the conformance suite
    # fails when a node type of query/tree.py is missing
    node_types: ClassVar[frozenset[type]] = frozenset()

    @classmethod
    @abc.abstractmethod
    def from_conf(cls, conf: Any, *, read_only: bool = False) -> Engine:
        """The engine the configuration ``conf`` (oslo.config, every option registered) describes.

        ``read_only``: the caller only reads (search, API, status); an engine may then skip what
        only writers need (locks, creating the index) but must still check its schema version.
        """

    # -- checking the index ------------------------------------------------------------------------
    # Every engine records the schema version of its index when it creates it and raises
    # SchemaMismatch when an index it opens was written by another one (``heatseeker reindex``
    # rebuilds it).

    # -- writing -------------------------------------------------------------------------------

    @abc.abstractmethod
    def upsert(self, items: Iterable[tuple[dict, int]]) -> WriteResult:
        """Index ``(document, version)`` pairs; ``document["id"]`` is the key."""

    @abc.abstractmethod
    def delete(self, items: Iterable[tuple[str, int]]) -> WriteResult:
        """Tombstone ``(id, version)`` pairs (ids never seen before get a tombstone too)."""

    @abc.abstractmethod
    def commit(self, checkpoint: int | None = None) -> None:
        """Make every write so far durable and visible to searches (in this and other processes).

        ``checkpoint``: the store sequence these writes bring the index up to, made durable
        atomically with them (see ``heatseeker/record/store.py``: the index is a projection of the store).
        """

    @abc.abstractmethod
    def checkpoint(self) -> int:
        """The checkpoint of the last commit that gave one (0 for a new index)."""

    @abc.abstractmethod
    def rebuild(
        self, items: Iterable[tuple[dict | None, str, int]], checkpoint: int | None = None
    ) -> int:
        """Replace the whole index with ``(document or None for a tombstone, id, version)`` items,
        and set its checkpoint.

        Searches keep answering from the old index until the new one is complete; then it is
        swapped in atomically. Returns the number of items written.
        """

    #: A picklable function (module level) that turns one ``rebuild`` item into what
    #: ``rebuild_prepared`` takes, for an engine whose documents cost enough CPU to prepare that
    #: a rebuild prepares them in other processes (projection.py); None: ``rebuild`` only.
    preparer: Callable[[tuple[dict | None, str, int]], Any] | None = None
    #: How much lower the CPU priority (``os.nice``) of the worker processes that run
    #: ``preparer`` is than the rebuild's own process: an engine whose rebuild queues what that
    #: process adds (tantivy) wants them to yield to it.
    preparer_nice: ClassVar[int] = 0

    def rebuild_prepared(self, prepared: Iterable[Any], checkpoint: int | None = None) -> int:
        """``rebuild`` with items already turned into the engine's form by ``preparer``."""
        raise NotImplementedError(f"{type(self).__name__} has no preparer")

    # -- reading -------------------------------------------------------------------------------

    @abc.abstractmethod
    def get(self, stack_id: str) -> tuple[dict, int] | None:
        """The live document and its version, or None (unknown or tombstoned)."""

    @abc.abstractmethod
    def get_version(self, stack_id: str) -> tuple[int, bool] | None:
        """``(version, is_tombstone)`` or None if the engine never saw this id."""

    @abc.abstractmethod
    def search(
        self,
        query: Node,
        *,
        sort: Sequence[SortKey] = (),
        offset: int = 0,
        limit: int = 10,
        fields: Sequence[str] | None = None,
    ) -> SearchResult:
        """Matching live documents. Without ``sort``, by score (best first, ties by id).

        ``fields`` limits each hit's source to those top-level keys (None: the whole document).
        ``total`` is the exact number of matches.
        """

    @abc.abstractmethod
    def count(self, query: Node) -> int:
        ...

    @abc.abstractmethod
    def count_distinct(self, query: Node, field: str, at_most: int | None = None) -> int:
        """How many distinct values of the keyword ``field`` the documents matching ``query``
        hold (the roll-up counts root stacks this way: ``root_id``): exactly when ``at_most`` is
        None; else ``min(exact, at_most + 1)``, so that an engine may stop counting past the
        bound (the roll-up's total is exact up to ``searcher.ROLLUP_TOTAL_BOUND``, as
        Elasticsearch's ``track_total_hits``)."""

    @abc.abstractmethod
    def aggregate(self, query: Node, aggs: dict[str, TermsAgg]) -> dict[str, list[tuple[str, int]]]:
        """For each named terms aggregation: ``[(value, doc_count), …]``, most documents first,
        ties by value, at most ``size`` entries, over the documents matching ``query``."""

    @abc.abstractmethod
    def health(self) -> dict:
        """``{"ok": bool, "engine": name, "documents": n, …}``; never raises."""

    def close(self) -> None:  # noqa: B027 - optional hook
        pass
