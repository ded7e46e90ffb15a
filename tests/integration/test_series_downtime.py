"""Downtime: the server is stopped across two starts of a one-minute series; on start-up the series runs once.

Real minutes: about two and a half per backend.
"""

from __future__ import annotations

import datetime as dt
import pathlib
import signal
import time
from collections.abc import Callable

import pytest
from conftest import Server, wait_final
from seriessite import add_mark, admin, series_jobs

from appjobs import models
from appjobs.engine import JobService
from appjobs.models import JobStatus

pytestmark = [pytest.mark.backends("sqlite", "postgresql"), pytest.mark.slow, pytest.mark.minutes]


def test_a_series_missed_while_the_server_was_down_runs_once_and_says_so(
    service: JobService, data_dir: pathlib.Path, tmp_path: pathlib.Path, start_server: Callable[..., Server]
) -> None:
    add_mark(service)
    server = start_server()
    out = admin(
        data_dir, "jobs", "schedule", "/PLAN/MARK", "--every", "1m", "-p", f"MARKS={tmp_path}", "-p", "JOB=d"
    ).stdout.splitlines()
    series_id = out[1].split()[1].rstrip(":")
    first = models.JobKey(*out[0].split())
    assert wait_final(service, first).status is JobStatus.FINISHED
    (following,) = service.store.jobs.planned()
    assert following.series_index == 1
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=30) == 0
    series = service.store.jobs.series(series_id)
    start = series.recurrence.start
    past_two = start(series.anchor, 2) + dt.timedelta(seconds=2)  # starts 1 and 2 pass while it is down
    time.sleep(max((past_two - models.utcnow()).total_seconds(), 0))
    start_server()
    assert wait_final(service, following.key).status is JobStatus.FINISHED
    said = [e.text for e in service.log(following.key) if "passed while no worker was running" in e.text]
    assert len(said) == 1, said
    assert said[0].startswith("2 planned starts"), said
    jobs = series_jobs(service, series_id)
    assert [j.series_index for j in jobs] == [0, 1, 3]  # start 2 never got a job of its own: it ran once, as 1
    assert jobs[2].status is JobStatus.SCHEDULED
    assert jobs[2].scheduled_at == start(series.anchor, 3)
    assert (tmp_path / "d").read_text() == "ran\n" * 2
    admin(data_dir, "jobs", "cancel", jobs[2].key.name, jobs[2].key.run_count, "--series")
    assert service.store.jobs.planned() == []
