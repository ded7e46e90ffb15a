"""Indexes for a million jobs: JobHeaderSet's ``$filter`` on the planned start.

``JobHeaderSet?$filter=JobPlannedStartDateTime ge '…'`` narrows on ``job.scheduled_at``, which
only ``ix_job_status_scheduled`` held, behind the status. So the database walked the caller's
jobs in ``created_at`` order and checked each one's planned start: with 1,000,000 ended jobs
and the planned ones the newest, 46 ms for a SAP_COM_0064 user (20,000 jobs of its own) and
4.4 s for a SAP_COM_0326 user, who sees every job. With these two indexes the database reads
only the jobs in the range and sorts them: 0.1 ms and 9 ms (SQLite, 2-core VM; see
bench/million_bench.py). A filter whose range holds most of the table gets slower instead (it is
sorted whole); the usual filter, what is planned from now on or in the last hours, is small.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_job_scheduled", "job", ["scheduled_at"])  # every job in scope: SAP_COM_0326
    op.create_index("ix_job_creator_scheduled", "job", ["creator", "scheduled_at"])  # one creator's: SAP_COM_0064


def downgrade() -> None:
    op.drop_index("ix_job_creator_scheduled", "job")
    op.drop_index("ix_job_scheduled", "job")
