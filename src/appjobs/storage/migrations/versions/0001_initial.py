"""Initial schema: templates, jobs with steps, parameters and logs, workers, communication users.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('comm_user',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('failed_logons', sa.Integer(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('job',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('run_count', sa.String(length=8), nullable=False),
    sa.Column('template_name', sa.String(length=40), nullable=False),
    sa.Column('text', sa.String(length=120), nullable=False),
    sa.Column('job_user', sa.String(length=40), nullable=False),
    sa.Column('creator', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=1), nullable=False),
    sa.Column('test_mode', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('step_count', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('scheduled_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('return_code', sa.Integer(), server_default='0', nullable=False),
    sa.Column('worker_id', sa.String(length=36), nullable=True),
    sa.Column('cancel_requested_by', sa.String(length=40), nullable=True),
    sa.Column('cancel_requested_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('restart_of_name', sa.String(length=32), nullable=True),
    sa.Column('restart_of_run_count', sa.String(length=8), nullable=True),
    sa.Column('restart_mode', sa.String(length=1), nullable=True),
    sa.PrimaryKeyConstraint('name', 'run_count')
    )
    op.create_index('ix_job_created', 'job', ['created_at'], unique=False)
    op.create_index('ix_job_creator_created', 'job', ['creator', 'created_at'], unique=False)
    op.create_index('ix_job_status_scheduled', 'job', ['status', 'scheduled_at'], unique=False)
    op.create_table('template',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('version', sa.String(length=1), server_default='0', nullable=False),
    sa.Column('text', sa.String(length=120), nullable=False),
    sa.Column('supports_test_mode', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=40), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('changed_by', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('worker',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('hostname', sa.String(length=255), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('pid_started', sa.Float(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('job_log',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('job_name', sa.String(length=32), nullable=False),
    sa.Column('run_count', sa.String(length=8), nullable=False),
    sa.Column('step_number', sa.Integer(), nullable=True),
    sa.Column('logged_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('severity', sa.String(length=1), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['job_name', 'run_count'], ['job.name', 'job.run_count'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_job_log_job', 'job_log', ['job_name', 'run_count', 'id'], unique=False)
    op.create_table('job_param',
    sa.Column('job_name', sa.String(length=32), nullable=False),
    sa.Column('run_count', sa.String(length=8), nullable=False),
    sa.Column('step_number', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=38), nullable=False),
    sa.Column('value', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['job_name', 'run_count'], ['job.name', 'job.run_count'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('job_name', 'run_count', 'step_number', 'name')
    )
    op.create_table('job_step',
    sa.Column('job_name', sa.String(length=32), nullable=False),
    sa.Column('run_count', sa.String(length=8), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('target', sa.Text(), nullable=False),
    sa.Column('text', sa.String(length=120), server_default='', nullable=False),
    sa.Column('status', sa.String(length=1), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('exit_code', sa.Integer(), nullable=True),
    sa.Column('pid', sa.Integer(), nullable=True),
    sa.Column('pid_started', sa.Float(), nullable=True),
    sa.Column('token', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['job_name', 'run_count'], ['job.name', 'job.run_count'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('job_name', 'run_count', 'number')
    )
    op.create_table('template_param',
    sa.Column('template_name', sa.String(length=40), nullable=False),
    sa.Column('step_number', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=38), nullable=False),
    sa.Column('default_value', sa.String(length=255), server_default='', nullable=False),
    sa.ForeignKeyConstraint(['template_name'], ['template.name'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('template_name', 'step_number', 'name')
    )
    op.create_table('template_step',
    sa.Column('template_name', sa.String(length=40), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('target', sa.Text(), nullable=False),
    sa.Column('text', sa.String(length=120), server_default='', nullable=False),
    sa.ForeignKeyConstraint(['template_name'], ['template.name'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('template_name', 'number')
    )


def downgrade() -> None:
    for table in ("job_log", "job_param", "job_step", "job", "template_param", "template_step", "template", "worker", "comm_user"):
        op.drop_table(table)
