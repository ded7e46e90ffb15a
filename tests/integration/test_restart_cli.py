"""``appjobs restart`` and ``appjobs run --restart-from-failed`` as real processes against a real ``appjobs serve``.

The chains are :mod:`restartsite`'s: three shell steps leaving traces on disk,
the second failing the first time.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess

import requests
from conftest import APPJOBS, wait_for
from restartsite import chain, step_statuses
from tenant import USERS, Tenant, saved_key


def appjobs(tenant: Tenant, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "APPJOBS_URL": tenant.root,
        "APPJOBS_USER": tenant.user,
        "APPJOBS_PASSWORD": USERS[tenant.user],
    }
    return subprocess.run([*APPJOBS, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)


def failed(tenant: Tenant, http: requests.Session, template: str) -> dict:
    """A job of *template*, once it has ended A."""
    job = tenant.schedule(http, template)
    assert tenant.wait_status(http, job, "FAW") == "A"
    return job


def test_restart_prints_the_copy_which_runs_from_the_failed_step(tenant: Tenant, tmp_path: pathlib.Path) -> None:
    """Without --wait: the copy's JobName and JobRunCount on stdout, exit 0; the copy runs from step 2 (K F F)."""
    http, steps = tenant.session(), chain(tenant, tmp_path)
    job = failed(tenant, http, steps.name)
    result = appjobs(tenant, "restart", job["JobName"], job["JobRunCount"])
    assert result.returncode == 0, result.stderr
    name, run_count = result.stdout.split()
    assert name != job["JobName"]
    copy = {"JobName": name, "JobRunCount": run_count}
    assert tenant.wait_status(http, copy, "FAW") == "F"
    assert step_statuses(tenant, http, copy) == "KFF"
    assert len(steps.lines(1)) == 1
    # The original can be restarted again; --json prints one object, with the copy's origin.
    again = appjobs(tenant, "restart", job["JobName"], job["JobRunCount"], "--after-failed", "--json")
    assert again.returncode == 0, again.stderr
    document = json.loads(again.stdout)
    assert document["job_name"] not in (job["JobName"], name)
    assert (document["restart_of"]["job_name"], document["restart_mode"]) == (job["JobName"], "A")


def test_restart_after_failed_wait_json(tenant: Tenant, tmp_path: pathlib.Path) -> None:
    """--after-failed --wait --json: waits for the copy (K K F) and reports it as ``run`` does, with its origin."""
    http, steps = tenant.session(), chain(tenant, tmp_path)
    job = failed(tenant, http, steps.name)
    args = ("restart", job["JobName"], job["JobRunCount"], "--after-failed", "--wait", "--json", "--poll-interval", "1")
    result = appjobs(tenant, *args)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["status"], report["exit_code"]) == ("F", 0)
    assert [s["status"] for s in report["steps"]] == ["K", "K", "F"]
    assert report["restart_of"] == {"job_name": job["JobName"], "run_count": job["JobRunCount"]}
    assert report["restart_mode"] == "A"
    assert f"restarts job {job['JobName']} {job['JobRunCount']} after its failed step" in result.stderr
    assert len(steps.lines(2)) == 1  # the failed step was skipped
    assert steps.lines(3) == [f"{report['job_name']} default3"]


def test_restart_wait_exits_1_when_the_copy_fails(tenant: Tenant, tmp_path: pathlib.Path) -> None:
    """A copy that fails again exits 1 under --wait, printing its key on stdout."""
    http, steps = tenant.session(), chain(tenant, tmp_path, passes_on=3)
    job = failed(tenant, http, steps.name)
    result = appjobs(tenant, "restart", job["JobName"], job["JobRunCount"], "--wait", "--poll-interval", "1")
    assert result.returncode == 1, result.stderr
    name, run_count = result.stdout.split()
    assert step_statuses(tenant, http, {"JobName": name, "JobRunCount": run_count}) == "KAA"


