"""``appjobs run`` options and exit codes the README promises, as a scheduler meets them against a real server.

Parameters (``-p``), a request the service refuses with 400, a job deleted
while it is polled, the stop signals and ``--cancel-grace``, and the duration
formats. One server for the module.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import time
from collections.abc import Callable

import pytest
from conftest import APPJOBS, Server, free_port, job_processes, wait_for
from tenant import USERS, Tenant, add_users, admin, finish

from appjobs import models

pytestmark = pytest.mark.backends("sqlite", "postgresql")


def env_for(tenant: Tenant) -> dict[str, str]:
    user = "JOBSCHEDULERUSER"
    return {**os.environ, "APPJOBS_URL": tenant.root, "APPJOBS_USER": user, "APPJOBS_PASSWORD": USERS[user]}


def appjobs(tenant: Tenant, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*APPJOBS, *args], env=env_for(tenant), capture_output=True, text=True, timeout=timeout, check=False
    )


def start(tenant: Tenant, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*APPJOBS, *args], env=env_for(tenant), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def report(result: subprocess.CompletedProcess[str]) -> dict:
    """The one JSON document ``--json`` prints on stdout."""
    return json.loads(result.stdout)


def job_log(tenant: Tenant, name: str, run_count: str) -> str:
    shown = appjobs(tenant, "admin", "jobs", "show", name, run_count, "--json", "--data-dir", str(tenant.data_dir))
    assert shown.returncode == 0, shown.stderr
    return "\n".join(entry["text"] for entry in json.loads(shown.stdout)["log"])


def scheduled_key(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """The job's name and run count from the line ``appjobs run`` writes on stderr once it scheduled the job."""
    assert proc.stderr is not None
    for line in proc.stderr:
        words = line.split()
        if words[1:2] == ["job"] and "scheduled" in words:
            return words[2], words[3]
    pytest.fail("appjobs run never said it scheduled a job")


# --- parameters and refused requests -------------------------------------------------------------


def test_parameters_reach_the_step(tenant: Tenant) -> None:
    """``-p NAME=VALUE`` sets template parameters; the value arrives in the step as sent, quotes and all."""
    value = "it's Grüße & 100% + more"
    result = appjobs(tenant, "run", "/APPJOBS/DEMO_ECHO", "-p", f"MESSAGE={value}", "--parameter", "REPEAT=2", "--json")
    assert result.returncode == 0, result.stderr
    done = report(result)
    log = job_log(tenant, done["job_name"], done["run_count"])
    assert log.count(f"MESSAGE={value}") == 2
    assert "REPEAT=2" in log


@pytest.mark.backends("sqlite")  # the client side alone: the database does not matter
@pytest.mark.parametrize(
    ("args", "why"),
    [
        (("/APPJOBS/DEMO_ECHO", "-p", "NO_SUCH_PARAMETER=1"), "NO_SUCH_PARAMETER"),
        (("/APPJOBS/DEMO_FAIL", "--test-mode"), "test mode"),
    ],
)
def test_a_request_the_service_refuses_with_400_exits_2(tenant: Tenant, args: tuple[str, ...], why: str) -> None:
    """A JobSchedule refused with 400 (APJ_RT/032) is the caller's mistake: exit 2, the reason on stderr."""
    result = appjobs(tenant, "run", *args, "--json")
    assert result.returncode == 2, result.stderr
    assert why in result.stderr
    assert report(result)["exit_code"] == 2


@pytest.mark.backends("sqlite")  # the client side alone: the database does not matter
@pytest.mark.parametrize("flag", ["NOEQUALS", "=value"])
def test_a_parameter_without_name_and_value_exits_2_before_anything_is_sent(tenant: Tenant, flag: str) -> None:
    result = appjobs(tenant, "run", "/APPJOBS/DEMO_ECHO", "-p", flag)
    assert result.returncode == 2
    assert "is not NAME=VALUE" in result.stderr
    assert "scheduled" not in result.stderr


