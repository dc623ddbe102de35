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
  greater version, and no later upsert brings the stack back;
* history: an applied upsert whose *content* (template, environment, files, parameters, outputs,
  resource set, description, tags: ``diff.digest``) differs from the stack's latest
  revision adds a revision in the same transaction, so a revision is durable exactly when the
  change is. A state-only change is no revision. A revision taken while an action was in progress
  (``CREATE_IN_PROGRESS``) is provisional: the next write of the same action amends it in place
  (same number), so one create or update is one revision. The first appearance is revision 1.
  Retention (``HistoryPolicy``) drops a revision beyond the newest ``max_revisions`` or older than
  ``max_age_days``, but never a stack's last revision: a tombstone keeps it.

Documents arrive already masked (``documents.py``): no hidden parameter value is ever written here.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from heatseeker import diff

SCHEMA = """
CREATE TABLE IF NOT EXISTS stacks (
    id TEXT PRIMARY KEY,
    project_id TEXT,
    name TEXT,
    version INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    seq INTEGER NOT NULL,
    doc TEXT,
    changed_at REAL NOT NULL,
    taint TEXT
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
CREATE TABLE IF NOT EXISTS revisions (
    stack_id TEXT NOT NULL,
    rev INTEGER NOT NULL,
    at_us INTEGER NOT NULL,
    recorded_at REAL NOT NULL,
    project_id TEXT,
    action TEXT,
    status TEXT,
    user_id TEXT,
    user_name TEXT,
    request_id TEXT,
    digest TEXT NOT NULL,
    files TEXT,
    body BLOB NOT NULL,
    PRIMARY KEY (stack_id, rev)
);
CREATE INDEX IF NOT EXISTS revisions_at ON revisions(at_us);
CREATE TABLE IF NOT EXISTS ui_sessions (
    key TEXT PRIMARY KEY,
    sealed BLOB NOT NULL,
    last_used REAL NOT NULL,
    expires REAL
);
CREATE INDEX IF NOT EXISTS ui_sessions_last_used ON ui_sessions(last_used);
"""


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


# zlib level 1: measured (bench/history.py) ~3.6x smaller than the JSON, against ~3.9x at level 6
# for about half the CPU time
ZLIB_LEVEL = 1
STATE_FILE = "state.sqlite"  # the store of an installation, in its [DEFAULT] data_dir


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
class Record:
    id: str
    version: int
    deleted: bool
    seq: int
    doc: dict | None
    project_id: str | None = None
    name: str | None = None
    taint: dict | None = None  # Change.taint


