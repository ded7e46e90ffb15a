"""The SQL of the job tables, built once, and the conversions between rows and models.

Why build statements once: SQLAlchemy caches the SQL string it compiles, but
a statement written inline is still constructed anew on every call, and its
cache key computed from scratch. For the tiny statements of the engine's hot
path that construction costs several times the query itself. Measured on a
2-core VM: a one-row select with a two-column ``WHERE`` took 150 µs built per
call and 30 µs built once with bind parameters (raw :mod:`sqlite3`: 6 µs). So
every statement here is a module constant with named :func:`sqlalchemy.bindparam`
placeholders, and callers pass values by name.

Conventions of the placeholders: ``key_name`` and ``key_run_count`` select one
job (see :func:`key`); ``now`` is the current time. Placeholders never share a
name with a column the statement sets, which SQLAlchemy reserves for itself.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from appjobs import models
from appjobs.models import JobKey, JobStatus
from appjobs.storage import schema

J, S, P, L = schema.job, schema.job_step, schema.job_param, schema.job_log

SCHEDULED, READY, RUNNING = JobStatus.SCHEDULED.value, JobStatus.READY.value, JobStatus.RUNNING.value
ABORTED = JobStatus.ABORTED.value


def of_key(table: sa.Table) -> sa.ColumnElement[bool]:
    name = table.c.name if table is J else table.c.job_name
    return sa.and_(name == sa.bindparam("key_name"), table.c.run_count == sa.bindparam("key_run_count"))


def now_param() -> sa.BindParameter[Any]:
    # Typed explicitly, so that the UTC conversion of schema.Timestamp applies in SET clauses too.
    return sa.bindparam("now", type_=schema.Timestamp())


def key(job: JobKey, **values: object) -> dict[str, object]:
    """Bind values that select *job*, plus *values*."""
    return {"key_name": job.name, "key_run_count": job.run_count, **values}


# --- reading and creating ------------------------------------------------------------------------------------

INSERT_JOB, INSERT_STEP, INSERT_PARAM, INSERT_LOG = J.insert(), S.insert(), P.insert(), L.insert()
JOB = sa.select(J).where(of_key(J))
JOB_POLL = sa.select(J.c.status, J.c.creator).where(of_key(J))  # all that a poll needs
#: A poll by a caller known from a server's caches: the same, with the caller's credential version (NULL
#: columns of the job when there is none), so that the check that its logon still holds costs no extra read.
JOB_POLL_FOR = (
    sa.select(schema.comm_user.c.credential_version, J.c.status, J.c.creator)
    .select_from(schema.comm_user.outerjoin(J, of_key(J)))
    .where(schema.comm_user.c.name == sa.bindparam("caller"))
)
STEPS = sa.select(S).where(of_key(S)).order_by(S.c.number)
#: The steps of the jobs with any of ``names`` (JobListGet), run counts to be checked by the caller. Not
#: ``(job_name, run_count) IN (…)``: SQLite scans the whole table for that (229 ms for 318 jobs among a
#: million), where ``job_name IN (…)`` is one search of the primary key per name.
STEPS_OF = (
    sa.select(S)
    .where(S.c.job_name.in_(sa.bindparam("names", expanding=True)))
    .order_by(S.c.job_name, S.c.run_count, S.c.number)
)
PARAMS = sa.select(P).where(of_key(P))
PLANNED = (
    sa.select(J)
    .where(J.c.status == SCHEDULED)
    .order_by(J.c.scheduled_at, J.c.name)
    .limit(sa.bindparam("limit", type_=sa.Integer))
)
LOG = sa.select(L).where(of_key(L)).order_by(L.c.id)

# --- cancelling ----------------------------------------------------------------------------------------------

JOB_STATUS = sa.select(J.c.status, J.c.series_id).where(of_key(J))
DELETE_JOB = J.delete().where(of_key(J))
REQUEST_CANCEL = (
    J.update()
    .where(of_key(J), J.c.cancel_requested_by.is_(None))
    .values(cancel_requested_by=sa.bindparam("by"), cancel_requested_at=now_param())
)
CANCEL_REQUESTS = sa.select(J.c.name, J.c.run_count, J.c.cancel_requested_by).where(
    J.c.worker_id == sa.bindparam("worker"), J.c.status == RUNNING, J.c.cancel_requested_by.is_not(None)
)

# --- the worker's side ---------------------------------------------------------------------------------------

#: Due jobs that belong to no series; those of a series go one by one (see :mod:`appjobs.storage.series`).
MAKE_DUE_READY = (
    J.update()
    .where(J.c.status == SCHEDULED, J.c.scheduled_at <= now_param(), J.c.series_id.is_(None))
    .values(status=READY)
)
#: When the next planned job is due: how long a worker may sleep before it must claim again.
NEXT_PLANNED_START = sa.select(sa.func.min(J.c.scheduled_at)).where(J.c.status == SCHEDULED)
READY_JOBS = (
    sa.select(J.c.name, J.c.run_count, J.c.test_mode, J.c.step_count, J.c.restart_mode, J.c.scheduled_at)
    .where(J.c.status == READY)
    .order_by(J.c.scheduled_at, J.c.created_at)
    .limit(sa.bindparam("limit", type_=sa.Integer))
    .with_for_update(skip_locked=True)  # PostgreSQL: workers claim side by side; SQLite ignores it
)
START_JOB = (
    J.update()
    .where(of_key(J), J.c.status == READY)
    .values(status=RUNNING, started_at=now_param(), worker_id=sa.bindparam("worker"))
)
START_STEP = (
    S.update()
    .where(of_key(S), S.c.number == sa.bindparam("step_no"))
    .values(status=RUNNING, started_at=now_param(), token=sa.bindparam("step_token"))
)
#: Where a restarted copy begins: its first step still S (the steps before it were copied as K, skipped).
FIRST_PENDING_STEP = sa.select(sa.func.min(S.c.number)).where(of_key(S), S.c.status == SCHEDULED)
STEP_TARGET = sa.select(S.c.kind, S.c.target, S.c.warning_exit_codes, S.c.pass_env).where(
    of_key(S), S.c.number == sa.bindparam("step_no")
)
STEP_PARAMS = sa.select(P.c.name, P.c.value, P.c.select_option, P.c.rows).where(
    of_key(P), P.c.step_number == sa.bindparam("step_no")
)
STEP_SPAWNED = (
    S.update()
    .where(of_key(S), S.c.number == sa.bindparam("step_no"))
    .values(pid=sa.bindparam("step_pid"), pid_started=sa.bindparam("step_pid_started"))
)
END_STEP = (
    S.update()
    .where(of_key(S), S.c.number == sa.bindparam("step_no"), S.c.status == RUNNING)
    .values(status=sa.bindparam("new_status"), ended_at=now_param(), exit_code=sa.bindparam("code"))
    .returning(S.c.started_at)  # for the step duration metric, in the same statement
)
JOB_SHAPE = sa.select(J.c.step_count, J.c.test_mode).where(of_key(J))
WARNED_STEPS = sa.select(sa.func.count()).select_from(S).where(of_key(S), S.c.status == JobStatus.WARNING.value)
ABORT_LATER_STEPS = S.update().where(of_key(S), S.c.number > sa.bindparam("step_no")).values(status=ABORTED)
END_JOB = J.update().where(of_key(J)).values(status=sa.bindparam("new_status"), ended_at=now_param(), worker_id=None)
RUNNING_STEPS = (
    sa.select(S.c.job_name, S.c.run_count, S.c.number, S.c.pid, S.c.pid_started, S.c.token, J.c.worker_id)
    .join(J, sa.and_(J.c.name == S.c.job_name, J.c.run_count == S.c.run_count))
    .where(S.c.status == RUNNING)
)

ENDED_STEP_TOKENS = sa.select(S.c.token).where(
    S.c.token.in_(sa.bindparam("tokens", expanding=True)), S.c.status != RUNNING
)

# --- rows and models -----------------------------------------------------------------------------------------


def job_row(job: models.Job) -> dict[str, object]:
    return {
        "name": job.key.name,
        "run_count": job.key.run_count,
        "template_name": job.template_name,
        "text": job.text,
        "job_user": job.job_user,
        "creator": job.creator,
        "status": job.status.value,
        "test_mode": job.test_mode,
        "step_count": job.step_count,
        "created_at": job.created_at,
        "scheduled_at": job.scheduled_at,
        "restart_of_name": job.restart_of.name if job.restart_of else None,
        "restart_of_run_count": job.restart_of.run_count if job.restart_of else None,
        "restart_mode": job.restart_mode,
        "series_id": job.series_id,
        "series_index": job.series_index,
    }


def to_job(r: sa.Row[Any]) -> models.Job:
    restart_of = JobKey(r.restart_of_name, r.restart_of_run_count) if r.restart_of_name else None
    return models.Job(
        key=JobKey(r.name, r.run_count),
        template_name=r.template_name,
        text=r.text,
        job_user=r.job_user,
        creator=r.creator,
        status=JobStatus(r.status),
        created_at=r.created_at,
        scheduled_at=r.scheduled_at,
        started_at=r.started_at,
        ended_at=r.ended_at,
        step_count=r.step_count,
        test_mode=r.test_mode,
        return_code=r.return_code,
        cancel_requested_by=r.cancel_requested_by,
        restart_of=restart_of,
        restart_mode=r.restart_mode,
        series_id=r.series_id,
        series_index=r.series_index,
    )


def step_row(s: models.StepRun) -> dict[str, object]:
    return {
        "job_name": s.key.name,
        "run_count": s.key.run_count,
        "number": s.number,
        "kind": s.kind.value,
        "target": s.target,
        "text": s.text,
        "status": s.status.value,
        "warning_exit_codes": " ".join(map(str, s.warning_exit_codes)),
        "pass_env": " ".join(s.pass_env),
    }


def to_step(r: sa.Row[Any]) -> models.StepRun:
    job = JobKey(r.job_name, r.run_count)
    kind = models.StepKind(r.kind)
    codes = tuple(int(c) for c in r.warning_exit_codes.split())
    status, pass_env = JobStatus(r.status), tuple(r.pass_env.split())
    return models.StepRun(
        job, r.number, kind, r.target, r.text, status, r.started_at, r.ended_at, r.exit_code, codes, pass_env
    )


def log_row(e: models.LogEntry) -> dict[str, object]:
    return {
        "job_name": e.key.name,
        "run_count": e.key.run_count,
        "step_number": e.step_number,
        "logged_at": e.logged_at,
        "severity": e.severity.value,
        "source": e.source,
        "text": e.text,
    }


def to_log_entry(r: sa.Row[Any]) -> models.LogEntry:
    job = JobKey(r.job_name, r.run_count)
    return models.LogEntry(job, r.step_number, r.logged_at, models.Severity(r.severity), r.source, r.text)
