"""Parameters as SAP has them: typed template parameter declarations, and select-option rows of a job's values.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TEMPLATE_PARAM_COLUMNS = (
    ("type", lambda: sa.Column("type", sa.String(5), server_default="CHAR", nullable=False)),
    ("select_option", lambda: sa.Column("select_option", sa.Boolean(), server_default=sa.false(), nullable=False)),
    ("mandatory", lambda: sa.Column("mandatory", sa.Boolean(), server_default=sa.false(), nullable=False)),
    ("allowed", lambda: sa.Column("allowed", sa.Text(), server_default="", nullable=False)),
    ("text", lambda: sa.Column("text", sa.String(120), server_default="", nullable=False)),
    ("default_rows", lambda: sa.Column("default_rows", sa.Text(), nullable=True)),
)
JOB_PARAM_COLUMNS = (
    ("select_option", lambda: sa.Column("select_option", sa.Boolean(), server_default=sa.false(), nullable=False)),
    ("rows", lambda: sa.Column("rows", sa.Text(), nullable=True)),
)


def upgrade() -> None:
    # Existing rows stay what they were: string parameters with one value (the columns' defaults say so).
    for name, column in TEMPLATE_PARAM_COLUMNS:
        op.add_column("template_param", column())
    for name, column in JOB_PARAM_COLUMNS:
        op.add_column("job_param", column())


def downgrade() -> None:
    for table, columns in (("template_param", TEMPLATE_PARAM_COLUMNS), ("job_param", JOB_PARAM_COLUMNS)):
        with op.batch_alter_table(table) as batch:
            for name, _ in columns:
                batch.drop_column(name)
