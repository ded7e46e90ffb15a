"""The database schema, as SQLAlchemy Core tables.

One schema serves SQLite (embedded) and PostgreSQL (scale-out). Alembic
migrations under ``storage/migrations`` create it; the tables here are what
queries are written against, and a test checks that the two agree.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData()


class Timestamp(sa.TypeDecorator[dt.datetime]):
    """A UTC timestamp: aware datetimes in, aware UTC datetimes out, on every dialect.

    SQLite has no time zones, so there the value is stored as naive UTC text
    (which sorts correctly); PostgreSQL stores ``timestamptz``.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: appjobs stores UTC only")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


template = sa.Table(
    "template",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("version", sa.String(1), nullable=False, server_default="0"),
    sa.Column("text", sa.String(120), nullable=False),
    sa.Column("supports_test_mode", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", Timestamp(), nullable=False),
    sa.Column("created_by", sa.String(40), nullable=False),
    sa.Column("changed_at", Timestamp(), nullable=False),
    sa.Column("changed_by", sa.String(40), nullable=False),
    # The business users allowed to run it, space-separated; empty: anybody. Read on every
    # schedule, so it lives in the row rather than in a table that would need another join.
    sa.Column("business_users", sa.Text, nullable=False, server_default=""),
    # A default recurrence (migration 0007): TOML ``recurrence = { every = "1d", at = "02:00", timezone = … }``.
    sa.Column("recurrence_every", sa.String(8)),  # "15m", "2h", "1d", "1w", "1mo"; NULL: none
    sa.Column("recurrence_at", sa.String(5)),  # local "HH:MM" of the first start; NULL: none
    sa.Column("recurrence_timezone", sa.String(64)),  # IANA name; NULL: UTC
)

template_step = sa.Table(
    "template_step",
    metadata,
    sa.Column("template_name", sa.String(40), sa.ForeignKey("template.name", ondelete="CASCADE"), primary_key=True),
    sa.Column("number", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("text", sa.String(120), nullable=False, server_default=""),
    sa.Column("warning_exit_codes", sa.Text, nullable=False, server_default=""),  # space-separated
    sa.Column("pass_env", sa.Text, nullable=False, server_default=""),  # space-separated names
)

template_param = sa.Table(
    "template_param",
    metadata,
    sa.Column("template_name", sa.String(40), sa.ForeignKey("template.name", ondelete="CASCADE"), primary_key=True),
    sa.Column("step_number", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(38), primary_key=True),
    sa.Column("default_value", sa.String(255), nullable=False, server_default=""),
    # The declaration (migration 0006). A row from before it is a string parameter with default_value.
    sa.Column("type", sa.String(5), nullable=False, server_default="CHAR"),
    sa.Column("select_option", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("mandatory", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("allowed", sa.Text, nullable=False, server_default=""),  # JSON list of values; "" for any
    sa.Column("text", sa.String(120), nullable=False, server_default=""),
    sa.Column("default_rows", sa.Text),  # JSON list of SIGN/OPTION/LOW/HIGH; NULL: one I EQ default_value row
)

job = sa.Table(
    "job",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("run_count", sa.String(8), primary_key=True),
    sa.Column("template_name", sa.String(40), nullable=False),
    sa.Column("text", sa.String(120), nullable=False),
    sa.Column("job_user", sa.String(40), nullable=False),
    sa.Column("creator", sa.String(40), nullable=False),
    sa.Column("status", sa.String(1), nullable=False),
    sa.Column("test_mode", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("step_count", sa.Integer, nullable=False),
    sa.Column("created_at", Timestamp(), nullable=False),
    sa.Column("scheduled_at", Timestamp(), nullable=False),
    sa.Column("started_at", Timestamp()),
    sa.Column("ended_at", Timestamp()),
    sa.Column("return_code", sa.Integer, nullable=False, server_default="0"),
    # Which worker runs the job; its heartbeat is the job's lease.
    sa.Column("worker_id", sa.String(36)),
    sa.Column("cancel_requested_by", sa.String(40)),
    sa.Column("cancel_requested_at", Timestamp()),
    # Restart lineage: a restarted job is a copy that points at its original.
    sa.Column("restart_of_name", sa.String(32)),
    sa.Column("restart_of_run_count", sa.String(8)),
    sa.Column("restart_mode", sa.String(1)),
    # A job of a periodic series (migration 0007): which series, and which of its starts (0: the first).
    sa.Column("series_id", sa.String(32)),
    sa.Column("series_index", sa.Integer),
    sa.Index("ix_job_status_scheduled", "status", "scheduled_at"),
    sa.Index("ix_job_created", "created_at"),
    sa.Index("ix_job_creator_created", "creator", "created_at"),
    sa.Index("ix_job_series", "series_id"),
    sa.Index("ix_job_ended", "ended_at"),  # retention: what ended before the cut-off
    # JobHeaderSet's $filter on JobPlannedStartDateTime (migration 0008), for every job and for one creator's.
    sa.Index("ix_job_scheduled", "scheduled_at"),
    sa.Index("ix_job_creator_scheduled", "creator", "scheduled_at"),
)

# A periodic series (migration 0007). Its starts are computed from the anchor, the local wall time of
# its first start in its time zone, so that they never drift; see appjobs.recurrence.
job_series = sa.Table(
    "job_series",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("template_name", sa.String(40), nullable=False),
    sa.Column("granularity", sa.String(2), nullable=False),  # MI, HO, DA, WE, MO
    sa.Column("every", sa.Integer, nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),  # IANA name
    sa.Column("anchor", sa.String(19), nullable=False),  # naive local ISO "YYYY-MM-DDTHH:MM:SS"
    sa.Column("until", Timestamp()),  # no start after this; NULL: no end date
    sa.Column("max_runs", sa.Integer),  # starts 0 .. max_runs-1 only; NULL: no limit
    sa.Column("created_at", Timestamp(), nullable=False),  # SAP's JobSeriesCreatedAt
    sa.Column("created_by", sa.String(40), nullable=False),
    sa.Column("ended_at", Timestamp()),  # cancelled, or its last job planned; NULL: active
)

job_step = sa.Table(
    "job_step",
    metadata,
    sa.Column("job_name", sa.String(32), primary_key=True),
    sa.Column("run_count", sa.String(8), primary_key=True),
    sa.Column("number", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("text", sa.String(120), nullable=False, server_default=""),
    sa.Column("status", sa.String(1), nullable=False),
    sa.Column("started_at", Timestamp()),
    sa.Column("ended_at", Timestamp()),
    sa.Column("exit_code", sa.Integer),
    sa.Column("warning_exit_codes", sa.Text, nullable=False, server_default=""),  # space-separated
    sa.Column("pass_env", sa.Text, nullable=False, server_default=""),  # space-separated names
    # The step's process: leader pid, its start time (guards against pid reuse)
    # and a token every descendant inherits in its environment, so that even
    # processes that left the process group can be found and stopped.
    sa.Column("pid", sa.Integer),
    sa.Column("pid_started", sa.Float),
    sa.Column("token", sa.String(32)),
    sa.ForeignKeyConstraint(["job_name", "run_count"], ["job.name", "job.run_count"], ondelete="CASCADE"),
)

job_param = sa.Table(
    "job_param",
    metadata,
    sa.Column("job_name", sa.String(32), primary_key=True),
    sa.Column("run_count", sa.String(8), primary_key=True),
    sa.Column("step_number", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(38), primary_key=True),
    sa.Column("value", sa.String(255), nullable=False),  # the (first) LOW: what the step sees as NAME
    # Migration 0006: a select-option's rows as JSON (SIGN/OPTION/LOW/HIGH); NULL: one I EQ value row.
    sa.Column("select_option", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("rows", sa.Text),
    sa.ForeignKeyConstraint(["job_name", "run_count"], ["job.name", "job.run_count"], ondelete="CASCADE"),
)

job_log = sa.Table(
    "job_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job_name", sa.String(32), nullable=False),
    sa.Column("run_count", sa.String(8), nullable=False),
    sa.Column("step_number", sa.Integer),
    sa.Column("logged_at", Timestamp(), nullable=False),
    sa.Column("severity", sa.String(1), nullable=False),
    sa.Column("source", sa.String(10), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.ForeignKeyConstraint(["job_name", "run_count"], ["job.name", "job.run_count"], ondelete="CASCADE"),
    sa.Index("ix_job_log_job", "job_name", "run_count", "id"),
)

worker = sa.Table(
    "worker",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("hostname", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("pid_started", sa.Float, nullable=False),
    sa.Column("started_at", Timestamp(), nullable=False),
    sa.Column("heartbeat_at", Timestamp(), nullable=False),
    sa.Column("concurrency", sa.Integer),  # steps it runs at once (None: registered by an older appjobs)
)

comm_user = sa.Table(
    "comm_user",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("password_hash", sa.String(200)),
    sa.Column("created_at", Timestamp(), nullable=False),
    sa.Column("locked", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("failed_logons", sa.Integer, nullable=False, server_default="0"),
    # A certificate user logs on with a client certificate, found by the SHA-256 of its DER bytes.
    sa.Column("cert_fingerprint", sa.String(64), unique=True),
    sa.Column("cert_subject", sa.String(500)),
    sa.Column("locked_at", Timestamp()),
    # Moved on by every change that must end the user's logons at once (password reset, lock, lockout,
    # an arrangement removed): sessions and cached logons carry the version they were made under, and
    # a request whose version is not the current one is refused. See appjobs.auth.logon.
    sa.Column("credential_version", sa.Integer, nullable=False, server_default="0"),
)

# Server-side HTTP sessions (SAP_SESSIONID cookies). Only a hash of the session id is
# stored, so a leaked database does not hand out live sessions.
http_session = sa.Table(
    "http_session",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("user_name", sa.String(40), nullable=False),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", Timestamp(), nullable=False),
    sa.Column("last_seen_at", Timestamp(), nullable=False),
    sa.Column("credential_version", sa.Integer, nullable=False, server_default="0"),  # of the user, at logon
    sa.Index("ix_http_session_last_seen", "last_seen_at"),
)


# Communication management (SAP's Communication Systems / Arrangements apps) and business users.
comm_system = sa.Table(
    "comm_system",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("host_name", sa.String(255), nullable=False),
    sa.Column("created_at", Timestamp(), nullable=False),
)

comm_arrangement = sa.Table(
    "comm_arrangement",
    metadata,
    sa.Column("name", sa.String(80), primary_key=True),
    sa.Column("scenario", sa.String(20), nullable=False),
    sa.Column("system_id", sa.String(40), sa.ForeignKey("comm_system.id"), nullable=False),
    sa.Column("user_name", sa.String(40), sa.ForeignKey("comm_user.name"), nullable=False),
    sa.Column("created_at", Timestamp(), nullable=False),
    sa.Index("ix_comm_arrangement_user", "user_name"),
)

business_user = sa.Table(
    "business_user",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("description", sa.String(80), nullable=False, server_default=""),
    sa.Column("created_at", Timestamp(), nullable=False),
    # A business user with a password and a role may log on to the web pages (appjobs.auth.ui);
    # lockout and credential version work as for communication users.
    sa.Column("password_hash", sa.String(200)),
    sa.Column("role", sa.String(20)),
    sa.Column("locked", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("locked_at", Timestamp()),
    sa.Column("failed_logons", sa.Integer, nullable=False, server_default="0"),
    sa.Column("credential_version", sa.Integer, nullable=False, server_default="0"),
)

# Sessions of the web pages: apart from http_session, so that neither kind of user can use the other's.
ui_session = sa.Table(
    "ui_session",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(40), nullable=False),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", Timestamp(), nullable=False),
    sa.Column("last_seen_at", Timestamp(), nullable=False),
    sa.Column("credential_version", sa.Integer, nullable=False),
    sa.Index("ix_ui_session_user", "user_id"),
)

# Business users allowed to run a template; a template without rows here is open to all.
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", Timestamp(), nullable=False),
    sa.Column("event", sa.String(30), nullable=False),
    sa.Column("user_name", sa.String(40)),
    sa.Column("source", sa.String(64)),
    sa.Column("outcome", sa.String(10), nullable=False),
    sa.Column("detail", sa.Text, nullable=False, server_default=""),
    sa.Column("request_id", sa.String(64)),  # the x-correlationid of the request it was written for
    sa.Index("ix_audit_log_at", "at"),
)
