"""The record's tables (SQLAlchemy Core), as the last migration leaves them.

Types are chosen per database: on SQLite exactly what ``state.sqlite`` always had (TEXT, INTEGER,
REAL, BLOB: an installation's file is adopted as it is); on MySQL/MariaDB what InnoDB needs to key
and hold them (VARCHAR(255) keys, BIGINT microsecond versions, DOUBLE times, LONGTEXT documents,
LONGBLOB revision bodies), in ``utf8mb4_bin`` so that names and ids compare as SQLite compares them
(case-sensitive). Every table has a primary key (Galera replicates only those safely).

The migrations (``migrations/versions``) spell their own tables out and never import this module:
a migration stays what it was when it shipped.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

MYSQL = ("mysql", "mariadb")
TABLE_ARGS: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}


def key_type() -> sa.types.TypeEngine:
    """A text that is (part of) a key: TEXT on SQLite, VARCHAR(255) on MySQL."""
    return sa.Text().with_variant(sa.String(255), *MYSQL)


def long_text() -> sa.types.TypeEngine:
    return sa.Text().with_variant(mysql.LONGTEXT(), *MYSQL)


def long_blob() -> sa.types.TypeEngine:
    return sa.LargeBinary().with_variant(mysql.LONGBLOB(), *MYSQL)


def big_integer() -> sa.types.TypeEngine:
    """INTEGER on SQLite (64 bits there), BIGINT elsewhere: versions are microseconds."""
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def real() -> sa.types.TypeEngine:
    """REAL on SQLite, DOUBLE elsewhere (MySQL's FLOAT would keep 24 bits of a timestamp)."""
    return sa.Double().with_variant(sa.REAL(), "sqlite")


metadata = sa.MetaData()

stacks = sa.Table(
    "stacks", metadata,
    sa.Column("id", key_type(), primary_key=True),
    sa.Column("project_id", key_type()),
    sa.Column("name", key_type()),
    sa.Column("version", big_integer(), nullable=False),
    sa.Column("deleted", sa.Integer(), nullable=False, server_default=sa.text("0")),
    sa.Column("seq", big_integer(), nullable=False),
    sa.Column("doc", long_text()),
    sa.Column("changed_at", real(), nullable=False),
    sa.Column("taint", long_text()),
    # the region of the Heat that holds the stack (NULL: a row from before regions, until
    # Store.label_region)
    sa.Column("region", key_type()),
    # revision 0005: the document's parts kept in `contents` (path → digest; NULL: none, the
    # document is whole in `doc`): record/contents.py
    sa.Column("parts", long_text()),
    sa.Index("stacks_seq", "seq"),
    sa.Index("stacks_region", "region"),
    **TABLE_ARGS,
)

meta = sa.Table(
    "meta", metadata,
    sa.Column("key", key_type(), primary_key=True),
    sa.Column("value", long_text()),
    **TABLE_ARGS,
)

dead_letters = sa.Table(
    "dead_letters", metadata,
    sa.Column("n", big_integer(), primary_key=True, autoincrement=True),
    sa.Column("received_at", real(), nullable=False),
    sa.Column("message_id", long_text()),
    sa.Column("reason", long_text(), nullable=False),
    sa.Column("body", long_text()),
    sqlite_autoincrement=True,
    **TABLE_ARGS,
)

revisions = sa.Table(
    "revisions", metadata,
    sa.Column("stack_id", key_type(), nullable=False),
    sa.Column("rev", big_integer(), nullable=False),
    sa.Column("at_us", big_integer(), nullable=False),
    sa.Column("recorded_at", real(), nullable=False),
    sa.Column("project_id", key_type()),
    sa.Column("action", key_type()),
    sa.Column("status", key_type()),
    sa.Column("user_id", key_type()),
    sa.Column("user_name", key_type()),
    sa.Column("request_id", key_type()),
    sa.Column("digest", key_type(), nullable=False),
    sa.Column("files", long_text()),
    sa.Column("body", long_blob(), nullable=False),
    sa.Column("parts", long_text()),  # revision 0005: as stacks.parts, for the body
    sa.PrimaryKeyConstraint("stack_id", "rev"),
    sa.Index("revisions_at", "at_us"),
    **TABLE_ARGS,
)

ui_sessions = sa.Table(
    "ui_sessions", metadata,
    sa.Column("key", key_type(), primary_key=True),
    sa.Column("sealed", long_blob(), nullable=False),
    sa.Column("last_used", real(), nullable=False),
    sa.Column("expires", real()),
    sa.Index("ui_sessions_last_used", "last_used"),
    **TABLE_ARGS,
)

# revision 0002: the change sequence, one row per counter (``changes``): see record/store.py
sequences = sa.Table(
    "record_sequence", metadata,
    sa.Column("name", key_type(), primary_key=True),
    sa.Column("value", big_integer(), nullable=False),
    **TABLE_ARGS,
)

CHANGES = "changes"  # the name of the change sequence's row

# revision 0003: what Heat's notifications said about each stack (its actions' starts and ends),
# beside its revisions, so that history can say which states it never observed (history/)
stack_events = sa.Table(
    "stack_events", metadata,
    sa.Column("stack_id", key_type(), nullable=False),
    sa.Column("at_us", big_integer(), nullable=False),  # the notification's timestamp
    sa.Column("action", key_type(), nullable=False),
    sa.Column("phase", key_type(), nullable=False),  # start | end | error
    sa.Column("status", key_type()),  # the state it named, e.g. UPDATE_COMPLETE
    sa.Column("request_id", key_type()),
    # a finished action whose state a read showed: when that read began (else NULL)
    sa.Column("observed_us", big_integer()),
    sa.Column("observed_digest", key_type()),  # the content that read showed (diff.digest)
    sa.PrimaryKeyConstraint("stack_id", "at_us", "action", "phase"),
    **TABLE_ARGS,
)

# revision 0005: the parts of documents that stacks and revisions share, stored once each
# (record/contents.py): the SHA-256 of its canonical JSON → that JSON, zlib-compressed
contents = sa.Table(
    "contents", metadata,
    sa.Column("digest", key_type(), primary_key=True),
    sa.Column("body", long_blob(), nullable=False),
    sa.Column("size", big_integer(), nullable=False),  # bytes of the JSON, uncompressed
    **TABLE_ARGS,
)

# every table an installation's record holds, in the order a copy writes them
TABLES = (contents, stacks, meta, dead_letters, revisions, ui_sessions, sequences, stack_events)
