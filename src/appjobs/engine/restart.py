"""SAP's JobRestart: a copy of a failed job that runs from, or after, the step that failed.

SAP's rule (reference §2.4, §4.3): a job that ended *Failed* (A), *Canceled*
(C) or *User Error* (U) may be restarted; anything else is APJ_RT/081 "Can't
restart the job due to the status". The restart is a **copy**: a new job with
its own JobName and JobRunCount, the same template, text, JobUser, test mode
and parameters, created by the caller, which points back at its original
(``restart_of``, ``restart_mode``; JobHeader's OrigJobName, OrigJobCount and
JobRunRestartMode). The original stays as it was, but for a line in its log.

Two modes, SAP's letters::

    original   1 F   2 A   3 A          (step 2 failed, step 3 never ran)
    mode E     1 K   2 S   3 S          from the failed step: 2 and 3 run
    mode A     1 K   2 K   3 S          after the failed step: only 3 runs

Skipped steps are copied with status **K** ("Skipped", final), never run, and
are a prefix of the chain, so the worker starts the copy at its first step in
S and goes on as for any chain (:meth:`appjobs.storage.dispatch.JobBatch.claim`);
a copy whose remaining steps all finish ends F. Mode A after the last step
would leave nothing to run: APJ_RT/082 "Can't restart the job after the last step".

**The failed step** is the first step in A, C or U: the step that failed, or
that was running when the job was cancelled or its worker died (the engine
marks the steps after it A as well, but they come later). Failing that (a job
cancelled before any step ended, as a tenant may report it), the first step
that did not finish (not F, W or K): step 1 when none started. A job in A, C
or U all of whose steps finished has no failed step, and is APJ_RT/081 too.

Restarting a copy works the same way: its skipped steps stay skipped in mode E,
since they come before its failed step.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from appjobs import errors, models, params
from appjobs.engine.service import JobService
from appjobs.models import JobKey, JobStatus

#: SAP's JobRestartMode letters and what they mean.
MODES = {"E": "from the failed step", "A": "after the failed step"}
#: Job statuses a restart is allowed from: Failed, Canceled, User Error.
RESTARTABLE = frozenset({JobStatus.ABORTED, JobStatus.CANCELED, JobStatus.USER_ERROR})
_FINISHED = frozenset({JobStatus.FINISHED, JobStatus.WARNING, JobStatus.SKIPPED})
_ALLOWED = ", ".join(f"{letter.value} ({letter.text})" for letter in sorted(RESTARTABLE, key=str))


def check_mode(mode: str) -> str:
    """*mode* if it is one of SAP's JobRestartMode letters, else :class:`~appjobs.errors.InvalidInput` naming them."""
    if mode not in MODES:
        given = f"'{mode}'" if mode else "missing"
        choices = " or ".join(f"'{letter}' ({meaning})" for letter, meaning in MODES.items())
        raise errors.InvalidInput(f"JobRestartMode must be {choices}; it is {given}")
    return mode


def failed_step(steps: Sequence[models.StepRun]) -> int | None:
    """The number of the step a restart starts from (mode E) or after (mode A); None when every step finished."""
    ordered = sorted(steps, key=lambda s: s.number)
    for step in ordered:
        if step.status in RESTARTABLE:
            return step.number
    return next((s.number for s in ordered if s.status not in _FINISHED), None)


def restart(service: JobService, key: JobKey, mode: str, *, by: str) -> models.Job:
    """Create the restarted copy of *key* for *by* and wake the workers; it is committed when this returns.

    Raises :class:`~appjobs.errors.JobNotFound` (APJ_RT/003) for a job that
    does not exist, :class:`~appjobs.errors.RestartRefused` with APJ_RT/081
    for one that cannot be restarted and APJ_RT/082 for mode A after the last
    step, :class:`~appjobs.errors.InvalidInput` for an unknown *mode*. Nothing
    is stored when it raises.
    """
    check_mode(mode)
    original = service.status(key)
    steps = service.steps(key)
    first = _first_to_run(original, steps, mode)
    now = service.clock()
    copy = models.Job(
        key=JobKey.new(),
        template_name=original.template_name,
        text=original.text,
        job_user=original.job_user,
        creator=by,
        status=JobStatus.SCHEDULED,
        created_at=now,
        scheduled_at=now,
        step_count=original.step_count,
        test_mode=original.test_mode,
        restart_of=original.key,
        restart_mode=mode,
    )
    runs = [_copied_step(copy.key, step, skipped=step.number < first) for step in steps]
    log = _restart_log(original, copy, first, by, now)
    values: dict[int, dict[str, params.Value]] = {}
    for value in service.store.jobs.parameter_values(key):  # every row: a select-option keeps its ranges
        values.setdefault(value.step, {})[value.name] = value
    service.store.jobs.create(copy, runs, values, log)
    service.wake()  # now, or when the changeset it is part of commits
    return copy


def _first_to_run(original: models.Job, steps: Sequence[models.StepRun], mode: str) -> int:
    """The number of the copy's first step that runs; APJ_RT/081 or /082 when there is none."""
    described = f"Job {original.key.name} {original.key.run_count}"
    if original.status not in RESTARTABLE:
        status = f"{original.status.value} ({original.status.text})"
        why = f"{described} is {status}; only jobs in {_ALLOWED} can be restarted."
        raise errors.RestartRefused(why=why)
    failed = failed_step(steps)
    if failed is None:
        why = f"{described} is {original.status.value} ({original.status.text}), but every one of its steps finished."
        raise errors.RestartRefused(why=why)
    if mode == "E":
        return failed
    if failed >= original.step_count:
        raise errors.RestartRefused(
            "Can't restart the job after the last step",
            message_id="APJ_RT/082",
            why=f"{described} failed in step {failed}, its last; restart it from that step (JobRestartMode 'E').",
        )
    return failed + 1


def _copied_step(key: JobKey, step: models.StepRun, *, skipped: bool) -> models.StepRun:
    """The copy's run of the original's *step*: the same command and settings, skipped (K) or to run (S)."""
    return models.StepRun(
        key,
        step.number,
        step.kind,
        step.target,
        step.text,
        JobStatus.SKIPPED if skipped else JobStatus.SCHEDULED,
        warning_exit_codes=step.warning_exit_codes,
        pass_env=step.pass_env,
    )


def _restart_log(
    original: models.Job, copy: models.Job, first: int, by: str, now: dt.datetime
) -> list[models.LogEntry]:
    """The copy's first log lines (whose copy it is, from which step; one per skipped step); a note for the original."""
    mode = copy.restart_mode or ""
    was, new = original.key, copy.key
    skipped = f"; steps 1 to {first - 1} are skipped" if first > 2 else "; step 1 is skipped" if first == 2 else ""
    entries = [
        _entry(
            new,
            None,
            now,
            f"Job restarted by {by} as a copy of job {was.name} {was.run_count} ({original.status.value}), "
            f"JobRestartMode {mode} ({MODES[mode]}): it runs from step {first} of {copy.step_count}{skipped}.",
        )
    ]
    entries += [_entry(new, n, now, f"Step {n} skipped: the job restarts from step {first}.") for n in range(1, first)]
    entries.append(_entry(was, None, now, f"Job restarted by {by} as job {new.name} {new.run_count} (mode {mode})."))
    return entries


def _entry(key: JobKey, step: int | None, now: dt.datetime, text: str) -> models.LogEntry:
    return models.LogEntry(key, step, now, models.Severity.INFO, "engine", text)
