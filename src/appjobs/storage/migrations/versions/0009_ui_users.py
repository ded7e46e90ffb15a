"""UI users: business users who log on to the web pages, with a password, a role and a lockout; their sessions.

A UI session lives in its own table, not in ``http_session``: a communication
user's session must never open the pages, nor a UI user's the OData service,
even where a communication user and a business user share a name.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

UTC_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("business_user") as batch:
        batch.add_column(sa.Column("password_hash", sa.String(200)))
        batch.add_column(sa.Column("role", sa.String(20)))
        batch.add_column(sa.Column("locked", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("locked_at", UTC_TIMESTAMP))
        batch.add_column(sa.Column("failed_logons", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("credential_version", sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "ui_session",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("last_seen_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("credential_version", sa.Integer(), nullable=False),
    )
    op.create_index("ix_ui_session_user", "ui_session", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_ui_session_user", "ui_session")
    op.drop_table("ui_session")
    with op.batch_alter_table("business_user") as batch:
        for column in ("credential_version", "failed_logons", "locked_at", "locked", "role", "password_hash"):
            batch.drop_column(column)
