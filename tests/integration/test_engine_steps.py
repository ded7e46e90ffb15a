"""What a step gets from the worker: a clean environment, and output bounded while it runs."""

from __future__ import annotations

import os
import pathlib
import subprocess

import pytest
from conftest import WORKER_ARGS, Processes, wait_final, wait_for

from appjobs import models
from appjobs.engine import JobService, templates
from appjobs.models import JobStatus
from appjobs.settings import Paths
from appjobs.storage import Store

pytestmark = pytest.mark.backends("sqlite", "postgresql")


def add_template(service: JobService, toml: str) -> None:
    service.import_templates(templates.parse(toml, source="test.toml", by="TEST", now=models.utcnow()))


def log_texts(service: JobService, key: models.JobKey) -> list[str]:
    return [entry.text for entry in service.log(key)]


def start_worker(
    processes: Processes, data_dir: pathlib.Path, store: Store, *args: str, **env: str
) -> subprocess.Popen[str]:
    """A worker whose environment holds *env* too (on top of the test's, which names the database)."""
    full_env = {**os.environ, **env}
    proc = processes.start("worker", "--data-dir", str(data_dir), *WORKER_ARGS, *args, env=full_env)
    wait_for(lambda: store.workers.all() or proc.poll() is not None)
    assert proc.poll() is None, "worker exited at start"
    return proc


def test_step_environment_is_clean(
    service: JobService, processes: Processes, data_dir: pathlib.Path, store: Store
) -> None:
    """A step sees the allow-list, pass_env, its parameters and its job; not the server's secrets or other variables."""
    database_url = Paths.resolve(str(data_dir)).database_url  # on PostgreSQL the test's, with its credentials
    start_worker(
        processes,
        data_dir,
        store,
        APPJOBS_DATABASE_URL=database_url,
        SERVER_ONLY_SECRET="s3cret",
        ORACLE_HOME="/opt/oracle",
        LC_ALL="C.UTF-8",
        TZ="Europe/Berlin",
    )
    add_template(
        service,
        """
        [[template]]
        name = "/APPJOBS/TEST_PRINTENV"
        text = "Print the environment"
        pass_env = ["ORACLE_HOME"]
        [[template.step]]
        command = 'env | sort'
        parameters = { GREETING = "hello" }
        """,
    )
    job = service.schedule("/APPJOBS/TEST_PRINTENV", creator="TESTER")
    assert wait_final(service, job.key).status is JobStatus.FINISHED
    seen = dict(line.split("=", 1) for line in log_texts(service, job.key) if "=" in line)
    assert "APPJOBS_DATABASE_URL" not in seen
    assert "SERVER_ONLY_SECRET" not in seen
    assert not [value for value in seen.values() if database_url in value or "s3cret" in value]
    assert seen["ORACLE_HOME"] == "/opt/oracle"  # passed through by the template
    assert (seen["LC_ALL"], seen["TZ"]) == ("C.UTF-8", "Europe/Berlin")  # the allow-list
    assert seen["PATH"] == os.environ["PATH"]
    assert seen["GREETING"] == "hello"  # its parameter
    assert (seen["APPJOBS_JOB_NAME"], seen["APPJOBS_JOB_RUN_COUNT"]) == (job.key.name, job.key.run_count)
    assert seen["APPJOBS_STEP_NUMBER"] == "1"
