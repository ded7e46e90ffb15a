"""``appjobs run`` against a real ``appjobs serve`` through a proxy that fails on cue, and across server restarts.

Every test runs ``appjobs run`` as a real process whose service URL is a
:class:`faultproxy.FaultProxy` in front of the module's tenant (or a server
of its own, for the restarts), and checks two things: the exit code and
report of ``run``, and the job's true status read from the real server,
past the proxy. Each also checks that the faults really happened.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import re
import signal
import subprocess
from collections.abc import Iterator

import pytest
from conftest import APPJOBS, Processes, Server, free_port, job_processes, wait_for
from faultproxy import (
    FaultProxy,
    drop_response,
    forward_then_unavailable,
    garbage,
    html_page,
    reset,
    truncate,
    unavailable,
)
from faultproxy import delay as slow
from tenant import USERS, Tenant, add_users, finish, saved_key

from appjobs.models import JobKey

MARKER = re.compile(r"\[run [A-Z2-9]{8}\]")
ROOT_SUFFIX = ";v=0002/"  # the service root as the client fetches its token: HEAD <root>/


# --- helpers ---------------------------------------------------------------------------------


@pytest.fixture
def proxy(tenant: Tenant) -> Iterator[FaultProxy]:
    with FaultProxy(tenant.server.port) as running:
        yield running


def env_through(root: str) -> dict[str, str]:
    user = "JOBSCHEDULERUSER"
    return {**os.environ, "APPJOBS_URL": root, "APPJOBS_USER": user, "APPJOBS_PASSWORD": USERS[user]}


def run(root: str, template: str, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """``appjobs run TEMPLATE --json ARGS`` against the service at *root*, to its end."""
    return subprocess.run(
        [*APPJOBS, "run", template, "--json", *args],
        env=env_through(root),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_run(root: str, template: str, *args: str, stderr: pathlib.Path | None = None) -> subprocess.Popen[str]:
    """``appjobs run TEMPLATE --json ARGS`` against *root*; its stderr into the file *stderr* if given, to watch it."""
    command = [*APPJOBS, "run", template, "--json", *args]
    with contextlib.ExitStack() as files:
        err = files.enter_context(stderr.open("w")) if stderr else subprocess.PIPE
        return subprocess.Popen(command, env=env_through(root), stdout=subprocess.PIPE, stderr=err, text=True)


def report(result: subprocess.CompletedProcess[str]) -> dict:
    """The JSON object ``run --json`` ends with."""
    return json.loads(result.stdout.strip().splitlines()[-1])


def true_status(tenant: Tenant, outcome: dict) -> str:
    """The job's status as the real server has it, past the proxy."""
    return tenant.status(tenant.session(), outcome["job_name"], outcome["run_count"])


def marker_of(result: subprocess.CompletedProcess[str]) -> str:
    """The run marker (``[run 7Q2M4X9K]``) of the run's JobText, as it reported it on stderr."""
    found = MARKER.search(result.stderr)
    assert found, result.stderr
    return found.group(0)


def jobs_marked(tenant: Tenant, marker: str) -> list[dict]:
    """Every job of the tenant's user whose JobText holds *marker*, from JobListGet on the real server."""
    answer = tenant.session().get(f"{tenant.root}/JobListGet", params={"$format": "json"}, timeout=10)
    assert answer.status_code == 200, answer.text
    return [row for row in answer.json()["d"]["results"] if marker in row["JobText"]]


def cancel(tenant: Tenant, name: str, run_count: str) -> None:
    """Cancel a job a test left running (JobCancel on the real server); a final job stays as it is."""
    params = {"JobName": f"'{name}'", "JobRunCount": f"'{run_count}'"}
    tenant.session().post(f"{tenant.root}/JobCancel", params=params, timeout=10)


# --- faults while polling: run waits them out and tells the true outcome ------------------------


