"""Crashes: kill -9 of the server or its worker never leaves a job running forever, nor runs it twice."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import pathlib
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable

import psutil
import pytest
import requests
from conftest import WORKER_ARGS, Processes, Server, job_processes, wait_final, wait_for, worker_pids
from tenant import Tenant, add_users

from appjobs import errors, models
from appjobs.engine import JobService, templates
from appjobs.models import JobStatus
from appjobs.storage import Store
from appjobs.storage.workers import WorkerRecord

pytestmark = pytest.mark.backends("sqlite", "postgresql")


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
    reason = f"Job aborted: worker pid {old} on {socket.gethostname()} stopped while step 1 was running"
    assert any(e.text.startswith(reason) for e in demo.log(job.key)), "the log names the worker that died"


@pytest.mark.backends("sqlite")  # the server's processes, not the database
def test_a_worker_that_keeps_dying_is_restarted_after_longer_and_longer_pauses(
    demo: JobService, start_server: Callable[..., Server]
) -> None:
    """Killed again soon after its restart, the next worker waits twice as long: a worker that dies at once,
    again and again, fills no log with a traceback a second. The third still runs jobs."""
    server = start_server()
    (first,) = worker_pids(server)
    os.kill(first, signal.SIGKILL)
    (second,) = wait_for(lambda: [pid for pid in worker_pids(server) if pid != first])
    os.kill(second, signal.SIGKILL)
    wait_for(lambda: [pid for pid in worker_pids(server) if pid not in (first, second)])
    said = [line for line in server.output().splitlines() if "starting a new one" in line]
    assert [line.rpartition(" in ")[2] for line in said] == ["1 s", "2 s"], said
    job = demo.schedule("/APPJOBS/DEMO_ECHO", creator="TESTER")
    assert wait_final(demo, job.key).status is JobStatus.FINISHED


class Scheduler:
    """SAP's scheduler as the crash meets it: threads posting JobSchedule over HTTP, each with its own session.

    ``answered`` holds the JobNames of the requests that got 200; ``cut_off`` counts the requests that
    were sent before the server was killed and got no answer, which proves that the kill interrupted them.
    """

    def __init__(self, tenant: Tenant, threads: int, limit: int) -> None:
        self.tenant = tenant
        self.limit = limit
        self.answered: list[models.JobKey] = []
        self.cut_off = 0
        self.killed_at = float("inf")
        self.lock = threading.Lock()
        # Each session fetches its CSRF token here, before the kill: on a loaded machine a thread may
        # first run after the kill, and its token fetch would then fail outside the scheduling loop.
        sessions = [tenant.session() for _ in range(threads)]
        self.threads = [threading.Thread(target=self.schedule_until_refused, args=(http,)) for http in sessions]

    def schedule_until_refused(self, http: requests.Session) -> None:
        params = {"JobTemplateName": "'/APPJOBS/DEMO_ECHO'", "JobText": "'crash'", "$format": "json"}
        while len(self.answered) < self.limit:
            sent = time.monotonic()
            try:
                response = http.post(self.tenant.root + "/JobSchedule", params=params, timeout=30)
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):  # the latter: cut mid-body
                with self.lock:
                    self.cut_off += sent < self.killed_at
                return
            assert response.status_code == 200, response.text
            job = response.json()["d"]
            with self.lock:
                self.answered.append(models.JobKey(job["JobName"], job["JobRunCount"]))


def crash_while_scheduling(tenant: Tenant, answered: list[models.JobKey]) -> int:
    """Kill -9 *tenant*'s server while six threads schedule; add the JobNames answered, return how many were cut off.

    Usually some of the six requests are in flight when the kill lands. On a loaded machine the threads
    may all be waiting for the interpreter with their answers already received, and none is cut off:
    that round proves nothing about interrupted requests, though its answered jobs still count.
    """
    scheduler = Scheduler(tenant, threads=6, limit=400)
    for thread in scheduler.threads:
        thread.start()
    wait_for(lambda: len(scheduler.answered) >= 30, timeout=60)
    scheduler.killed_at = time.monotonic()
    os.killpg(tenant.server.proc.pid, signal.SIGKILL)  # the server and its worker
    tenant.server.proc.wait()
    for thread in scheduler.threads:
        thread.join()
    assert len(scheduler.answered) < scheduler.limit, "the server was not killed while it was scheduling"
    answered.extend(scheduler.answered)
    return scheduler.cut_off


def test_no_scheduled_job_is_lost_across_crashes(
    demo: JobService, data_dir: pathlib.Path, start_server: Callable[..., Server]
) -> None:
    """Every JobSchedule answered 200 before a kill -9 names a job that exists after the restart and runs at most once.

    The server dies while many JobSchedule requests are in flight over HTTP, as a scheduler would send
    them; the JobNames it answered are then looked up in what the restarted server has.
    """
    add_users(data_dir)
    answered: list[models.JobKey] = []
    for _ in range(5):  # rounds until a kill lands on a request in flight (see crash_while_scheduling)
        cut_off = crash_while_scheduling(Tenant(start_server(), data_dir), answered)
        if cut_off:
            break
    assert cut_off >= 1, "in five rounds, the kill never interrupted a JobSchedule request"
    start_server()
    for key in answered:
        job = wait_final(demo, key, timeout=120)  # raises JobNotFound for an answered job that was lost
        log = [e.text for e in demo.log(key)]
        starts = [text for text in log if text.startswith("Step 1 started")]
        assert len(starts) <= 1, f"{key} started {len(starts)} times"
        if job.status is JobStatus.ABORTED:  # its step was running when the worker died: aborted, not rerun
            # No start logged when the kill came between its claim and the record of its process.
            assert any("stopped while step 1 was running" in text for text in log), (key, log)
        else:
            assert job.status is JobStatus.FINISHED, key
            assert starts, (key, log)


def test_a_second_worker_leaves_the_running_jobs_of_a_live_one_alone(
    demo: JobService, store: Store, data_dir: pathlib.Path, processes: Processes, worker: subprocess.Popen[str]
) -> None:
    """A worker starting on the same host while another runs a step must not take that worker for dead."""
    job = start_sleep(demo)
    second = processes.start("worker", "--data-dir", str(data_dir), *WORKER_ARGS)
    wait_for(lambda: len(store.workers.all()) == 2 or second.poll() is not None)
    (record,) = (r for r in store.workers.all().values() if r.pid == second.pid)
    # Its first heartbeat comes after its first recovery pass: once it moved, that pass is done.
    wait_for(lambda: store.workers.all()[record.id].heartbeat_at > record.heartbeat_at, timeout=15)
    assert demo.status(job.key).status is JobStatus.RUNNING
    assert job_processes(job.key), "the live worker's step was stopped"
    assert worker.poll() is None


def test_a_step_whose_worker_is_gone_from_the_register_is_stopped(
    demo: JobService, store: Store, data_dir: pathlib.Path, processes: Processes, worker: subprocess.Popen[str]
) -> None:
    """A running step whose worker is neither alive nor registered ends A, and its processes on this host stop."""
    job = start_sleep(demo)
    (record,) = store.workers.all().values()
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    store.workers.unregister(record.id)
    assert job_processes(job.key), "the step's processes outlive a kill -9 of the worker"
    processes.start("worker", "--data-dir", str(data_dir), *WORKER_ARGS)
    assert wait_final(demo, job.key).status is JobStatus.ABORTED
    wait_for(lambda: not job_processes(job.key), timeout=5)
    texts = [e.text for e in demo.log(job.key)]
    assert any(t.startswith("Job aborted: its worker stopped while step 1 was running") for t in texts), texts


@pytest.mark.backends("sqlite")  # processes, not the database: once is enough
def test_a_killed_worker_its_parent_has_not_collected_yet_counts_as_dead(
    demo: JobService, store: Store, data_dir: pathlib.Path, processes: Processes, worker: subprocess.Popen[str]
) -> None:
    """A worker killed -9 is dead at once, even while its pid lingers as a zombie its parent has not reaped.

    Its heartbeat is set an hour ahead, so the lease cannot decide: only the look at its process can.
    """
    job = start_sleep(demo)
    (record,) = store.workers.all().values()
    os.kill(worker.pid, signal.SIGKILL)  # not reaped: this test is its parent, and waits for it only at the end
    wait_for(lambda: psutil.Process(worker.pid).status() == psutil.STATUS_ZOMBIE)
    store.workers.heartbeat(record.id, models.utcnow() + dt.timedelta(hours=1))
    processes.start("worker", "--data-dir", str(data_dir), *WORKER_ARGS)
    assert_recovered(demo, job)
    assert psutil.Process(worker.pid).status() == psutil.STATUS_ZOMBIE, "still not reaped: the case under test"


@pytest.mark.parametrize("tracking", ["auto", "token"])
def test_a_step_that_cleared_its_environment_is_stopped_after_its_worker_died(
    service: JobService, store: Store, data_dir: pathlib.Path, processes: Processes, tracking: str
) -> None:
    """The step's own process is stopped by its recorded pid, even when it no longer carries the step's token.

    Where the host offers cgroups (``auto``) its cgroup holds it too; with ``token`` tracking the pid is all
    recovery has.
    """
    worker = processes.start("worker", "--data-dir", str(data_dir), *WORKER_ARGS, "--process-tracking", tracking)
    toml = """
        [[template]]
        name = "/APPJOBS/TEST_BARE_ENV"
        text = "A step that drops its environment"
        [[template.step]]
        command = "exec env -i sleep 1009"
        """
    service.import_templates(templates.parse(toml, source="test.toml", by="TEST", now=models.utcnow()))
    job = service.schedule("/APPJOBS/TEST_BARE_ENV", creator="TESTER")

    def bare_step() -> psutil.Process | None:
        for step in store.jobs.running_steps():
            with contextlib.suppress(psutil.Error):
                if step.key == job.key and step.pid and "1009" in psutil.Process(step.pid).cmdline():
                    return psutil.Process(step.pid)
        return None

    leader = wait_for(bare_step)
    assert isinstance(leader, psutil.Process)
    try:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        assert leader.is_running()
        processes.start("worker", "--data-dir", str(data_dir), *WORKER_ARGS, "--process-tracking", tracking)
        assert wait_final(service, job.key).status is JobStatus.ABORTED
        wait_for(lambda: not leader.is_running() or leader.status() == psutil.STATUS_ZOMBIE, timeout=5)
    finally:
        with contextlib.suppress(psutil.Error):
            leader.kill()  # no fixture finds a process without the step's environment


@pytest.mark.parametrize("earlier", [0.5, None], ids=["half a second earlier", "in 1970"])
def test_recovery_does_not_kill_a_process_that_reused_a_dead_steps_pid(
    demo: JobService, store: Store, data_dir: pathlib.Path, processes: Processes, earlier: float | None
) -> None:
    """A recorded step pid now held by another process (pid reuse: another start time) is left alone.

    The step may have started long before, or just before the stranger (a pid reused soon after the step died):
    a start time half a second off, fifty clock ticks, is another process all the same.
    """
    stranger = subprocess.Popen(["sleep", "1010"], start_new_session=True)  # a group leader, as steps are
    try:
        job = demo.schedule("/APPJOBS/DEMO_SLEEP", creator="TESTER")
        (work,) = store.jobs.claim("GHOST", 1, models.utcnow(), ["a-token-no-process-has"])
        assert work.key == job.key
        step_started = 1.0 if earlier is None else psutil.Process(stranger.pid).create_time() - earlier
        store.jobs.step_spawned(job.key, 1, stranger.pid, step_started)
        processes.start("worker", "--data-dir", str(data_dir), *WORKER_ARGS)
        assert wait_final(demo, job.key).status is JobStatus.ABORTED
        assert stranger.poll() is None, "recovery killed a process that merely reused the step's pid"
    finally:
        stranger.kill()
        stranger.wait()


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
    # Recovery forgets a dead worker after it has aborted its steps, in a transaction of its own.
    assert wait_for(lambda: "SILENT" not in store.workers.all())
    assert "ALIVE" in store.workers.all()


def test_a_worker_that_polls_seldom_still_heartbeats_on_time(
    store: Store, data_dir: pathlib.Path, processes: Processes
) -> None:
    """--poll-interval 60 is longer than the 30 s lease: the worker must wake for its heartbeats all the same."""
    proc = processes.start("worker", "--data-dir", str(data_dir), "--poll-interval", "60")
    wait_for(lambda: store.workers.all() or proc.poll() is not None)
    (first,) = store.workers.all().values()
    wait_for(lambda: store.workers.all()[first.id].heartbeat_at > first.heartbeat_at, timeout=15)  # every 5 s
