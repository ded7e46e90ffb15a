"""A one-minute series with --count 3 runs three times, a minute apart, and stops (real minutes: ~2 min per backend)."""

from __future__ import annotations

import datetime as dt
import itertools
import pathlib

import pytest
from conftest import wait_for
from seriessite import add_mark, admin, series_jobs

from appjobs.engine import JobService
from appjobs.models import JobStatus

pytestmark = [
    pytest.mark.backends("sqlite", "postgresql"),
    pytest.mark.slow,
    pytest.mark.minutes,
    pytest.mark.usefixtures("worker"),
]


def test_a_one_minute_series_with_count_3_runs_three_times_and_stops(
    demo: JobService, data_dir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    add_mark(demo)
    out = admin(
        data_dir, "jobs", "schedule", "/PLAN/MARK", "--every", "1m", "--count", "3",
        "-p", f"MARKS={tmp_path}", "-p", "JOB=s",
    ).stdout.splitlines()  # fmt: skip
    series_id = out[1].split()[1].rstrip(":")
    marks = tmp_path / "s"
    wait_for(lambda: marks.exists() and marks.read_text().count("ran") == 3, timeout=170, interval=1)
    jobs = series_jobs(demo, series_id)
    wait_for(lambda: all(j.status.is_final for j in series_jobs(demo, series_id)), timeout=30)
    jobs = series_jobs(demo, series_id)
    assert [j.series_index for j in jobs] == [0, 1, 2]
    assert {j.status for j in jobs} == {JobStatus.FINISHED}
    starts = [j.started_at for j in jobs]
    assert all(s is not None for s in starts)
    gaps = [b - a for a, b in itertools.pairwise(starts)]  # type: ignore[operator]
    assert all(dt.timedelta(seconds=59) < gap < dt.timedelta(seconds=61) for gap in gaps), gaps
    assert demo.store.jobs.planned() == []  # and it stops: nothing is planned after the third
    assert demo.store.jobs.series(series_id).ended_at is not None
    assert marks.read_text() == "ran\n" * 3
