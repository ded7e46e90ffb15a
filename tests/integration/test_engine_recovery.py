"""Crashes: kill -9 of the server or its worker never leaves a job running forever, nor runs it twice."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import pathlib
import signal
import threading
from collections.abc import Callable

import psutil
import pytest
from conftest import WORKER_ARGS, Processes, Server, job_processes, wait_final, wait_for

from appjobs import errors, models
from appjobs.engine import JobService
from appjobs.models import JobStatus
from appjobs.storage import Store
from appjobs.storage.workers import WorkerRecord

pytestmark = pytest.mark.backends("sqlite", "postgresql")


def worker_pids(server: Server) -> list[int]:
    pids = []
    for child in psutil.Process(server.proc.pid).children():
        with contextlib.suppress(psutil.Error):  # a zombie worker has no command line any more
            if "worker" in child.cmdline():
                pids.append(child.pid)
    return pids


def start_sleep(demo: JobService) -> models.Job:
    job = demo.schedule("/APPJOBS/DEMO_SLEEP", creator="TESTER", parameters={"SECONDS": "300"})
    wait_for(lambda: len(job_processes(job.key)) >= 2)
    return job


def assert_recovered(demo: JobService, job: models.Job) -> None:
    """The crashed job ended A with a message saying why, its processes are gone, and new jobs run."""
    assert wait_final(demo, job.key).status is JobStatus.ABORTED
    assert demo.steps(job.key)[0].status is JobStatus.ABORTED
    wait_for(lambda: not job_processes(job.key), timeout=5)
    texts = [e.text for e in demo.log(job.key)]
    assert any(t.startswith("Job aborted:") for t in texts), texts
    fresh = demo.schedule("/APPJOBS/DEMO_CHAIN", creator="TESTER")
    assert wait_final(demo, fresh.key).status is JobStatus.FINISHED


def test_kill_9_of_server_then_restart(demo: JobService, start_server: Callable[..., Server]) -> None:
    """kill -9 of the server during a running step: its worker follows, the job ends A, a restart runs new jobs."""
    server = start_server()
    job = start_sleep(demo)
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait()
    start_server()
    assert_recovered(demo, job)


def test_kill_9_of_server_and_worker_then_restart(demo: JobService, start_server: Callable[..., Server]) -> None:
    """kill -9 of every appjobs process: the restarted server aborts the orphaned job and stops its processes."""
    server = start_server()
    job = start_sleep(demo)
    os.killpg(server.proc.pid, signal.SIGKILL)  # server and worker; the step lives in its own session
    server.proc.wait()
    assert job_processes(job.key), "the step's processes outlive a kill -9 of the worker"
    assert demo.status(job.key).status is JobStatus.RUNNING
    start_server()
    assert_recovered(demo, job)


def test_kill_9_of_worker_is_restarted_by_server(demo: JobService, start_server: Callable[..., Server]) -> None:
    """When the worker alone is killed, the server starts a new one, which aborts the orphaned job."""
    server = start_server()
    job = start_sleep(demo)
    (old,) = worker_pids(server)
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: [pid for pid in worker_pids(server) if pid != old])
    assert_recovered(demo, job)
    assert server.proc.poll() is None


def test_no_scheduled_job_is_lost_across_crashes(demo: JobService, start_server: Callable[..., Server]) -> None:
    """Every job that got a JobName exists after kill -9 and restart, and each ends in a final status exactly once."""
    server = start_server()
    keys: list[models.JobKey] = []
    stop = threading.Event()

    def schedule_many() -> None:
        while not stop.is_set() and len(keys) < 200:
            keys.append(demo.schedule("/APPJOBS/DEMO_ECHO", creator="TESTER", parameters={"REPEAT": "0"}).key)

    thread = threading.Thread(target=schedule_many)
    thread.start()
    wait_for(lambda: len(keys) >= 20)
    os.killpg(server.proc.pid, signal.SIGKILL)
    server.proc.wait()
    thread.join()
    start_server()
    for key in keys:
        job = wait_final(demo, key, timeout=120)
        assert job.status in (JobStatus.FINISHED, JobStatus.ABORTED)
        starts = [e for e in demo.log(key) if e.text.startswith("Step 1 started")]
        assert len(starts) == 1, f"{key} started {len(starts)} times"


def test_restart_of_finished_installation_keeps_history(demo: JobService, start_server: Callable[..., Server]) -> None:
    """Jobs that ended before a crash keep their status and log after the restart."""
    server = start_server()
    job = demo.schedule("/APPJOBS/DEMO_FAIL", creator="TESTER")
    assert wait_final(demo, job.key).status is JobStatus.ABORTED
    before = demo.log(job.key)
    os.killpg(server.proc.pid, signal.SIGKILL)
    server.proc.wait()
    start_server()
    assert demo.status(job.key).status is JobStatus.ABORTED
    assert demo.log(job.key) == before
    with pytest.raises(errors.JobNotFound):
        demo.status(models.JobKey("F" * 32, "ZZZZZZZZ"))


def test_a_worker_on_another_host_counts_as_dead_only_after_its_lease(
    demo: JobService, store: Store, data_dir: pathlib.Path, processes: Processes
) -> None:
    """A job claimed by a worker on another host is left alone while its heartbeat is fresh; a silent one ends A.

    Another host's process cannot be looked up, so only the lease (30 s without a heartbeat) tells.
    """
    alive, silent = (demo.schedule("/APPJOBS/DEMO_SLEEP", creator="TESTER").key for _ in range(2))
    now = models.utcnow()
    for name, key, heartbeat in (("ALIVE", alive, now), ("SILENT", silent, now - dt.timedelta(seconds=31))):
        store.workers.register(WorkerRecord(name, "another-host", 1, 0.0, heartbeat))
        (claimed,) = store.jobs.claim(name, 1, now, [name])
        assert claimed.key == key
    processes.start("worker", "--data-dir", str(data_dir), *WORKER_ARGS)
    assert wait_final(demo, silent).status is JobStatus.ABORTED
    texts = [e.text for e in demo.log(silent)]
    assert any(t.startswith("Job aborted:") for t in texts), texts
    assert demo.status(alive).status is JobStatus.RUNNING
    assert "SILENT" not in store.workers.all()
    assert "ALIVE" in store.workers.all()


def test_a_worker_that_polls_seldom_still_heartbeats_on_time(
    store: Store, data_dir: pathlib.Path, processes: Processes
) -> None:
    """--poll-interval 60 is longer than the 30 s lease: the worker must wake for its heartbeats all the same."""
    proc = processes.start("worker", "--data-dir", str(data_dir), "--poll-interval", "60")
    wait_for(lambda: store.workers.all() or proc.poll() is not None)
    (first,) = store.workers.all().values()
    wait_for(lambda: store.workers.all()[first.id].heartbeat_at > first.heartbeat_at, timeout=15)  # every 5 s
