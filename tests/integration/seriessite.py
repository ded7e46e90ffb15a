"""What the one-minute series tests share: a template that marks a file per run, and the admin command."""

from __future__ import annotations

import datetime as dt
import os
import pathlib
import subprocess

from conftest import APPJOBS

from appjobs import models
from appjobs.engine import JobService, templates

#: Appends "ran" to the file $MARKS/$JOB: a job run twice would show twice.
MARK = """
[[template]]
name = "/PLAN/MARK"
text = "Mark the file"
[[template.step]]
command = "echo ran >> \\"$MARKS\\"/\\"$JOB\\""
parameters = { MARKS = "", JOB = "" }
"""


def add_mark(service: JobService) -> None:
    service.import_templates(templates.parse(MARK, source="test.toml", by="TEST", now=models.utcnow()))


def admin(data_dir: pathlib.Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``appjobs admin ARGS`` on *data_dir*; fails the test when it fails."""
    env = dict(os.environ, APPJOBS_DATA_DIR=str(data_dir))
    done = subprocess.run([*APPJOBS, "admin", *args], capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done


def series_jobs(service: JobService, series_id: str) -> list[models.Job]:
    """Every job of the series still stored, by start."""
    day = dt.timedelta(days=1)
    found = service.jobs(models.utcnow() - day, models.utcnow() + day)
    return sorted((j for j in found if j.series_id == series_id), key=lambda j: j.series_index or 0)