class Store:
    @classmethod
    def from_conf(cls, conf) -> Store:
        """The store of an installation: ``[DEFAULT] data_dir``/state.sqlite with ``[history]``."""
        h = conf.history
        policy = HistoryPolicy(enabled=h.enabled, max_revisions=h.max_revisions,
                               max_age_days=h.max_age_days, compress=h.compress)
        return cls(os.path.join(conf.data_dir, STATE_FILE), policy)

    def __init__(self, path: str, history: HistoryPolicy | None = None):
        self.path = path
        self.history = history or HistoryPolicy()
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._local = threading.local()
        with self._connect() as db:
            db.executescript(SCHEMA)
            columns = {row[1] for row in db.execute("PRAGMA table_info(revisions)")}
            if "files" not in columns:  # a store from before file digests had their own column
                db.execute("ALTER TABLE revisions ADD COLUMN files TEXT")
            if "taint" not in {row[1] for row in db.execute("PRAGMA table_info(stacks)")}:
                db.execute("ALTER TABLE stacks ADD COLUMN taint TEXT")  # from before secrets.py

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

    def apply(
        self,
        changes: Iterable[Change],
        prepare: Callable[[list[Change]], list[Change]] | None = None,
    ) -> list[bool]:
        """Apply changes in one durable transaction; returns, per change, whether it applied.

        ``prepare`` (links.py) rewrites the changes inside the transaction, after the write lock
        is taken: what it reads of the store cannot change under it (another writer waits).
        """
        changes = list(changes)
        if not changes:
            return []
        db = self._connect()
        applied: list[bool] = []
        now = time.time()
        db.execute("BEGIN IMMEDIATE")
        try:
            if prepare is not None:
                changes = prepare(changes)
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
                        " seq=excluded.seq, doc=NULL, changed_at=excluded.changed_at, taint=NULL",
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
                doc_json = json.dumps(doc, sort_keys=True, ensure_ascii=False)
                db.execute(
                    "INSERT INTO stacks (id, project_id, name, version, deleted, seq, doc,"
                    " changed_at, taint) VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?)"
                    " ON CONFLICT(id) DO UPDATE SET project_id=excluded.project_id,"
                    " name=excluded.name, version=excluded.version, deleted=0, seq=excluded.seq,"
                    " doc=excluded.doc, changed_at=excluded.changed_at,"
                    " taint=COALESCE(excluded.taint, stacks.taint)",
                    (
                        ch.id,
                        doc.get("project_id"),
                        doc.get("name"),
                        ch.version,
                        seq,
                        doc_json,
                        now,
                        json.dumps(ch.taint, sort_keys=True) if ch.taint is not None else None,
                    ),
                )
                if self.history.enabled:
                    self._revise(db, ch, doc, doc_json, now)
                applied.append(True)
            if self.history.enabled:
                self._retain(db, {ch.id for ch, ok in zip(changes, applied, strict=True) if ok})
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return applied

    # -- history ---------------------------------------------------------------------------------

    def _revise(
        self, db: sqlite3.Connection, ch: Change, doc: dict, doc_json: str, now: float
    ) -> None:
        """Add (or amend) the stack's revision for an applied upsert, inside apply's transaction."""
        last = db.execute(
            "SELECT rev, status, action, digest, files, user_id, user_name, request_id"
            " FROM revisions WHERE stack_id = ? ORDER BY rev DESC LIMIT 1",
            (ch.id,),
        ).fetchone()
        files = ch.file_digests
        if files is None:
            files = json.loads(last[4]) if last is not None and last[4] else {}
        files = {k: files.get(k) for k in doc.get("files") or ()}
        digest = diff.digest(doc, files)
        status, action = doc.get("status"), doc.get("action")
        provisional = (
            last is not None
            and isinstance(last[1], str)
            and last[1].endswith("_IN_PROGRESS")
            and last[2] == action
        )
        if last is not None and not provisional and last[3] == digest:
            return  # a state-only change: no revision
        if provisional and last[3] == digest and last[1] == status:
            return
        body = _pack(doc_json, self.history.compress)
        files_json = json.dumps(files, sort_keys=True) if files else None
        if provisional:
            db.execute(
                "UPDATE revisions SET at_us = ?, recorded_at = ?, project_id = ?, action = ?,"
                " status = ?, user_id = ?, user_name = ?, request_id = ?, digest = ?, files = ?,"
                " body = ? WHERE stack_id = ? AND rev = ?",
                (ch.version, now, doc.get("project_id"), action, status,
                 ch.user_id or last[5], ch.user_name or last[6], ch.request_id or last[7],
                 digest, files_json, body, ch.id, last[0]),
            )
            return
        db.execute(
            "INSERT INTO revisions (stack_id, rev, at_us, recorded_at, project_id, action, status,"
            " user_id, user_name, request_id, digest, files, body)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (ch.id, (last[0] if last else 0) + 1, ch.version, now, doc.get("project_id"), action,
             status, ch.user_id, ch.user_name, ch.request_id, digest, files_json, body),
        )

    def _retain(self, db: sqlite3.Connection, stack_ids: Iterable[str]) -> int:
        policy = self.history
        dropped = 0
        cutoff = (time.time() - policy.max_age_days * 86400) * 1_000_000
        for sid in stack_ids:
            last = db.execute(
                "SELECT MAX(rev) FROM revisions WHERE stack_id = ?", (sid,)
            ).fetchone()[0]
            if last is None:
                continue
            if policy.max_revisions > 0:
                dropped += db.execute(
                    "DELETE FROM revisions WHERE stack_id = ? AND rev <= ?",
                    (sid, last - policy.max_revisions),
                ).rowcount
            if policy.max_age_days > 0:
                dropped += db.execute(
                    "DELETE FROM revisions WHERE stack_id = ? AND rev < ? AND at_us < ?",
                    (sid, last, cutoff),
                ).rowcount
        return dropped

    def prune_revisions(self) -> int:
        """Apply the retention policy to every stack (``sync`` runs it); returns how many
        revisions were dropped. A stack's last revision always stays."""
        if not self.history.enabled:
            return 0
        policy = self.history
        latest = "(SELECT MAX(r2.rev) FROM revisions r2 WHERE r2.stack_id = revisions.stack_id)"
        db = self._connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            dropped = 0
            if policy.max_revisions > 0:
                dropped += db.execute(
                    f"DELETE FROM revisions WHERE rev <= {latest} - ?", (policy.max_revisions,)
                ).rowcount
            if policy.max_age_days > 0:
                cutoff = (time.time() - policy.max_age_days * 86400) * 1_000_000
                dropped += db.execute(
                    f"DELETE FROM revisions WHERE at_us < ? AND rev < {latest}", (cutoff,)
                ).rowcount
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return dropped

    _REV_COLS = ("stack_id, rev, at_us, project_id, action, status, user_id, user_name,"
                 " request_id, digest, files")

    @staticmethod
    def _revision(row, body: bytes | None = None) -> Revision:
        return Revision(
            stack_id=row[0], rev=row[1], at_us=row[2], project_id=row[3], action=row[4],
            status=row[5], user_id=row[6], user_name=row[7], request_id=row[8], digest=row[9],
            doc=_unpack(body) if body is not None else None,
            file_digests=json.loads(row[10]) if row[10] else {},
        )

    def revisions(self, stack_id: str, *, with_docs: bool = False) -> list[Revision]:
        """A stack's revisions, oldest first."""
        cols = self._REV_COLS + (", body" if with_docs else "")
        rows = self._connect().execute(
            f"SELECT {cols} FROM revisions WHERE stack_id = ? ORDER BY rev", (stack_id,)
        ).fetchall()
        return [self._revision(r, r[11] if with_docs else None) for r in rows]

    def revision(self, stack_id: str, rev: int | None = None) -> Revision | None:
        """One revision with its document (``rev=None``: the latest)."""
        db = self._connect()
        if rev is None:
            row = db.execute(
                f"SELECT {self._REV_COLS}, body FROM revisions WHERE stack_id = ?"
                " ORDER BY rev DESC LIMIT 1", (stack_id,)).fetchone()
        else:
            row = db.execute(
                f"SELECT {self._REV_COLS}, body FROM revisions WHERE stack_id = ? AND rev = ?",
                (stack_id, rev)).fetchone()
        return self._revision(row, row[11]) if row else None

    def revisions_between(
        self, since_us: int | None, until_us: int | None, projects: frozenset[str] | None = None,
        limit: int = 100_000,
    ) -> Iterator[tuple[Revision, Revision | None]]:
        """Revisions taken in ``[since_us, until_us]`` (oldest first), each with its stack's
        revision before it (None for a first revision), restricted to ``projects`` (None: all)."""
        where: list[str] = ["1 = 1"]
        args: list[object] = []
        if since_us is not None:
            where.append("at_us >= ?")
            args.append(since_us)
        if until_us is not None:
            where.append("at_us <= ?")
            args.append(until_us)
        if projects is not None:
            if not projects:
                return
            marks = ",".join("?" * len(projects))
            where.append(f"project_id IN ({marks})")
            args.extend(sorted(projects))
        db = self._connect()
        rows = db.execute(
            f"SELECT {self._REV_COLS}, body FROM revisions WHERE {' AND '.join(where)}"
            " ORDER BY at_us, stack_id, rev LIMIT ?", (*args, limit)).fetchall()
        for row in rows:
            prev = db.execute(
                f"SELECT {self._REV_COLS}, body FROM revisions WHERE stack_id = ? AND rev < ?"
                " ORDER BY rev DESC LIMIT 1", (row[0], row[1])).fetchone()
            yield self._revision(row, row[11]), (self._revision(prev, prev[11]) if prev else None)

    def history_size(self) -> dict:
        """How many revisions, and their bytes (compressed bodies)."""
        n, size = self._connect().execute(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(body)), 0) FROM revisions").fetchone()
        return {"revisions": n, "body_bytes": size}

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
            taint=json.loads(row[7]) if len(row) > 7 and row[7] else None,
        )

    _COLS = "id, version, deleted, seq, doc, project_id, name, taint"

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

    def live_named(self, names: Iterable[str]) -> list[Record]:
        """Live stacks with one of these names (links.py: the creator of a new stack)."""
        names = list(dict.fromkeys(names))[:500]
        if not names:
            return []
        marks = ",".join("?" * len(names))
        rows = self._connect().execute(
            f"SELECT {self._COLS} FROM stacks WHERE deleted = 0 AND name IN ({marks})", names
        ).fetchall()
        return [self._record(r) for r in rows]

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

    def secret_unknowns(self) -> dict:
        """Live stacks whose secrets could not all be followed by structure (``secrets.py``: an
        unknown function or nested template, masked), and how many such places in all."""
        stacks, places = self._connect().execute(
            "SELECT COUNT(*), COALESCE(SUM(json_extract(taint, '$.unknown')), 0) FROM stacks"
            " WHERE deleted = 0 AND json_extract(taint, '$.unknown') > 0"
        ).fetchone()
        return {"stacks": stacks, "places": places}

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

    def secret_key(self) -> bytes:
        """This installation's random secret (made once, kept in the store, never shown): the
        key of the file digests history keeps (see ``indexer.file_digests``)."""
        value = self.get_meta("secret_key")
        if value is None:
            db = self._connect()
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('secret_key', ?)",
                           (json.dumps(secrets.token_hex(32)),))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            value = self.get_meta("secret_key")
        return bytes.fromhex(value)

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

    # -- web UI sessions (heatseeker/ui/sessions.py): every API worker and host reads them ------
    # A row is keyed by a digest of the browser's session secret and holds what only that secret
    # can open (``sealed``): the store never holds a usable token.

    def session_put(self, key: str, sealed: bytes, now: float, expires: float | None,
                    keep: int) -> None:
        """Add a session; drop ended ones, and the least recently used beyond ``keep``."""
        db = self._connect()
        with db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM ui_sessions WHERE expires IS NOT NULL AND expires <= ?",
                       (now,))
            db.execute("INSERT OR REPLACE INTO ui_sessions (key, sealed, last_used, expires)"
                       " VALUES (?, ?, ?, ?)", (key, sealed, now, expires))
            db.execute("DELETE FROM ui_sessions WHERE key IN (SELECT key FROM ui_sessions"
                       " ORDER BY last_used DESC, rowid DESC LIMIT -1 OFFSET ?)", (max(1, keep),))

    def session_get(self, key: str) -> tuple[bytes, float, float | None] | None:
        """``(sealed, last_used, expires)`` of a session, or None."""
        row = self._connect().execute(
            "SELECT sealed, last_used, expires FROM ui_sessions WHERE key = ?", (key,)).fetchone()
        return (bytes(row[0]), row[1], row[2]) if row else None

    def session_touch(self, key: str, now: float) -> None:
        self._connect().execute("UPDATE ui_sessions SET last_used = ? WHERE key = ?", (now, key))

    def session_drop(self, key: str) -> bool:
        return self._connect().execute("DELETE FROM ui_sessions WHERE key = ?", (key,)).rowcount > 0
