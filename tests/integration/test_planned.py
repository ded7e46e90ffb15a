"""Planned jobs and periodic series on real workers: start on time, once; cancelling a series; the API's view.

The one-minute series tests wait for real minutes; they live in files of their
own (test_series_count.py, test_series_downtime.py) so that they run beside the rest.
"""

from __future__ import annotations

import datetime as dt
import pathlib
import subprocess
import zoneinfo
from collections.abc import Callable

import pytest
import requests
from conftest import WORKER_ARGS, Processes, Server, wait_final, wait_for
from tenant import ROOT_PATH

from appjobs import errors, models, recurrence
from appjobs.auth import passwords, users
from appjobs.client import Client, JobKey, Periodicity
from appjobs.engine import JobService, planning, templates
from appjobs.models import JobStatus
from appjobs.storage import Store

pytestmark = pytest.mark.backends("sqlite", "postgresql")

#: Appends its job's name to a file, so that a job run twice would show twice.
MARK = """
[[template]]
name = "/PLAN/MARK"
text = "Mark the file"
[[template.step]]
command = "echo ran >> \\"$MARKS\\"/\\"$JOB\\""
parameters = { MARKS = "", JOB = "" }
"""
SECOND = dt.timedelta(seconds=1)


def add_mark(service: JobService) -> None:
    service.import_templates(templates.parse(MARK, source="test.toml", by="TEST", now=models.utcnow()))


def start_worker(processes: Processes, data_dir: pathlib.Path, store: Store, *extra: str) -> subprocess.Popen[str]:
    before = len(store.workers.all())
    proc = processes.start("worker", "--data-dir", str(data_dir), *extra)
    wait_for(lambda: len(store.workers.all()) > before or proc.poll() is not None)
    assert proc.poll() is None, "worker exited at start"
    return proc


