"""Crash recovery: a step whose worker died ends A, and whatever it left running is stopped.

A worker counts as dead when its registration is gone, when it ran on this
host and its process no longer exists (checked by pid *and* start time, so a
reused pid does not fool us), or when it has not sent a heartbeat for a whole
lease. The first two are noticed at once, so after ``kill -9`` of a server the
next worker to start aborts the orphaned jobs immediately; the lease covers
workers on other hosts.

A worker also looks at its own steps: one recorded as running on it that it
has no process for was claimed in a commit that reached the database while
the connection broke (the worker saw only the error, see
:mod:`appjobs.engine.backoff`). It never ran, and ends A saying so.

Recovery never re-runs a step: a step that may have done half its work is
reported A with a log message saying why, as SAP does for jobs "canceled by
the system".
"""

from __future__ import annotations

import datetime as dt
import math
import os
import signal
import socket
import time
from typing import TYPE_CHECKING

from appjobs import models
from appjobs.engine import cgroups, processes, steplog, steps
from appjobs.storage.jobs import RunningStep
from appjobs.storage.workers import WorkerRecord

if TYPE_CHECKING:
    from appjobs.engine.worker import Worker

HOSTNAME = socket.gethostname()
NEVER_STARTED = (
    "Job aborted: step {number} was recorded as running on this worker, which never started it "
    "(its database connection broke as the step was claimed); the step did not run."
)


def register(worker: Worker) -> None:
    """Announce *worker* in the database; its heartbeats renew the lease on its jobs."""
    pid = os.getpid()
    started = processes.started_at(pid) or 0.0
    record = WorkerRecord(worker.id, HOSTNAME, pid, started, worker.clock(), worker.options.concurrency)
    worker.store.workers.register(record)


def recover(worker: Worker) -> None:
    """Abort the running steps of every dead worker, and forget those workers; and our own steps that never ran."""
    now = worker.clock()
    empty = cgroups.empty_groups(worker.tracking)  # before reading the running steps (see empty_groups)
    workers = worker.store.workers.all()
    # Right after an outage of our own, every heartbeat is as old as the outage (see engine.backoff).
    lease = worker.options.lease if time.monotonic() >= worker.heartbeats_count_from else math.inf
    dead = {wid for wid, record in workers.items() if wid != worker.id and _is_dead(record, now, lease)}
    running = worker.store.jobs.running_steps()
    ours = worker.step_tokens()
    for step in running:
        if step.worker_id == worker.id:
            if step.token not in ours:  # claimed in a commit whose answer the broken connection lost
                _abort(worker, step, workers.get(worker.id), now, NEVER_STARTED.format(number=step.number))
        elif step.worker_id is None or step.worker_id in dead or step.worker_id not in workers:
            _abort(worker, step, workers.get(step.worker_id or ""), now)
    for wid in dead:
        worker.store.workers.unregister(wid)
    # Cgroups of steps whose worker was killed before it could remove them. Only those of steps this
    # installation has ended: another installation on this host may share the cgroup base, and its
    # step's cgroup is empty for a moment between being made and being entered.
    for token in worker.store.jobs.ended_step_tokens(empty):
        empty[token].remove()


def _is_dead(record: WorkerRecord, now: dt.datetime, lease: float) -> bool:
    if record.hostname == HOSTNAME and not processes.is_alive(record.pid, record.pid_started):
        return True
    return (now - record.heartbeat_at).total_seconds() > lease


def _abort(worker: Worker, step: RunningStep, record: WorkerRecord | None, now: dt.datetime, reason: str = "") -> None:
    if record is None or record.hostname == HOSTNAME:
        # Same host: the step's processes may have outlived their worker.
        leader = step.pid if step.pid and processes.is_alive(step.pid, step.pid_started) else None
        processes.signal_tree(leader, step.token, signal.SIGKILL)
        group = cgroups.find(worker.tracking, step.token) if step.token else None
        if group is not None:  # what left the session and cleared its environment is still in there
            group.kill()
            worker.forget_group(group)
    where = f"worker pid {record.pid} on {record.hostname}" if record else "its worker"
    reason = reason or f"Job aborted: {where} stopped while step {step.number} was running; the step was not restarted."
    path = steps.output_path(worker.log_dir, step.key, step.number)
    entries = steplog.rest_of(path, step.key, step.number, worker.store.jobs.log(step.key), now)
    entries.append(steps.engine_entry(step.key, None, now, reason, models.Severity.ERROR))
    entries.append(steps.engine_entry(step.key, None, now, "Job failed.", models.Severity.ERROR))
    worker.store.jobs.finish_step(step.key, step.number, models.JobStatus.ABORTED, exit_code=None, now=now, log=entries)


def is_alive(record: WorkerRecord, now: dt.datetime, lease: float) -> bool:
    """Whether the worker of *record* counts as alive, by the rule recovery applies (see :func:`_is_dead`)."""
    return not _is_dead(record, now, lease)
