"""What a step's process looks like, and turning its output into log entries."""

from __future__ import annotations

import datetime as dt
import json
import os
import pathlib
import signal
import sys
from collections.abc import Mapping

from appjobs import models
from appjobs.engine import output
from appjobs.engine.processes import TOKEN_VAR
from appjobs.models import JobKey, Severity
from appjobs.storage.jobs import StepWork

# What a step sees of the worker's environment, whatever the template says: where programs are, who and
# where it is, language and time zone. Nothing else: the worker's environment holds the server's settings
# and secrets (APPJOBS_DATABASE_URL with its password, on PostgreSQL). A template adds names with pass_env.
ALLOWED_ENV = frozenset({"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR"})
ALLOWED_ENV_PREFIXES = ("LC_",)
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


def command(work: StepWork) -> list[str]:
    """The argv that runs *work*: a shell for commands, a fresh interpreter for callables."""
    if work.kind is models.StepKind.SHELL:
        return ["/bin/sh", "-c", work.target]
    return [sys.executable, "-m", "appjobs._callable", work.target, json.dumps(dict(work.parameters))]


def environment(work: StepWork, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The step's environment: a clean one, its parameters, and where it belongs.

    Of the worker's environment (*base*) a step gets only :data:`ALLOWED_ENV`, ``LC_*`` and
    the names its template passes through (``pass_env``); then its parameters (shell steps) and
    the ``APPJOBS_JOB_*``/``APPJOBS_STEP_*`` variables, which nothing can override.
    """
    base = os.environ if base is None else base
    env = {
        name: value
        for name, value in base.items()
        if name in ALLOWED_ENV or name.startswith(ALLOWED_ENV_PREFIXES) or name in work.pass_env
    }
    env.setdefault("PATH", DEFAULT_PATH)
    if work.kind is models.StepKind.SHELL:
        env.update(work.parameters)
    env.update(
        {
            "APPJOBS_JOB_NAME": work.key.name,
            "APPJOBS_JOB_RUN_COUNT": work.key.run_count,
            "APPJOBS_STEP_NUMBER": str(work.number),
            "APPJOBS_TEST_MODE": "X" if work.test_mode else "",
            TOKEN_VAR: work.token,
        }
    )
    return env


def output_path(log_dir: pathlib.Path, key: JobKey, number: int) -> pathlib.Path:
    """Where a step's stdout and stderr go while it runs."""
    return log_dir / f"{key.name}-{key.run_count}-{number}.log"


def dropped_entry(key: JobKey, number: int, now: dt.datetime, capture: output.Capture) -> models.LogEntry:
    """The warning that a step wrote more than the output cap, and how much of it was dropped."""
    if capture.write_error:
        text = (
            f"Step {number}'s output could not be written to disk ({capture.write_error}): "
            f"{capture.dropped} bytes after the first {capture.written} were dropped."
        )
    else:
        text = (
            f"Step {number} wrote more output than the {_size(capture.cap)} kept while a step runs "
            f"(--max-step-output): {capture.dropped} bytes after the first {capture.written} were dropped."
        )
    return models.LogEntry(key, number, now, Severity.WARNING, "engine", text)


def _size(count: int) -> str:
    return f"{count // (1024 * 1024)} MiB" if count % (1024 * 1024) == 0 else f"{count} bytes"


def describe_exit(number: int, code: int, warnings: frozenset[int] = frozenset()) -> tuple[models.JobStatus, str]:
    """The step's status and the engine's sentence for exit code *code* (negative: killed by a signal).

    An exit code among the step's *warnings* means it finished with warnings (W).
    """
    if code == 0:
        return models.JobStatus.FINISHED, f"Step {number} finished."
    if code in warnings:
        return models.JobStatus.WARNING, f"Step {number} finished with warnings (exit code {code})."
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return models.JobStatus.ABORTED, f"Step {number} was stopped by {name}."
    return models.JobStatus.ABORTED, f"Step {number} failed with exit code {code}."


def engine_entry(
    key: JobKey, number: int | None, now: dt.datetime, text: str, severity: Severity = Severity.INFO
) -> models.LogEntry:
    return models.LogEntry(key, number, now, severity, "engine", text)
