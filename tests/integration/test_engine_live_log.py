"""A running step's output reaches the job log while it runs, once per line, also across a crash.

The same seen over HTTP, by ``appjobs log --follow``: ``test_cli_log.py``.
"""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess

import pytest
from conftest import WORKER_ARGS, Processes, gated_template, wait_final, wait_for

from appjobs import models
from appjobs.engine import JobService, templates
from appjobs.models import JobStatus

pytestmark = pytest.mark.backends("sqlite", "postgresql")


def step_lines(entries: list[models.LogEntry]) -> list[str]:
    return [e.text for e in entries if e.source == "stdout"]


def test_whole_lines_are_logged_while_the_step_runs_and_the_half_line_at_its_end(
    service: JobService, worker: subprocess.Popen[str], tmp_path: pathlib.Path
) -> None:
    gate = tmp_path / "gate"
    service.import_templates(
        templates.parse(gated_template("/APPJOBS/TEST_LIVE", gate), source="t", by="T", now=models.utcnow())
    )
    job = service.schedule("/APPJOBS/TEST_LIVE", creator="TESTER")
    wait_for(lambda: step_lines(service.log(job.key)) == ["first"])
    assert service.status(job.key).status is JobStatus.RUNNING  # logged before the step ended
    gate.touch()
    assert wait_final(service, job.key).status is JobStatus.FINISHED
    texts = [e.text for e in service.log(job.key)]
    assert step_lines(service.log(job.key)) == ["first", "half done", "last"]  # each once, the half line whole
    started = next(i for i, text in enumerate(texts) if text.startswith("Step 1 started"))
    assert started < texts.index("first") < texts.index("half done") < texts.index("Step 1 finished.")


def test_a_crashed_workers_step_keeps_its_logged_lines_once(
    service: JobService, processes: Processes, data_dir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """Lines logged while the step ran are not logged again by the recovery that aborts it."""
    worker = processes.start("worker", "--data-dir", str(data_dir), *WORKER_ARGS)
    gate = tmp_path / "gate"  # never opened: the step waits until recovery kills it
    service.import_templates(
        templates.parse(gated_template("/APPJOBS/TEST_LIVE", gate), source="t", by="T", now=models.utcnow())
    )
    job = service.schedule("/APPJOBS/TEST_LIVE", creator="TESTER")
    wait_for(lambda: step_lines(service.log(job.key)) == ["first"])
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    processes.start("worker", "--data-dir", str(data_dir), *WORKER_ARGS)
    assert wait_final(service, job.key).status is JobStatus.ABORTED
    assert step_lines(service.log(job.key)) == ["first", "half"]  # the rest of the file: the half line
    assert not list((data_dir / "logs").glob("*.log"))


@pytest.mark.backends("sqlite")  # the limits are the engine's, whatever the database
def test_a_steps_log_stops_at_ten_thousand_lines_and_says_so(
    service: JobService, worker: subprocess.Popen[str], data_dir: pathlib.Path
) -> None:
    toml = '[[template]]\nname = "/APPJOBS/TEST_LINES"\ntext = "Lines"\n[[template.step]]\ncommand = "seq 1 10005"\n'
    service.import_templates(templates.parse(toml, source="t", by="T", now=models.utcnow()))
    job = service.schedule("/APPJOBS/TEST_LINES", creator="TESTER")
    assert wait_final(service, job.key).status is JobStatus.FINISHED
    entries = service.log(job.key)
    assert step_lines(entries) == [str(n) for n in range(1, 10_001)]
    assert [e.text for e in entries if e.text.startswith("Output of step")] == [
        "Output of step 1 was cut after 10000 lines."
    ]
    assert not list((data_dir / "logs").glob("*.log"))


def test_a_step_that_prints_nul_and_bytes_that_are_not_utf8_finishes_with_its_log(
    service: JobService, worker: subprocess.Popen[str], tmp_path: pathlib.Path
) -> None:
    """PostgreSQL's text refuses NUL: such output, logged while the step runs and at its end, is U+FFFD instead."""
    gate = tmp_path / "gate"
    script = f"printf 'a\\\\000b\\\\n'; while [ ! -e {gate} ]; do sleep 0.05; done; printf 'c\\\\377\\\\000'"
    toml = f'[[template]]\nname = "/APPJOBS/TEST_NUL"\ntext = "NUL"\n[[template.step]]\ncommand = "{script}"\n'
    service.import_templates(templates.parse(toml, source="t", by="T", now=models.utcnow()))
    job = service.schedule("/APPJOBS/TEST_NUL", creator="TESTER")
    wait_for(lambda: step_lines(service.log(job.key)) == ["a\ufffdb"])  # logged while it runs
    gate.touch()
    assert wait_final(service, job.key).status is JobStatus.FINISHED
    assert step_lines(service.log(job.key)) == ["a\ufffdb", "c\ufffd\ufffd"]
    assert worker.poll() is None
