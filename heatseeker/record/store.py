"""heatseeker's durable record: the latest document, version and tombstone of every stack, their
history, dead letters, meta (checkpoints, the installation's secret) and web UI sessions.

The record is a SQL database reached through SQLAlchemy and oslo.db (``record/database.py``):
the embedded SQLite file ``data_dir/state.sqlite`` by default, MySQL/MariaDB (a Galera cluster)
in production. The search index is a *projection* of it: every change gets a sequence number,
the engine remembers the last sequence it reflects (its checkpoint), so a crash between a record
commit and an index commit loses nothing; versions make a replay idempotent.

Rules, enforced by the database in one transaction per batch (any number of writers, on any
number of hosts; no table lock, no lock inside a process as the guard):

* an upsert applies only if its version is greater than the version held: a conditional write
  (``UPDATE … WHERE deleted = 0 AND version < :v``; a new stack is an INSERT, and the primary key
  makes a concurrent INSERT of the same stack fail, after which the conditional UPDATE decides);
  on SQLite the same condition is one ``INSERT … ON CONFLICT DO UPDATE … WHERE``;
* a tombstone always applies unless the stack is one already (``WHERE deleted = 0``), keeps the
  greater version, and no later upsert brings the stack back (its condition wants
  ``deleted = 0``);
* history: an applied upsert whose *content* (``diff.digest``) differs from the stack's latest
  revision adds a revision in the same transaction, so a revision is durable exactly when the
  change is. A state-only change is no revision. A revision taken while an action was in progress
  is provisional: the next write of the same action amends it in place. The first appearance is
  revision 1. Retention (``HistoryPolicy``) never drops a stack's last revision. ``(stack_id,
  rev)`` is the primary key: two writers can never both add revision n.

**The change sequence, and why a projector can trust it.** A projector (possibly on another host)
reads "the changes after my checkpoint N" and moves its checkpoint to the greatest sequence it
read. If sequence numbers were handed out when a transaction *starts* (an autoincrement, or
``MAX(seq) + 1``), a transaction could take 10, commit after another one took 11, and a
projector that read 11 meanwhile would never see 10 (InnoDB and Galera commit in any order; Galera
even steps autoincrements by the cluster size). So the sequence is a counter row
(``record_sequence``) that each writer increments as the *last* statement before its commit:
its row lock (on one server) or Galera's certification (across nodes: the second writer is
aborted as a deadlock and retried) orders the writers, and a writer takes its numbers only once
every writer before it has committed. Sequence order is commit order; any snapshot a reader
takes holds every change up to some sequence and none after it. The rows a batch wrote before
(locked by it, invisible to others) then get their numbers. Cost: writers queue only for that
last statement, and on Galera concurrent writers on different nodes retry (the usual OpenStack
set-up writes to one node at a time). A safety window re-read by projectors was the other
choice; it needs a bound on transaction time and clocks, this needs neither.

Transactions run at READ COMMITTED on MySQL (a statement sees what others committed, so the
stack's latest revision is read after its row is locked) and ``BEGIN IMMEDIATE`` on SQLite.
A batch whose ``prepare`` reads the record (the indexer's: links.py) is *exclusive*: on MySQL it
takes the sequence row's lock as its first statement, so no writer commits between what
``prepare`` read and its commit, as on SQLite. Otherwise a creator and its child written at the
same instant on two hosts would each miss the other (uncommitted) and stay unlinked. Cost: such
writers queue for their whole transaction (milliseconds; the Heat reads before it still run in
parallel); batches without ``prepare`` (sessions, dead letters, ``db copy``) still overlap. A
deadlock (InnoDB, or a Galera certification failure) retries the whole transaction through
``oslo_db.api.wrap_db_retry``; ``prepare`` (links.py) is then run again. A lost or refused
connection is ``RecordUnavailable``, never an empty answer.

Documents arrive already masked (``documents.py``): no hidden parameter value is ever written here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from oslo_db import api as db_api
from oslo_db import exception as db_exc
from sqlalchemy.dialects import mysql as mysql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from heatseeker import diff
from heatseeker.record import contents as parts_of
from heatseeker.record import database, migrate
from heatseeker.record.database import STATE_FILE, RecordError, RecordUnavailable
from heatseeker.record.models import (
    contents,
    dead_letters,
    meta,
    revisions,
    stack_events,
    stacks,
    ui_sessions,
)

__all__ = ["STATE_FILE", "Change", "HistoryPolicy", "Record", "RecordUnavailable", "Revision",
           "Store"]


@dataclass(frozen=True)
class Change:
    """One write: a document (upsert) or ``doc=None`` (tombstone)."""

    id: str
    version: int
    doc: dict | None = None
    # who and what caused it (a notification's context; None for a read by `sync`)
    request_id: str | None = None
    user_id: str | None = None
    user_name: str | None = None
    # file name -> content digest (None: not known, e.g. a state-only change; the latest
    # revision's digests then stand)
    file_digests: Mapping[str, str | None] | None = None
    # what the stack passes down to its nested stacks (``secrets.summary``: names, never values;
    # kept with the record, never indexed; None: keep the record's)
    taint: Mapping | None = None
    # the region of the Heat the change comes from (a document's own ``region`` wins); None: any.
    # A change never replaces a stack another region holds (the record refuses it)
    region: str | None = None

    @property
    def is_tombstone(self) -> bool:
        return self.doc is None


@dataclass(frozen=True)
class HistoryPolicy:
    """``[history]``: whether revisions are kept, and for how long (0: no limit)."""

    enabled: bool = True
    max_revisions: int = 100
    max_age_days: float = 365.0
    compress: bool = True


@dataclass(frozen=True)
class Revision:
    stack_id: str
    rev: int
    at_us: int  # the version of the document (when Heat's state was read or notified)
    project_id: str | None
    action: str | None
    status: str | None
    user_id: str | None
    user_name: str | None
    request_id: str | None
    digest: str
    doc: dict | None = None  # the masked document as it was (None when not asked for)
    file_digests: dict = field(default_factory=dict)

    def summary(self) -> dict:
        return {
            "revision": self.rev,
            "at_us": self.at_us,
            "project_id": self.project_id,
            "action": self.action,
            "status": self.status,
            "user_id": self.user_id,
            "user_name": self.user_name,
            "request_id": self.request_id,
        }


@dataclass(frozen=True)
class Noted:
    """What one of Heat's notifications said about a stack: an action's start or end and the
    state it named (never its reason: it may hold a secret place's value). History reads these
    beside the revisions to mark the states it never observed (history/service.py)."""
    stack_id: str
    at_us: int  # the notification's timestamp
    action: str
    phase: str  # start | end | error
    status: str | None
    request_id: str | None = None
    # a finished action whose state a read showed (the read's start, the change's version); None
    # when no read did: a later event of the batch came first, or the read's change lost
    observed_us: int | None = None
    observed_digest: str | None = None  # the content that read showed (set by ``apply``)

    def summary(self) -> dict:
        return {"action": self.action, "phase": self.phase, "status": self.status,
                "at_us": self.at_us, "request_id": self.request_id}


# zlib level 1: measured (bench/history.py) ~3.6x smaller than the JSON, against ~3.9x at level 6
# for about half the CPU time
ZLIB_LEVEL = 1
# contents above which sweep_contents goes shard by shard (its memory: the digests of one shard;
# ~5 distinct parts per stack of unique content, so about 50,000 such stacks)
SWEEP_SHARD = 250_000
# a read whose row names a content swept meanwhile is made again (Store._records), at most so often
CONTENT_READ_ATTEMPTS = 3
# with history off, what notifications said is kept this long (newest_events: batches in flight)
NOTED_WITHOUT_HISTORY_US = 3600 * 1_000_000


def _pack(doc_json: str, compress: bool) -> bytes:
    """A revision body: the document's JSON as the stacks row holds it (no second encoding)."""
    raw = doc_json.encode()
    return b"z" + zlib.compress(raw, ZLIB_LEVEL) if compress else b"j" + raw


def _unpack(blob: bytes) -> dict:
    blob = bytes(blob)
    raw = zlib.decompress(blob[1:]) if blob[:1] == b"z" else blob[1:]
    doc = json.loads(raw)
    if isinstance(doc, dict) and set(doc) == {"doc", "file_digests"}:
        return doc["doc"]  # the first format (a day old): {"doc", "file_digests"}
    return doc


@dataclass(frozen=True)
class _Split:
    """An upsert's document as the record writes it: the whole (history's digest reads it), the
    skeleton's JSON and its parts' map (record/contents.py)."""

    doc: dict
    skeleton: str
    parts: str | None


@dataclass(frozen=True)
class Record:
    id: str
    version: int
    deleted: bool
    seq: int
    doc: dict | None
    project_id: str | None = None
    name: str | None = None
    taint: dict | None = None  # Change.taint


# a deadlock (InnoDB) or a certification failure (Galera) retries the whole transaction; a lock
# wait that timed out ([database] lock_wait_timeout) is not retried: database.unavailable_as_error
# makes it RecordUnavailable inside the attempt (the listener requeues, with backoff)
_retry = db_api.wrap_db_retry(max_retries=10, retry_interval=0.05, inc_retry_interval=True,
                              max_retry_interval=1.0, retry_on_deadlock=True)

_COLS = (stacks.c.id, stacks.c.version, stacks.c.deleted, stacks.c.seq, stacks.c.doc,
         stacks.c.project_id, stacks.c.name, stacks.c.taint, stacks.c.parts)
_REV_COLS = (revisions.c.stack_id, revisions.c.rev, revisions.c.at_us, revisions.c.project_id,
             revisions.c.action, revisions.c.status, revisions.c.user_id, revisions.c.user_name,
             revisions.c.request_id, revisions.c.digest, revisions.c.files, revisions.c.parts)


_STACK_COLS = "id, version, deleted, seq, doc, project_id, name, taint, parts"


# A stack id is one region's: a write from another region never replaces it (a row from before
# regions, or a change that names none, matches any region). docs/design.md "Regions".
_SAME_REGION = "(stacks.region IS NULL OR :region IS NULL OR stacks.region = :region)"
_SAME_REGION_MY = "(region IS NULL OR :region IS NULL OR region = :region)"


def _statements(dialect: str) -> dict[str, sa.TextClause]:
    """The statements of the hot paths (apply, get, changes_since), as text prepared once: the
    SQL of the rules, per database, and no expression building per call (measured 10x slower)."""
    sql = {
        "last_revision": "SELECT rev, status, action, digest, files, user_id, user_name, request_id,"
                         " parts FROM revisions WHERE stack_id = :sid ORDER BY rev DESC LIMIT 1",
        "add_revision": "INSERT INTO revisions (stack_id, rev, at_us, recorded_at, project_id, action,"
                        " status, user_id, user_name, request_id, digest, files, body, parts) VALUES"
                        " (:sid, :rev, :at_us, :now, :project_id, :action, :status, :user_id,"
                        " :user_name, :request_id, :digest, :files, :body, :parts)",
        "amend_revision": "UPDATE revisions SET at_us = :at_us, recorded_at = :now, project_id ="
                          " :project_id, action = :action, status = :status, user_id = :user_id,"
                          " user_name = :user_name, request_id = :request_id, digest = :digest,"
                          " files = :files, body = :body, parts = :parts WHERE stack_id = :sid AND rev = :rev",
        "take_numbers": "UPDATE record_sequence SET value = value + :n WHERE name = 'changes'",
        # the same row's lock, taken first by a batch whose prepare reads the record (links)
        "lock_sequence": "UPDATE record_sequence SET value = value WHERE name = 'changes'",
        "last_number": "SELECT value FROM record_sequence WHERE name = 'changes'",
        "number": "UPDATE stacks SET seq = :seq WHERE id = :id",
        "get": f"SELECT {_STACK_COLS} FROM stacks WHERE id = :id",
        "get_many": f"SELECT {_STACK_COLS} FROM stacks WHERE id IN :ids",
        "changes_since": f"SELECT {_STACK_COLS} FROM stacks WHERE seq > :seq ORDER BY seq LIMIT :n",
        "changes_between": f"SELECT {_STACK_COLS} FROM stacks WHERE seq > :lo AND seq <= :hi"
                           " ORDER BY seq",
        # every n-th sequence number up to a bound: where a parallel reindex cuts its chunks
        "seq_marks": "SELECT seq FROM (SELECT seq, ROW_NUMBER() OVER (ORDER BY seq) AS rn FROM"
                     " stacks WHERE seq > 0 AND seq <= :upto) marked WHERE"
                     + (" rn % :n = 0" if dialect == "sqlite" else " MOD(rn, :n) = 0") + " ORDER BY seq",
        "max_seq": "SELECT COALESCE(MAX(seq), 0) FROM stacks",
    }
    if dialect == "sqlite":
        # one conditional write per change: the row's own condition decides (rowcount 0: not applied)
        sql["put_document"] = (
            "INSERT INTO stacks (id, project_id, name, version, deleted, seq, doc, changed_at, taint,"
            " region, parts) VALUES (:id, :project_id, :name, :version, 0, 0, :doc, :now, :taint,"
            " :region, :parts)"
            " ON CONFLICT(id) DO UPDATE SET project_id = excluded.project_id, name = excluded.name,"
            " version = excluded.version, deleted = 0, doc = excluded.doc, parts = excluded.parts,"
            " changed_at = excluded.changed_at, taint = COALESCE(excluded.taint, stacks.taint),"
            " region = COALESCE(excluded.region, stacks.region)"
            f" WHERE stacks.deleted = 0 AND stacks.version < excluded.version AND {_SAME_REGION}")
        sql["put_tombstone"] = (
            "INSERT INTO stacks (id, project_id, name, version, deleted, seq, doc, changed_at, region)"
            " VALUES (:id, NULL, NULL, :version, 1, 0, NULL, :now, :region)"
            " ON CONFLICT(id) DO UPDATE SET version = MAX(stacks.version, excluded.version),"
            " deleted = 1, doc = NULL, parts = NULL, changed_at = excluded.changed_at, taint = NULL"
            f" WHERE stacks.deleted = 0 AND {_SAME_REGION}")
    else:
        # the conditional UPDATE of the row, else the INSERT of a new one (_conditional)
        sql["update_document"] = (
            "UPDATE stacks SET project_id = :project_id, name = :name, version = :version,"
            " deleted = 0, doc = :doc, parts = :parts, changed_at = :now,"
            " taint = COALESCE(:taint, taint),"
            " region = COALESCE(:region, region)"
            f" WHERE id = :id AND deleted = 0 AND version < :version AND {_SAME_REGION_MY}")
        sql["insert_document"] = (
            "INSERT INTO stacks (id, project_id, name, version, deleted, seq, doc, changed_at, taint,"
            " region, parts) VALUES (:id, :project_id, :name, :version, 0, 0, :doc, :now, :taint,"
            " :region, :parts)")
        sql["update_tombstone"] = (
            "UPDATE stacks SET version = GREATEST(version, :version), deleted = 1, doc = NULL,"
            " parts = NULL,"
            f" changed_at = :now, taint = NULL WHERE id = :id AND deleted = 0 AND {_SAME_REGION_MY}")
        sql["insert_tombstone"] = (
            "INSERT INTO stacks (id, version, deleted, seq, changed_at, region)"
            " VALUES (:id, :version, 1, 0, :now, :region)")
    out = {k: sa.text(v) for k, v in sql.items()}
    out["get_many"] = out["get_many"].bindparams(sa.bindparam("ids", expanding=True))
    return out


def _driver_sql(statements: Mapping[str, sa.TextClause]) -> dict[str, str]:
    """The same statements as the DBAPI runs them on SQLite: sqlite3 takes ``:name`` parameters
    itself (``get_many``'s expanding list stays with SQLAlchemy)."""
    return {k: str(v) for k, v in statements.items() if k != "get_many"}


class Store:
    @classmethod
    def from_conf(cls, conf, *, create: bool = False) -> Store:
        """The record of an installation: ``[database] connection`` (default: ``[DEFAULT]
        data_dir``/state.sqlite) with ``[history]``. ``create``: a writer (``sync``,
        ``listen``) may make and upgrade the embedded SQLite record; a reader never does."""
        h = conf.history
        policy = HistoryPolicy(enabled=h.enabled, max_revisions=h.max_revisions,
                               max_age_days=h.max_age_days, compress=h.compress)
        return cls(database.url_of(conf), policy, create=create, conf=conf)

    def __init__(self, path: str, history: HistoryPolicy | None = None, *, create: bool = True,
                 conf=None, contents_cache_bytes: int = parts_of.CACHE_BYTES):
        """``path``: a SQLite file or a database URL. ``contents_cache_bytes``: how much decoded
        content (record/contents.py) this process keeps for reuse."""
        self.url = database.as_url(path)
        self.path = database.sqlite_path(self.url)  # the SQLite file (None on a server)
        self.history = history or HistoryPolicy()
        self._local = threading.local()
        self._contents = parts_of.Cache(contents_cache_bytes)  # decoded (they never change)
        # a test's hook: called inside apply's transaction once the sequence is taken
        self._after_sequence: Callable[[], None] | None = None
        self._after_prepare: Callable[[], None] | None = None  # a test's pause
        if self.path is not None and not os.path.isfile(self.path):
            if not create:
                raise RecordUnavailable(
                    f"no record at {self.path}: run heatseeker sync (or heatseeker db upgrade) "
                    "first, or check [DEFAULT] data_dir and [database] connection")
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self.engine = database.open_engine(self.url, conf, wait=create)
        self.dialect = self.engine.dialect.name
        self._sql = _statements(self.dialect)
        # SQLite: the hot statements straight on the DBAPI cursor, the same SQL text; SQLAlchemy's
        # execution pipeline cost 3-5x the statement itself (profiled). MySQL keeps SQLAlchemy:
        # oslo.db's error translation (deadlocks, duplicate keys, lost connections) is needed there.
        self._raw = _driver_sql(self._sql) if self.dialect == "sqlite" else None
        beyond = (["rev <= :last - :keep"] if self.history.max_revisions > 0 else []) + (
            ["at_us < :cutoff"] if self.history.max_age_days > 0 else [])
        self._retain_sql = sa.text(
            "DELETE FROM revisions WHERE stack_id = :sid AND rev < :last AND "
            f"({' OR '.join(beyond)})") if beyond else None
        if self._raw is not None and self._retain_sql is not None:
            self._raw["retain"] = str(self._retain_sql)
        try:
            with database.unavailable_as_error(self.url):
                have, want = migrate.version(self.engine)
                if have != want and create and self.path is not None:
                    migrate.upgrade(self.engine)  # the embedded record needs no set-up
                else:
                    migrate.check(self.engine, self.url)
        except db_exc.DBError as exc:  # e.g. a file that is not a database
            self.engine.dispose()
            raise RecordUnavailable(f"the record at {database.redact(self.url)} cannot be used: "
                                    f"{exc.inner_exception or exc}") from exc
        except RecordUnavailable:
            self.engine.dispose()
            raise

    def close(self) -> None:
        self.engine.dispose()

    # -- connections -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sa.Connection]:
        """The write transaction this thread is in (``prepare`` reads through it), or a
        connection of the pool."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            yield conn
            return
        with database.unavailable_as_error(self.url), self.engine.connect() as conn:
            yield conn

    def _write(self, work: Callable[[sa.Connection], object]):
        """Run ``work(conn)`` in one write transaction, retried on a deadlock."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:  # already in this thread's transaction
            return work(conn)

        @_retry
        def attempt():
            with database.unavailable_as_error(self.url), self.engine.connect() as conn:
                conn.execution_options(**{database.WRITE: True})
                with conn.begin():
                    self._local.conn = conn
                    try:
                        return work(conn)
                    finally:
                        self._local.conn = None

        return attempt()

    def in_transaction(self) -> bool:
        """Whether this thread is inside one of the store's write transactions."""
        return getattr(self._local, "conn", None) is not None

    def _fetch(self, name: str, params=None, *, one: bool = False):
        """A hot read's rows (``one``: its first row or None), through the write transaction this
        thread is in, else a connection of the pool (on SQLite its DBAPI connection alone:
        SQLAlchemy's Connection around it cost as much as the query)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None or self._raw is None:
            with self._reading() as conn:
                cur = self._x(conn, name, params)
                return cur.fetchone() if one else cur.fetchall()
        sql = self._raw[name]
        with database.unavailable_as_error(self.url):
            try:
                raw = self.engine.raw_connection()  # back to the pool on close()
            except sqlite3.Error as exc:
                raise sa.exc.DBAPIError.instance(None, None, exc, sqlite3.Error) from exc
            try:
                cur = raw.cursor()
                cur.execute(sql, params if params is not None else {})
                return cur.fetchone() if one else cur.fetchall()
            except sqlite3.Error as exc:
                raise sa.exc.DBAPIError.instance(sql, params, exc, sqlite3.Error) from exc
            finally:
                raw.close()

    def _x(self, conn: sa.Connection, name: str, params=None, *, many: bool = False):
        """Execute the hot statement ``name`` (``_statements``) in ``conn``'s transaction: a
        result with ``rowcount``, ``fetchone()`` and ``fetchall()`` (plain tuples on SQLite).
        On SQLite on the DBAPI cursor of the same connection (its transaction, its BEGIN); an
        error is raised as SQLAlchemy's would be (``sa.exc.OperationalError``, …), which
        ``database.unavailable_as_error`` reads."""
        if self._raw is None:
            stmt = self._retain_sql if name == "retain" else self._sql[name]
            assert stmt is not None
            return conn.execute(stmt, params if params is not None else {})
        sql = self._raw[name]
        cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            if many:
                cur.executemany(sql, params)
            else:
                cur.execute(sql, params if params is not None else {})
        except sqlite3.Error as exc:
            raise sa.exc.DBAPIError.instance(sql, params, exc, sqlite3.Error) from exc
        return cur

    def _upsert(self, conn: sa.Connection, table: sa.Table, values: dict,
                update: Iterable[str] | None) -> None:
        """Insert a row, or set ``update``'s columns of the row with its key (None: keep it)."""
        keys = [c.name for c in table.primary_key.columns]
        cols = list(update) if update is not None else []
        if self.dialect == "sqlite":
            stmt = sqlite_dialect.insert(table).values(values)
            if cols:
                stmt = stmt.on_conflict_do_update(index_elements=keys,
                                                  set_={c: stmt.excluded[c] for c in cols})
            else:
                stmt = stmt.on_conflict_do_nothing(index_elements=keys)
            conn.execute(stmt)
            return
        my = mysql_dialect.insert(table).values(values)
        keep = {keys[0]: table.c[keys[0]]}  # a no-op update: keep the row as it is
        conn.execute(my.on_duplicate_key_update({c: my.inserted[c] for c in cols} if cols else keep))

    # -- writing -------------------------------------------------------------------------------

    def apply(
        self,
        changes: Iterable[Change],
        prepare: Callable[[list[Change]], list[Change]] | None = None,
        *,
        exclusive: bool | None = None,
        noted: Iterable[Noted] = (),
    ) -> list[bool]:
        """Apply changes in one durable transaction; returns, per change, whether it applied.

        ``noted``: what the notifications of the batch said (``Noted``), kept in the same
        transaction (a replay adds nothing: one row per stack, time, action and phase). Kept with
        history off too, for an hour (``NOTED_WITHOUT_HISTORY_US``): ``newest_events`` tells a
        batch whether another one already handled a newer event of its stacks.

        ``prepare`` (links.py) rewrites the changes inside the transaction, before they are
        written; what it reads of the store goes through the same transaction. ``exclusive``
        (by default: when there is a ``prepare``): no other writer commits between what
        ``prepare`` reads and this commit. On SQLite the write lock is held from the start
        anyway; on MySQL the batch then takes the sequence row's lock as its first statement.
        Without it, writers overlap and only the conditional writes order them: a creator and
        its child written at the same instant by two hosts would each miss the other, uncommitted,
        and stay unlinked (test_record_concurrency).
        """
        changes = list(changes)
        notes = list(noted)
        if not changes and not notes:
            return []
        if exclusive is None:
            exclusive = prepare is not None

        def work(conn: sa.Connection) -> list[bool]:
            self._local.digests = {}  # stack → the content digest this transaction recorded
            applied = self._apply(conn, changes, prepare, exclusive) if changes else []
            if notes:
                # a read whose change lost (a newer one was there) recorded nothing it observed
                digests = self._local.digests
                self._note(conn, [
                    dataclasses.replace(n, observed_digest=digests[n.stack_id])
                    if n.observed_us is not None and n.stack_id in digests
                    else dataclasses.replace(n, observed_us=None, observed_digest=None)
                    for n in notes])
            return applied

        return self._write(work)

    def _apply(self, conn: sa.Connection, changes: list[Change],
               prepare: Callable[[list[Change]], list[Change]] | None,
               exclusive: bool = False) -> list[bool]:
        now = time.time()
        if exclusive and self.dialect != "sqlite":
            self._x(conn, "lock_sequence", {})
        if prepare is not None:
            changes = prepare(changes)
        if self._after_prepare is not None:
            self._after_prepare()
        applied: list[bool] = []
        latest: dict[str, int] = {}  # stack → its latest revision, for retention
        split: dict[int, _Split] = {}  # each upsert's document, skeleton and parts
        texts: dict[str, str] = {}
        for i, ch in enumerate(changes):
            if ch.doc is not None:
                doc = dict(ch.doc, version=ch.version)
                skeleton, parts, part_texts = parts_of.split(doc)
                split[i] = _Split(doc, parts_of.dumps(skeleton),
                                  parts_of.dumps(parts) if parts else None)
                texts.update(part_texts)
        self._put_contents(conn, texts)  # first: a content a row names is always there
        for i, ch in enumerate(changes):
            if ch.is_tombstone:
                applied.append(self._put_tombstone(conn, ch, now))
                continue
            one = split[i]
            ok = self._put_document(conn, ch, one, now)
            if ok and self.history.enabled:
                latest[ch.id] = self._revise(conn, ch, one, now)
            applied.append(ok)
        for sid, last in sorted(latest.items()):
            self._retain(conn, sid, last)
        written = [ch.id for ch, ok in zip(changes, applied, strict=True) if ok]
        if written:
            self._number(conn, written)
        return applied

    def _note(self, conn: sa.Connection, notes: list[Noted]) -> None:
        """``apply``'s ``noted``, in one statement. One already kept stays as it is, except that a
        redelivered batch's read may supply the observation a failed one could not."""
        rows = [{"stack_id": n.stack_id, "at_us": n.at_us, "action": n.action, "phase": n.phase,
                 "status": n.status, "request_id": n.request_id, "observed_us": n.observed_us,
                 "observed_digest": n.observed_digest} for n in notes]
        kept, kept_digest = stack_events.c.observed_us, stack_events.c.observed_digest
        if not self.history.enabled:  # no gaps to mark: only the newest events matter
            c = stack_events.c
            conn.execute(sa.delete(stack_events).where(
                c.stack_id.in_(sorted({n.stack_id for n in notes})),
                c.at_us < min(n.at_us for n in notes) - NOTED_WITHOUT_HISTORY_US))
        if self.dialect == "sqlite":
            lite = sqlite_dialect.insert(stack_events).values(rows)
            conn.execute(lite.on_conflict_do_update(
                index_elements=["stack_id", "at_us", "action", "phase"],
                set_={"observed_us": sa.func.coalesce(kept, lite.excluded.observed_us),
                      "observed_digest": sa.func.coalesce(kept_digest, lite.excluded.observed_digest)}))
            return
        my = mysql_dialect.insert(stack_events).values(rows)
        # MySQL assigns left to right: the digest first, while observed_us is still the old one
        conn.execute(my.on_duplicate_key_update([
            ("observed_digest", sa.case((kept.is_(None), my.inserted.observed_digest),
                                        else_=kept_digest)),
            ("observed_us", sa.func.coalesce(kept, my.inserted.observed_us))]))

    def _put_contents(self, conn, texts: Mapping[str, str]) -> None:
        """Store the parts a batch's documents name that the record lacks (record/contents.py).
        On MySQL those it has are read with a shared lock: a concurrent ``sweep_contents`` cannot
        remove them before this transaction commits (it waits, or one of the two is retried as a
        deadlock). Digests in sorted order: two writers lock shared contents in the same order."""
        done: tuple[Any, set[str]] | None = getattr(self._local, "contents_put", None)
        if done is None or done[0] is not conn:  # the ones this transaction already put
            done = self._local.contents_put = (conn, set())
        texts = {d: t for d, t in texts.items() if d not in done[1]}
        if not texts:
            return
        done[1].update(texts)
        digests = sorted(texts)
        have: set[str] = set()
        for i in range(0, len(digests), 500):
            q = sa.select(contents.c.digest).where(contents.c.digest.in_(digests[i : i + 500]))
            if self.dialect != "sqlite":
                q = q.with_for_update(read=True)
            have.update(conn.execute(q).scalars())
        rows = [{"digest": d, "body": parts_of.pack(texts[d]), "size": len(texts[d])}
                for d in digests if d not in have]
        if not rows:
            return
        if self.dialect == "sqlite":
            conn.execute(sqlite_dialect.insert(contents).on_conflict_do_nothing(), rows)
        else:
            my = mysql_dialect.insert(contents)
            conn.execute(my.on_duplicate_key_update(digest=my.inserted.digest), rows)

    def _put_document(self, conn, ch: Change, one: _Split, now: float) -> bool:
        doc = one.doc
        values = {"id": ch.id, "project_id": doc.get("project_id"), "name": doc.get("name"),
                  "version": ch.version, "doc": one.skeleton, "parts": one.parts, "now": now,
                  "taint": json.dumps(ch.taint, sort_keys=True) if ch.taint is not None else None,
                  "region": doc.get("region") or ch.region}
        if self.dialect == "sqlite":
            return self._x(conn, "put_document", values).rowcount == 1
        return self._conditional(conn, "document", values)

    def _put_tombstone(self, conn, ch: Change, now: float) -> bool:
        values = {"id": ch.id, "version": ch.version, "now": now, "region": ch.region}
        if self.dialect == "sqlite":
            return self._x(conn, "put_tombstone", values).rowcount == 1
        return self._conditional(conn, "tombstone", values)

    def _conditional(self, conn, what: str, values: dict) -> bool:
        """The conditional UPDATE of an existing row, else the INSERT of a new one; a concurrent
        INSERT of the same key (the primary key refuses ours) → the UPDATE decides."""
        update = self._sql[f"update_{what}"]
        if conn.execute(update, values).rowcount == 1:
            return True
        try:
            # no savepoint: InnoDB undoes just the refused statement, and a deadlock here undoes
            # the whole transaction (savepoints included), which the retry then runs again
            conn.execute(self._sql[f"insert_{what}"], values)
            return True
        except db_exc.DBDuplicateEntry:
            return conn.execute(update, values).rowcount == 1

    def _number(self, conn, written: list[str]) -> None:
        """Give the batch's changes their sequence numbers, last, just before the commit (see the
        module docstring: sequence order is commit order)."""
        n = len(written)
        self._x(conn, "take_numbers", {"n": n})
        first = self._x(conn, "last_number").fetchone()[0] - n + 1
        self._x(conn, "number", [{"id": sid, "seq": first + i} for i, sid in enumerate(written)],
                many=True)
        if self._after_sequence is not None:
            self._after_sequence()

    # -- history ---------------------------------------------------------------------------------

    def _revise(self, conn, ch: Change, one: _Split, now: float) -> int:
        """Add (or amend) the stack's revision for an applied upsert, inside apply's transaction;
        returns the stack's latest revision number."""
        doc = one.doc
        last = self._x(conn, "last_revision", {"sid": ch.id}).fetchone()
        files = ch.file_digests
        if files is None:
            files = self._file_digests(last[4], last[8]) if last is not None else {}
        files = {k: files.get(k) for k in doc.get("files") or ()}
        digest = diff.digest(doc, files)
        digests = getattr(self._local, "digests", None)
        if digests is not None:
            digests[ch.id] = digest
        status, action = doc.get("status"), doc.get("action")
        provisional = (
            last is not None
            and isinstance(last[1], str)
            and last[1].endswith("_IN_PROGRESS")
            and last[2] == action
        )
        if last is not None and not provisional and last[3] == digest:
            return last[0]  # a state-only change: no revision
        if provisional and last[3] == digest and last[1] == status:
            return last[0]
        files_json, parts = (parts_of.dumps(files) if files else None), one.parts
        if files_json is not None and len(files_json) >= parts_of.PART_MIN:
            # a tree's stacks share their files, so their digests too: stored once
            d = parts_of.digest_of(files_json)
            self._put_contents(conn, {d: files_json})
            parts = parts_of.dumps({**(json.loads(parts) if parts else {}),
                                    parts_of.FILE_DIGESTS: d})
            files_json = None
        values = {"sid": ch.id, "at_us": ch.version, "now": now, "project_id": doc.get("project_id"),
                  "action": action, "status": status, "digest": digest, "files": files_json,
                  "body": _pack(one.skeleton, self.history.compress), "parts": parts}
        if provisional:
            assert last is not None
            self._x(conn, "amend_revision", dict(
                values, rev=last[0], user_id=ch.user_id or last[5],
                user_name=ch.user_name or last[6], request_id=ch.request_id or last[7]))
            return last[0]
        rev = (last[0] if last else 0) + 1
        self._x(conn, "add_revision", dict(
            values, rev=rev, user_id=ch.user_id, user_name=ch.user_name, request_id=ch.request_id))
        return rev

    def _retain(self, conn, sid: str, last: int) -> int:
        """Drop the stack's revisions beyond the policy; never ``last``, its latest."""
        policy = self.history
        if self._retain_sql is None:
            return 0
        cutoff = (time.time() - policy.max_age_days * 86400) * 1_000_000
        return self._x(conn, "retain", {"sid": sid, "last": last, "cutoff": cutoff,
                                        "keep": policy.max_revisions}).rowcount

    def prune_revisions(self) -> int:
        """Apply the retention policy to every stack (``sync`` runs it); returns how many
        revisions were dropped. A stack's last revision always stays."""
        if not self.history.enabled:
            return 0
        policy = self.history
        latest = "(SELECT MAX(r2.rev) FROM revisions r2 WHERE r2.stack_id = revisions.stack_id)"

        def work(conn) -> int:
            dropped = 0
            if policy.max_revisions > 0:
                dropped += conn.execute(sa.text(
                    f"DELETE FROM revisions WHERE rev <= {latest} - :n"),
                    {"n": policy.max_revisions}).rowcount
            if policy.max_age_days > 0:
                cutoff = (time.time() - policy.max_age_days * 86400) * 1_000_000
                dropped += conn.execute(sa.text(
                    f"DELETE FROM revisions WHERE at_us < :cutoff AND rev < {latest}"),
                    {"cutoff": cutoff}).rowcount
            # what notifications said before a stack's oldest kept revision no longer marks a
            # gap once older revisions were dropped. Before revision 1 it still does (a create
            # the listener read only after the next action began): those notes stay.
            conn.execute(sa.text(
                "DELETE FROM stack_events WHERE at_us < (SELECT MIN(r.at_us) FROM revisions r"
                " WHERE r.stack_id = stack_events.stack_id) AND (SELECT MIN(r.rev) FROM"
                " revisions r WHERE r.stack_id = stack_events.stack_id) > 1"))
            return dropped

        return self._write(work)

    def sweep_contents(self) -> int:
        """Remove the contents no stack row and no revision names any more (a template replaced,
        a stack deleted, its revisions dropped by retention); returns how many. ``reconcile``
        (sync, the listener's) runs it after ``prune_revisions``.

        Two steps, so that the long scan holds no lock: (1) without a transaction, the contents
        that no row names; (2) in one write transaction that first takes a sequence number (a
        real write of the counter row: every writer takes one before its commit, so on one
        server they queue behind this transaction, and on Galera one of two concurrent ones fails
        certification and is retried), the rows written since step 1 (``seq`` above the one it
        began at, and their stacks' revisions) are read again, and what is still named by none
        is deleted. A writer that reused a content read it with a shared lock (``_put_contents``):
        the deletion waits for it, or one of the two is retried as a deadlock. A number taken
        here names no row: the sequence then has a gap, which projectors do not mind.

        A record of more than ``SWEEP_SHARD`` contents is swept by the first hex digit of the
        digests, one shard after the other: the digests held in memory are one shard's."""
        with self._reading() as conn:
            n = conn.execute(sa.select(sa.func.count()).select_from(contents)).scalar_one()
        return sum(self._sweep(prefix) for prefix in
                   ([""] if n <= SWEEP_SHARD else "0123456789abcdef"))

    def _sweep(self, prefix: str) -> int:
        """``sweep_contents`` of the digests that begin with ``prefix``."""
        since = self.max_seq()
        q = sa.select(contents.c.digest)
        if prefix:
            q = q.where(contents.c.digest.like(prefix + "%"))
        with self._reading() as conn:
            named = self._named_contents(conn, None, prefix)
            unnamed = [d for d in conn.execute(q).scalars() if d not in named]
        if not unnamed:
            return 0

        def work(conn) -> int:
            self._x(conn, "take_numbers", {"n": 1})
            renamed = self._named_contents(conn, since, prefix)
            gone = sorted(d for d in unnamed if d not in renamed)
            for i in range(0, len(gone), 500):
                conn.execute(sa.delete(contents).where(contents.c.digest.in_(gone[i : i + 500])))
            return len(gone)

        return self._write(work)

    @staticmethod
    def _named_contents(conn, since: int | None, prefix: str = "") -> set[str]:
        """Every digest (beginning with ``prefix``) a stack row or a revision names (``since``:
        only the stacks written after that sequence number, and their revisions)."""
        named: set[str] = set()
        rows = sa.select(stacks.c.parts).where(stacks.c.parts.is_not(None))
        revs = sa.select(revisions.c.parts).where(revisions.c.parts.is_not(None))
        if since is not None:
            rows = rows.where(stacks.c.seq > since)
            revs = revs.where(revisions.c.stack_id.in_(
                sa.select(stacks.c.id).where(stacks.c.seq > since)))
        for q in (rows, revs):
            for (parts,) in conn.execute(q):
                named.update(d for d in json.loads(parts).values() if d.startswith(prefix))
        return named

    def contents_size(self) -> dict:
        """How many contents, their bytes stored (compressed) and their JSON's."""
        with self._reading() as conn:
            n, stored, raw = conn.execute(sa.select(
                sa.func.count(), sa.func.coalesce(sa.func.sum(sa.func.length(contents.c.body)), 0),
                sa.func.coalesce(sa.func.sum(contents.c.size), 0))).one()
        return {"contents": int(n), "body_bytes": int(stored), "json_bytes": int(raw)}

    def _file_digests(self, files: str | None, parts: str | None) -> dict:
        """A revision's file name → digest: its ``files`` column, or the content its ``parts``
        name for them (``contents.FILE_DIGESTS``)."""
        if files:
            return json.loads(files)
        d = json.loads(parts).get(parts_of.FILE_DIGESTS) if parts else None
        if d is None:
            return {}
        return json.loads(self._contents.texts([d], self._fetch_contents)[d])

    def _revision(self, row, with_doc: bool = True) -> Revision:
        """A revision from a row of ``_REV_COLS`` (then ``body`` when ``with_doc``)."""
        doc = None
        try:
            if with_doc:
                doc = self._whole(_unpack(row[12]), row[11])
            file_digests = self._file_digests(row[10], row[11])
        except LookupError as exc:  # its revision was dropped meanwhile (retention)
            raise RecordError(f"revision {row[1]} of stack {row[0]}: {exc}") from exc
        return Revision(
            stack_id=row[0], rev=row[1], at_us=row[2], project_id=row[3], action=row[4],
            status=row[5], user_id=row[6], user_name=row[7], request_id=row[8], digest=row[9],
            doc=doc, file_digests=file_digests,
        )

    def revisions(self, stack_id: str, *, with_docs: bool = False) -> list[Revision]:
        """A stack's revisions, oldest first."""
        cols = _REV_COLS + ((revisions.c.body,) if with_docs else ())
        with self._reading() as conn:
            rows = conn.execute(sa.select(*cols).where(revisions.c.stack_id == stack_id)
                                .order_by(revisions.c.rev)).all()
        return [self._revision(r, with_docs) for r in rows]

    def label_region(self, region: str, batch: int = 1000) -> int:
        """Label the stacks recorded before regions (``stacks.region`` NULL, migration 0004) with
        the installation's one region, in their documents too, without reading Heat; each
        labelled document gets a new sequence number (``heatseeker reindex`` then rebuilds the
        index with the new field). Returns how many live documents were labelled."""
        c = stacks.c
        labelled = 0
        while True:
            def work(conn: sa.Connection) -> tuple[int, int]:
                rows = conn.execute(sa.select(c.id, c.doc).where(c.region.is_(None))
                                    .order_by(c.id).limit(batch)).all()
                live = []
                for sid, doc_json in rows:
                    values: dict[str, Any] = {"id": sid, "region": region}
                    if doc_json:
                        doc = json.loads(doc_json)
                        doc["region"] = region
                        values["doc"] = json.dumps(doc, sort_keys=True, ensure_ascii=False)
                        live.append(sid)
                    conn.execute(sa.update(stacks).where(c.id == sid).values(
                        {k: v for k, v in values.items() if k != "id"}))
                if live:
                    self._number(conn, live)
                return len(rows), len(live)

            seen, live = self._write(work)
            labelled += live
            if seen < batch:
                return labelled

    def versions(self, stack_ids: Iterable[str]) -> dict[str, int]:
        """The version each of these stacks has in the record (live or tombstone)."""
        ids = sorted(set(stack_ids))
        out: dict[str, int] = {}
        with self._reading() as conn:
            for i in range(0, len(ids), 500):
                out.update(conn.execute(sa.select(stacks.c.id, stacks.c.version)
                                        .where(stacks.c.id.in_(ids[i : i + 500]))).tuples().all())
        return out

    def newest_events(self, stack_ids: Iterable[str]) -> dict[str, int]:
        """The newest notification kept (``apply``'s ``noted``) of each of these stacks: its
        timestamp. Inside ``prepare`` it is read through the batch's own transaction."""
        ids = sorted(set(stack_ids))
        c = stack_events.c
        out: dict[str, int] = {}
        with self._reading() as conn:
            for i in range(0, len(ids), 500):
                out.update(conn.execute(sa.select(c.stack_id, sa.func.max(c.at_us))
                                        .where(c.stack_id.in_(ids[i : i + 500]))
                                        .group_by(c.stack_id)).tuples().all())
        return out

    def noted(self, stack_id: str) -> list[Noted]:
        """What the notifications said about a stack, oldest first (``apply``'s ``noted``)."""
        c = stack_events.c
        with self._reading() as conn:
            rows = conn.execute(sa.select(c.stack_id, c.at_us, c.action, c.phase, c.status,
                                          c.request_id, c.observed_us, c.observed_digest)
                                .where(c.stack_id == stack_id)
                                .order_by(c.at_us, c.phase)).all()
        return [Noted(*row) for row in rows]

    def revision(self, stack_id: str, rev: int | None = None) -> Revision | None:
        """One revision with its document (``rev=None``: the latest)."""
        q = sa.select(*_REV_COLS, revisions.c.body).where(revisions.c.stack_id == stack_id)
        q = q.order_by(revisions.c.rev.desc()).limit(1) if rev is None else q.where(
            revisions.c.rev == rev)
        with self._reading() as conn:
            row = conn.execute(q).first()
        return self._revision(row) if row else None

    def revisions_between(
        self, since_us: int | None, until_us: int | None, projects: frozenset[str] | None = None,
        limit: int = 100_000,
    ) -> Iterator[tuple[Revision, Revision | None]]:
        """Revisions taken in ``[since_us, until_us]`` (oldest first), each with its stack's
        revision before it (None for a first revision), restricted to ``projects`` (None: all)."""
        q = sa.select(*_REV_COLS, revisions.c.body)
        if since_us is not None:
            q = q.where(revisions.c.at_us >= since_us)
        if until_us is not None:
            q = q.where(revisions.c.at_us <= until_us)
        if projects is not None:
            if not projects:
                return
            q = q.where(revisions.c.project_id.in_(sorted(projects)))
        q = q.order_by(revisions.c.at_us, revisions.c.stack_id, revisions.c.rev).limit(limit)
        with self._reading() as conn:
            rows = conn.execute(q).all()
            pairs = []
            for row in rows:
                prev = conn.execute(
                    sa.select(*_REV_COLS, revisions.c.body)
                    .where(revisions.c.stack_id == row[0], revisions.c.rev < row[1])
                    .order_by(revisions.c.rev.desc()).limit(1)).first()
                pairs.append((row, prev))
        for row, prev in pairs:
            yield self._revision(row), (self._revision(prev) if prev else None)

    def history_size(self) -> dict:
        """How many revisions, and their bytes (compressed bodies)."""
        with self._reading() as conn:
            n, size = conn.execute(sa.select(
                sa.func.count(), sa.func.coalesce(sa.func.sum(sa.func.length(revisions.c.body)), 0)
            )).one()
        return {"revisions": int(n), "body_bytes": int(size)}

    # -- reading -------------------------------------------------------------------------------

    def _fetch_contents(self, digests: list[str]) -> dict[str, str]:
        """digest → JSON of each of these contents the record holds."""
        out: dict[str, str] = {}
        with self._reading() as conn:
            for i in range(0, len(digests), 500):
                for d, body in conn.execute(sa.select(contents.c.digest, contents.c.body)
                                            .where(contents.c.digest.in_(digests[i : i + 500]))):
                    out[d] = parts_of.unpack(body)
        return out

    def _records(self, read: Callable[[], Iterable]) -> list[Record]:
        """The records of the rows (``_COLS``) that ``read()`` returns, their documents whole
        again. A row read just before its stack was written again may name a content that
        ``sweep_contents`` removed since: then the rows are read again (their newer state)."""
        for attempt in range(CONTENT_READ_ATTEMPTS):
            rows = list(read())
            try:
                known = self._prefetch(rows)
                return [self._record(row, known) for row in rows]
            except LookupError as exc:
                if attempt == CONTENT_READ_ATTEMPTS - 1:
                    raise RecordError(f"the record's documents are incomplete: {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _prefetch(self, rows: list) -> dict[str, str]:
        """The contents that ``rows`` name, read in one query (through the cache), not one per
        row: a reindex reads 50-100 rows at a time, and each query cost more than its rows."""
        digests = [d for row in rows if row[4] and row[8] for d in json.loads(row[8]).values()]
        return self._contents.texts(digests, self._fetch_contents) if digests else {}

    def _whole(self, skeleton: dict, parts: str | None, known: dict[str, str] | None = None) -> dict:
        """A document with the parts its row names (``parts``: their map's JSON) put back, from
        ``known`` contents or the cache; LookupError if the record lacks one."""
        if not parts:
            return skeleton
        named = json.loads(parts)
        if known is not None and all(d in known for d in named.values()):
            return parts_of.join(skeleton, named, known)
        return parts_of.join(skeleton, named, self._contents.texts(named.values(),
                                                                   self._fetch_contents))

    def _record(self, row, known: dict[str, str] | None = None) -> Record:
        doc = self._whole(json.loads(row[4]), row[8], known) if row[4] else None
        return Record(
            id=row[0],
            version=row[1],
            deleted=bool(row[2]),
            seq=row[3],
            doc=doc,
            project_id=row[5],
            name=row[6],
            taint=json.loads(row[7]) if row[7] else None,
        )

    def get(self, stack_id: str) -> Record | None:
        def read():
            row = self._fetch("get", {"id": stack_id}, one=True)
            return [row] if row else []

        recs = self._records(read)
        return recs[0] if recs else None

    def get_many(self, ids: Iterable[str]) -> dict[str, Record]:
        ids = list(ids)
        out: dict[str, Record] = {}
        for i in range(0, len(ids), 500):
            def read(chunk=ids[i : i + 500]):
                with self._reading() as conn:
                    return conn.execute(self._sql["get_many"], {"ids": chunk}).all()

            out.update((rec.id, rec) for rec in self._records(read))
        return out

    def live_named(self, names: Iterable[str]) -> list[Record]:
        """Live stacks with one of these names (links.py: the creator of a new stack)."""
        names = list(dict.fromkeys(names))[:500]
        if not names:
            return []
        def read():
            with self._reading() as conn:
                return conn.execute(sa.select(*_COLS).where(stacks.c.deleted == 0,
                                                             stacks.c.name.in_(names))).all()

        return self._records(read)

    def changes_since(self, seq: int, limit: int = 1000) -> list[Record]:
        return self._records(lambda: self._fetch("changes_since", {"seq": seq, "n": limit}))

    def changes_between(self, lo: int, hi: int) -> list[Record]:
        """The records whose sequence number is in ``(lo, hi]``, in sequence order."""
        return self._records(lambda: self._fetch("changes_between", {"lo": lo, "hi": hi}))

    def seq_chunks(self, size: int, upto: int) -> list[tuple[int, int]]:
        """``(lo, hi]`` bounds that cut the records numbered up to ``upto`` into runs of ``size``
        records (the last one shorter): what ``changes_between`` reads, one run at a time."""
        marks = [int(row[0]) for row in self._fetch("seq_marks", {"upto": upto, "n": size})]
        bounds = [0, *marks]
        if bounds[-1] < upto:
            bounds.append(upto)
        return list(zip(bounds, bounds[1:], strict=False))

    def iter_all(self, batch: int = 1000) -> Iterator[Record]:
        """Every record (live and tombstones) in sequence order."""
        seq = 0
        while True:
            recs = self.changes_since(seq, batch)
            if not recs:
                return
            yield from recs
            seq = recs[-1].seq

    def max_seq(self) -> int:
        return int(self._fetch("max_seq", one=True)[0])

    def _json(self, column, key: str, *, scalar: bool = True):
        """A member of a JSON column: a scalar as an SQL value, else its JSON text."""
        if self.dialect == "sqlite" or not scalar:
            return sa.func.json_extract(column, f"$.{key}")
        return sa.func.json_value(column, f"$.{key}")

    def live_summaries(self, region: str | None = None) -> dict[str, dict]:
        """id → the fields reconcile compares with Heat's listing, for every live stack (of
        ``region`` and those recorded before regions, when it is given)."""
        doc = stacks.c.doc
        q = sa.select(stacks.c.id, stacks.c.version, self._json(doc, "status"),
                      self._json(doc, "status_reason"), self._json(doc, "updated_at"),
                      self._json(doc, "name"), self._json(doc, "tags", scalar=False),
                      self._json(doc, "parent_id")).where(stacks.c.deleted == 0)
        if region is not None:
            q = q.where(sa.or_(stacks.c.region == region, stacks.c.region.is_(None)))
        out = {}
        with self._reading() as conn:
            for row in conn.execute(q):
                out[row[0]] = {
                    "version": row[1],
                    "status": row[2],
                    "status_reason": row[3],
                    "updated_at": row[4],
                    "name": row[5],
                    "tags": json.loads(row[6]) if row[6] else [],
                    "parent_id": row[7],
                }
        return out

    def secret_unknowns(self) -> dict:
        """Live stacks whose secrets could not all be followed by structure (``secrets.py``: an
        unknown function or nested template, masked), and how many such places in all."""
        unknown = sa.cast(self._json(stacks.c.taint, "unknown"), sa.Integer)
        with self._reading() as conn:
            n, places = conn.execute(
                sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(unknown), 0))
                .where(stacks.c.deleted == 0, unknown > 0)).one()
        return {"stacks": int(n), "places": int(places)}

    def tombstoned(self, ids: Iterable[str]) -> set[str]:
        return {r.id for r in self.get_many(ids).values() if r.deleted}

    def counts(self) -> dict:
        live = sa.func.coalesce(sa.func.sum(sa.case((stacks.c.deleted == 0, 1), else_=0)), 0)
        dead = sa.func.coalesce(sa.func.sum(sa.case((stacks.c.deleted == 1, 1), else_=0)), 0)
        with self._reading() as conn:
            n_live, n_dead, seq = conn.execute(sa.select(
                live, dead, sa.func.coalesce(sa.func.max(stacks.c.seq), 0))).one()
            projects = conn.execute(sa.select(sa.func.count(sa.distinct(stacks.c.project_id)))
                                    .where(stacks.c.deleted == 0)).scalar_one()
            letters = conn.execute(sa.select(sa.func.count()).select_from(dead_letters)).scalar_one()
        return {
            "stacks": int(n_live),
            "tombstones": int(n_dead),
            "projects": int(projects),
            "dead_letters": int(letters),
            "sequence": int(seq),
        }

    def regions(self) -> dict[str, int]:
        """Live stacks per region (``""``: recorded before regions and not labelled yet)."""
        c = stacks.c
        with self._reading() as conn:
            rows = conn.execute(sa.select(c.region, sa.func.count()).where(c.deleted == 0)
                                .group_by(c.region)).tuples().all()
        return {region or "": int(n) for region, n in sorted(rows, key=lambda r: r[0] or "")}

    # -- meta and dead letters -------------------------------------------------------------------

    def set_meta(self, **values) -> None:
        def work(conn) -> None:
            for key, value in values.items():
                self._upsert(conn, meta, {"key": key, "value": json.dumps(value)}, ["value"])

        self._write(work)

    def secret_key(self) -> bytes:
        """This installation's random secret (made once, kept in the store, never shown): the
        key of the file digests history keeps (see ``indexer.file_digests``)."""
        value = self.get_meta("secret_key")
        if value is None:
            made = {"key": "secret_key", "value": json.dumps(secrets.token_hex(32))}
            self._write(lambda conn: self._upsert(conn, meta, made, None))  # the first one stays
            value = self.get_meta("secret_key")
        return bytes.fromhex(value)

    def get_meta(self, key: str, default=None):
        with self._reading() as conn:
            value = conn.execute(sa.select(meta.c.value).where(meta.c.key == key)).first()
        return json.loads(value[0]) if value else default

    def dead_letter(self, message_id: str | None, reason: str, body) -> None:
        try:
            text = json.dumps(body, default=repr, ensure_ascii=False)
        except (TypeError, ValueError):
            text = repr(body)
        row = {"received_at": time.time(), "message_id": message_id, "reason": reason,
               "body": text[:100_000]}
        self._write(lambda conn: conn.execute(dead_letters.insert().values(**row)))

    def dead_letters(self, limit: int = 20) -> list[dict]:
        with self._reading() as conn:
            rows = conn.execute(
                sa.select(dead_letters.c.n, dead_letters.c.received_at, dead_letters.c.message_id,
                          dead_letters.c.reason, dead_letters.c.body)
                .order_by(dead_letters.c.n.desc()).limit(limit)).all()
        return [
            {"n": r[0], "received_at": r[1], "message_id": r[2], "reason": r[3], "body": r[4]}
            for r in rows
        ]

    # -- web UI sessions (heatseeker/ui/sessions.py): every API worker and host reads them ------
    # A row is keyed by a digest of the browser's session secret and holds what only that secret
    # can open (``sealed``): the store never holds a usable token.

    def session_put(self, key: str, sealed: bytes, now: float, expires: float | None,
                    keep: int) -> None:
        """Add a session; drop ended ones, and the least recently used beyond ``keep``."""
        # the most recently used first; among equals the newest (SQLite: its rowid, which a
        # replaced row renews; elsewhere the key)
        newest = sa.literal_column("rowid") if self.dialect == "sqlite" else ui_sessions.c.key

        def work(conn) -> None:
            conn.execute(ui_sessions.delete().where(ui_sessions.c.expires.is_not(None),
                                                    ui_sessions.c.expires <= now))
            if self.dialect == "sqlite":  # a replaced row is a new row (a new rowid), as before
                conn.execute(ui_sessions.delete().where(ui_sessions.c.key == key))
            self._upsert(conn, ui_sessions, {"key": key, "sealed": sealed, "last_used": now,
                                             "expires": expires},
                         ["sealed", "last_used", "expires"])
            beyond = conn.execute(
                sa.select(ui_sessions.c.key)
                .order_by(ui_sessions.c.last_used.desc(), newest.desc())
                .offset(max(1, keep)).limit(1_000_000)).scalars().all()
            if beyond:
                conn.execute(ui_sessions.delete().where(ui_sessions.c.key.in_(beyond)))

        self._write(work)

    def session_get(self, key: str) -> tuple[bytes, float, float | None] | None:
        """``(sealed, last_used, expires)`` of a session, or None."""
        with self._reading() as conn:
            row = conn.execute(sa.select(ui_sessions.c.sealed, ui_sessions.c.last_used,
                                         ui_sessions.c.expires)
                               .where(ui_sessions.c.key == key)).first()
        return (bytes(row[0]), row[1], row[2]) if row else None

    def session_touch(self, key: str, now: float) -> None:
        self._write(lambda conn: conn.execute(
            ui_sessions.update().where(ui_sessions.c.key == key).values(last_used=now)))

    def session_drop(self, key: str) -> bool:
        return self._write(lambda conn: conn.execute(
            ui_sessions.delete().where(ui_sessions.c.key == key)).rowcount > 0)
