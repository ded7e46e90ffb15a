"""What a step gets from the worker: a clean environment, and output bounded while it runs."""

from __future__ import annotations

import os
import pathlib
import subprocess

import psutil
import pytest
from conftest import WORKER_ARGS, Processes, job_processes, wait_final, wait_for

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


MIB = 1024 * 1024


def output_files(data_dir: pathlib.Path) -> list[pathlib.Path]:
    return list((data_dir / "logs").glob("*.log"))


def test_output_is_capped_while_the_step_runs(
    service: JobService, processes: Processes, data_dir: pathlib.Path, store: Store
) -> None:
    """A step that writes without end keeps running, its file stops at the cap, and the log says what was dropped."""
    start_worker(processes, data_dir, store, "--max-step-output", "1")
    add_template(
        service, '[[template]]\nname = "/APPJOBS/TEST_FLOOD"\ntext = "Flood"\n[[template.step]]\ncommand = "yes"\n'
    )
    job = service.schedule("/APPJOBS/TEST_FLOOD", creator="TESTER")

    def flooding() -> psutil.Process | None:
        return next((p for p in job_processes(job.key) if p.name() == "yes"), None)

    yes = wait_for(flooding)
    assert isinstance(yes, psutil.Process)
    wait_for(lambda: yes.io_counters().write_chars > 8 * MIB)  # it goes on writing: never blocked for good
    (path,) = output_files(data_dir)
    size = path.stat().st_size
    assert MIB <= size <= MIB + 200, f"{size} bytes on disk for a cap of 1 MiB"
    assert path.read_bytes().endswith(b"what follows is dropped]\n")
    service.cancel(job.key, by="TESTER")
    assert wait_final(service, job.key).status is JobStatus.ABORTED
    (note,) = [t for t in log_texts(service, job.key) if "--max-step-output" in t]
    dropped = int(note.split(": ")[1].split()[0])
    assert dropped > 6 * MIB, note
    assert "the 1 MiB kept while a step runs" in note


def test_output_under_the_cap_is_kept_whole(
    service: JobService, processes: Processes, data_dir: pathlib.Path, store: Store
) -> None:
    """Output from the step and the processes it starts, stdout and stderr, all reaches the log; nothing is dropped."""
    start_worker(processes, data_dir, store, "--max-step-output", "1")
    command = "echo out; echo err >&2; (sleep 0.2; echo from-child) & wait; seq 1 20000 | tail -n 1"
    add_template(
        service, f'[[template]]\nname = "/APPJOBS/TEST_OUT"\ntext = "Out"\n[[template.step]]\ncommand = "{command}"\n'
    )
    job = service.schedule("/APPJOBS/TEST_OUT", creator="TESTER")
    assert wait_final(service, job.key).status is JobStatus.FINISHED
    texts = log_texts(service, job.key)
    assert {"out", "err", "from-child", "20000"} <= set(texts)
    assert not [t for t in texts if "dropped" in t]
    assert output_files(data_dir) == []  # moved into the job log


@pytest.mark.usefixtures("worker")
def test_demo_echo_repeat_is_bounded(demo: JobService) -> None:
    """DEMO_ECHO refuses a REPEAT over 1000 with a clear message (no unbounded loop for every user); 3 works."""
    job = demo.schedule("/APPJOBS/DEMO_ECHO", creator="TESTER", parameters={"REPEAT": "999999999999"})
    assert wait_final(demo, job.key).status is JobStatus.ABORTED
    assert "REPEAT must be a whole number from 1 to 1000, not '999999999999'" in log_texts(demo, job.key)
    job = demo.schedule("/APPJOBS/DEMO_ECHO", creator="TESTER", parameters={"REPEAT": "3", "MESSAGE": "hi"})
    assert wait_final(demo, job.key).status is JobStatus.FINISHED
    assert log_texts(demo, job.key).count("MESSAGE=hi") == 3


@pytest.mark.backends("sqlite")  # processes, not the database: once is enough
def test_a_step_reads_nothing_from_the_workers_stdin(
    service: JobService, processes: Processes, data_dir: pathlib.Path, store: Store
) -> None:
    """A step's stdin is empty: `cat` ends at once, and what waits on the worker's own stdin stays there."""
    worker = processes.start("worker", "--data-dir", str(data_dir), *WORKER_ARGS, stdin=subprocess.PIPE)
    assert worker.stdin is not None
    with worker.stdin:  # kept open while the step runs, as a terminal or a supervisor's pipe would be
        worker.stdin.write("meant for the worker, not its steps\n")
        worker.stdin.flush()
        wait_for(lambda: store.workers.all() or worker.poll() is not None)
        command = "cat; echo eof"
        toml = f'[[template]]\nname = "/APPJOBS/TEST_CAT"\ntext = "Cat"\n[[template.step]]\ncommand = "{command}"\n'
        add_template(service, toml)
        job = service.schedule("/APPJOBS/TEST_CAT", creator="TESTER")
        assert wait_final(service, job.key).status is JobStatus.FINISHED
    texts = log_texts(service, job.key)
    assert "eof" in texts
    assert "meant for the worker, not its steps" not in texts


@pytest.mark.backends("sqlite")  # the worker's files, not the database
def test_a_step_that_cannot_start_ends_the_job_a_and_the_worker_goes_on(
    demo: JobService, worker: subprocess.Popen[str], data_dir: pathlib.Path
) -> None:
    """Its output file cannot be made (``logs`` is a file now): the job ends A saying why, with the others
    claimed in the same turn started all the same, and the next job runs once the directory is back."""
    logs = data_dir / "logs"
    logs.rmdir()
    logs.write_text("not a directory")
    jobs = [demo.schedule("/APPJOBS/DEMO_ECHO", creator="TESTER") for _ in range(2)]
    for job in jobs:
        assert wait_final(demo, job.key).status is JobStatus.ABORTED
        texts = [e.text for e in demo.log(job.key)]
        assert any(t.startswith("Step 1 could not start:") and "Not a directory" in t for t in texts), texts
    logs.unlink()
    logs.mkdir()
    fresh = demo.schedule("/APPJOBS/DEMO_ECHO", creator="TESTER")
    assert wait_final(demo, fresh.key).status is JobStatus.FINISHED
    assert worker.poll() is None