def test_a_job_that_cannot_be_restarted_exits_2_with_sap_s_message(tenant: Tenant, tmp_path: pathlib.Path) -> None:
    """APJ_RT/081 (a finished job) and /082 (after the last step) exit 2, with SAP's text and the reason."""
    http = tenant.session()
    done = tenant.schedule(http, "/APPJOBS/DEMO_ECHO")
    assert tenant.wait_status(http, done, "FAW") == "F"
    result = appjobs(tenant, "restart", done["JobName"], done["JobRunCount"])
    assert result.returncode == 2, result.stderr
    assert "Can't restart the job due to the status (APJ_RT/081)" in result.stderr
    assert f"Job {done['JobName']} {done['JobRunCount']} is F (Finished)" in result.stderr
    assert result.stdout == ""
    single = failed(tenant, http, "/APPJOBS/DEMO_FAIL")
    result = appjobs(tenant, "run", "--restart-after-failed", single["JobName"], single["JobRunCount"], "--json")
    assert result.returncode == 2, result.stderr
    assert "Can't restart the job after the last step (APJ_RT/082)" in result.stderr
    assert json.loads(result.stdout)["exit_code"] == 2


def test_run_restart_from_failed_waits_for_the_copy(tenant: Tenant, tmp_path: pathlib.Path) -> None:
    """``run --restart-from-failed JOBNAME RUNCOUNT`` runs the copy instead of a new job and exits with its outcome."""
    http, steps = tenant.session(), chain(tenant, tmp_path)
    job = failed(tenant, http, steps.name)
    args = ("run", "--restart-from-failed", job["JobName"], job["JobRunCount"], "--json", "--poll-interval", "1")
    result = appjobs(tenant, *args)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert ([s["status"] for s in report["steps"]], report["restart_mode"]) == (["K", "F", "F"], "E")
    assert "status F (Finished)" in result.stderr
    assert steps.lines(2)[-1] == f"{report['job_name']} default2"


def test_run_restart_cancels_the_copy_on_sigterm(tenant: Tenant, tmp_path: pathlib.Path) -> None:
    """SIGTERM to ``run --restart-from-failed`` cancels the running copy (JobCancel) and exits 3; the original stays."""
    http, steps = tenant.session(), chain(tenant, tmp_path, how="fail_then_hang")
    job = failed(tenant, http, steps.name)
    state = tmp_path / "state.json"
    env = {
        **os.environ,
        "APPJOBS_URL": tenant.root,
        "APPJOBS_USER": tenant.user,
        "APPJOBS_PASSWORD": USERS[tenant.user],
    }
    args = ["run", "--restart-from-failed", job["JobName"], job["JobRunCount"], "--state-file", str(state), "--json"]
    proc = subprocess.Popen([*APPJOBS, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        key = wait_for(lambda: saved_key(state))
        copy = {"JobName": key["job_name"], "JobRunCount": key["run_count"]}
        wait_for((steps.folder / "slept").exists)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 3, stderr
    assert "cancelled by a signal" in stderr
    assert json.loads(stdout)["status"] == "A"
    assert tenant.status(http, copy["JobName"], copy["JobRunCount"]) == "A"
    assert step_statuses(tenant, http, copy) == "KAA"
    assert step_statuses(tenant, http, job) == "FAA"


def test_run_refuses_a_restart_with_a_template_or_new_job_options(tenant: Tenant) -> None:
    """A restart copies the job as it was: a TEMPLATE, -p, --text or --resume beside it is a usage error (exit 2)."""
    key = ("0" * 32, "AAAAAAAA")
    cases = {
        ("/APPJOBS/DEMO_ECHO",): "without a TEMPLATE",
        ("-p", "A=1"): "leave out -p",
        ("--text", "x", "--job-user", "U"): "leave out --text, --job-user",
        ("--resume", "state.json"): "--resume reattaches",
        ("--restart-after-failed", *key): "exclude each other",
    }
    for extra, message in cases.items():
        result = appjobs(tenant, "run", "--restart-from-failed", *key, *extra)
        assert result.returncode == 2, (extra, result.stderr)
        assert message in result.stderr, (extra, result.stderr)
    nothing = appjobs(tenant, "run")
    assert nothing.returncode == 2
    assert "give a TEMPLATE to run" in nothing.stderr
