"""Communication management (systems, arrangements, certificate users, business users, lockout, audit log),
template restrictions to business users, and steps that finish with warnings.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("comm_user") as batch:  # SQLite cannot add a unique column in place
        batch.add_column(sa.Column("cert_fingerprint", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("cert_subject", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("locked_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_unique_constraint("uq_comm_user_cert_fingerprint", ["cert_fingerprint"])
    op.create_table(
        "comm_system",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("host_name", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "comm_arrangement",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("scenario", sa.String(length=20), nullable=False),
        sa.Column("system_id", sa.String(length=40), nullable=False),
        sa.Column("user_name", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["system_id"], ["comm_system.id"]),
        sa.ForeignKeyConstraint(["user_name"], ["comm_user.name"]),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_index("ix_comm_arrangement_user", "comm_arrangement", ["user_name"])
    op.create_table(
        "business_user",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("description", sa.String(length=80), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("template") as batch:
        batch.add_column(sa.Column("business_users", sa.Text(), server_default="", nullable=False))
    for table in ("template_step", "job_step"):  # steps that may finish with warnings (W)
        op.add_column(table, sa.Column("warning_exit_codes", sa.Text(), server_default="", nullable=False))
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event", sa.String(length=30), nullable=False),
        sa.Column("user_name", sa.String(length=40), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("detail", sa.Text(), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    # Users made before arrangements existed keep working: each gets a system and an SAP_COM_0064 arrangement.
    _arrange_existing_users()


def _arrange_existing_users() -> None:
    conn = op.get_bind()
    users = conn.execute(sa.text("SELECT name, created_at FROM comm_user")).all()
    for name, created_at in users:
        conn.execute(
            sa.text("INSERT INTO comm_system (id, host_name, created_at) VALUES (:id, 'localhost', :at)"),
            {"id": f"{name}_SYSTEM"[:40], "at": created_at},
        )
        conn.execute(
            sa.text(
                "INSERT INTO comm_arrangement (name, scenario, system_id, user_name, created_at) "
                "VALUES (:name, 'SAP_COM_0064', :system, :user, :at)"
            ),
            {"name": f"{name}_0064", "system": f"{name}_SYSTEM"[:40], "user": name, "at": created_at},
        )


def downgrade() -> None:
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
    with op.batch_alter_table("template") as batch:
        batch.drop_column("business_users")
    for table in ("template_step", "job_step"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("warning_exit_codes")
    op.drop_table("business_user")
    op.drop_index("ix_comm_arrangement_user", table_name="comm_arrangement")
    op.drop_table("comm_arrangement")
    op.drop_table("comm_system")
    with op.batch_alter_table("comm_user") as batch:
        batch.drop_constraint("uq_comm_user_cert_fingerprint", type_="unique")
        batch.drop_column("locked_at")
        batch.drop_column("cert_subject")
        batch.drop_column("cert_fingerprint")
