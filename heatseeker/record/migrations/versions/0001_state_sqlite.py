"""The record as heatseeker kept it before Alembic: ``state.sqlite``'s schema, exactly.

An existing ``state.sqlite`` (no ``alembic_version`` table) is adopted by running this revision on
it: what it has is kept as it is, and what an older file lacks is added, as the store's start-up
always did (``revisions.files``, ``stacks.taint``, any missing table or index). On a new database
(SQLite or MySQL/MariaDB) it creates the tables.

Revision ID: 0001
Revises:
Create Date: 2026-12-03
"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

MYSQL = ("mysql", "mariadb")
TABLE_ARGS: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}


def key():
    return sa.Text().with_variant(sa.String(255), *MYSQL)


def text():
    return sa.Text().with_variant(mysql.LONGTEXT(), *MYSQL)


def blob():
    return sa.LargeBinary().with_variant(mysql.LONGBLOB(), *MYSQL)


def integer():
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def real():
    return sa.Double().with_variant(sa.REAL(), "sqlite")


def upgrade() -> None:
    insp = sa.inspect(op.get_bind())
    existing = set(insp.get_table_names())

    def table(name, *columns, **kw):
        if name not in existing:
            op.create_table(name, *columns, **kw, **TABLE_ARGS)

    def index(name, table_name, columns):
        have = {i["name"] for i in insp.get_indexes(table_name)} if table_name in existing else set()
        if name not in have:
            op.create_index(name, table_name, columns)

    def column(table_name, col):
        if table_name in existing and col.name not in {c["name"] for c in insp.get_columns(table_name)}:
            op.add_column(table_name, col)

    table(
        "stacks",
        sa.Column("id", key(), primary_key=True),
        sa.Column("project_id", key()),
        sa.Column("name", key()),
        sa.Column("version", integer(), nullable=False),
        sa.Column("deleted", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("seq", integer(), nullable=False),
        sa.Column("doc", text()),
        sa.Column("changed_at", real(), nullable=False),
        sa.Column("taint", text()),
    )
    column("stacks", sa.Column("taint", text()))  # a file from before secrets.py
    index("stacks_seq", "stacks", ["seq"])
    table(
        "meta",
        sa.Column("key", key(), primary_key=True),
        sa.Column("value", text()),
    )
    table(
        "dead_letters",
        sa.Column("n", integer(), primary_key=True, autoincrement=True),
        sa.Column("received_at", real(), nullable=False),
        sa.Column("message_id", text()),
        sa.Column("reason", text(), nullable=False),
        sa.Column("body", text()),
        sqlite_autoincrement=True,
    )
    table(
        "revisions",
        sa.Column("stack_id", key(), nullable=False),
        sa.Column("rev", integer(), nullable=False),
        sa.Column("at_us", integer(), nullable=False),
        sa.Column("recorded_at", real(), nullable=False),
        sa.Column("project_id", key()),
        sa.Column("action", key()),
        sa.Column("status", key()),
        sa.Column("user_id", key()),
        sa.Column("user_name", key()),
        sa.Column("request_id", key()),
        sa.Column("digest", key(), nullable=False),
        sa.Column("files", text()),
        sa.Column("body", blob(), nullable=False),
        sa.PrimaryKeyConstraint("stack_id", "rev"),
    )
    column("revisions", sa.Column("files", text()))  # a file from before file digests
    index("revisions_at", "revisions", ["at_us"])
    table(
        "ui_sessions",
        sa.Column("key", key(), primary_key=True),
        sa.Column("sealed", blob(), nullable=False),
        sa.Column("last_used", real(), nullable=False),
        sa.Column("expires", real()),
    )
    index("ui_sessions_last_used", "ui_sessions", ["last_used"])


def downgrade() -> None:
    for name in ("ui_sessions", "revisions", "dead_letters", "meta", "stacks"):
        op.drop_table(name)
