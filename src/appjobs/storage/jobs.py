"""Jobs, their steps, parameters and logs in the database, in domain verbs.

Every verb here is one transaction. On SQLite the transaction holds the write
lock from its first statement (``BEGIN IMMEDIATE``); on PostgreSQL the claim
locks rows with ``FOR UPDATE SKIP LOCKED`` so that many workers can claim at
once. Either way a job is claimed by exactly one worker. A worker that wants
several of its verbs in one transaction uses :meth:`JobStore.batch` (see
:mod:`appjobs.storage.dispatch`). The SQL itself is in :mod:`appjobs.storage.jobsql`,
built once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence

import sqlalchemy as sa

from appjobs import errors, models, params
from appjobs.models import JobKey, JobStatus
from appjobs.storage import jobsql as q
from appjobs.storage import series as series_sql
from appjobs.storage.database import Database
from appjobs.storage.dispatch import JobBatch, RunningStep, StepWork

__all__ = ["JobBatch", "JobStore", "RunningStep", "StepWork"]

NOT_STARTED = (JobStatus.SCHEDULED.value, JobStatus.READY.value)
#: Job names whose steps one read fetches: far below SQLite's limit of 32,766 bind values in one statement.
_KEYS_PER_READ = 400


class JobStore:
    """Reads and writes jobs."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # --- creating and reading ------------------------------------------------------

    def create(
        self,
        job: models.Job,
        steps: Sequence[models.StepRun],
        parameters: Mapping[int, Mapping[str, str | params.Value]],
        log: Sequence[models.LogEntry] = (),
        series: models.Series | None = None,
    ) -> None:
        """Store a new job with its steps and parameter values, committed before returning.

        A value is a text (a single value) or a :class:`~appjobs.params.Value` (its rows, a select-option's too).
        With *series*, the job is the first of that new periodic series, stored with it.
        """
        rows = [_param_row(job.key, n, k, v) for n, values in parameters.items() for k, v in values.items()]
        with self.db.write() as conn:
            if series is not None:
                conn.execute(series_sql.INSERT_SERIES, series_sql.series_row(series))
            conn.execute(q.INSERT_JOB, q.job_row(job))
            conn.execute(q.INSERT_STEP, [q.step_row(s) for s in steps])
            if rows:
                conn.execute(q.INSERT_PARAM, rows)
            if log:
                conn.execute(q.INSERT_LOG, [q.log_row(e) for e in log])
            self.db.wake_workers(conn)

    def get(self, key: JobKey) -> models.Job:
        """The job with *key*; :class:`~appjobs.errors.JobNotFound` otherwise."""
        row = self.db.one(q.JOB, q.key(key))
        if row is None:
            raise errors.JobNotFound()
        return q.to_job(row)

    def poll(self, key: JobKey) -> tuple[JobStatus, str]:
        """The job's status and creator, read alone: what a status poll needs, at a fraction of :meth:`get`."""
        row = self.db.one(q.JOB_POLL, q.key(key))
        if row is None:
            raise errors.JobNotFound()
        return JobStatus(row.status), row.creator

    def poll_for(self, key: JobKey, caller: str) -> tuple[int, JobStatus | None, str | None] | None:
        """*caller*'s credential version with the job's status and creator (None, None: no such job), in one read.

        None when *caller* is not a user (any more). The poll a server answers
        from its caches uses it: the version says whether the caller's cached
        logon still holds (see :func:`appjobs.storage.comm.revoke_logons`).
        """
        row = self.db.one(q.JOB_POLL_FOR, q.key(key, caller=caller))
        if row is None:
            return None
        return row.credential_version, None if row.status is None else JobStatus(row.status), row.creator

    def steps(self, key: JobKey) -> list[models.StepRun]:
        """The job's steps in order (empty when the job does not exist)."""
        with self.db.read() as conn:
            rows = conn.execute(q.STEPS, q.key(key)).all()
        return [q.to_step(r) for r in rows]

    def steps_of(self, keys: Iterable[JobKey]) -> dict[JobKey, list[models.StepRun]]:
        """The steps of every job of *keys*, in order, by job (a job without steps, or none, is left out).

        One read per 400 jobs rather than one per job: JobListGet over a busy day lists hundreds of jobs,
        and a read per job took 54 of its 66 ms for 317 of them (bench/million_bench.py).
        """
        wanted = set(keys)
        names = sorted({key.name for key in wanted})
        found: dict[JobKey, list[models.StepRun]] = {}
        with self.db.read() as conn:
            for start in range(0, len(names), _KEYS_PER_READ):
                for row in conn.execute(q.STEPS_OF, {"names": names[start : start + _KEYS_PER_READ]}):
                    step = q.to_step(row)
                    if step.key in wanted:  # another run of the same job name is not asked for
                        found.setdefault(step.key, []).append(step)
        return found

    def parameters(self, key: JobKey) -> dict[int, dict[str, str]]:
        """Parameter values per step number."""
        with self.db.read() as conn:
            rows = conn.execute(q.PARAMS, q.key(key)).all()
        values: dict[int, dict[str, str]] = {}
        for r in rows:
            values.setdefault(r.step_number, {})[r.name] = r.value
        return values

    def parameter_values(self, key: JobKey) -> list[params.Value]:
        """The job's parameter values with all their rows, by step number and name."""
        with self.db.read() as conn:
            rows = conn.execute(q.PARAMS.order_by(q.P.c.step_number, q.P.c.name), q.key(key)).all()
        return [_param_value(r) for r in rows]

    def list(
        self,
        created_from: dt.datetime,
        created_to: dt.datetime,
        *,
        creator: str | None = None,
        filters: Mapping[str, str] | None = None,
    ) -> list[models.Job]:
        """Jobs created in ``[created_from, created_to]``, oldest first.

        *creator* restricts to one communication user's jobs; *filters* maps
        ``name``, ``text``, ``template_name`` or ``creator`` to exact values.
        """
        J = q.J
        where = [J.c.created_at >= created_from, J.c.created_at <= created_to]
        if creator is not None:
            where.append(J.c.creator == creator)
        for column, value in (filters or {}).items():
            where.append(J.c[column] == value)
        with self.db.read() as conn:
            rows = conn.execute(sa.select(J).where(*where).order_by(J.c.created_at, J.c.name)).all()
        return [q.to_job(r) for r in rows]

    def log(self, key: JobKey) -> list[models.LogEntry]:
        """The job's log, in the order it was written."""
        with self.db.read() as conn:
            rows = conn.execute(q.LOG, q.key(key)).all()
        return [q.to_log_entry(r) for r in rows]

    def append_log(self, entries: Iterable[models.LogEntry]) -> None:
        rows = [q.log_row(e) for e in entries]
        if rows:
            with self.db.write() as conn:
                conn.execute(q.INSERT_LOG, rows)

    # --- cancelling ----------------------------------------------------------------

    def cancel(self, key: JobKey, by: str, now: dt.datetime, *, only_running: bool = False) -> models.CancelOutcome:
        """Cancel a job as SAP does: delete it if it has not started, else ask its worker to abort it.

        With *only_running* (SAP's JobAbort) a job that has not started is an
        error instead. A job that has ended cannot be cancelled.
        """
        with self.db.write() as conn:
            row = conn.execute(q.JOB_STATUS, q.key(key)).first()
            if row is None:
                raise errors.JobNotFound()
            status = row.status
            if row.series_id is not None and not only_running:
                return self._cancel_series(conn, key, row.series_id, status, by, now)
            if status in NOT_STARTED and not only_running:
                conn.execute(q.DELETE_JOB, q.key(key))
                return models.CancelOutcome(key, deleted=True, status=JobStatus.DELETED)
            if status != JobStatus.RUNNING.value:
                if only_running:
                    raise errors.JobStateError("Job couldn't be canceled: Job is not running.", message_id="APJ_RT/040")
                raise errors.JobStateError(f"Job {key.name} couldn't be canceled.", message_id="APJ_RT/004")
            conn.execute(q.REQUEST_CANCEL, q.key(key, by=by, now=now))
            self.db.wake_workers(conn)
            return models.CancelOutcome(key, deleted=False, status=JobStatus.RUNNING)

    def _cancel_series(
        self, conn: sa.Connection, key: JobKey, series_id: str, status: str, by: str, now: dt.datetime
    ) -> models.CancelOutcome:
        """SAP's rule for a periodic job: cancelling one cancels its series (planned jobs go, running ones abort)."""
        if status not in (*NOT_STARTED, JobStatus.RUNNING.value):
            raise errors.JobStateError(f"Job {key.name} couldn't be canceled.", message_id="APJ_RT/004")
        running = series_sql.cancel(conn, series_id, now)
        for job in running:
            conn.execute(q.REQUEST_CANCEL, q.key(job, by=by, now=now))
        if running:
            self.db.wake_workers(conn)
        if status in NOT_STARTED:
            return models.CancelOutcome(key, deleted=True, status=JobStatus.DELETED)
        return models.CancelOutcome(key, deleted=False, status=JobStatus.RUNNING)

    def series(self, series_id: str) -> models.Series:
        """The periodic series *series_id*; :class:`~appjobs.errors.JobNotFound` when there is none."""
        with self.db.read() as conn:
            return series_sql.get(conn, series_id)

    def next_of_series(self, series_id: str) -> tuple[JobKey, dt.datetime] | None:
        """The planned job of the series and its start; None when the series has none (ended or cancelled)."""
        with self.db.read() as conn:
            return series_sql.next_planned(conn, series_id)

    def planned(self, limit: int = 1000) -> list[models.Job]:
        """Jobs planned to start later (status S), soonest first."""
        with self.db.read() as conn:
            rows = conn.execute(q.PLANNED, {"limit": limit}).all()
        return [q.to_job(r) for r in rows]

    def cancel_requests(self, worker_id: str) -> list[tuple[JobKey, str]]:
        """Running jobs of *worker_id* that somebody asked to cancel, with who asked."""
        with self.db.read() as conn:
            rows = conn.execute(q.CANCEL_REQUESTS, {"worker": worker_id}).all()
        return [(JobKey(r.name, r.run_count), r.cancel_requested_by) for r in rows]

    # --- the worker's side ---------------------------------------------------------

    @contextlib.contextmanager
    def batch(self) -> Iterator[JobBatch]:
        """One read-write transaction for several of the worker's verbs, committed when the block ends.

        >>> with store.jobs.batch() as batch:
        ...     following = batch.finish_step(key, 1, JobStatus.FINISHED, exit_code=0, now=now)
        ...     claimed = batch.claim(worker_id, 2, now, tokens)
        """
        with self.db.write() as conn:
            batch = JobBatch(conn)
            yield batch
            batch.flush()
        batch.report()

    def claim(self, worker_id: str, limit: int, now: dt.datetime, tokens: Iterable[str]) -> list[StepWork]:
        """Move due jobs S -> Y, then claim up to *limit* ready jobs: job and first step go to R."""
        with self.batch() as batch:
            return batch.claim(worker_id, limit, now, tokens)

    def step_spawned(
        self, key: JobKey, number: int, pid: int, pid_started: float | None, log: Sequence[models.LogEntry] = ()
    ) -> None:
        """Record the process that runs a step, so that it can be found after a crash."""
        with self.batch() as batch:
            batch.step_spawned(key, number, pid, pid_started, log)

    def finish_step(
        self,
        key: JobKey,
        number: int,
        status: JobStatus,
        *,
        exit_code: int | None,
        now: dt.datetime,
        log: Sequence[models.LogEntry] = (),
        next_token: str = "",
    ) -> StepWork | None:
        """End a step as F or A; start the next step of the chain, or end the job.

        Returns the next step to run, or None when the job has ended. A step
        that ends A ends the job A and marks the steps after it A: they will
        not run. Ending a step that is no longer running changes nothing, so
        two workers recovering the same step cannot both end it.
        """
        with self.batch() as batch:
            return batch.finish_step(key, number, status, exit_code=exit_code, now=now, log=log, next_token=next_token)

    def ended_step_tokens(self, tokens: Iterable[str]) -> set[str]:
        """Which of *tokens* belong to steps of this installation that have ended (not to foreign or running ones)."""
        wanted = list(tokens)
        if not wanted:
            return set()
        with self.db.read() as conn:
            return set(conn.execute(q.ENDED_STEP_TOKENS, {"tokens": wanted}).scalars())

    def running_steps(self) -> list[RunningStep]:
        """Every step in status R, with the worker and process recorded for it."""
        with self.db.read() as conn:
            rows = conn.execute(q.RUNNING_STEPS).all()
        return [
            RunningStep(JobKey(r.job_name, r.run_count), r.number, r.worker_id, r.pid, r.pid_started, r.token)
            for r in rows
        ]


def _param_row(key: JobKey, step: int, name: str, value: str | params.Value) -> dict[str, object]:
    row: dict[str, object] = {"job_name": key.name, "run_count": key.run_count, "step_number": step, "name": name}
    if isinstance(value, str):
        return row | {"value": value, "select_option": False, "rows": None}
    plain = not value.select_option and value.rows in ((), (params.Row(low=value.first_low),))
    rows = None if plain else json.dumps([r.to_sap() for r in value.rows], ensure_ascii=False)
    return row | {"value": value.first_low, "select_option": value.select_option, "rows": rows}


def _param_value(r: sa.Row) -> params.Value:
    """A stored value; NULL rows (a single value, or a row from before migration 0006) mean one I EQ row."""
    rows = (params.Row(low=r.value),) if r.rows is None else tuple(map(params.row_from_sap, json.loads(r.rows)))
    return params.Value(r.step_number, r.name, rows, r.select_option)
