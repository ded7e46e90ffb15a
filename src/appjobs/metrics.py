"""What the processes of appjobs count, for Prometheus: jobs that ended, start delays, step times, logon failures.

``appjobs serve`` shows everything at ``/appjobs/metrics`` (see
:mod:`appjobs.server.metrics`). Its workers are other processes, so what
they count is kept the way ``prometheus_client`` does it for several
processes: each process writes its values to memory-mapped files in one
directory (``run/metrics`` of the data directory), and the server adds up
the files of every process when it is scraped. :func:`use_directory` names
that directory; a process calls it once at start, before it counts
anything. The metrics here are made at their first use, never at import, so
that they take the directory whatever was imported before.

What is cheap to count per request (HTTP requests and their latency) is
counted by the server in its own memory instead, and what the database
knows (jobs by status, sessions, workers) is read from it at each scrape.
"""

from __future__ import annotations

import functools
import logging
import os
import pathlib
from typing import Any

DIRECTORY_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
#: Bytes of each per-process file: room for far more label values than appjobs makes (a few dozen entries).
FILE_SIZE = 256 * 1024
#: Seconds: from a planned start to the job's start, and a step's run time (minutes to hours are common).
DELAY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
DURATION_BUCKETS = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 4 * 3600.0, 24 * 3600.0)


def use_directory(path: pathlib.Path) -> None:
    """Count this process's metrics in files under *path*, where the server adds them up.

    The files are made here, private (0600, as everything in a data
    directory) and with their disk blocks allocated: prometheus_client would
    make them sparse, and a write into a mapped page that a full disk cannot
    back kills the process (SIGBUS). When they cannot be allocated, this
    process counts in its own memory, unseen, and says so.
    """
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        for kind in ("counter", "histogram"):  # the kinds of metric this module makes
            _allocate(path / f"{kind}_{os.getpid()}.db")
    except OSError as exc:
        logger.warning("metrics: cannot prepare %s (%s); this process's counts are not shown", path, exc)
        return
    os.environ[DIRECTORY_VARIABLE] = str(path)
    from prometheus_client import values

    values.ValueClass = values.get_value_class()  # in case prometheus_client was imported before


def _allocate(file: pathlib.Path) -> None:
    fd = os.open(file, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if os.fstat(fd).st_size < FILE_SIZE:
            os.posix_fallocate(fd, 0, FILE_SIZE)
    finally:
        os.close(fd)


logger = logging.getLogger(__name__)


@functools.cache
def _metric(kind: str, name: str, documentation: str, labels: tuple[str, ...] = (), **options: Any) -> Any:
    import prometheus_client

    return getattr(prometheus_client, kind)(name, documentation, labels, **options)


def job_ended(status: str) -> None:
    """A job ended with status letter *status* (F, W, A, ...)."""
    _metric("Counter", "appjobs_jobs_finished", "Jobs that ended, by their final status letter.", ("status",)).labels(
        status
    ).inc()


def job_started(delay: float) -> None:
    """A job started *delay* seconds after it was due (its planned start, or when it was scheduled)."""
    _metric(
        "Histogram", "appjobs_job_start_delay_seconds", "Seconds from a job's planned start to its start.",
        buckets=DELAY_BUCKETS,
    ).observe(max(delay, 0.0))  # fmt: skip


def step_ended(seconds: float) -> None:
    _metric(
        "Histogram", "appjobs_step_duration_seconds", "Seconds a step ran, from its start to its end.",
        buckets=DURATION_BUCKETS,
    ).observe(max(seconds, 0.0))  # fmt: skip


def output_dropped(nbytes: int) -> None:
    """A step wrote *nbytes* more than the output cap kept (``--max-step-output``)."""
    _metric("Counter", "appjobs_step_output_dropped_bytes", "Bytes of step output dropped past the cap.").inc(nbytes)


def logon_failed(face: str) -> None:
    """A logon failed at *face*: ``odata`` (communication users) or ``ui`` (the web pages)."""
    _metric("Counter", "appjobs_logon_failures", "Refused logons.", ("face",)).labels(face).inc()


def locked_out(face: str) -> None:
    _metric("Counter", "appjobs_lockouts", "Users locked after too many failed logons.", ("face",)).labels(face).inc()


def database_error() -> None:
    _metric("Counter", "appjobs_database_errors", "Database operations that failed (appjobs' StorageError).").inc()