def test_connection_resets_during_polling(tenant: Tenant, proxy: FaultProxy) -> None:
    """Six resets in a row of JobStatusGet outlast the client's four tries; run keeps polling and exits 0 with F."""
    rule = proxy.add("GET", "JobStatusGet", reset(), first=2, times=6)
    result = run(proxy.root, "/APPJOBS/DEMO_CHAIN", "--poll-interval", "1")
    assert result.returncode == 0, result.stderr
    assert rule.applied == 6
    assert "cannot read the job's status" in result.stderr  # a whole call failed, and run went on
    assert report(result)["status"] == "F"
    assert [step["status"] for step in report(result)["steps"]] == ["F", "F", "F"]
    assert true_status(tenant, report(result)) == "F"


def test_503_during_polling(tenant: Tenant, proxy: FaultProxy) -> None:
    """Six 503s in a row, three with Retry-After: one whole call fails, and run goes on; it exits 0 with F."""
    with_header = proxy.add("GET", "JobStatusGet", unavailable(retry_after=1), first=2, times=3)
    without = proxy.add("GET", "JobStatusGet", unavailable(), first=5, times=3)
    result = run(proxy.root, "/APPJOBS/DEMO_CHAIN", "--poll-interval", "1")
    assert result.returncode == 0, result.stderr
    assert (with_header.applied, without.applied) == (3, 3)
    assert "cannot read the job's status" in result.stderr  # the client's four tries all got 503
    assert report(result)["status"] == "F"
    assert true_status(tenant, report(result)) == "F"


def test_slow_csrf_fetch(tenant: Tenant, proxy: FaultProxy) -> None:
    """A CSRF token fetch that takes 5 s is waited for (tenants have taken over a minute); run exits 0 with F."""
    rule = proxy.add("HEAD", ROOT_SUFFIX, slow(5))
    result = run(proxy.root, "/APPJOBS/DEMO_ECHO")
    assert result.returncode == 0, result.stderr
    assert rule.applied == 1
    assert proxy.count("POST", "JobSchedule") == 1
    assert report(result)["status"] == "F"
    assert true_status(tenant, report(result)) == "F"


def test_truncated_bodies_during_polling(tenant: Tenant, proxy: FaultProxy) -> None:
    """Answers cut off before their Content-Length, five times in a row and once on JobinfoGet; run exits 0 with F."""
    status_rule = proxy.add("GET", "JobStatusGet", truncate(), first=2, times=5)
    info_rule = proxy.add("GET", "JobinfoGet", truncate())
    result = run(proxy.root, "/APPJOBS/DEMO_CHAIN", "--poll-interval", "1")
    assert result.returncode == 0, result.stderr
    assert (status_rule.applied, info_rule.applied) == (5, 1)
    assert report(result)["status"] == "F"
    assert len(report(result)["steps"]) == 3  # the steps came through the cut-off JobinfoGet's retry
    assert true_status(tenant, report(result)) == "F"


def test_garbage_bodies_during_polling(tenant: Tenant, proxy: FaultProxy) -> None:
    """A 200 whose body is not OData is read as a failed try and tried again; run exits 0 with F."""
    rule = proxy.add("GET", "JobStatusGet", garbage(), first=2, times=2)
    result = run(proxy.root, "/APPJOBS/DEMO_CHAIN", "--poll-interval", "1")
    assert result.returncode == 0, result.stderr
    assert rule.applied == 2
    assert true_status(tenant, report(result)) == report(result)["status"] == "F"


def test_html_page_during_polling(tenant: Tenant, proxy: FaultProxy) -> None:
    """A gateway's HTML page (200) in the middle of polling is waited out like a 503, not taken for a wrong host."""
    rule = proxy.add("GET", "JobStatusGet", html_page(), first=2)
    result = run(proxy.root, "/APPJOBS/DEMO_CHAIN", "--poll-interval", "1")
    assert result.returncode == 0, result.stderr
    assert rule.applied == 1
    assert "the answer is an HTML page" in result.stderr
    assert true_status(tenant, report(result)) == report(result)["status"] == "F"