def test_a_job_user_the_template_does_not_allow_is_named_with_the_allowed_ones(tenant: Tenant, tmp_path) -> None:
    """APJ_RT/077 names the JobUser and the template's business users, not the communication user's logon."""
    file = tmp_path / "restricted.toml"
    file.write_text(
        '[[template]]\nname = "/TEST/ONLY_CB8980000030"\ntext = "Restricted"\n'
        'business_users = ["CB8980000030"]\n[[template.step]]\ncommand = "true"\n'
    )
    admin(tenant.data_dir, "templates", "import", str(file), "--replace")
    refused = appjobs(tenant, "run", "/TEST/ONLY_CB8980000030", "--job-user", "JOBSCHEDULERUSER")
    assert refused.returncode == 5, refused.stderr
    assert "JobUser JOBSCHEDULERUSER is not one" in refused.stderr
    assert "runs only for the business users CB8980000030" in refused.stderr
    unnamed = appjobs(tenant, "run", "/TEST/ONLY_CB8980000030")
    assert unnamed.returncode == 5, unnamed.stderr
    assert "no JobUser was given" in unnamed.stderr
    assert "give one of them as JobUser" in unnamed.stderr
    assert appjobs(tenant, "run", "/TEST/ONLY_CB8980000030", "--job-user", "CB8980000030").returncode == 0


# --- a job deleted while it is polled ----------------------------------------------------------------


def test_a_job_deleted_before_it_ran_exits_3(tenant: Tenant) -> None:
    """JobCancel of a job that has not started deletes it; the run polling it says so and exits 3 (D)."""
    http = tenant.session()
    blockers = [tenant.schedule(http, "/APPJOBS/DEMO_SLEEP") for _ in range(os.cpu_count() or 1)]
    try:
        for job in blockers:
            tenant.wait_status(http, job, "R")
        proc = start(tenant, "run", "/APPJOBS/DEMO_ECHO", "--json", "--poll-interval", "1")
        name, run_count = scheduled_key(proc)
        wait_for(lambda: tenant.status(http, name, run_count) in ("S", "Y"))
        cancelled = http.post(f"{tenant.root}/JobCancel?JobName='{name}'&JobRunCount='{run_count}'", timeout=10)
        assert cancelled.status_code == 200, cancelled.text
        result = finish(proc)
    finally:
        for job in blockers:
            http.post(f"{tenant.root}/JobCancel?JobName='{job['JobName']}'&JobRunCount='{job['JobRunCount']}'")
    assert result.returncode == 3, result.stderr
    assert report(result)["status"] == "D"
    assert "status D (Deleted)" in result.stderr


# --- signals and --cancel-grace ----------------------------------------------------------------------


@pytest.mark.backends("sqlite")  # the client side alone: the database does not matter
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGHUP])
def test_sigint_and_sighup_cancel_the_remote_job_and_exit_3(tenant: Tenant, sig: signal.Signals) -> None:
    proc = start(tenant, "run", "/APPJOBS/DEMO_SLEEP", "--json", "--poll-interval", "1")
    name, run_count = scheduled_key(proc)
    http = tenant.session()
    wait_for(lambda: tenant.status(http, name, run_count) == "R")
    proc.send_signal(sig)
    result = finish(proc)
    assert result.returncode == 3, result.stderr
    assert "cancelled by a signal" in result.stderr
    assert report(result)["status"] == "A"
    assert tenant.status(http, name, run_count) == "A"


