"""Retention as an operator meets it: ``appjobs admin jobs delete|purge``, and real workers with --retention-days.

Every command and every worker is a real process on a real SQLite file or
PostgreSQL database. Old jobs are written through the store with old times,
so that nothing waits for days to pass.
"""

from __future__ import annotations

import datetime as dt
import pathlib
from collections.abc import Callable

import pytest
from commcli import ok, run
from conftest import WORKER_ARGS, Processes, Server, wait_final, wait_for
from retentionsite import DAY, add_audit, add_job, audit_details, bulk_ended, children, exists, job_count

from appjobs import models
from appjobs.engine import JobService, retention
from appjobs.models import JobStatus
from appjobs.storage import Store

pytestmark = [pytest.mark.backends("sqlite", "postgresql"), pytest.mark.usefixtures("initialised")]

T = dt.datetime(2026, 11, 1, 10, 30, tzinfo=dt.UTC)
SECOND = dt.timedelta(seconds=1)


def test_admin_jobs_delete_deletes_an_ended_job_and_audits_it(store: Store, data_dir: pathlib.Path) -> None:
    ended = add_job(store, JobStatus.FINISHED, ended=T)
    other = add_job(store, JobStatus.FINISHED, ended=T)
    assert ok("jobs", "delete", ended.name, ended.run_count, data_dir=data_dir) == (
        f"deleted job {ended.name} {ended.run_count}\n"
    )
    assert not exists(store, ended)
    assert children(store, ended) == (0, 0, 0)
    assert children(store, other) == (1, 1, 1)
    assert audit_details(store)[-1] == f"deleted job {ended.name} {ended.run_count}"


def test_admin_jobs_delete_refuses_a_job_that_has_not_ended(store: Store, data_dir: pathlib.Path) -> None:
    running = add_job(store, JobStatus.RUNNING)
    done = run("jobs", "delete", running.name, running.run_count, data_dir=data_dir)
    assert done.returncode == 2
    assert "its status is R (In Process)" in done.stderr
    assert "cancel it instead" in done.stderr
    assert exists(store, running)
    missing = run("jobs", "delete", "0" * 32, "AAAAAAAA", data_dir=data_dir)
    assert (missing.returncode, missing.stderr) == (2, "appjobs: error: Job doesn't exist.\n")
    assert not any("deleted job" in d for d in audit_details(store))  # nothing changed, nothing audited


def test_admin_jobs_purge_before_a_time(store: Store, data_dir: pathlib.Path) -> None:
    """UTC without an offset; the offset when there is one; S, Y and R never; the audit log only with --audit."""
    before = add_job(store, JobStatus.ABORTED, ended=T - SECOND)
    after = add_job(store, JobStatus.FINISHED, ended=T + SECOND)
    planned = add_job(store, JobStatus.SCHEDULED, created=T - 100 * DAY, scheduled=T + 100 * DAY)
    running = add_job(store, JobStatus.RUNNING, created=T - 100 * DAY)
    add_audit(store, T - SECOND, "old entry")
    assert ok("jobs", "purge", "--before", "2026-11-01T10:30:00", data_dir=data_dir) == (
        "deleted 1 job(s) that ended before 2026-11-01T10:30:00+00:00\n"
    )
    assert [exists(store, k) for k in (before, after, planned, running)] == [False, True, True, True]
    assert "old entry" in audit_details(store)
    # 12:30:02 at +02:00 is 10:30:02 UTC: after the second job ended.
    out = ok("jobs", "purge", "--before", "2026-11-01T12:30:02+02:00", "--audit", data_dir=data_dir)
    assert out.splitlines() == [
        "deleted 1 job(s) that ended before 2026-11-01T10:30:02+00:00",
        "deleted 1 audit entry from before 2026-11-01T10:30:02+00:00",  # not the first purge's own: written now
    ]
    assert [exists(store, k) for k in (after, planned, running)] == [False, True, True]
    details = audit_details(store)
    assert "old entry" not in details
    assert details[-1] == (
        "purged 1 job(s) that ended before 2026-11-01T10:30:02+00:00 and 1 audit entry from before it"
    )