def test_a_planned_job_waits_in_s_then_starts_within_a_second_of_its_time_once(
    service: JobService, store: Store, processes: Processes, data_dir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """A worker that polls only every 30 s still starts a planned job on time: it wakes for the next planned start."""
    add_mark(service)
    start_worker(processes, data_dir, store, "--poll-interval", "30", "--concurrency", "2")
    start_at = models.utcnow() + 3 * SECOND
    job = service.schedule(
        "/PLAN/MARK", creator="T", start_at=start_at, parameters={"MARKS": str(tmp_path), "JOB": "a"}
    )
    assert job.scheduled_at == start_at
    assert service.status(job.key).status is JobStatus.SCHEDULED
    done = wait_final(service, job.key)
    assert done.status is JobStatus.FINISHED
    assert done.started_at is not None
    assert dt.timedelta(0) <= done.started_at - start_at < SECOND
    assert (tmp_path / "a").read_text() == "ran\n"


def test_a_start_in_the_past_is_refused_and_nothing_is_stored(service: JobService) -> None:
    add_mark(service)
    past = models.utcnow() - dt.timedelta(hours=1)
    with pytest.raises(errors.InvalidInput, match="in the past"):
        service.schedule("/PLAN/MARK", creator="T", start_at=past)
    assert service.store.jobs.planned() == []


@pytest.mark.backends("postgresql")
def test_two_workers_on_postgresql_run_each_planned_job_once(
    service: JobService, store: Store, processes: Processes, data_dir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    add_mark(service)
    for _ in range(2):
        start_worker(processes, data_dir, store, *WORKER_ARGS)
    start_at = models.utcnow() + 2 * SECOND
    names = [f"j{i}" for i in range(12)]
    jobs = [
        service.schedule("/PLAN/MARK", creator="T", start_at=start_at, parameters={"MARKS": str(tmp_path), "JOB": n})
        for n in names
    ]
    ended = [wait_final(service, job.key) for job in jobs]
    assert {job.status for job in ended} == {JobStatus.FINISHED}
    assert all(job.started_at is not None and job.started_at >= start_at for job in ended)
    assert {n: (tmp_path / n).read_text() for n in names} == dict.fromkeys(names, "ran\n")
    for job in jobs:  # nobody started a step twice
        assert sum(e.text.startswith("Step 1 started") for e in service.log(job.key)) == 1


def series_of(service: JobService, every: str = "1d", count: int | None = None) -> tuple[models.Series, models.Job]:
    rule = recurrence.Recurrence.parse(every, "Europe/Berlin")
    local = (models.utcnow() + dt.timedelta(hours=1)).astimezone(zoneinfo.ZoneInfo(rule.timezone))
    anchor = local.replace(tzinfo=None, microsecond=0)
    return planning.schedule_series(service, "/PLAN/MARK", creator="T", rule=rule, anchor=anchor, count=count)


def test_a_series_keeps_one_job_planned_and_cancelling_one_job_deletes_the_series(service: JobService) -> None:
    add_mark(service)
    series, first = series_of(service, count=5)
    assert (first.series_id, first.series_index) == (series.id, 0)
    assert [j.key for j in service.store.jobs.planned()] == [first.key]
    assert service.store.jobs.series(series.id).max_runs == 5
    outcome = service.cancel(first.key, by="T")
    assert outcome.deleted
    assert service.store.jobs.planned() == []
    assert service.store.jobs.series(series.id).ended_at is not None
    _, job = series_of(service)
    with pytest.raises(errors.InvalidInput, match="--series"):
        service.cancel(job.key, by="T", series=False)
    assert service.status(job.key).status is JobStatus.SCHEDULED  # refused: nothing changed


def test_cancelling_the_running_job_of_a_series_aborts_it_and_deletes_the_next(
    service: JobService, store: Store, processes: Processes, data_dir: pathlib.Path
) -> None:
    """The next job exists (S) while the current one runs; JobCancel on the running one ends both."""
    service.import_templates(
        templates.parse(
            '[[template]]\nname = "/PLAN/SLOW"\ntext = "slow"\n[[template.step]]\ncommand = "sleep 60"\n',
            source="t.toml",
            by="T",
            now=models.utcnow(),
        )
    )
    start_worker(processes, data_dir, store, *WORKER_ARGS)
    rule = recurrence.Recurrence.parse("1h", "UTC")
    anchor = (models.utcnow() + 2 * SECOND).replace(tzinfo=None, microsecond=0) + SECOND
    series, first = planning.schedule_series(service, "/PLAN/SLOW", creator="T", rule=rule, anchor=anchor)
    wait_for(lambda: service.status(first.key).status is JobStatus.RUNNING)
    (following,) = service.store.jobs.planned()
    assert (following.series_id, following.series_index) == (series.id, 1)
    assert following.scheduled_at == rule.start(anchor, 1)
    assert any("start 2 of periodic series" in e.text for e in service.log(following.key))
    outcome = service.cancel(first.key, by="T")
    assert not outcome.deleted
    assert wait_final(service, first.key).status is JobStatus.ABORTED
    with pytest.raises(errors.JobNotFound):
        service.status(following.key)


@pytest.mark.backends("sqlite")
def test_the_api_shows_a_series_job_as_sap_does(service: JobService, start_server: Callable[..., Server]) -> None:
    """JobHeaderSet: Periodic, PeriodicDays, JobEndMaxIterations, TimeZone, JobSeriesCreatedAt; JobStatusGet: S."""
    add_mark(service)
    password = passwords.generate_password()
    users.add_user(service.store, "PLANNER", password)
    rule = recurrence.Recurrence.parse("2d", "Europe/Berlin")
    anchor = dt.datetime(2030, 1, 31, 2, 30)
    series, first = planning.schedule_series(
        service, "/PLAN/MARK", creator="PLANNER", rule=rule, anchor=anchor, count=4
    )
    server = start_server("--workers", "0")
    url = f"{server.url}{ROOT_PATH}/JobHeaderSet(JobName='{first.key.name}',JobRunCount='{first.key.run_count}')"
    header = requests.get(url, params={"$format": "json"}, auth=("PLANNER", password), timeout=10).json()["d"]
    assert header["Periodic"] is True
    assert header["PeriodicDays"] == "002"
    assert header["PeriodicMinutes"] == header["PeriodicMonths"] == ""
    assert header["JobEndMaxIterations"] == 4
    assert header["TimeZone"] == "CET"
    assert header["JobStatus"] == "S"
    assert header["JobPlannedStartDateTime"] == "20300131013000"  # 02:30 in Berlin, in winter
    assert header["JobSeriesCreatedAt"] == f"{series.created_at:%Y%m%d%H%M%S}"
    status = requests.get(
        f"{server.url}{ROOT_PATH}/JobStatusGet",
        params={"JobName": f"'{first.key.name}'", "JobRunCount": f"'{first.key.run_count}'", "$format": "json"},
        auth=("PLANNER", password),
        timeout=10,
    ).json()["d"]
    assert status["JobStatus"] == "S"
    with Client(server.url + ROOT_PATH, auth=("PLANNER", password), trust_env=False) as client:
        key = JobKey(first.key.name, first.key.run_count)
        seen = client.header(key).periodic
        assert seen == Periodicity("2d", "CET", 4, None, series.created_at.replace(microsecond=0))
        planned = dt.datetime(2030, 1, 31, 1, 30, tzinfo=dt.UTC)
        assert client.info(key).scheduled_at == planned  # JobinfoGet's JobSdlDateTime
        (listed,) = client.jobs(models.utcnow() - dt.timedelta(minutes=5))  # JobListGet's JobSchedDateTime
        assert (listed.key, listed.scheduled_at) == (key, planned)
        client.cancel(key)  # JobCancel on a job of the series: all of it
    assert service.store.jobs.planned() == []
    assert service.store.jobs.series(series.id).ended_at is not None


@pytest.mark.backends("sqlite")
def test_a_year_down_of_a_one_minute_series_is_one_run_one_sentence_and_one_next_job(service: JobService) -> None:
    """The claim that finds a series job a year late plans the next start ahead; its note lists three starts."""
    add_mark(service)
    rule = recurrence.Recurrence.parse("1m", "UTC")
    anchor = (models.utcnow() + dt.timedelta(hours=1)).replace(tzinfo=None, microsecond=0)
    _, first = planning.schedule_series(service, "/PLAN/MARK", creator="T", rule=rule, anchor=anchor)
    a_year_later = rule.start(anchor, 0) + dt.timedelta(days=365, seconds=30)
    with service.store.jobs.batch() as batch:
        batch.claim("no-worker", 0, a_year_later, [])
    (note,) = [e.text for e in service.log(first.key) if "passed while no worker was running" in e.text]
    assert note.startswith("525601 planned starts of this periodic series passed")
    assert note.count("Z, ") == 3  # three starts shown, then "…"
    assert service.status(first.key).status is JobStatus.READY
    (following,) = service.store.jobs.planned()
    assert following.series_index == 525601
    assert following.scheduled_at == rule.start(anchor, 525601)
