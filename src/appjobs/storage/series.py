"""Periodic series in the database: the series row, and how a due job of a series makes the next one.

A series keeps exactly one job planned ahead (status S). When that job becomes
due, the worker that moves it to Y (ready) creates the series' next job in the
same transaction, as a copy of it (steps and parameters) with the next start
(:func:`advance`). So the next run is visible, and cancellable, while the
current one runs, as on SAP's side.

Why a lock on the series row: on PostgreSQL two workers claim side by side,
and a cancel of the series may run at the same moment. Both the advance and
the cancel take ``SELECT … FOR UPDATE`` on the series row first, so that a
cancel never misses the next job an advance is creating, and two workers
never both create one (the due job itself is also locked, ``SKIP LOCKED``).
On SQLite every writer holds the one write lock, which orders them anyway.

Downtime: when no worker ran past one or more starts, the due job runs once
for all of them, its log says how many starts passed, and the next job is
planned for the first start still ahead (:meth:`appjobs.recurrence.Recurrence.next_index`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from appjobs import errors, models, recurrence
from appjobs.models import JobKey
from appjobs.storage import jobsql as q
from appjobs.storage import schema

J, S, P, L, SER = schema.job, schema.job_step, schema.job_param, schema.job_log, schema.job_series

INSERT_SERIES = SER.insert()
SERIES = sa.select(SER).where(SER.c.id == sa.bindparam("series"))
SERIES_FOR_UPDATE = SERIES.with_for_update()
END_SERIES = (
    SER.update()
    .where(SER.c.id == sa.bindparam("series"), SER.c.ended_at.is_(None))
    .values(ended_at=sa.bindparam("now", type_=schema.Timestamp()))
)
#: Due jobs of series, locked: the worker that gets one creates the series' next job.
DUE_SERIES_JOBS = (
    sa.select(J.c.name, J.c.run_count, J.c.series_id, J.c.series_index, J.c.scheduled_at)
    .where(J.c.status == q.SCHEDULED, J.c.scheduled_at <= q.now_param(), J.c.series_id.is_not(None))
    .order_by(J.c.scheduled_at)
    .limit(100)
    .with_for_update(skip_locked=True)
)
MAKE_READY = J.update().where(q.of_key(J), J.c.status == q.SCHEDULED).values(status=q.READY)
#: The jobs of a series that have not started: what cancelling the series deletes.
SERIES_NOT_STARTED = J.delete().where(J.c.series_id == sa.bindparam("series"), J.c.status.in_((q.SCHEDULED, q.READY)))
SERIES_RUNNING = sa.select(J.c.name, J.c.run_count).where(
    J.c.series_id == sa.bindparam("series"), J.c.status == q.RUNNING
)
NEXT_PLANNED = sa.select(J.c.name, J.c.run_count, J.c.scheduled_at).where(
    J.c.series_id == sa.bindparam("series"), J.c.status == q.SCHEDULED
)

_NEW = {"new_name": sa.bindparam("new_name"), "new_run_count": sa.bindparam("new_run_count")}
COPY_JOB = J.insert().from_select(
    ["name", "run_count", "template_name", "text", "job_user", "creator", "status", "test_mode", "step_count",
     "created_at", "scheduled_at", "series_id", "series_index"],
    sa.select(
        _NEW["new_name"], _NEW["new_run_count"], J.c.template_name, J.c.text, J.c.job_user, J.c.creator,
        sa.literal(q.SCHEDULED), J.c.test_mode, J.c.step_count, q.now_param(),
        sa.bindparam("planned", type_=schema.Timestamp()), J.c.series_id, sa.bindparam("index", type_=sa.Integer),
    ).where(q.of_key(J)),
)  # fmt: skip
COPY_STEPS = S.insert().from_select(
    ["job_name", "run_count", "number", "kind", "target", "text", "status", "warning_exit_codes", "pass_env"],
    sa.select(
        _NEW["new_name"], _NEW["new_run_count"], S.c.number, S.c.kind, S.c.target, S.c.text,
        sa.literal(q.SCHEDULED), S.c.warning_exit_codes, S.c.pass_env,
    ).where(q.of_key(S)),
)  # fmt: skip
COPY_PARAMS = P.insert().from_select(
    ["job_name", "run_count", "step_number", "name", "value", "select_option", "rows"],
    sa.select(
        _NEW["new_name"], _NEW["new_run_count"], P.c.step_number, P.c.name, P.c.value, P.c.select_option, P.c.rows
    ).where(q.of_key(P)),
)  # fmt: skip


def series_row(series: models.Series) -> dict[str, object]:
    rec = series.recurrence
    return {
        "id": series.id,
        "template_name": series.template_name,
        "granularity": rec.granularity.value,
        "every": rec.value,
        "timezone": rec.timezone,
        "anchor": series.anchor.isoformat(timespec="seconds"),
        "until": series.until,
        "max_runs": series.max_runs,
        "created_at": series.created_at,
        "created_by": series.created_by,
        "ended_at": series.ended_at,
    }


def to_series(r: sa.Row[Any]) -> models.Series:
    rec = recurrence.Recurrence(recurrence.Granularity(r.granularity), r.every, r.timezone)
    anchor = dt.datetime.fromisoformat(r.anchor)
    return models.Series(
        r.id, r.template_name, rec, anchor, r.created_at, r.created_by, r.until, r.max_runs, r.ended_at
    )


def get(conn: sa.Connection, series_id: str) -> models.Series:
    row = conn.execute(SERIES, {"series": series_id}).first()
    if row is None:
        raise errors.JobNotFound(f"Periodic series {series_id} doesn't exist.")
    return to_series(row)


def make_due_ready(conn: sa.Connection, now: dt.datetime) -> list[models.LogEntry]:
    """Move the due jobs of series to Y, each creating its series' next job; log entries to add.

    (Jobs that belong to no series go S -> Y in one statement, :data:`appjobs.storage.jobsql.MAKE_DUE_READY`.)
    """
    notes = []
    for row in conn.execute(DUE_SERIES_JOBS, {"now": now}).all():
        key = JobKey(row.name, row.run_count)
        note = advance(conn, key, row.series_id, row.series_index, now)
        conn.execute(MAKE_READY, q.key(key))
        if note:
            notes.append(models.LogEntry(key, None, now, models.Severity.WARNING, "engine", note))
    return notes


def advance(conn: sa.Connection, due: JobKey, series_id: str, index: int, now: dt.datetime) -> str:
    """Plan the job after *due* (start *index* of its series), unless the series has ended; a note on missed starts."""
    row = conn.execute(SERIES_FOR_UPDATE, {"series": series_id}).first()
    if row is None or row.ended_at is not None:
        return ""
    series = to_series(row)
    rec = series.recurrence
    following = rec.next_index(series.anchor, index, now)
    skipped = following - index - 1  # starts between the due one and the next that will get a job
    planned = rec.start(series.anchor, following)
    if (series.max_runs is not None and following >= series.max_runs) or (series.until and planned > series.until):
        conn.execute(END_SERIES, {"series": series_id, "now": now})
    else:
        new = JobKey.new()
        values = q.key(due, new_name=new.name, new_run_count=new.run_count)
        conn.execute(COPY_JOB, values | {"now": now, "planned": planned, "index": following})
        conn.execute(COPY_STEPS, values)
        conn.execute(COPY_PARAMS, values)
        said = f"Job planned for {planned:%Y-%m-%d %H:%M:%S}Z, start {following + 1} of periodic series {series_id}."
        conn.execute(q.INSERT_LOG, q.log_row(models.LogEntry(new, None, now, models.Severity.INFO, "engine", said)))
    return "" if skipped <= 0 else _missed_note(series, index, following)


def _missed_note(series: models.Series, first: int, following: int) -> str:
    """What the job log says when starts *first* … *following* - 1 passed while no worker ran.

    Only the first three are computed: a one-minute series down for a year missed half a million.
    """
    count = following - first
    shown = [f"{series.recurrence.start(series.anchor, n):%Y-%m-%d %H:%M:%S}Z" for n in range(first, first + 3)]
    listed = ", ".join(shown[:count]) + (", …" if count > 3 else "")  # count >= 2 here
    return (
        f"{count} planned starts of this periodic series passed while no worker was running ({listed}); "
        "it runs once for them."
    )


def cancel(conn: sa.Connection, series_id: str, now: dt.datetime) -> list[JobKey]:
    """End the series: delete its jobs that have not started; the running ones, which the caller aborts."""
    conn.execute(SERIES_FOR_UPDATE, {"series": series_id}).first()
    conn.execute(END_SERIES, {"series": series_id, "now": now})
    conn.execute(SERIES_NOT_STARTED, {"series": series_id})
    return [JobKey(r.name, r.run_count) for r in conn.execute(SERIES_RUNNING, {"series": series_id})]


def next_planned(conn: sa.Connection, series_id: str) -> tuple[JobKey, dt.datetime] | None:
    """The series' planned job and its start, if it has one."""
    row = conn.execute(NEXT_PLANNED, {"series": series_id}).first()
    return None if row is None else (JobKey(row.name, row.run_count), row.scheduled_at)