def test_admin_jobs_purge_names_a_bad_time(data_dir: pathlib.Path) -> None:
    bad = run("jobs", "purge", "--before", "last tuesday", data_dir=data_dir)
    assert bad.returncode == 2
    assert "--before" in bad.stderr
    assert "'last tuesday' is not an ISO 8601 date or time" in bad.stderr
    missing = run("jobs", "purge", data_dir=data_dir)
    assert missing.returncode == 2
    assert "Missing option '--before'" in missing.stderr


def test_a_worker_deletes_jobs_older_than_its_retention_days(
    store: Store, data_dir: pathlib.Path, processes: Processes
) -> None:
    """A real worker with --retention-days 14 and --audit-retention-days 30: the old goes at once, the rest stays.

    The old jobs are more than two turns' worth: a worker that waited a minute after one turn's share
    (instead of going on in the next turn) would not have deleted them all by the time the test gives up.
    """
    now = models.utcnow()
    batch, batches = retention.pace(store)
    bulk_ended(store, 2 * batch * batches, now - 20 * DAY, log_lines=1)
    old = _ended_through_the_engine(store, now - 15 * DAY)
    recent = add_job(store, JobStatus.FINISHED, ended=now - 13 * DAY)
    planned = add_job(store, JobStatus.SCHEDULED, created=now - 100 * DAY, scheduled=now + DAY)
    add_audit(store, now - 31 * DAY, "old entry")
    add_audit(store, now - 29 * DAY, "recent entry")
    args = ("--retention-days", "14", "--audit-retention-days", "30")
    processes.start("worker", "--data-dir", str(data_dir), *WORKER_ARGS, *args)
    wait_for(lambda: job_count(store) == 2 and "old entry" not in audit_details(store))
    assert children(store, old) == (0, 0, 0)
    assert exists(store, recent)
    assert exists(store, planned)
    assert "recent entry" in audit_details(store)


def test_serve_passes_retention_on_to_its_workers(store: Store, start_server: Callable[..., Server]) -> None:
    now = models.utcnow()
    old = add_job(store, JobStatus.WARNING, ended=now - 2 * DAY)
    recent = add_job(store, JobStatus.FINISHED, ended=now - DAY / 2)
    add_audit(store, now - 3 * DAY, "old entry")
    start_server("--no-demo", "--retention-days", "1", "--audit-retention-days", "2")
    wait_for(lambda: not exists(store, old) and "old entry" not in audit_details(store))
    assert exists(store, recent)


def test_retention_days_0_keeps_everything(
    demo: JobService, store: Store, data_dir: pathlib.Path, processes: Processes
) -> None:
    """With 0 the worker deletes nothing, however old: it runs a job of its own meanwhile, so it has taken turns."""
    old = add_job(store, JobStatus.FINISHED, ended=models.utcnow() - 1000 * DAY)
    add_audit(store, models.utcnow() - 1000 * DAY, "old entry")
    args = ("--retention-days", "0", "--audit-retention-days", "0")
    processes.start("worker", "--data-dir", str(data_dir), *WORKER_ARGS, *args)
    job = demo.schedule("/APPJOBS/DEMO_ECHO", creator="TESTER")
    assert wait_final(demo, job.key).status is JobStatus.FINISHED
    assert exists(store, old)
    assert "old entry" in audit_details(store)


def _ended_through_the_engine(store: Store, at: dt.datetime) -> models.JobKey:
    """A job created, claimed and finished through the store's own verbs, as a worker would have done at *at*."""
    key = add_job(store, JobStatus.SCHEDULED, created=at - SECOND)
    [work] = store.jobs.claim("an-old-worker", 1, at, ["token"])
    assert work.key == key
    store.jobs.finish_step(key, 1, JobStatus.FINISHED, exit_code=0, now=at)
    assert store.jobs.get(key).ended_at == at
    return key