def test_html_page_for_good_exits_2_after_the_retry_window(tenant: Tenant, proxy: FaultProxy) -> None:
    """An HTML page on every poll is a wrong host after all: after --retry-window 2s run exits 2 and names the job."""
    rule = proxy.add("GET", "JobStatusGet", html_page(), times=None)
    result = run(proxy.root, "/APPJOBS/DEMO_ECHO", "--poll-interval", "1", "--retry-window", "2s")
    assert result.returncode == 2, result.stderr
    assert rule.applied >= 2
    assert report(result)["job_name"]
    assert true_status(tenant, report(result)) == "F"


# --- a lost JobSchedule answer never starts a second job ---------------------------------------


def test_lost_jobschedule_answer_finds_the_job_instead_of_starting_another(tenant: Tenant, proxy: FaultProxy) -> None:
    """The server commits the job, the answer is lost: run finds the job by its text and waits for it, exit 0."""
    rule = proxy.add("POST", "JobSchedule", drop_response())
    result = run(proxy.root, "/APPJOBS/DEMO_ECHO")
    assert result.returncode == 0, result.stderr
    assert rule.applied == 1
    assert "the answer to JobSchedule was lost" in result.stderr
    assert proxy.count("POST", "JobSchedule") == 1
    (job,) = jobs_marked(tenant, marker_of(result))  # exactly one job: the one the lost answer was about
    assert (report(result)["job_name"], report(result)["run_count"]) == (job["JobName"], job["JobRunCount"])
    assert report(result)["status"] == "F"
    assert true_status(tenant, report(result)) == "F"


def test_lost_jobschedule_answer_and_no_job_list_never_schedules_again(
    tenant: Tenant, proxy: FaultProxy, tmp_path: pathlib.Path
) -> None:
    """When JobListGet cannot be read either, run cannot know whether the job exists: it must not schedule again.

    It exits 6 (network failure) after the retry window and says how to find
    the job; the one job the server committed is the only one with the run's marker.
    """
    proxy.add("POST", "JobSchedule", drop_response())
    listing = proxy.add("GET", "JobListGet", reset(), times=None)
    state = tmp_path / "state.json"
    result = run(proxy.root, "/APPJOBS/DEMO_ECHO", "--retry-window", "3s", "--state-file", str(state))
    assert result.returncode == 6, result.stderr
    assert listing.applied >= 2
    assert proxy.count("POST", "JobSchedule") == 1
    assert "it is not scheduled again" in result.stderr
    assert f"--resume {state}" in result.stderr
    (job,) = jobs_marked(tenant, marker_of(result))
    resumed = run(tenant.root, "/APPJOBS/DEMO_ECHO", "--resume", str(state))  # straight to the server: it is found
    assert resumed.returncode == 0, resumed.stderr
    assert (report(resumed)["job_name"], report(resumed)["status"]) == (job["JobName"], "F")


def test_jobschedule_answered_503_is_scheduled_again_once_the_job_list_says_it_does_not_exist(
    tenant: Tenant, proxy: FaultProxy
) -> None:
    """A 503 to JobSchedule (a gateway without its tenant, a database restarting) may or may not have taken
    effect: run looks the job up, finds none, twice, and schedules it again; exit 0, one job."""
    rule = proxy.add("POST", "JobSchedule", unavailable(retry_after=1))
    result = run(proxy.root, "/APPJOBS/DEMO_ECHO")
    assert result.returncode == 0, result.stderr
    assert rule.applied == 1
    assert "the answer to JobSchedule was lost" in result.stderr
    assert "no job was created; scheduling it again" in result.stderr
    assert proxy.count("POST", "JobSchedule") == 2
    (job,) = jobs_marked(tenant, marker_of(result))
    assert (report(result)["job_name"], report(result)["status"]) == (job["JobName"], "F")


