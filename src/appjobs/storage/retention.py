"""Retention: deleting jobs that ended long ago, the series they leave behind, and old audit entries.

Why in batches, each its own transaction: on SQLite a writer holds the one
write lock of the database for as long as its transaction lasts, and the
worker's claims, the server's schedules and every other write wait behind
it. Deleting a month of jobs in one statement would hold it for seconds.
A batch of a few hundred jobs (with their steps, parameters and log lines,
which go with them through ``ON DELETE CASCADE``) holds it for milliseconds;
``bench/retention_batch.py`` measures how many. Polls are reads, which in
WAL mode never wait for a writer, and on PostgreSQL rows are locked one by
one, so there the batches keep each transaction's locks and WAL small.

Why ``FOR UPDATE SKIP LOCKED``: on PostgreSQL every worker purges, and two
may pick the same oldest jobs at once. Each batch's selecting subquery locks
the rows it picks and skips the ones another purge has locked, so two purges
delete different jobs instead of waiting for each other (or deleting
nothing and reporting a full batch). SQLite ignores the clause: its write
lock already lets one purge at a time.

What may go: a job whose status is final (:attr:`JobStatus.is_final`: F, A,
C, U, W, D, K) and whose ``ended_at`` lies before the cut-off. A job that is
planned (S), ready (Y) or running (R) never goes, however old it is: it has
not ended. The cut-off is exclusive: a job that ended exactly at it stays.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from appjobs import errors
from appjobs.models import JobKey, JobStatus
from appjobs.storage import jobsql as q
from appjobs.storage import schema
from appjobs.storage.database import Database

J, SERIES, AUDIT = schema.job, schema.job_series, schema.audit_log
FINAL = sorted(s.value for s in JobStatus if s.is_final)
#: The letters of a job that has not ended. The purge asks for "not one of these" rather than "one of FINAL",
#: which is the same: SQLite, without statistics, would otherwise read the ``(status, scheduled_at)`` index
#: for the IN list, which on a big table matches nearly every row, and sort them all by ``ended_at`` for each
#: batch; with NOT IN it walks ``ix_job_ended`` from the oldest and stops after one batch (bench/retention_batch.py).
NOT_ENDED = sorted(s.value for s in JobStatus if not s.is_final)
JOB_BATCH = 500  #: jobs per transaction; see the module docstring
AUDIT_BATCH = 5000  #: audit entries per transaction: one row each, no cascade, so more fit in the same time


def _before() -> sa.BindParameter[Any]:
    return sa.bindparam("before", type_=schema.Timestamp())


def _limit() -> sa.BindParameter[Any]:
    return sa.bindparam("limit", type_=sa.Integer)


# Built once (see jobsql's docstring): the worker runs these every minute.
_OLD_JOBS = (
    sa.select(J.c.name, J.c.run_count)
    .where(J.c.ended_at < _before(), J.c.status.not_in(NOT_ENDED))
    .order_by(J.c.ended_at)  # the oldest first, along ix_job_ended
    .limit(_limit())
    .with_for_update(skip_locked=True)
)
PURGE_JOBS = J.delete().where(sa.tuple_(J.c.name, J.c.run_count).in_(_OLD_JOBS.scalar_subquery()))
_OLD_SERIES = (
    sa.select(SERIES.c.id)
    .where(SERIES.c.ended_at < _before(), ~sa.exists().where(J.c.series_id == SERIES.c.id))
    .limit(_limit())
    .with_for_update(skip_locked=True)
)
PURGE_SERIES = SERIES.delete().where(SERIES.c.id.in_(_OLD_SERIES.scalar_subquery()))
_OLD_AUDIT = (
    sa.select(AUDIT.c.id)
    .where(AUDIT.c.at < _before())
    .order_by(AUDIT.c.at)
    .limit(_limit())
    .with_for_update(skip_locked=True)
)
PURGE_AUDIT = AUDIT.delete().where(AUDIT.c.id.in_(_OLD_AUDIT.scalar_subquery()))
DELETE_ENDED_JOB = J.delete().where(
    J.c.name == sa.bindparam("key_name"), J.c.run_count == sa.bindparam("key_run_count"), J.c.status.in_(FINAL)
)


class RetentionStore:
    """Deletes what has ended: jobs (with their steps, parameters and logs), series, audit entries."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def purge_jobs(self, before: dt.datetime, *, batch: int = JOB_BATCH, max_batches: int | None = None) -> int:
        """Delete the jobs that ended before *before*, *batch* at a time; how many were deleted.

        Each batch is its own transaction. It stops when a batch was not full
        (nothing older is left) or after *max_batches* batches (the worker's
        way to keep one turn short: it comes back for the rest). When it ran
        to the end it also deletes the series that ended before *before* and
        have no job left.
        """
        _check(before, batch)
        deleted, finished = self._in_batches(PURGE_JOBS, before, batch, max_batches)
        if finished:
            self.purge_series(before, batch=batch)
        return deleted

    def purge_series(self, before: dt.datetime, *, batch: int = JOB_BATCH) -> int:
        """Delete the series that ended (cancelled, or their last job planned) before *before* and have no job left."""
        _check(before, batch)
        return self._in_batches(PURGE_SERIES, before, batch, None)[0]

    def purge_audit(self, before: dt.datetime, *, batch: int = AUDIT_BATCH, max_batches: int | None = None) -> int:
        """Delete the audit entries written before *before*, *batch* per transaction; how many were deleted.

        At most *max_batches* batches, as :meth:`purge_jobs`: a logon storm can leave a backlog too.
        """
        _check(before, batch)
        return self._in_batches(PURGE_AUDIT, before, batch, max_batches)[0]

    def delete_job(self, key: JobKey) -> None:
        """Delete one job that has ended, with its steps, parameters and log.

        A job that has not ended (S, Y, R) is :class:`~appjobs.errors.JobStateError`
        naming its status: cancel it instead, which deletes a job that has not
        started and aborts a running one. No such job: :class:`~appjobs.errors.JobNotFound`.
        """
        with self.db.write() as conn:
            # One statement decides, so that a job cannot start or end between a look and the delete.
            if conn.execute(DELETE_ENDED_JOB, q.key(key)).rowcount == 1:
                return
            status = conn.scalar(q.JOB_STATUS, q.key(key))
        if status is None:
            raise errors.JobNotFound()
        letter = JobStatus(status)
        raise errors.JobStateError(
            f"Job {key.name} {key.run_count} can't be deleted: its status is {letter.value} ({letter.text}), "
            "and only a job that has ended can be; cancel it instead.",
            message_id="APJ_RT/011",
        )

    def _in_batches(
        self, statement: sa.Delete, before: dt.datetime, batch: int, max_batches: int | None
    ) -> tuple[int, bool]:
        """Run *statement* batch by batch until one is not full (True: finished) or *max_batches* ran."""
        deleted = done = 0
        while max_batches is None or done < max_batches:
            count = self._delete(statement, before, batch)
            deleted, done = deleted + count, done + 1
            if count < batch:
                return deleted, True
        return deleted, False

    def _delete(self, statement: sa.Delete, before: dt.datetime, batch: int) -> int:
        """One batch of *statement*, one short transaction."""
        with self.db.write() as conn:
            return conn.execute(statement, {"before": before, "limit": batch}).rowcount


def _check(before: dt.datetime, batch: int) -> None:
    if before.tzinfo is None:
        raise errors.InvalidInput(f"cut-off {before.isoformat()} has no time zone: give an aware datetime (UTC)")
    if batch < 1:
        raise errors.InvalidInput(f"batch must be 1 or more rows, not {batch}")
