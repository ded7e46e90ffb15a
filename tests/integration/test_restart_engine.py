"""The engine's side of JobRestart without HTTP: a worker that only wakes when told still runs the copy."""

from __future__ import annotations

import pathlib
import subprocess

import pytest
from conftest import Processes, wait_final, wait_for

from appjobs import models
from appjobs.engine import JobService, restart, templates
from appjobs.models import JobStatus
from appjobs.storage import Store, schema

pytestmark = pytest.mark.backends("sqlite", "postgresql")

CHAIN = """
[[template]]
name = "/T/RESTART_WAKE"
text = "Fails once"
[[template.step]]
command = "true"
[[template.step]]
command = "test -e {marker} || {{ touch {marker}; exit 1; }}"
"""


@pytest.fixture
def deaf_worker(processes: Processes, data_dir: pathlib.Path, store: Store) -> subprocess.Popen[str]:
    """A worker that never polls on its own (every 10 minutes): it claims a job only when woken."""
    proc = processes.start("worker", "--data-dir", str(data_dir), "--poll-interval", "600", "--grace", "1")
    wait_for(lambda: store.workers.all() or proc.poll() is not None)
    assert proc.poll() is None, "worker exited at start"
    return proc


@pytest.mark.usefixtures("deaf_worker")
def test_a_restart_wakes_the_workers(service: JobService, tmp_path: pathlib.Path) -> None:
    """The copy is claimed by a worker that does not poll: the restart woke it, as JobSchedule does."""
    toml = CHAIN.format(marker=tmp_path / "marker")
    service.import_templates(templates.parse(toml, source="chain.toml", by="TEST", now=models.utcnow()))
    job = service.schedule("/T/RESTART_WAKE", creator="TESTER")
    assert wait_final(service, job.key).status is JobStatus.ABORTED
    copy = restart.restart(service, job.key, "E", by="TESTER")
    assert copy.status is JobStatus.SCHEDULED
    assert wait_final(service, copy.key).status is JobStatus.FINISHED
    assert [s.status for s in service.steps(copy.key)] == [JobStatus.SKIPPED, JobStatus.FINISHED]


RANGES = """
[[template]]
name = "/T/RESTART_RANGES"
text = "Fails with ranges"
[[template.step]]
command = "exit 1"
[template.step.parameters.PLANTS]
select_option = true
default = [{ sign = "I", option = "BT", low = "1000", high = "2000" }, { sign = "E", option = "EQ", low = "1500" }]
"""


def test_the_copy_keeps_every_row_of_a_select_option(service: JobService) -> None:
    """The restarted step sees the same parameters: a select-option's ranges too, not only its first LOW."""
    service.import_templates(templates.parse(RANGES, source="ranges.toml", by="TEST", now=models.utcnow()))
    job = service.schedule("/T/RESTART_RANGES", creator="TESTER")
    with service.store.db.write() as conn:
        conn.execute(schema.job.update().where(schema.job.c.name == job.key.name).values(status="A"))
        conn.execute(schema.job_step.update().where(schema.job_step.c.job_name == job.key.name).values(status="A"))
    copy = restart.restart(service, job.key, "E", by="TESTER")
    original = service.store.jobs.parameter_values(job.key)
    assert len(original[0].rows) == 2
    assert service.store.jobs.parameter_values(copy.key) == original
