"""Stopping a worker or a server lets running jobs finish (``--drain-timeout``); a second signal stops at once."""

from __future__ import annotations

import pathlib
import signal
import subprocess
import time
from collections.abc import Callable

import pytest
import requests
from conftest import WORKER_ARGS, Processes, Server, job_processes, wait_final, wait_for

from appjobs import models
from appjobs.auth import passwords, users
from appjobs.engine import JobService
from appjobs.models import JobStatus
from appjobs.storage import Store

pytestmark = pytest.mark.backends("sqlite", "postgresql")

SERVICE = "/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=0002/"
SAME_STOP = 1.0  # seconds: a second signal sooner than this counts as the first (appjobs.engine.worker.SAME_STOP)


def start_worker(
    processes: Processes, data_dir: pathlib.Path, store: Store, log: pathlib.Path, *args: str
) -> subprocess.Popen[str]:
    with log.open("w") as stderr:
        proc = processes.start("worker", "--data-dir", str(data_dir), *WORKER_ARGS, *args, stderr=stderr)
    wait_for(lambda: store.workers.all() or proc.poll() is not None)
    assert proc.poll() is None, log.read_text()
    return proc


def sleep_job(demo: JobService, seconds: int) -> models.Job:
    job = demo.schedule("/APPJOBS/DEMO_SLEEP", creator="TESTER", parameters={"SECONDS": str(seconds)})
    wait_for(lambda: len(job_processes(job.key)) >= 2)
    return job


def test_sigterm_lets_the_running_job_finish_and_claims_nothing_new(
    demo: JobService, processes: Processes, data_dir: pathlib.Path, store: Store, tmp_path: pathlib.Path
) -> None:
    """SIGTERM: the running job ends F (not A); a job scheduled meanwhile is left to another worker, which runs it."""
    log = tmp_path / "worker.log"
    draining = start_worker(processes, data_dir, store, log)
    job = sleep_job(demo, 3)
    draining.send_signal(signal.SIGTERM)
    wait_for(lambda: "stopping: no new jobs" in log.read_text())
    later = demo.schedule("/APPJOBS/DEMO_ECHO", creator="TESTER")
    time.sleep(1.0)  # ten of the draining worker's poll intervals: it would have claimed the job by now
    assert demo.status(later.key).status is JobStatus.SCHEDULED
    assert draining.poll() is None, "the worker waits for its running job"
    other = start_worker(processes, data_dir, store, tmp_path / "other.log")
    assert wait_final(demo, later.key).status is JobStatus.FINISHED  # started by the other worker
    assert wait_final(demo, job.key).status is JobStatus.FINISHED
    assert draining.wait(timeout=20) == 0
    assert "Job aborted: the worker is shutting down." not in [e.text for e in demo.log(job.key)]
    assert other.poll() is None


def test_a_chain_goes_on_to_its_next_step_while_draining(
    demo: JobService, processes: Processes, data_dir: pathlib.Path, store: Store, tmp_path: pathlib.Path
) -> None:
    """The drain lets a running job finish, not just its current step: DEMO_CHAIN's third step still runs."""
    proc = start_worker(processes, data_dir, store, tmp_path / "worker.log")
    job = demo.schedule("/APPJOBS/DEMO_CHAIN", creator="TESTER")
    wait_for(lambda: demo.status(job.key).status is JobStatus.RUNNING)
    proc.send_signal(signal.SIGTERM)
    assert wait_final(demo, job.key).status is JobStatus.FINISHED
    assert [s.status for s in demo.steps(job.key)] == [JobStatus.FINISHED] * 3
    assert proc.wait(timeout=20) == 0


def test_second_signal_aborts_at_once(
    demo: JobService, processes: Processes, data_dir: pathlib.Path, store: Store, tmp_path: pathlib.Path
) -> None:
    """A second SIGTERM during the drain aborts the running job as a stop without drain would."""
    log = tmp_path / "worker.log"
    proc = start_worker(processes, data_dir, store, log)
    job = sleep_job(demo, 300)
    proc.send_signal(signal.SIGTERM)
    wait_for(lambda: "stopping: no new jobs" in log.read_text())
    time.sleep(SAME_STOP)
    assert demo.status(job.key).status is JobStatus.RUNNING
    proc.send_signal(signal.SIGTERM)
    assert wait_final(demo, job.key, timeout=10).status is JobStatus.ABORTED
    assert "Job aborted: the worker is shutting down." in [e.text for e in demo.log(job.key)]
    assert proc.wait(timeout=10) == 0


@pytest.mark.parametrize("drain", ["0", "1"])
def test_drain_timeout_bounds_the_wait(
    demo: JobService, processes: Processes, data_dir: pathlib.Path, store: Store, tmp_path: pathlib.Path, drain: str
) -> None:
    """What still runs when the drain timeout is over is aborted as before; 0 aborts at once (the old behaviour)."""
    proc = start_worker(processes, data_dir, store, tmp_path / "worker.log", "--drain-timeout", drain)
    job = sleep_job(demo, 300)
    proc.send_signal(signal.SIGTERM)
    assert wait_final(demo, job.key, timeout=15).status is JobStatus.ABORTED
    assert "Job aborted: the worker is shutting down." in [e.text for e in demo.log(job.key)]
    assert proc.wait(timeout=10) == 0


def test_serve_answers_polls_while_its_worker_drains(
    demo: JobService, store: Store, start_server: Callable[..., Server]
) -> None:
    """SIGTERM to serve: the API keeps answering polls until the worker's running job has ended F; then it exits."""
    password = passwords.generate_password()
    users.add_user(store, "DRAINER", password)
    server = start_server()
    job = demo.schedule("/APPJOBS/DEMO_SLEEP", creator="DRAINER", parameters={"SECONDS": "3"})
    wait_for(lambda: demo.status(job.key).status is JobStatus.RUNNING)
    server.proc.send_signal(signal.SIGTERM)
    url = f"{server.url}{SERVICE}JobStatusGet?JobName='{job.key.name}'&JobRunCount='{job.key.run_count}'&$format=json"
    seen = []
    with requests.Session() as http:
        while not seen or seen[-1] == "R":
            try:
                answer = http.get(url, auth=("DRAINER", password), timeout=5)
            except requests.ConnectionError:
                # serve exits as soon as the job has ended; the poll that would have seen F may find it gone.
                break
            assert answer.status_code == 200, answer.text
            seen.append(answer.json()["d"]["JobStatus"])
            time.sleep(0.2)
    assert set(seen) <= {"R", "F"}, seen
    assert seen.count("R") > 3, "polls were answered during the drain"
    assert server.proc.wait(timeout=20) == 0
    assert demo.status(job.key).status is JobStatus.FINISHED


def test_second_signal_to_serve_aborts_at_once(demo: JobService, start_server: Callable[..., Server]) -> None:
    """Ctrl-C twice (SIGINT, then SIGINT at once): serve's worker aborts its running job, and serve exits."""
    server = start_server()
    job = sleep_job(demo, 300)
    server.proc.send_signal(signal.SIGINT)
    wait_for(lambda: "stopping: no new jobs" in server.output())
    server.proc.send_signal(signal.SIGINT)
    assert wait_final(demo, job.key, timeout=15).status is JobStatus.ABORTED
    assert "Job aborted: the worker is shutting down." in [e.text for e in demo.log(job.key)]
    server.proc.wait(timeout=15)
