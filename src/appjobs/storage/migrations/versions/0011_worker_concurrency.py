"""Each worker records how many steps it runs at once, so that the metrics can say how many slots are free.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("worker", sa.Column("concurrency", sa.Integer()))  # None: registered by an older appjobs


def downgrade() -> None:
    with op.batch_alter_table("worker") as batch:
        batch.drop_column("concurrency")