def test_jobschedule_answered_503_after_it_took_effect_finds_the_job_and_schedules_no_other(
    tenant: Tenant, proxy: FaultProxy
) -> None:
    """The server stored the job and answered 503 all the same (its commit outlived the database connection):
    run finds the job by its text and waits for it; JobSchedule is sent once."""
    rule = proxy.add("POST", "JobSchedule", forward_then_unavailable())
    result = run(proxy.root, "/APPJOBS/DEMO_ECHO")
    assert result.returncode == 0, result.stderr
    assert rule.applied == 1
    assert proxy.count("POST", "JobSchedule") == 1
    (job,) = jobs_marked(tenant, marker_of(result))
    assert (report(result)["job_name"], report(result)["status"]) == (job["JobName"], "F")
    assert true_status(tenant, report(result)) == "F"


# --- the service stays bad for longer than the retry window ------------------------------------


def test_persistent_503_past_the_retry_window_exits_8(tenant: Tenant, proxy: FaultProxy) -> None:
    """JobStatusGet answers 503 for good: after --retry-window 3s run gives up with exit 8 (persistent 5xx)."""
    rule = proxy.add("GET", "JobStatusGet", unavailable(), first=2, times=None)
    result = run(proxy.root, "/APPJOBS/DEMO_SLEEP", "--retry-window", "3s", "--poll-interval", "1")
    outcome = report(result)
    cancel(tenant, outcome["job_name"], outcome["run_count"])
    assert result.returncode == 8, result.stderr
    assert rule.applied >= 2
    assert outcome["exit_code"] == 8
    assert outcome["job_name"]  # the report names the job left behind, and stderr says so
    assert f"job {outcome['job_name']}/{outcome['run_count']} is left as it is" in result.stderr


def test_persistent_resets_past_the_retry_window_exit_6(tenant: Tenant, proxy: FaultProxy) -> None:
    """Every JobStatusGet is reset: after --retry-window 3s run gives up with exit 6 (network failure)."""
    rule = proxy.add("GET", "JobStatusGet", reset(), first=2, times=None)
    result = run(proxy.root, "/APPJOBS/DEMO_SLEEP", "--retry-window", "3s", "--poll-interval", "1")
    outcome = report(result)
    cancel(tenant, outcome["job_name"], outcome["run_count"])
    assert result.returncode == 6, result.stderr
    assert rule.applied >= 2
    assert outcome["exit_code"] == 6


# --- the server restarts while run polls --------------------------------------------------------


class Restartable:
    """``appjobs serve`` on one port and one data directory, which a test can kill and start again."""

    def __init__(self, processes: Processes, base: pathlib.Path) -> None:
        self.processes = processes
        self.base = base
        self.data_dir = base / "data"
        self.port = free_port()
        self.starts = 0
        self.server: Server | None = None
        add_users(self.data_dir)

    def start(self) -> Server:
        self.starts += 1
        log = self.base / f"serve-{self.starts}.log"
        args = ["serve", "--data-dir", str(self.data_dir), "--port", str(self.port), "--grace", "1"]
        with log.open("w") as stderr:
            proc = self.processes.start(*args, stderr=stderr)
        server = Server(proc, self.port, log)
        wait_for(lambda: server.healthy() or proc.poll() is not None)
        assert proc.poll() is None, f"serve exited: {server.output()}"
        self.server = server
        return server

    def kill(self) -> None:
        """kill -9 of the server and its worker (their process group); the steps live in their own sessions."""
        assert self.server is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.server.proc.pid, signal.SIGKILL)
        self.server.proc.wait()
        wait_for(lambda: not self.server.healthy())  # type: ignore[union-attr]

    def tenant(self) -> Tenant:
        assert self.server is not None
        return Tenant(self.server, self.data_dir)


@pytest.fixture
def restartable(processes: Processes, tmp_path: pathlib.Path) -> Restartable:
    """A server of the test's own, killed with its process group when the test ends (by ``processes``)."""
    own = Restartable(processes, tmp_path)
    own.start()
    return own


