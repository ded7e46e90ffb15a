"""Cancelling jobs: SAP's semantics, and process trees that really stop."""

from __future__ import annotations

import contextlib
import os
import pathlib
import random
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator

import psutil
import pytest
import sqlalchemy as sa
from conftest import APPJOBS, WORKER_ARGS, Processes, job_processes, wait_final, wait_for

from appjobs import errors, models
from appjobs.engine import JobService, cgroups, templates
from appjobs.models import JobStatus
from appjobs.storage import Store, schema

pytestmark = pytest.mark.backends("sqlite", "postgresql")

GRACE = 1.0  # seconds; the worker fixture runs with --grace 1
# The promise timed here is "gone within the grace period": SIGTERM, then SIGKILL at GRACE. The margin covers
# the worker's next turn (it checks for cancels every 0.1 s) and a loaded machine; a step that is never
# killed (sleep 300 or more) stays far outside it, so the check still tells a kill from none.
MARGIN = 1.0

# A tree that fights back: every process ignores SIGTERM, one grandchild leaves
# the session with setsid, another is nohup'd. Only SIGKILL, sent to processes
# found outside the step's process group too, stops all of it.
STUBBORN_TREE = """
trap '' TERM
setsid sh -c 'trap "" TERM; while :; do sleep 1; done' &
nohup sleep 1000 >/dev/null 2>&1 &
sleep 1000 &
echo started
wait
"""


def add_template(service: JobService, name: str, command: str) -> None:
    toml = f'[[template]]\nname = "{name}"\ntext = "{name}"\n[[template.step]]\ncommand = """{command}"""\n'
    service.import_templates(templates.parse(toml, source="test", by="TEST", now=models.utcnow()))


def wait_running(service: JobService, key: models.JobKey) -> None:
    wait_for(lambda: service.status(key).status is JobStatus.RUNNING)


def assert_tree_gone_within(key: models.JobKey, seconds: float) -> float:
    """Wait for every process of *key* to end; fail if any outlives *seconds*. Returns the time taken."""
    start = time.monotonic()
    while job_processes(key):
        elapsed = time.monotonic() - start
        if elapsed > seconds:
            survivors = [(p.pid, p.cmdline()) for p in job_processes(key)]
            pytest.fail(f"processes still alive after {elapsed:.1f} s: {survivors}")
        time.sleep(0.05)
    return time.monotonic() - start


@pytest.mark.usefixtures("worker")
def test_cancel_running_sleep_stops_its_tree(demo: JobService) -> None:
    """Cancelling DEMO_SLEEP ends it A, says who cancelled, and leaves no process of its tree."""
    job = demo.schedule("/APPJOBS/DEMO_SLEEP", creator="TESTER", parameters={"SECONDS": "300"})
    wait_running(demo, job.key)
    wait_for(lambda: len(job_processes(job.key)) >= 2)  # the shell and its sleep child
    outcome = demo.cancel(job.key, by="TESTER")
    assert (outcome.deleted, outcome.status) == (False, JobStatus.RUNNING)
    assert_tree_gone_within(job.key, GRACE + MARGIN)
    assert wait_final(demo, job.key).status is JobStatus.ABORTED
    texts = [e.text for e in demo.log(job.key)]
    assert "Job was canceled by user TESTER." in texts


@pytest.mark.usefixtures("worker")
def test_cancel_stops_setsid_and_term_ignoring_descendants(service: JobService) -> None:
    """SIGTERM, the grace period, then SIGKILL reach grandchildren that left the session and ignore SIGTERM."""
    add_template(service, "/APPJOBS/TEST_STUBBORN", STUBBORN_TREE)
    job = service.schedule("/APPJOBS/TEST_STUBBORN", creator="TESTER")
    wait_running(service, job.key)
    wait_for(lambda: len(job_processes(job.key)) >= 5)
    sessions = {os.getsid(p.pid) for p in job_processes(job.key)}
    assert len(sessions) >= 2, "the setsid grandchild should be in a session of its own"
    service.cancel(job.key, by="TESTER")
    taken = assert_tree_gone_within(job.key, GRACE + MARGIN)
    assert taken >= GRACE * 0.5, "SIGTERM is ignored, so only SIGKILL after the grace period can have stopped them"
    assert wait_final(service, job.key).status is JobStatus.ABORTED


