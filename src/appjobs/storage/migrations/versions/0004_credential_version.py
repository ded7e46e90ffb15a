"""Credential versions: a counter per communication user that every credential change moves on,
and the version each HTTP session was opened under.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing users and sessions start at 0 alike, so the sessions open during the upgrade stay valid.
    op.add_column("comm_user", sa.Column("credential_version", sa.Integer(), server_default="0", nullable=False))
    op.add_column("http_session", sa.Column("credential_version", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("http_session") as batch:
        batch.drop_column("credential_version")
    with op.batch_alter_table("comm_user") as batch:
        batch.drop_column("credential_version")
