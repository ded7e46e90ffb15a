"""Jobs, their steps, parameters and logs in the database, in domain verbs.

Every state change is one transaction. On SQLite the transaction holds the
write lock from its first statement (``BEGIN IMMEDIATE``); on PostgreSQL the
claim locks rows with ``FOR UPDATE SKIP LOCKED`` so that many workers can
claim at once. Either way a job is claimed by exactly one worker.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence

import sqlalchemy as sa

from appjobs import errors, models
from appjobs.models import JobKey, JobStatus
from appjobs.storage import schema
from appjobs.storage.database import Database

J, S, P, L = schema.job, schema.job_step, schema.job_param, schema.job_log
NOT_STARTED = (JobStatus.SCHEDULED.value, JobStatus.READY.value)


@dataclasses.dataclass(frozen=True)
class StepWork:
    """Everything a worker needs to run one step of a claimed job."""

    key: JobKey
    number: int
    kind: models.StepKind
    target: str
    token: str  #: marks every process of this step (inherited through the environment)
    parameters: Mapping[str, str]
    test_mode: bool
    step_count: int  #: steps in the whole job; the last one ends it


@dataclasses.dataclass(frozen=True)
class RunningStep:
    """A step in status R, as recorded: which worker runs it and which process."""

    key: JobKey
    number: int
    worker_id: str | None
    pid: int | None
    pid_started: float | None
    token: str | None


def _key_filter(table: sa.Table, key: JobKey) -> sa.ColumnElement[bool]:
    name_col = table.c.name if table is J else table.c.job_name
    return sa.and_(name_col == key.name, table.c.run_count == key.run_count)


class JobStore:
    """Reads and writes jobs."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # --- creating and reading ------------------------------------------------------

    def create(
        self,
        job: models.Job,
        steps: Sequence[models.StepRun],
        parameters: Mapping[int, Mapping[str, str]],
        log: Sequence[models.LogEntry] = (),
    ) -> None:
        """Store a new job with its steps and parameter values, committed before returning."""
        with self.db.write() as conn:
            conn.execute(J.insert().values(_job_row(job)))
            conn.execute(S.insert(), [_step_row(s) for s in steps])
            rows = [
                {"job_name": job.key.name, "run_count": job.key.run_count, "step_number": n, "name": k, "value": v}
                for n, values in parameters.items()
                for k, v in values.items()
            ]
            if rows:
                conn.execute(P.insert(), rows)
            _insert_log(conn, log)

    def get(self, key: JobKey) -> models.Job:
        """The job with *key*; :class:`~appjobs.errors.JobNotFound` otherwise."""
        with self.db.read() as conn:
            row = conn.execute(sa.select(J).where(_key_filter(J, key))).first()
        if row is None:
            raise errors.JobNotFound()
        return _job(row)

    def steps(self, key: JobKey) -> list[models.StepRun]:
        """The job's steps in order (empty when the job does not exist)."""
        with self.db.read() as conn:
            rows = conn.execute(sa.select(S).where(_key_filter(S, key)).order_by(S.c.number)).all()
        return [_step(r) for r in rows]

    def parameters(self, key: JobKey) -> dict[int, dict[str, str]]:
        """Parameter values per step number."""
        with self.db.read() as conn:
            rows = conn.execute(sa.select(P).where(_key_filter(P, key))).all()
        values: dict[int, dict[str, str]] = {}
        for r in rows:
            values.setdefault(r.step_number, {})[r.name] = r.value
        return values

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
        where = [J.c.created_at >= created_from, J.c.created_at <= created_to]
        if creator is not None:
            where.append(J.c.creator == creator)
        for column, value in (filters or {}).items():
            where.append(J.c[column] == value)
        with self.db.read() as conn:
            rows = conn.execute(sa.select(J).where(*where).order_by(J.c.created_at, J.c.name)).all()
        return [_job(r) for r in rows]

    def log(self, key: JobKey) -> list[models.LogEntry]:
        """The job's log, in the order it was written."""
        with self.db.read() as conn:
            rows = conn.execute(sa.select(L).where(_key_filter(L, key)).order_by(L.c.id)).all()
        return [_log_entry(r) for r in rows]

    def append_log(self, entries: Iterable[models.LogEntry]) -> None:
        with self.db.write() as conn:
            _insert_log(conn, list(entries))

    # --- cancelling ----------------------------------------------------------------

    def cancel(self, key: JobKey, by: str, now: dt.datetime, *, only_running: bool = False) -> models.CancelOutcome:
        """Cancel a job as SAP does: delete it if it has not started, else ask its worker to abort it.

        With *only_running* (SAP's JobAbort) a job that has not started is an
        error instead. A job that has ended cannot be cancelled.
        """
        with self.db.write() as conn:
            status = conn.scalar(sa.select(J.c.status).where(_key_filter(J, key)))
            if status is None:
                raise errors.JobNotFound()
            if status in NOT_STARTED and not only_running:
                conn.execute(J.delete().where(_key_filter(J, key)))
                return models.CancelOutcome(key, deleted=True, status=JobStatus.DELETED)
            if status != JobStatus.RUNNING.value:
                if only_running:
                    raise errors.JobStateError("Job couldn't be canceled: Job is not running.", message_id="APJ_RT/040")
                raise errors.JobStateError(f"Job {key.name} couldn't be canceled.", message_id="APJ_RT/004")
            conn.execute(
                J.update()
                .where(_key_filter(J, key), J.c.cancel_requested_by.is_(None))
                .values(cancel_requested_by=by, cancel_requested_at=now)
            )
            return models.CancelOutcome(key, deleted=False, status=JobStatus.RUNNING)

    def cancel_requests(self, worker_id: str) -> list[tuple[JobKey, str]]:
        """Running jobs of *worker_id* that somebody asked to cancel, with who asked."""
        query = sa.select(J.c.name, J.c.run_count, J.c.cancel_requested_by).where(
            J.c.worker_id == worker_id, J.c.status == JobStatus.RUNNING.value, J.c.cancel_requested_by.is_not(None)
        )
        with self.db.read() as conn:
            return [(JobKey(r.name, r.run_count), r.cancel_requested_by) for r in conn.execute(query)]

    # --- the worker's side ---------------------------------------------------------

    def claim(self, worker_id: str, limit: int, now: dt.datetime, tokens: Iterable[str]) -> list[StepWork]:
        """Move due jobs S -> Y, then claim up to *limit* ready jobs: job and first step go to R."""
        with self.db.write() as conn:
            conn.execute(
                J.update()
                .where(J.c.status == JobStatus.SCHEDULED.value, J.c.scheduled_at <= now)
                .values(status=JobStatus.READY.value)
            )
            if limit <= 0:
                return []
            ready = conn.execute(
                sa.select(J.c.name, J.c.run_count)
                .where(J.c.status == JobStatus.READY.value)
                .order_by(J.c.scheduled_at, J.c.created_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            work = []
            for (name, run_count), token in zip(ready, tokens, strict=False):
                key = JobKey(name, run_count)
                conn.execute(
                    J.update()
                    .where(_key_filter(J, key))
                    .values(status=JobStatus.RUNNING.value, started_at=now, worker_id=worker_id)
                )
                work.append(_start_step(conn, key, 1, token, now))
            return work

    def step_spawned(
        self, key: JobKey, number: int, pid: int, pid_started: float | None, log: Sequence[models.LogEntry] = ()
    ) -> None:
        """Record the process that runs a step, so that it can be found after a crash."""
        with self.db.write() as conn:
            conn.execute(
                S.update().where(_key_filter(S, key), S.c.number == number).values(pid=pid, pid_started=pid_started)
            )
            _insert_log(conn, log)

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
        with self.db.write() as conn:
            ended = conn.execute(
                S.update()
                .where(_key_filter(S, key), S.c.number == number, S.c.status == JobStatus.RUNNING.value)
                .values(status=status.value, ended_at=now, exit_code=exit_code)
            )
            if ended.rowcount != 1:
                return None
            _insert_log(conn, log)
            row = conn.execute(sa.select(J.c.step_count, J.c.status).where(_key_filter(J, key))).one()
            if status is JobStatus.FINISHED and number < row.step_count:
                return _start_step(conn, key, number + 1, next_token, now)
            later = sa.and_(_key_filter(S, key), S.c.number > number)
            conn.execute(S.update().where(later).values(status=JobStatus.ABORTED.value))
            conn.execute(
                J.update().where(_key_filter(J, key)).values(status=status.value, ended_at=now, worker_id=None)
            )
            return None

    def running_steps(self) -> list[RunningStep]:
        """Every step in status R, with the worker and process recorded for it."""
        query = (
            sa.select(S.c.job_name, S.c.run_count, S.c.number, S.c.pid, S.c.pid_started, S.c.token, J.c.worker_id)
            .join(J, sa.and_(J.c.name == S.c.job_name, J.c.run_count == S.c.run_count))
            .where(S.c.status == JobStatus.RUNNING.value)
        )
        with self.db.read() as conn:
            return [
                RunningStep(JobKey(r.job_name, r.run_count), r.number, r.worker_id, r.pid, r.pid_started, r.token)
                for r in conn.execute(query)
            ]


def _start_step(conn: sa.Connection, key: JobKey, number: int, token: str, now: dt.datetime) -> StepWork:
    conn.execute(
        S.update()
        .where(_key_filter(S, key), S.c.number == number)
        .values(status=JobStatus.RUNNING.value, started_at=now, token=token)
    )
    step = conn.execute(sa.select(S.c.kind, S.c.target).where(_key_filter(S, key), S.c.number == number)).one()
    params = conn.execute(sa.select(P.c.name, P.c.value).where(_key_filter(P, key), P.c.step_number == number))
    job = conn.execute(sa.select(J.c.test_mode, J.c.step_count).where(_key_filter(J, key))).one()
    kind = models.StepKind(step.kind)
    values = dict(params.tuples().all())
    return StepWork(key, number, kind, step.target, token, values, job.test_mode, job.step_count)


def _insert_log(conn: sa.Connection, entries: Sequence[models.LogEntry]) -> None:
    if entries:
        conn.execute(L.insert(), [_log_row(e) for e in entries])


def _job_row(job: models.Job) -> dict[str, object]:
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
    }


def _job(r: sa.Row) -> models.Job:
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
    )


def _step_row(s: models.StepRun) -> dict[str, object]:
    return {
        "job_name": s.key.name,
        "run_count": s.key.run_count,
        "number": s.number,
        "kind": s.kind.value,
        "target": s.target,
        "text": s.text,
        "status": s.status.value,
    }


def _step(r: sa.Row) -> models.StepRun:
    key = JobKey(r.job_name, r.run_count)
    kind = models.StepKind(r.kind)
    return models.StepRun(
        key, r.number, kind, r.target, r.text, JobStatus(r.status), r.started_at, r.ended_at, r.exit_code
    )


def _log_row(e: models.LogEntry) -> dict[str, object]:
    return {
        "job_name": e.key.name,
        "run_count": e.key.run_count,
        "step_number": e.step_number,
        "logged_at": e.logged_at,
        "severity": e.severity.value,
        "source": e.source,
        "text": e.text,
    }


def _log_entry(r: sa.Row) -> models.LogEntry:
    key = JobKey(r.job_name, r.run_count)
    return models.LogEntry(key, r.step_number, r.logged_at, models.Severity(r.severity), r.source, r.text)
