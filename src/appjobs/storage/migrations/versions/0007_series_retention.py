"""Jobs in time: periodic series, a template's default recurrence, and the indexes retention needs.

A planned job is an ordinary job in status S whose ``scheduled_at`` lies ahead.
A periodic series is a ``job_series`` row; each of its jobs points at it with
``series_id`` and knows which start of the series it is (``series_index``: 0 is
the first), so that the next start is computed from the series' anchor and
never drifts (month ends, daylight-saving changes: see :mod:`appjobs.recurrence`).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from appjobs.storage.schema import Timestamp

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TEMPLATE_COLUMNS = (
    ("recurrence_every", lambda: sa.Column("recurrence_every", sa.String(8), nullable=True)),
    ("recurrence_at", lambda: sa.Column("recurrence_at", sa.String(5), nullable=True)),
    ("recurrence_timezone", lambda: sa.Column("recurrence_timezone", sa.String(64), nullable=True)),
)


def upgrade() -> None:
    op.create_table(
        "job_series",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("template_name", sa.String(40), nullable=False),
        sa.Column("granularity", sa.String(2), nullable=False),
        sa.Column("every", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("anchor", sa.String(19), nullable=False),
        sa.Column("until", Timestamp(), nullable=True),
        sa.Column("max_runs", sa.Integer(), nullable=True),
        sa.Column("created_at", Timestamp(), nullable=False),
        sa.Column("created_by", sa.String(40), nullable=False),
        sa.Column("ended_at", Timestamp(), nullable=True),
    )
    op.add_column("job", sa.Column("series_id", sa.String(32), nullable=True))
    op.add_column("job", sa.Column("series_index", sa.Integer(), nullable=True))
    op.create_index("ix_job_series", "job", ["series_id"])
    op.create_index("ix_job_ended", "job", ["ended_at"])
    for _, column in TEMPLATE_COLUMNS:
        op.add_column("template", column())


def downgrade() -> None:
    with op.batch_alter_table("template") as batch:
        for name, _ in TEMPLATE_COLUMNS:
            batch.drop_column(name)
    op.drop_index("ix_job_ended", "job")
    op.drop_index("ix_job_series", "job")
    with op.batch_alter_table("job") as batch:
        batch.drop_column("series_index")
        batch.drop_column("series_id")
    op.drop_table("job_series")