def test_server_killed_while_the_job_runs(restartable: Restartable, tmp_path: pathlib.Path) -> None:
    """kill -9 of the server while the job runs, restart on the same port: run rides out the outage.

    What is proved: run does not give up or hang when the service goes away
    and comes back; it reports the job's true outcome after the restart. The
    engine's crash semantics make a job whose step was running end A (never
    R for ever, never run twice), so the true outcome is A, and run exits 1.
    """
    tenant = restartable.tenant()
    state, stderr = tmp_path / "state.json", tmp_path / "run.err"
    args = ("--poll-interval", "1", "--state-file", str(state))
    proc = start_run(tenant.root, "/APPJOBS/DEMO_SLEEP", *args, stderr=stderr)
    try:
        key = wait_for(lambda: saved_key(state))
        wait_for(lambda: tenant.status(tenant.session(), key["job_name"], key["run_count"]) == "R")
        restartable.kill()
        wait_for(lambda: "cannot connect" in stderr.read_text(), timeout=60)  # run polled the dead server
        tenant = Tenant(restartable.start(), restartable.data_dir)
    finally:
        result = finish(proc)
    assert result.returncode == 1, stderr.read_text()
    assert (report(result)["job_name"], report(result)["status"]) == (key["job_name"], "A")
    assert true_status(tenant, report(result)) == "A"
    wait_for(lambda: not job_processes(JobKey(key["job_name"], key["run_count"])), timeout=10)


def test_server_killed_after_the_job_finished(restartable: Restartable, tmp_path: pathlib.Path) -> None:
    """The job ends F while run cannot see it, the server is killed and restarted: run exits 0 with F.

    What is proved: the F the server committed before kill -9 survives the
    restart, and run, polling through the outage, reports it. The proxy keeps
    run from seeing F before the kill, so the order of events is certain.
    """
    tenant = restartable.tenant()
    state = tmp_path / "state.json"
    with FaultProxy(restartable.port) as proxy:
        proc = start_run(proxy.root, "/APPJOBS/DEMO_CHAIN", "--poll-interval", "1", "--state-file", str(state))
        try:
            key = wait_for(lambda: saved_key(state))
            blind = proxy.add("GET", "JobStatusGet", reset(), times=None)
            wait_for(lambda: tenant.status(tenant.session(), key["job_name"], key["run_count"]) == "F", timeout=30)
            restartable.kill()
            proxy.clear()  # from now on run's polls reach the dead server
            wait_for(lambda: proxy.count("GET", "JobStatusGet", "upstream down") >= 2, timeout=30)
            tenant = Tenant(restartable.start(), restartable.data_dir)
        finally:
            result = finish(proc)
    assert result.returncode == 0, result.stderr
    assert blind.applied >= 1
    assert (report(result)["job_name"], report(result)["status"]) == (key["job_name"], "F")
    assert true_status(tenant, report(result)) == "F"


def test_signal_while_looking_up_a_lost_job_stops_without_scheduling_again(
    tenant: Tenant, proxy: FaultProxy, tmp_path: pathlib.Path
) -> None:
    """SIGTERM while run looks for the job of a lost JobSchedule answer (JobListGet failing): exit 3, one job only.

    The retry window (5 minutes by default) does not hold the signal up, and
    the run neither schedules again nor pretends the job does not exist.
    """
    proxy.add("POST", "JobSchedule", drop_response())
    proxy.add("GET", "JobListGet", reset(), times=None)
    log = tmp_path / "stderr.log"
    with log.open("w") as stderr:
        command = [*APPJOBS, "run", "/APPJOBS/DEMO_ECHO", "--json"]
        proc = subprocess.Popen(command, env=env_through(proxy.root), stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        wait_for(lambda: "looking the job up" in log.read_text())
        proc.send_signal(signal.SIGTERM)
        stdout, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    result = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, log.read_text())
    assert result.returncode == 3, result.stderr
    assert "it is not scheduled again" in result.stderr
    assert proxy.count("POST", "JobSchedule") == 1
    assert len(jobs_marked(tenant, marker_of(result))) == 1
