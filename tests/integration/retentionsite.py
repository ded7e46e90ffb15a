"""Helpers for the retention tests: jobs, series and audit entries that ended when the test says.

Jobs are created through the store as the service creates them (a step, a
parameter and a log line each, so that deleting one shows in every child
table), then given the status and times the engine would have left. Large
numbers go in by bulk inserts, one transaction, to keep the tests quick.
"""

from __future__ import annotations

import datetime as dt
import secrets

import sqlalchemy as sa

from appjobs import models
from appjobs.models import JobKey, JobStatus
from appjobs.storage import Store, schema
from appjobs.storage import jobsql as q

J, STEP, PARAM, LOG = schema.job, schema.job_step, schema.job_param, schema.job_log
DAY = dt.timedelta(days=1)
LONG_AGO = dt.timedelta(days=400)


def add_job(
    store: Store,
    status: JobStatus,
    *,
    ended: dt.datetime | None = None,
    created: dt.datetime | None = None,
    scheduled: dt.datetime | None = None,
    series_id: str | None = None,
) -> JobKey:
    """A job in *status* whose ``ended_at`` is *ended*, with one step, one parameter and one log line."""
    key = JobKey.new()
    created = created or (ended - DAY if ended else models.utcnow() - LONG_AGO)
    job = models.Job(
        key, "/T/ONE", "retention test", "USER", "CREATOR", JobStatus.SCHEDULED, created, scheduled or created,
        series_id=series_id, series_index=0 if series_id else None,
    )  # fmt: skip
    step = models.StepRun(key, 1, models.StepKind.SHELL, "true", "", JobStatus.SCHEDULED)
    note = models.LogEntry(key, None, created, models.Severity.INFO, "engine", "Job scheduled.")
    store.jobs.create(job, [step], {1: {"P": "value"}}, [note])
    if status is not JobStatus.SCHEDULED or ended is not None:
        of_job = (J.c.name == key.name, J.c.run_count == key.run_count)
        of_step = (STEP.c.job_name == key.name, STEP.c.run_count == key.run_count)
        with store.db.write() as conn:
            conn.execute(J.update().where(*of_job).values(status=status.value, started_at=created, ended_at=ended))
            conn.execute(STEP.update().where(*of_step).values(status=status.value, ended_at=ended))
    return key


def bulk_ended(store: Store, count: int, ended: dt.datetime, *, log_lines: int = 2, text: str = "x" * 100) -> None:
    """*count* jobs that ended F at *ended*, each with a step, a parameter and *log_lines* log lines, in one go."""
    jobs, steps, values, lines = [], [], [], []
    for _ in range(count):
        key = JobKey.new()
        job = models.Job(key, "/T/ONE", "bulk", "USER", "CREATOR", JobStatus.FINISHED, ended - DAY, ended - DAY)
        jobs.append(q.job_row(job) | {"started_at": ended - DAY, "ended_at": ended})
        steps.append(q.step_row(models.StepRun(key, 1, models.StepKind.SHELL, "true", "", JobStatus.FINISHED)))
        values.append({"job_name": key.name, "run_count": key.run_count, "step_number": 1, "name": "P",
                       "value": "v", "select_option": False, "rows": None})  # fmt: skip
        lines += [
            q.log_row(models.LogEntry(key, 1, ended, models.Severity.INFO, "stdout", f"{text} {n}"))
            for n in range(log_lines)
        ]
    with store.db.write() as conn:
        for statement, rows in ((q.INSERT_JOB, jobs), (q.INSERT_STEP, steps), (q.INSERT_PARAM, values)):
            conn.execute(statement, rows)
        conn.execute(q.INSERT_LOG, lines)


def children(store: Store, key: JobKey) -> tuple[int, int, int]:
    """How many steps, parameter values and log lines of *key* are stored."""
    with store.db.read() as conn:
        return tuple(  # type: ignore[return-value]
            conn.scalar(sa.select(sa.func.count()).where(t.c.job_name == key.name, t.c.run_count == key.run_count))
            for t in (STEP, PARAM, LOG)
        )


def job_count(store: Store) -> int:
    with store.db.read() as conn:
        return int(conn.scalar(sa.select(sa.func.count()).select_from(J)) or 0)


def exists(store: Store, key: JobKey) -> bool:
    with store.db.read() as conn:
        return conn.execute(q.JOB_STATUS, q.key(key)).first() is not None


def add_series(store: Store, *, ended: dt.datetime | None) -> str:
    """A daily series row, ended at *ended* (None: active)."""
    series_id = secrets.token_hex(16).upper()
    created = models.utcnow() - LONG_AGO
    row = {
        "id": series_id, "template_name": "/T/ONE", "granularity": "DA", "every": 1, "timezone": "UTC",
        "anchor": "2025-01-01T02:00:00", "created_at": created, "created_by": "ADMIN", "ended_at": ended,
    }  # fmt: skip
    with store.db.write() as conn:
        conn.execute(schema.job_series.insert(), row)
    return series_id


def series_ids(store: Store) -> set[str]:
    with store.db.read() as conn:
        return set(conn.execute(sa.select(schema.job_series.c.id)).scalars())


def add_audit(store: Store, at: dt.datetime, detail: str) -> None:
    store.audit.add([models.AuditEntry(at, "admin", "ADMIN", "admin", "success", detail)])


def audit_details(store: Store) -> list[str]:
    return [e.detail for e in store.audit.since(dt.datetime(1970, 1, 1, tzinfo=dt.UTC))]