@pytest.mark.usefixtures("worker")
def test_processes_left_behind_by_a_finished_step_are_stopped(service: JobService) -> None:
    """A background process a step started but did not wait for is stopped when the step ends."""
    add_template(service, "/APPJOBS/TEST_LEAVES", "sleep 1000 >/dev/null 2>&1 & echo left one behind")
    job = service.schedule("/APPJOBS/TEST_LEAVES", creator="TESTER")
    assert wait_final(service, job.key).status is JobStatus.FINISHED
    assert_tree_gone_within(job.key, GRACE + MARGIN)


def test_cancel_before_start_deletes_the_job(demo: JobService) -> None:
    """With no worker running, a cancelled job has not started, so it is deleted (SAP's semantics)."""
    job = demo.schedule("/APPJOBS/DEMO_ECHO", creator="TESTER")
    outcome = demo.cancel(job.key, by="TESTER")
    assert (outcome.deleted, outcome.status) == (True, JobStatus.DELETED)
    with pytest.raises(errors.JobNotFound):
        demo.status(job.key)
    assert demo.store.jobs.steps(job.key) == []
    assert demo.store.jobs.log(job.key) == []


def test_waiting_job_is_ready_and_can_be_deleted(
    demo: JobService, processes: Processes, data_dir: pathlib.Path
) -> None:
    """With one slot taken, a second job waits in Y; cancelling it deletes it while the first keeps running."""
    worker = processes.start(
        "worker", "--data-dir", str(data_dir), "--concurrency", "1", "--grace", "1", "--poll-interval", "0.1"
    )
    first = demo.schedule("/APPJOBS/DEMO_SLEEP", creator="TESTER", parameters={"SECONDS": "300"})
    wait_running(demo, first.key)
    second = demo.schedule("/APPJOBS/DEMO_ECHO", creator="TESTER")
    wait_for(lambda: demo.status(second.key).status is JobStatus.READY)
    assert demo.cancel(second.key, by="TESTER").deleted
    assert demo.status(first.key).status is JobStatus.RUNNING
    demo.cancel(first.key, by="TESTER")
    assert wait_final(demo, first.key).status is JobStatus.ABORTED
    assert worker.poll() is None


@pytest.mark.usefixtures("worker")
def test_finished_job_cannot_be_cancelled(demo: JobService) -> None:
    """Cancelling a job that has ended is refused (APJ_RT/004) and changes nothing; JobAbort says APJ_RT/040."""
    job = demo.schedule("/APPJOBS/DEMO_ECHO", creator="TESTER")
    wait_final(demo, job.key)
    with pytest.raises(errors.JobStateError) as caught:
        demo.cancel(job.key, by="TESTER")
    assert caught.value.message_id == "APJ_RT/004"
    with pytest.raises(errors.JobStateError) as caught:
        demo.abort(job.key, by="TESTER")
    assert caught.value.message_id == "APJ_RT/040"
    assert demo.status(job.key).status is JobStatus.FINISHED


def test_abort_refuses_a_job_that_has_not_started(demo: JobService) -> None:
    """JobAbort only aborts running jobs: a scheduled one is left alone with APJ_RT/040."""
    job = demo.schedule("/APPJOBS/DEMO_ECHO", creator="TESTER")
    with pytest.raises(errors.JobStateError) as caught:
        demo.abort(job.key, by="TESTER")
    assert caught.value.message_id == "APJ_RT/040"
    assert demo.status(job.key).status is JobStatus.SCHEDULED


# --- processes that shed the process group, the session and the environment ------------------------------------

