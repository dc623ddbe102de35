"""What Heat's notifications said about each stack (the starts and ends of its actions), so that
a stack's history can mark the states it never observed (a gap) instead of merging them silently.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

MYSQL = ("mysql", "mariadb")
TABLE_ARGS: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}


def upgrade() -> None:
    key = sa.Text().with_variant(sa.String(255), *MYSQL)
    op.create_table(
        "stack_events",
        sa.Column("stack_id", key, nullable=False),
        sa.Column("at_us", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("action", key, nullable=False),
        sa.Column("phase", key, nullable=False),
        sa.Column("status", key),
        sa.Column("request_id", key),
        sa.Column("observed_us", sa.BigInteger().with_variant(sa.Integer(), "sqlite")),
        sa.Column("observed_digest", key),
        sa.PrimaryKeyConstraint("stack_id", "at_us", "action", "phase"),
        **TABLE_ARGS,
    )


def downgrade() -> None:
    op.drop_table("stack_events")
