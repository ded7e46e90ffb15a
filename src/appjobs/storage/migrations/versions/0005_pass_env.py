"""Variables of the worker's environment that a template step may see: steps get a clean environment.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("template_step", "job_step"):  # space-separated variable names, as warning_exit_codes
        op.add_column(table, sa.Column("pass_env", sa.Text(), server_default="", nullable=False))


def downgrade() -> None:
    for table in ("template_step", "job_step"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("pass_env")
