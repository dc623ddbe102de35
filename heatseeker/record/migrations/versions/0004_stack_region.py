"""The region of the Heat that holds each stack (#15: one heatseeker for several regions): a
column beside the document's own ``region``, so that the record can refuse a write from another
region and sync can reconcile one region at a time. Rows from before stay NULL until
``Store.label_region`` labels them with the installation's one region (``heatseeker db upgrade``
and the first writer do it, without reading Heat).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

MYSQL = ("mysql", "mariadb")


def upgrade() -> None:
    key = sa.Text().with_variant(sa.String(255), *MYSQL)
    with op.batch_alter_table("stacks") as batch:
        batch.add_column(sa.Column("region", key))
        batch.create_index("stacks_region", ["region"])


def downgrade() -> None:
    with op.batch_alter_table("stacks") as batch:
        batch.drop_index("stacks_region")
        batch.drop_column("region")