# Each leaves behind a `sleep MARK` that has left the step's session; the last two also cleared their environment
# (so the token cannot find them) and ignore SIGTERM; the last one is re-parented away from the step's shell.
ESCAPES = {
    "setsid": "setsid sleep {mark} &",
    "setsid env -i, TERM trapped": "setsid env -i /bin/sh -c 'trap \"\" TERM; sleep {mark}' &",
    "double fork, env -i": "env -i /bin/sh -c '(trap \"\" TERM; exec setsid sleep {mark}) &' &",
}


_MARKS: list[str] = []  # of this test's escapees


@pytest.fixture(autouse=True)
def _kill_escapees() -> Iterator[None]:
    """Escapees that a failing test leaves behind are killed (by pid) when it ends."""
    yield
    while _MARKS:
        for proc in marked_sleeps(_MARKS.pop()):
            with contextlib.suppress(psutil.Error):
                proc.kill()


def marked_sleeps(mark: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if proc.cmdline()[-2:] == ["sleep", mark] and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
    return found


def assert_gone_within(mark: str, seconds: float) -> None:
    start = time.monotonic()
    while survivors := marked_sleeps(mark):
        if time.monotonic() - start > seconds:
            pytest.fail(f"still alive {seconds} s later: {[(p.pid, p.cmdline()) for p in survivors]}")
        time.sleep(0.05)


def escaping_job(service: JobService, escape: str, *, then: str = "sleep 300 & wait") -> tuple[models.Job, str]:
    """A job whose step starts *escape* (with a unique mark) and then runs *then*; waits until the escapee runs."""
    mark = f"1008.{random.randrange(10**6):06d}"
    _MARKS.append(mark)
    name = f"/APPJOBS/TEST_ESC{mark[5:]}"
    add_template(service, name, f"{escape.format(mark=mark)}\n{then}\n")
    job = service.schedule(name, creator="TESTER")
    wait_for(lambda: marked_sleeps(mark))
    return job, mark


def require(kind: str) -> None:
    tracking = cgroups.detect(kind)
    if tracking.kind != kind:
        pytest.skip(f"this machine offers no usable {kind} hierarchy: {tracking.why}")


@pytest.mark.parametrize("escape", ESCAPES.values(), ids=ESCAPES.keys())
@pytest.mark.usefixtures("worker")
def test_cancel_stops_processes_that_left_session_and_environment(service: JobService, escape: str) -> None:
    """With a cgroup per step, cancel leaves no survivor at grace + 1 s, whatever the step's processes shed."""
    require("cgroup2")
    job, mark = escaping_job(service, escape)
    service.cancel(job.key, by="TESTER")
    assert_gone_within(mark, GRACE + MARGIN)
    assert wait_final(service, job.key).status is JobStatus.ABORTED


@pytest.mark.parametrize("escape", ESCAPES.values(), ids=ESCAPES.keys())
@pytest.mark.usefixtures("worker")
def test_escapees_of_a_finished_step_are_stopped(service: JobService, escape: str) -> None:
    """What a step that ended F left behind, in whatever session and environment, is stopped within the grace."""
    require("cgroup2")
    job, mark = escaping_job(service, escape, then="sleep 0.5; echo done")
    assert wait_final(service, job.key).status is JobStatus.FINISHED
    assert_gone_within(mark, GRACE + MARGIN)


@pytest.mark.parametrize("hierarchy", ["freezer", "pids"])
def test_cgroup_v1_stops_escapees(
    service: JobService, processes: Processes, data_dir: pathlib.Path, store: Store, hierarchy: str
) -> None:
    """The v1 fallback, a freezer cgroup per step (or a pids one, without freezer), stops the hardest escape too."""
    base = pathlib.Path("/sys/fs/cgroup") / hierarchy
    if cgroups.detect("cgroup1", str(base)).kind != "cgroup1":
        pytest.skip(f"no usable cgroup v1 {hierarchy} hierarchy at {base}: {cgroups.detect('cgroup1', str(base)).why}")
    args = ("--process-tracking", "cgroup1", "--cgroup-base", str(base))
    worker = processes.start("worker", "--data-dir", str(data_dir), *WORKER_ARGS, *args)
    wait_for(lambda: store.workers.all() or worker.poll() is not None)
    job, mark = escaping_job(service, ESCAPES["setsid env -i, TERM trapped"])
    service.cancel(job.key, by="TESTER")
    assert_gone_within(mark, GRACE + MARGIN)
    assert wait_final(service, job.key).status is JobStatus.ABORTED


def test_recovery_stops_escapees_of_a_dead_worker(
    service: JobService, processes: Processes, data_dir: pathlib.Path, store: Store
) -> None:
    """After kill -9 of a worker, the next one kills what its step left in the step's cgroup, env -i or not."""
    require("cgroup2")
    first = processes.start("worker", "--data-dir", str(data_dir), *WORKER_ARGS)
    wait_for(lambda: store.workers.all() or first.poll() is not None)
    job, mark = escaping_job(service, ESCAPES["double fork, env -i"])
    os.killpg(first.pid, signal.SIGKILL)  # the worker alone: the step lives in its own session
    first.wait()
    assert marked_sleeps(mark), "the escapee outlives its worker"
    processes.start("worker", "--data-dir", str(data_dir), *WORKER_ARGS)
    assert wait_final(service, job.key).status is JobStatus.ABORTED
    assert_gone_within(mark, GRACE + MARGIN)


def test_empty_step_cgroups_left_by_a_killed_worker_are_removed(
    service: JobService, processes: Processes, data_dir: pathlib.Path, store: Store
) -> None:
    """A step cgroup a killed worker could not remove (empty, its step ended) goes at the next start.

    An empty step cgroup this installation knows nothing of stays: another installation on the
    host may share the cgroup base, and its new step's cgroup is empty until the step enters it.
    """
    require("cgroup2")
    tracking = cgroups.detect("cgroup2")
    assert tracking.base is not None
    add_template(service, "/TEST/QUICK", "true")
    job = service.schedule("/TEST/QUICK", creator="TESTER")
    first = processes.start("worker", "--data-dir", str(data_dir), *WORKER_ARGS)
    assert wait_final(service, job.key).status is JobStatus.FINISHED
    first.kill()  # as if it was killed after the step ended, before it removed the step's cgroup
    first.wait()
    (token,) = step_tokens(store, job.key)
    leftover = tracking.base / f"{cgroups.PREFIX}{token}"
    foreign = tracking.base / f"{cgroups.PREFIX}{random.randrange(16**32):032x}"
    leftover.mkdir(exist_ok=True)  # the killed worker may not have removed it
    foreign.mkdir()
    try:
        processes.start("worker", "--data-dir", str(data_dir), *WORKER_ARGS)
        wait_for(lambda: not leftover.exists())
        assert foreign.is_dir(), "a cgroup of no step of this installation was removed"
    finally:
        for path in (leftover, foreign):
            with contextlib.suppress(FileNotFoundError):
                path.rmdir()


def step_tokens(store: Store, key: models.JobKey) -> list[str]:
    """The tokens of *key*'s steps, as the store keeps them."""
    steps = schema.job_step
    query = sa.select(steps.c.token).where(steps.c.job_name == key.name, steps.c.run_count == key.run_count)
    with store.db.read() as conn:
        return list(conn.execute(query).scalars())


# --- without cgroups: the environment token and the child subreaper (--process-tracking token) -----------------


def end_when(go: pathlib.Path) -> str:
    """The end of a step that finishes once the test creates *go* (after it has seen what the step started)."""
    return f"while [ ! -e {go} ]; do sleep 0.05; done\necho done"


@pytest.fixture
def token_worker(processes: Processes, data_dir: pathlib.Path, store: Store) -> subprocess.Popen[str]:
    """A worker that tracks step processes by the token alone, as on a machine without usable cgroups."""
    proc = processes.start("worker", "--data-dir", str(data_dir), *WORKER_ARGS, "--process-tracking", "token")
    wait_for(lambda: store.workers.all() or proc.poll() is not None)
    assert proc.poll() is None, "worker exited at start"
    return proc


@pytest.mark.backends("sqlite")  # processes, not the database: once is enough
@pytest.mark.usefixtures("token_worker")
def test_token_tracking_cancel_stops_setsid_and_term_ignoring_descendants(service: JobService) -> None:
    """Without cgroups, the token finds the grandchild that left the session; SIGKILL after the grace stops them.

    A zombie on the machine (another program's child it has not collected yet), older than the step's processes,
    does not hide them: the worker looks past a process whose environment cannot be read.
    """
    zombie = subprocess.Popen(["true"])  # not waited for until the end: a zombie meanwhile
    try:
        wait_for(lambda: psutil.Process(zombie.pid).status() == psutil.STATUS_ZOMBIE)
        add_template(service, "/APPJOBS/TEST_STUBBORN", STUBBORN_TREE)
        job = service.schedule("/APPJOBS/TEST_STUBBORN", creator="TESTER")
        wait_running(service, job.key)
        wait_for(lambda: len(job_processes(job.key)) >= 5)
        service.cancel(job.key, by="TESTER")
        assert_tree_gone_within(job.key, GRACE + MARGIN)
        assert wait_final(service, job.key).status is JobStatus.ABORTED
        assert psutil.Process(zombie.pid).status() == psutil.STATUS_ZOMBIE, "still there: the case under test"
    finally:
        zombie.wait()


@pytest.mark.backends("sqlite")  # processes, not the database: once is enough
def test_token_tracking_stops_what_a_finished_step_left_in_its_group_with_sigterm(
    service: JobService, token_worker: subprocess.Popen[str], tmp_path: pathlib.Path
) -> None:
    """Without cgroups, a process a step left behind (in its process group) gets SIGTERM, and nothing before it."""
    got, ready = tmp_path / "signals", tmp_path / "trapping"
    leftover = (  # the step ends only once its leftover traps the signals: else a SIGTERM could come first
        f'sh -c \'trap "echo HUP >> {got}" HUP; trap "echo TERM >> {got}; exit 0" TERM; touch {ready}; '
        "while :; do sleep 1000 & wait; done' >/dev/null 2>&1 &\n"
        f"while [ ! -e {ready} ]; do sleep 0.05; done\necho left one behind"
    )
    add_template(service, "/APPJOBS/TEST_LEAVES", leftover)
    job = service.schedule("/APPJOBS/TEST_LEAVES", creator="TESTER")
    assert wait_final(service, job.key).status is JobStatus.FINISHED
    wait_for(lambda: got.exists() and "TERM" in got.read_text())
    assert got.read_text().split() == ["TERM"]
    assert_tree_gone_within(job.key, GRACE + MARGIN)
    assert token_worker.poll() is None


@pytest.mark.backends("sqlite")  # processes, not the database: once is enough
@pytest.mark.usefixtures("token_worker")
def test_token_tracking_stops_a_setsid_escapee_of_a_finished_step(service: JobService, tmp_path: pathlib.Path) -> None:
    """Without cgroups, a process that left the session (keeping its environment) is adopted by the worker and stopped.

    Its parent, the step's shell, has ended: only the worker being a child subreaper keeps it among the worker's
    descendants, where the worker looks for orphans of steps that are no longer running.
    """
    job, mark = escaping_job(service, ESCAPES["setsid"], then=end_when(go := tmp_path / "go"))
    go.touch()
    assert wait_final(service, job.key).status is JobStatus.FINISHED
    assert_gone_within(mark, GRACE + 5)  # the worker looks for adopted orphans each second; a margin for load


@pytest.mark.backends("sqlite")  # processes, not the database: once is enough
@pytest.mark.usefixtures("token_worker")
def test_token_tracking_stops_what_a_finished_step_left_in_its_group_without_its_environment(
    service: JobService, tmp_path: pathlib.Path
) -> None:
    """Without cgroups, a leftover that cleared its environment but stayed in the step's process group is stopped."""
    job, mark = escaping_job(service, "env -i sleep {mark} &", then=end_when(go := tmp_path / "go"))
    go.touch()
    assert wait_final(service, job.key).status is JobStatus.FINISHED
    assert_gone_within(mark, GRACE + 5)  # found by its process group, the step's own: the worker's is not it


@pytest.mark.backends("sqlite")  # processes, not the database: once is enough
@pytest.mark.usefixtures("worker")
def test_a_step_that_signals_its_own_process_group_does_not_reach_the_worker(
    service: JobService, worker: subprocess.Popen[str]
) -> None:
    """`kill 0` (a common clean-up idiom: `trap 'kill 0' EXIT`) signals the step's processes, never the worker."""
    add_template(service, "/APPJOBS/TEST_KILL0", "sleep 1000 &\ntrap '' TERM\nkill 0\necho still here")
    job = service.schedule("/APPJOBS/TEST_KILL0", creator="TESTER")
    assert wait_final(service, job.key).status is JobStatus.FINISHED
    assert "still here" in [e.text for e in service.log(job.key)]
    assert_tree_gone_within(job.key, GRACE + 5)
    assert worker.poll() is None, "the step's kill 0 reached the worker"
    after = service.schedule("/APPJOBS/TEST_KILL0", creator="TESTER")
    assert wait_final(service, after.key).status is JobStatus.FINISHED


@pytest.mark.backends("sqlite")  # processes, not the database: once is enough
def test_token_tracking_survives_step_processes_it_may_not_signal(
    service: JobService, processes: Processes, data_dir: pathlib.Path, store: Store, tmp_path: pathlib.Path
) -> None:
    """A step process the worker may not signal (another user's, and the worker lacks CAP_KILL) breaks nothing.

    The worker runs as root without CAP_KILL (a hardened service unit); the step leaves a process running as
    nobody in its process group, and one that left the session after it. Cancel stops what it may (the other
    escapee too), the job ends A, the worker goes on running jobs, and it exits on SIGTERM (it gives up on a
    process that outlives SIGKILL by a grace period, instead of draining it for good).
    """
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv (util-linux) to run a step process as another user")
    other = f"1011.{random.randrange(10**6):06d}"
    _MARKS.append(other)
    nobody = f"setpriv --reuid=65534 --regid=65534 --clear-groups sleep {other} &"
    command = [*WORKER_ARGS, "--process-tracking", "token"]
    log = tmp_path / "worker.log"
    with log.open("w") as stderr:
        worker = subprocess.Popen(
            ["setpriv", "--bounding-set", "-kill", "--", *APPJOBS, "worker", "--data-dir", str(data_dir), *command],
            start_new_session=True,
            text=True,
            stderr=stderr,
        )
    processes.started.append(worker)
    wait_for(lambda: store.workers.all() or worker.poll() is not None)
    job, mark = escaping_job(service, nobody + "\n" + ESCAPES["setsid"])
    wait_for(lambda: marked_sleeps(other))
    service.cancel(job.key, by="TESTER")
    assert wait_final(service, job.key).status is JobStatus.ABORTED
    assert_gone_within(mark, GRACE + 5)
    assert marked_sleeps(other), "a process of another user cannot have been stopped by this worker"
    wait_for(lambda: "outlive SIGKILL" in log.read_text())
    time.sleep(3 * GRACE + MARGIN)  # an absence: three more sweeps of adopted processes, each of which could warn
    assert log.read_text().count("outlive SIGKILL") == 1, "the worker gives up on those processes once"
    add_template(service, "/APPJOBS/TEST_AFTER", "echo after")
    after = service.schedule("/APPJOBS/TEST_AFTER", creator="TESTER")
    assert wait_final(service, after.key).status is JobStatus.FINISHED
    assert worker.poll() is None
    worker.send_signal(signal.SIGTERM)  # it stops waiting for what it may not stop, and exits
    assert worker.wait(timeout=60) == 0
    assert marked_sleeps(other)
