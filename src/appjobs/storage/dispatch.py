"""The worker's side of the job tables: claiming jobs, starting and ending steps.

These verbs act on a transaction that is already open (:class:`JobBatch`),
so that a worker can do one turn's worth of them in one transaction: end the
steps that finished since the last turn, start the next step of each chain,
and claim new jobs for the slots that are free. A durable commit
(``synchronous=FULL``) costs the same whether it carries one change or ten,
and so does the SQLite write lock each transaction takes. Folding them
together is what let one worker process keep up with 200 no-op jobs a second
(a worker making three transactions per job could not).

What stays true whatever is batched:

* A job is claimed by exactly one worker. On SQLite the transaction holds the
  write lock from its first statement (``BEGIN IMMEDIATE``); on PostgreSQL the
  ready jobs are locked with ``FOR UPDATE SKIP LOCKED``; and a job only goes to
  R from Y, so a claim that lost a race changes nothing.
* A step ends once: ending a step that is no longer R changes nothing, so two
  workers recovering the same step cannot both end it.
* Nothing is committed before the batch's transaction is: if any verb fails,
  the whole turn rolls back, and the steps it ended are still R, for the worker
  to retry or for crash recovery to abort.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence

import sqlalchemy as sa

from appjobs import metrics, models
from appjobs.models import JobKey, JobStatus
from appjobs.storage import jobsql as q
from appjobs.storage import series

SUCCESSFUL = frozenset({JobStatus.FINISHED, JobStatus.WARNING})  #: step outcomes after which a chain goes on


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
    warning_exit_codes: frozenset[int] = frozenset()  #: exit codes that end the step W instead of A
    pass_env: tuple[str, ...] = ()  #: variables of the worker's environment passed through to the step


@dataclasses.dataclass(frozen=True)
class RunningStep:
    """A step in status R, as recorded: which worker runs it and which process."""

    key: JobKey
    number: int
    worker_id: str | None
    pid: int | None
    pid_started: float | None
    token: str | None


def step_parameters(rows: Iterable[sa.Row]) -> dict[str, str]:
    """What a step sees of its parameters: NAME, the (first) LOW; for a select-option also NAME_RANGES,
    every row as JSON (``[{"SIGN":"I","OPTION":"BT","LOW":"1","HIGH":"9"}]``)."""
    seen: dict[str, str] = {}
    for r in rows:
        seen[r.name] = r.value
        if r.select_option:
            seen[r.name + "_RANGES"] = r.rows or "[]"
    return seen


class JobBatch:
    """The worker's verbs on one open read-write transaction (see the module docstring).

    Log entries are queued and written in one statement by :meth:`flush`,
    which :meth:`appjobs.storage.jobs.JobStore.batch` calls before it commits.
    """

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self._log: list[dict[str, object]] = []
        self._counts: list[Callable[[], None]] = []  # metrics, counted once the transaction has committed

    def report(self) -> None:
        """Count what the committed transaction did in the metrics (a rolled-back one counts nothing)."""
        for count in self._counts:
            count()
        self._counts = []

    def log(self, entries: Iterable[models.LogEntry]) -> None:
        self._log.extend(q.log_row(e) for e in entries)

    def flush(self) -> None:
        if self._log:
            self.conn.execute(q.INSERT_LOG, self._log)
            self._log = []

    def claim(self, worker_id: str, limit: int, now: dt.datetime, tokens: Iterable[str]) -> list[StepWork]:
        """Move due jobs S -> Y (planning each series' next job), then claim up to *limit* ready jobs.

        A claimed job and its first step go to R.
        """
        self.conn.execute(q.MAKE_DUE_READY, {"now": now})
        self.log(series.make_due_ready(self.conn, now))
        if limit <= 0:
            return []
        ready = self.conn.execute(q.READY_JOBS, {"limit": limit}).all()
        work = []
        for row, token in zip(ready, tokens, strict=False):
            job = JobKey(row.name, row.run_count)
            started = self.conn.execute(q.START_JOB, q.key(job, now=now, worker=worker_id))
            if started.rowcount == 1:
                self._counts.append(functools.partial(metrics.job_started, (now - row.scheduled_at).total_seconds()))
                first = 1 if row.restart_mode is None else self._first_pending(job)
                work.append(self._start_step(job, first, token, now, row.test_mode, row.step_count))
        return work

    def next_planned_start(self) -> dt.datetime | None:
        """When the earliest planned job is due (None: none is planned): the latest a worker may claim again."""
        return self.conn.execute(q.NEXT_PLANNED_START).scalar()

    def _first_pending(self, job: JobKey) -> int:
        """The step a restarted copy begins with: its first one not skipped (see :mod:`appjobs.engine.restart`).

        Only a copy pays for this read; a job scheduled from a template always begins with step 1.
        The skipped steps are a prefix of the chain, so the steps after this one run in order as usual.
        """
        return int(self.conn.execute(q.FIRST_PENDING_STEP, q.key(job)).scalar() or 1)

    def step_spawned(
        self, key: JobKey, number: int, pid: int, pid_started: float | None, log: Sequence[models.LogEntry] = ()
    ) -> None:
        """Record the process that runs a step, so that it can be found after a crash."""
        values = q.key(key, step_no=number, step_pid=pid, step_pid_started=pid_started)
        self.conn.execute(q.STEP_SPAWNED, values)
        self.log(log)

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
        """End a step as F, W or A; start the next step of the chain, or end the job.

        Returns the next step to run, or None when the job has ended (or the
        step was no longer running). A step that ends A ends the job A and
        marks the steps after it A: they will not run. A step that ends W
        (finished with warnings) lets the chain go on, and the job ends W
        if any of its steps did.
        """
        # Each update gets exactly its own values: SQLAlchemy would SET any other key named like a column.
        started_at = self.conn.execute(
            q.END_STEP, q.key(key, step_no=number, now=now, new_status=status.value, code=exit_code)
        ).scalar()
        if started_at is None:  # the step was not running: somebody else ended it
            return None
        self._counts.append(functools.partial(metrics.step_ended, (now - started_at).total_seconds()))
        self.log(log)
        job = self.conn.execute(q.JOB_SHAPE, q.key(key)).one()
        if status in SUCCESSFUL and number < job.step_count:
            return self._start_step(key, number + 1, next_token, now, job.test_mode, job.step_count)
        if status is JobStatus.FINISHED and self.conn.execute(q.WARNED_STEPS, q.key(key)).scalar():
            status = JobStatus.WARNING
        self.conn.execute(q.ABORT_LATER_STEPS, q.key(key, step_no=number))
        self.conn.execute(q.END_JOB, q.key(key, now=now, new_status=status.value))
        self._counts.append(functools.partial(metrics.job_ended, status.value))
        return None

    def _start_step(
        self, job: JobKey, number: int, token: str, now: dt.datetime, test_mode: bool, step_count: int
    ) -> StepWork:
        self.conn.execute(q.START_STEP, q.key(job, step_no=number, now=now, step_token=token))
        step = self.conn.execute(q.STEP_TARGET, q.key(job, step_no=number)).one()
        parameters = step_parameters(self.conn.execute(q.STEP_PARAMS, q.key(job, step_no=number)))
        warnings = frozenset(int(c) for c in step.warning_exit_codes.split())
        kind = models.StepKind(step.kind)
        pass_env = tuple(step.pass_env.split())
        return StepWork(job, number, kind, step.target, token, parameters, test_mode, step_count, warnings, pass_env)
