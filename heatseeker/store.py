"""heatseeker's durable record: the latest document, version and tombstone of every stack.

Decision (see docs/design.md): the record is a small SQLite database (``data_dir/state.sqlite``,
WAL, ``synchronous=FULL``), and the search index is a *projection* of it. Every change gets a
sequence number; the engine remembers the last sequence it reflects (its checkpoint), so a crash
between a store commit and an index commit loses nothing: the projector replays the changes after
the checkpoint, and versions make that replay idempotent. SQLite lets several processes write (the
listener and a ``heatseeker sync`` run side by side), which the embedded index does not.

Rules, enforced here in one transaction per batch:

* an upsert applies only if its version is greater than the version held;
* a tombstone always applies (Heat never reuses a stack id and DELETE_COMPLETE is final), keeps the
  greater version, and no later upsert brings the stack back.

Documents arrive already masked (``documents.py``): no hidden parameter value is ever written here.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

SCHEMA = """
CREATE TABLE IF NOT EXISTS stacks (
    id TEXT PRIMARY KEY,
    project_id TEXT,
    name TEXT,
    version INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    seq INTEGER NOT NULL,
    doc TEXT,
    changed_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS stacks_seq ON stacks(seq);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS dead_letters (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at REAL NOT NULL,
    message_id TEXT,
    reason TEXT NOT NULL,
    body TEXT
);
"""


@dataclass(frozen=True)
class Change:
    """One write: a document (upsert) or ``doc=None`` (tombstone)."""

    id: str
    version: int
    doc: dict | None = None

    @property
    def is_tombstone(self) -> bool:
        return self.doc is None


@dataclass(frozen=True)
class Record:
    id: str
    version: int
    deleted: bool
    seq: int
    doc: dict | None
    project_id: str | None = None
    name: str | None = None


class Store:
    def __init__(self, path: str):
        self.path = path
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._local = threading.local()
        with self._connect() as db:
            db.executescript(SCHEMA)

    # one connection per thread: sqlite3 connections must not be shared across threads
    def _connect(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA busy_timeout=30000")
            # switching to WAL needs a moment alone with the file: another process opening the
            # store at the same instant makes it answer "locked" without waiting, so retry
            for attempt in range(50):
                try:
                    db.execute("PRAGMA journal_mode=WAL")
                    break
                except sqlite3.OperationalError:
                    if attempt == 49:
                        raise
                    time.sleep(0.05)
            db.execute("PRAGMA synchronous=FULL")
            self._local.db = db
        return db

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # -- writing -------------------------------------------------------------------------------

    def apply(self, changes: Iterable[Change]) -> list[bool]:
        """Apply changes in one durable transaction; returns, per change, whether it applied."""
        changes = list(changes)
        if not changes:
            return []
        db = self._connect()
        applied: list[bool] = []
        now = time.time()
        db.execute("BEGIN IMMEDIATE")
        try:
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) FROM stacks").fetchone()[0]
            for ch in changes:
                row = db.execute(
                    "SELECT version, deleted FROM stacks WHERE id = ?", (ch.id,)
                ).fetchone()
                if ch.is_tombstone:
                    if row is not None and row[1]:
                        applied.append(False)  # already a tombstone
                        continue
                    version = max(ch.version, row[0] if row else 0)
                    seq += 1
                    db.execute(
                        "INSERT INTO stacks (id, project_id, name, version, deleted, seq, doc,"
                        " changed_at) VALUES (?, NULL, NULL, ?, 1, ?, NULL, ?)"
                        " ON CONFLICT(id) DO UPDATE SET version=excluded.version, deleted=1,"
                        " seq=excluded.seq, doc=NULL, changed_at=excluded.changed_at",
                        (ch.id, version, seq, now),
                    )
                    applied.append(True)
                    continue
                if row is not None and (row[1] or ch.version <= row[0]):
                    applied.append(False)
                    continue
                assert ch.doc is not None
                seq += 1
                doc = dict(ch.doc, version=ch.version)
                db.execute(
                    "INSERT INTO stacks (id, project_id, name, version, deleted, seq, doc,"
                    " changed_at) VALUES (?, ?, ?, ?, 0, ?, ?, ?)"
                    " ON CONFLICT(id) DO UPDATE SET project_id=excluded.project_id,"
                    " name=excluded.name, version=excluded.version, deleted=0, seq=excluded.seq,"
                    " doc=excluded.doc, changed_at=excluded.changed_at",
                    (
                        ch.id,
                        doc.get("project_id"),
                        doc.get("name"),
                        ch.version,
                        seq,
                        json.dumps(doc, sort_keys=True, ensure_ascii=False),
                        now,
                    ),
                )
                applied.append(True)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return applied

    # -- reading -------------------------------------------------------------------------------

    @staticmethod
    def _record(row) -> Record:
        return Record(
            id=row[0],
            version=row[1],
            deleted=bool(row[2]),
            seq=row[3],
            doc=json.loads(row[4]) if row[4] else None,
            project_id=row[5],
            name=row[6],
        )

    _COLS = "id, version, deleted, seq, doc, project_id, name"

    def get(self, stack_id: str) -> Record | None:
        row = (
            self._connect()
            .execute(f"SELECT {self._COLS} FROM stacks WHERE id = ?", (stack_id,))
            .fetchone()
        )
        return self._record(row) if row else None

    def get_many(self, ids: Iterable[str]) -> dict[str, Record]:
        ids = list(ids)
        out: dict[str, Record] = {}
        db = self._connect()
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for row in db.execute(
                f"SELECT {self._COLS} FROM stacks WHERE id IN ({marks})", chunk
            ):
                rec = self._record(row)
                out[rec.id] = rec
        return out

    def changes_since(self, seq: int, limit: int = 1000) -> list[Record]:
        rows = (
            self._connect()
            .execute(
                f"SELECT {self._COLS} FROM stacks WHERE seq > ? ORDER BY seq LIMIT ?",
                (seq, limit),
            )
            .fetchall()
        )
        return [self._record(r) for r in rows]

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
        return self._connect().execute("SELECT COALESCE(MAX(seq), 0) FROM stacks").fetchone()[0]

    def live_summaries(self) -> dict[str, dict]:
        """id → the fields reconcile compares with Heat's listing, for every live stack."""
        out = {}
        for row in self._connect().execute(
            "SELECT id, version, json_extract(doc, '$.status'), json_extract(doc, '$.status_reason'),"
            " json_extract(doc, '$.updated_at'), json_extract(doc, '$.name'),"
            " json_extract(doc, '$.tags'), json_extract(doc, '$.parent_id')"
            " FROM stacks WHERE deleted = 0"
        ):
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

    def tombstoned(self, ids: Iterable[str]) -> set[str]:
        return {r.id for r in self.get_many(ids).values() if r.deleted}

    def counts(self) -> dict:
        db = self._connect()
        live, dead = db.execute(
            "SELECT COALESCE(SUM(deleted = 0), 0), COALESCE(SUM(deleted = 1), 0) FROM stacks"
        ).fetchone()
        projects = db.execute(
            "SELECT COUNT(DISTINCT project_id) FROM stacks WHERE deleted = 0"
        ).fetchone()[0]
        letters = db.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0]
        return {
            "stacks": live,
            "tombstones": dead,
            "projects": projects,
            "dead_letters": letters,
            "sequence": self.max_seq(),
        }

    # -- meta and dead letters -------------------------------------------------------------------

    def set_meta(self, **values) -> None:
        db = self._connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            for key, value in values.items():
                db.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?)"
                    " ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                    (key, json.dumps(value)),
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def get_meta(self, key: str, default=None):
        row = self._connect().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def dead_letter(self, message_id: str | None, reason: str, body) -> None:
        try:
            text = json.dumps(body, default=repr, ensure_ascii=False)
        except (TypeError, ValueError):
            text = repr(body)
        db = self._connect()
        db.execute(
            "INSERT INTO dead_letters (received_at, message_id, reason, body) VALUES (?, ?, ?, ?)",
            (time.time(), message_id, reason, text[:100_000]),
        )

    def dead_letters(self, limit: int = 20) -> list[dict]:
        rows = (
            self._connect()
            .execute(
                "SELECT n, received_at, message_id, reason, body FROM dead_letters"
                " ORDER BY n DESC LIMIT ?",
                (limit,),
            )
            .fetchall()
        )
        return [
            {"n": r[0], "received_at": r[1], "message_id": r[2], "reason": r[3], "body": r[4]}
            for r in rows
        ]
