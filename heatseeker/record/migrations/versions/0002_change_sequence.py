"""The change sequence as a counter row that writers on any host take last, just before they
commit (``record/store.py``): sequence order is then commit order, which a projector can trust.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

MYSQL = ("mysql", "mariadb")
TABLE_ARGS: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}


def upgrade() -> None:
    table = op.create_table(
        "record_sequence",
        sa.Column("name", sa.Text().with_variant(sa.String(255), *MYSQL), primary_key=True),
        sa.Column("value", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        **TABLE_ARGS,
    )
    # the sequence goes on from the last change the record holds (an index's checkpoint stays true)
    last = op.get_bind().execute(sa.text("SELECT COALESCE(MAX(seq), 0) FROM stacks")).scalar()
    op.bulk_insert(table, [{"name": "changes", "value": int(last or 0)}])


def downgrade() -> None:
    op.drop_table("record_sequence")