@pytest.mark.backends("sqlite")  # the client side alone: the database does not matter
def test_cancel_grace_bounds_the_wait_for_a_job_that_does_not_stop(
    start_server: Callable[..., Server], data_dir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """After a signal the run waits at most --cancel-grace for the job to end, then exits 3 naming its status.

    The step ignores SIGTERM, and this server waits 60 s (--grace) before its SIGKILL:
    the run, with --cancel-grace 1s, must stop waiting long before, leaving the job R.
    The margin is the server's grace: the run's wait must end within it.
    """
    add_users(data_dir)
    file, trapped = tmp_path / "stubborn.toml", tmp_path / "trapped"
    file.write_text(  # the marker says the trap is set: a SIGTERM before it would end the step
        '[[template]]\nname = "/TEST/STUBBORN"\ntext = "Stubborn"\n'
        f"[[template.step]]\ncommand = 'trap \"\" TERM; touch {trapped}; sleep 90'\n"
    )
    admin(data_dir, "templates", "import", str(file))
    server = start_server("--grace", "60")
    tenant = Tenant(server, data_dir)
    http = tenant.session()
    proc = start(tenant, "run", "/TEST/STUBBORN", "--json", "--poll-interval", "1", "--cancel-grace", "1s")
    name, run_count = scheduled_key(proc)
    wait_for(lambda: tenant.status(http, name, run_count) == "R" and trapped.exists())
    began = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    result = finish(proc, timeout=55)  # within the server's grace, else the job would be A by now
    waited = time.monotonic() - began
    assert result.returncode == 3, result.stderr
    assert report(result)["status"] == "R"
    assert "is R after the cancel" in result.stderr
    assert waited < 55, waited
    try:
        assert tenant.status(http, name, run_count) == "R"  # being stopped: the server's grace is not over
    finally:
        for leftover in job_processes(models.JobKey(name, run_count)):
            leftover.kill()  # the step would outlive the test by a minute otherwise


# --- durations -----------------------------------------------------------------------------------


@pytest.mark.backends("sqlite")  # the client side alone: the database does not matter
@pytest.mark.parametrize("text", ["90", "90s", "15m", "2h", "1h30m"])
def test_every_documented_duration_format_is_accepted(tenant: Tenant, text: str) -> None:
    result = appjobs(tenant, "run", "/APPJOBS/DEMO_ECHO", "--timeout", text, "--no-wait")
    assert result.returncode == 0, result.stderr


@pytest.mark.backends("sqlite")  # the client side alone: the database does not matter
@pytest.mark.parametrize("text", ["", "0", "-5", "5x", "h", "1.2.3s", "m30"])
def test_a_bad_duration_exits_2_naming_the_formats(tenant: Tenant, text: str) -> None:
    result = appjobs(tenant, "run", "/APPJOBS/DEMO_ECHO", "--timeout", text)
    assert result.returncode == 2, result.stderr
    assert "duration" in result.stderr
    assert "scheduled" not in result.stderr


# --- error lines -----------------------------------------------------------------------------------


def every_line_is_ours(stderr: str) -> None:
    lines = stderr.splitlines()
    assert lines, "nothing on stderr"
    assert all(line.startswith("appjobs: ") for line in lines), stderr


@pytest.mark.backends("sqlite")  # the client side alone: the database does not matter
@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("127.0.0.1:{port}/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=0002", "has no http:// or https://"),
        ("http://127.0.0.1:{port}", "has no service path"),
        ("http://127.0.0.1:{port}/", "has no service path"),
        ("http://127.0.0.1:{port}/somewhere/else", "is not the service root"),
    ],
)
def test_a_url_that_is_not_a_service_url_says_what_one_looks_like(tenant: Tenant, url: str, why: str) -> None:
    env = {**env_for(tenant), "APPJOBS_URL": url.format(port=tenant.server.port)}
    result = subprocess.run(
        [*APPJOBS, "run", "/APPJOBS/DEMO_ECHO"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2, result.stderr
    assert why in result.stderr
    assert "a service URL looks like https://" in result.stderr
    assert "/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=0002" in result.stderr
    every_line_is_ours(result.stderr)


@pytest.mark.backends("sqlite")  # the client side alone: the database does not matter
def test_retry_lines_are_short_and_ours(tenant: Tenant) -> None:
    """Each try that failed is one short ``appjobs:`` line naming the cause, without urllib3's reprs."""
    env = {**env_for(tenant), "APPJOBS_URL": f"http://127.0.0.1:{free_port()}/sap/opu/odata/sap/X"}
    result = subprocess.run(
        [*APPJOBS, "status", "X", "Y"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 6, result.stderr
    every_line_is_ours(result.stderr)
    tries = [line for line in result.stderr.splitlines() if "failed" in line and "trying again" in line]
    assert len(tries) == 3, result.stderr
    for line in result.stderr.splitlines():
        assert "Connection refused" in line, line
        assert not any(noise in line for noise in ("HTTPConnection", "Max retries", "NewConnectionError")), line
        assert len(line) < 200, line


@pytest.mark.backends("sqlite")  # the client side alone: the database does not matter
def test_usage_errors_are_ours_too(tenant: Tenant) -> None:
    result = appjobs(tenant, "run", "/APPJOBS/DEMO_ECHO", "--on-timeout", "explode")
    assert result.returncode == 2
    every_line_is_ours(result.stderr)
    assert "--on-timeout" in result.stderr
    assert "appjobs run --help" in result.stderr
