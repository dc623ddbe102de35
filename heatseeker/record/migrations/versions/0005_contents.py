"""Content-addressed parts of documents (#16: heavy trees stay small on disk): a stack's bulky
parts (template, environment sections, parameters, outputs, resources …) are stored once per
distinct content in ``contents``, and ``stacks.parts`` / ``revisions.parts`` name the ones a row
left out (record/contents.py). Rows from before keep their whole document (``parts`` NULL) until
their stack is written again.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

import json
import zlib
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

MYSQL = ("mysql", "mariadb")
TABLE_ARGS: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}


def upgrade() -> None:
    key = sa.Text().with_variant(sa.String(255), *MYSQL)
    long_text = sa.Text().with_variant(mysql.LONGTEXT(), *MYSQL)
    op.create_table(
        "contents",
        sa.Column("digest", key, primary_key=True),
        sa.Column("body", sa.LargeBinary().with_variant(mysql.LONGBLOB(), *MYSQL), nullable=False),
        sa.Column("size", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        **TABLE_ARGS,
    )
    with op.batch_alter_table("stacks") as batch:
        batch.add_column(sa.Column("parts", long_text))
    with op.batch_alter_table("revisions") as batch:
        batch.add_column(sa.Column("parts", long_text))


def _whole(conn, skeleton: dict, parts: dict) -> dict:
    """A document with its parts put back (record/contents.join, spelt out: a migration stays
    what it was when it shipped)."""
    for path, digest in parts.items():
        body = conn.execute(sa.text("SELECT body FROM contents WHERE digest = :d"),
                            {"d": digest}).scalar_one()
        value = json.loads(zlib.decompress(bytes(body)))
        key, _, section = path.partition(".")
        if section:
            skeleton.setdefault(key, {})[section] = value
        else:
            skeleton[key] = value
    return skeleton


def downgrade() -> None:
    """Each document whole again in its row, then the parts' columns and table dropped."""
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, doc, parts FROM stacks WHERE parts IS NOT NULL")).all()
    for sid, doc, parts in rows:
        whole = _whole(conn, json.loads(doc), json.loads(parts))
        conn.execute(sa.text("UPDATE stacks SET doc = :doc, parts = NULL WHERE id = :id"),
                     {"id": sid, "doc": json.dumps(whole, sort_keys=True, ensure_ascii=False)})
    rows = conn.execute(sa.text(
        "SELECT stack_id, rev, body, parts, files FROM revisions WHERE parts IS NOT NULL")).all()
    for sid, rev, stored, parts, files in rows:
        blob = bytes(stored)
        raw = zlib.decompress(blob[1:]) if blob[:1] == b"z" else blob[1:]
        named = json.loads(parts)
        files_digest = named.pop("@files", None)  # the revision's file digests, as a content
        if files_digest is not None:
            files = zlib.decompress(bytes(conn.execute(sa.text(
                "SELECT body FROM contents WHERE digest = :d"), {"d": files_digest}).scalar_one()
            )).decode()
        text = json.dumps(_whole(conn, json.loads(raw), named), sort_keys=True,
                          ensure_ascii=False).encode()
        conn.execute(sa.text("UPDATE revisions SET body = :body, parts = NULL, files = :files"
                             " WHERE stack_id = :sid AND rev = :rev"),
                     {"sid": sid, "rev": rev, "body": b"z" + zlib.compress(text, 1), "files": files})
    with op.batch_alter_table("revisions") as batch:
        batch.drop_column("parts")
    with op.batch_alter_table("stacks") as batch:
        batch.drop_column("parts")
    op.drop_table("contents")
