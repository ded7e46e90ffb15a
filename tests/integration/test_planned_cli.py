"""``admin jobs schedule --start-at/--every/--until/--count``, ``list --planned``, ``show``, ``cancel --series``."""

from __future__ import annotations

import datetime as dt
import json
import os
import pathlib
import subprocess

import pytest
from conftest import APPJOBS
from seriessite import add_mark

from appjobs import models, recurrence
from appjobs.engine import JobService, templates

pytestmark = pytest.mark.backends("sqlite")


def run(data_dir: pathlib.Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, APPJOBS_DATA_DIR=str(data_dir))
    return subprocess.run(
        [*APPJOBS, "admin", "jobs", *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


@pytest.fixture
def marked(service: JobService, initialised: pathlib.Path) -> pathlib.Path:
    add_mark(service)
    return initialised


def test_a_planned_job_from_the_command_line(marked: pathlib.Path) -> None:
    done = run(marked, "schedule", "/PLAN/MARK", "--start-at", "2030-07-01T10:00", "--timezone", "Europe/Berlin")
    assert done.returncode == 0, done.stderr
    key, when = done.stdout.splitlines()
    assert when == "planned for 2030-07-01 08:00:00Z"  # 10:00 in Berlin in summer
    listed = run(marked, "list", "--planned").stdout.splitlines()
    assert listed == [f"{key} S 2030-07-01 08:00:00 /PLAN/MARK Mark the file"]
    shown = run(marked, "show", *key.split()).stdout
    assert "planned start: 2030-07-01 08:00:00Z" in shown
    gone = run(marked, "cancel", *key.split())
    assert "deleted" in gone.stdout
    assert run(marked, "list", "--planned").stdout == ""


def test_a_series_from_the_command_line_and_its_cancel(marked: pathlib.Path) -> None:
    done = run(
        marked, "schedule", "/PLAN/MARK", "--every", "1mo", "--start-at", "2030-01-31T02:30",
        "--timezone", "Europe/Berlin", "--count", "3",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    key, said = done.stdout.splitlines()
    assert said.endswith("every 1mo in Europe/Berlin, 3 starts; first start 2030-01-31 01:30:00Z")
    shown = json.loads(run(marked, "show", *key.split(), "--json").stdout)
    assert shown["series"]["next_start"] == "2030-01-31 01:30:00Z"
    assert shown["series"]["end"] == "3 starts"
    refused = run(marked, "cancel", *key.split())
    assert refused.returncode != 0
    assert "--series" in refused.stderr
    assert run(marked, "list", "--planned").stdout.count("/PLAN/MARK") == 1  # refused: still there
    cancelled = run(marked, "cancel", *key.split(), "--series")
    assert cancelled.returncode == 0, cancelled.stderr
    assert run(marked, "list", "--planned").stdout == ""


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--every", "5x"], "5x"),
        (["--every", "1d", "--count", "2", "--until", "2031-01-01T00:00"], "--until and --count"),
        (["--count", "2"], "give --every"),
        (["--every", "1d", "--count", str(2**31)], "--count must be from 1 to 2147483647"),
        (["--start-at", "tomorrow"], "tomorrow"),
        (["--start-at", "2001-01-01T00:00"], "in the past"),
        (["--every", "1d", "--timezone", "Mars/Olympus"], "Mars/Olympus"),
        (["--default-recurrence"], "declares no default recurrence"),
    ],
)
def test_bad_planning_options_are_named_and_nothing_is_stored(marked: pathlib.Path, args: list[str], says: str) -> None:
    done = run(marked, "schedule", "/PLAN/MARK", *args)
    assert done.returncode != 0
    assert says in done.stderr
    assert run(marked, "list", "--planned").stdout == ""
    assert run(marked, "list").stdout == ""


NIGHTLY = """
[[template]]
name = "/PLAN/NIGHTLY"
text = "Nightly"
recurrence = { every = "1d", at = "02:00", timezone = "Europe/Berlin" }
[[template.step]]
command = "true"
"""


def test_default_recurrence_starts_the_series_at_the_templates_next_local_time(
    service: JobService, initialised: pathlib.Path
) -> None:
    service.import_templates(templates.parse(NIGHTLY, source="n.toml", by="T", now=models.utcnow()))
    listed = subprocess.run(
        [*APPJOBS, "admin", "templates", "list"], capture_output=True, text=True, timeout=60, check=False,
        env=dict(os.environ, APPJOBS_DATA_DIR=str(initialised)),
    ).stdout  # fmt: skip
    assert "/PLAN/NIGHTLY\tNightly\t1 step(s)\tevery 1d at 02:00 Europe/Berlin" in listed
    done = run(initialised, "schedule", "/PLAN/NIGHTLY", "--default-recurrence")
    assert done.returncode == 0, done.stderr
    key = models.JobKey(*done.stdout.splitlines()[0].split())
    job = service.status(key)
    berlin = recurrence.zone("Europe/Berlin")
    local = job.scheduled_at.astimezone(berlin)
    assert (local.hour, local.minute) == (2, 0)
    assert dt.timedelta(0) < job.scheduled_at - models.utcnow() <= dt.timedelta(days=1)
    series = service.store.jobs.series(job.series_id or "")
    assert (series.recurrence.every, series.recurrence.timezone) == ("1d", "Europe/Berlin")


def test_a_series_first_start_with_an_offset_keeps_that_instants_local_time(marked: pathlib.Path) -> None:
    """``--start-at …z`` (lower case, as ISO 8601 allows): 01:30Z is 02:30 in Berlin in winter, kept every day."""
    done = run(marked, "schedule", "/PLAN/MARK", "--every", "1d", "--start-at", "2030-01-31t01:30z",
               "--timezone", "Europe/Berlin")  # fmt: skip
    assert done.returncode == 0, done.stderr
    key = done.stdout.split()[:2]
    shown = json.loads(run(marked, "show", *key, "--json").stdout)
    assert shown["series"]["anchor"] == "2030-01-31T02:30:00"
