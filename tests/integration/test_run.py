"""``appjobs run`` and the other client commands as real processes against a real ``appjobs serve``.

One test per exit code, plus signals, timeouts, --resume and the failed-logon count.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pathlib
import signal
import subprocess
import time

import pytest
import requests
import sqlalchemy as sa
from conftest import APPJOBS, free_port, wait_for
from tenant import USERS, Tenant, saved_key

from appjobs import models
from appjobs.settings import Paths
from appjobs.storage import Store, schema

pytestmark = pytest.mark.backends("sqlite", "postgresql")


def env_for(tenant: Tenant, user: str = "JOBSCHEDULERUSER", password: str | None = None) -> dict[str, str]:
    return {
        **os.environ,
        "APPJOBS_URL": tenant.root,
        "APPJOBS_USER": user,
        "APPJOBS_PASSWORD": USERS[user] if password is None else password,
    }


def appjobs(tenant: Tenant, *args: str, env: dict[str, str] | None = None, timeout: float = 120):
    return subprocess.run(
        [*APPJOBS, *args], env=env or env_for(tenant), capture_output=True, text=True, timeout=timeout, check=False
    )


def outcome(result: subprocess.CompletedProcess[str]) -> dict:
    return json.loads(result.stdout.strip().splitlines()[-1])


def job_status(tenant: Tenant, name: str, run_count: str) -> str:
    return tenant.status(tenant.session(), name, run_count)


def test_finished_job_exits_0_with_a_json_report(tenant: Tenant) -> None:
    result = appjobs(tenant, "run", "/APPJOBS/DEMO_CHAIN", "--json", "--poll-interval", "1")
    assert result.returncode == 0, result.stderr
    report = outcome(result)
    assert report["status"] == "F"
    assert report["status_text"] == "Finished"
    assert report["template"] == "/APPJOBS/DEMO_CHAIN"
    assert [s["status"] for s in report["steps"]] == ["F", "F", "F"]
    assert report["started_at"] <= report["ended_at"]
    assert f"job {report['job_name']} {report['run_count']} scheduled" in result.stderr
    assert "status F (Finished)" in result.stderr


def test_failed_job_exits_1(tenant: Tenant) -> None:
    result = appjobs(tenant, "run", "/APPJOBS/DEMO_FAIL", "--json")
    assert result.returncode == 1, result.stderr
    assert outcome(result)["status"] == "A"


def test_job_with_warnings_exits_0_or_7_under_strict_warnings(tenant: Tenant) -> None:
    """DEMO_WARN ends W (finished with warnings): a success, unless --strict-warnings asks for exit code 7."""
    lenient = appjobs(tenant, "run", "/APPJOBS/DEMO_WARN", "--json")
    assert lenient.returncode == 0, lenient.stderr
    assert outcome(lenient)["status"] == "W"
    strict = appjobs(tenant, "run", "/APPJOBS/DEMO_WARN", "--json", "--strict-warnings")
    assert strict.returncode == 7, strict.stderr
    report = outcome(strict)
    assert (report["status"], [s["status"] for s in report["steps"]]) == ("W", ["W"])


def test_unknown_template_exits_2(tenant: Tenant) -> None:
    result = appjobs(tenant, "run", "/APPJOBS/NO_SUCH_TEMPLATE")
    assert result.returncode == 2
    assert "/APPJOBS/NO_SUCH_TEMPLATE" in result.stderr


def test_ambiguous_template_text_exits_2(tenant: Tenant, tmp_path: pathlib.Path) -> None:
    file = tmp_path / "twins.toml"
    file.write_text(
        "".join(
            f'[[template]]\nname = "/TEST/TWIN_{n}"\ntext = "Twin"\n[[template.step]]\ncommand = "true"\n'
            for n in (1, 2)
        )
    )
    imported = appjobs(tenant, "admin", "templates", "import", str(file), "--data-dir", str(tenant.data_dir))
    assert imported.returncode == 0, imported.stderr
    result = appjobs(tenant, "run", "Twin", "--by-text")
    assert result.returncode == 2
    assert "/TEST/TWIN_1" in result.stderr
    assert "/TEST/TWIN_2" in result.stderr
    assert appjobs(tenant, "run", "Echo parameters", "--by-text").returncode == 0


def test_sigterm_cancels_the_remote_job_and_exits_3(tenant: Tenant, tmp_path: pathlib.Path) -> None:
    state = tmp_path / "state.json"
    proc = subprocess.Popen(
        [*APPJOBS, "run", "/APPJOBS/DEMO_SLEEP", "--json", "--state-file", str(state), "--poll-interval", "1"],
        env=env_for(tenant),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        key = wait_for(lambda: saved_key(state))
        wait_for(lambda: job_status(tenant, key["job_name"], key["run_count"]) == "R")
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 3, stderr
    assert outcome(subprocess.CompletedProcess([], 3, stdout, stderr))["status"] == "A"
    assert job_status(tenant, key["job_name"], key["run_count"]) == "A"
    assert "cancelled by a signal" in stderr


def test_timeout_cancels_the_remote_job_and_exits_4(tenant: Tenant) -> None:
    """--timeout cancels the job: aborted (A) if it ran by then, deleted (D) if a busy worker had not started it."""
    result = appjobs(tenant, "run", "/APPJOBS/DEMO_SLEEP", "--timeout", "2s", "--json")
    assert result.returncode == 4, result.stderr
    assert "--timeout reached: cancelling job" in result.stderr
    report = outcome(result)
    assert report["status"] in {"A", "D"}, report
    http = tenant.session()
    params = {"JobName": f"'{report['job_name']}'", "JobRunCount": f"'{report['run_count']}'", "$format": "json"}
    answer = http.get(tenant.root + "/JobStatusGet", params=params, timeout=10)
    if report["status"] == "A":
        assert answer.json()["d"]["JobStatus"] == "A"
    else:
        assert answer.json()["error"]["code"] == "APJ_RT/003"  # deleted: the job no longer exists


def test_timeout_with_leave_keeps_the_job_running(tenant: Tenant) -> None:
    result = appjobs(tenant, "run", "/APPJOBS/DEMO_SLEEP", "--timeout", "2s", "--on-timeout", "leave", "--json")
    assert result.returncode == 4, result.stderr
    report = outcome(result)
    assert "the job is left running" in result.stderr
    http = tenant.session()
    # Left alone: not cancelled, so still waiting or running (a loaded worker may not have started it in 2 s).
    assert tenant.status(http, report["job_name"], report["run_count"]) in {"S", "Y", "R"}
    http.post(f"{tenant.root}/JobCancel?JobName='{report['job_name']}'&JobRunCount='{report['run_count']}'")


def test_start_timeout_deletes_a_job_that_never_started(tenant: Tenant) -> None:
    http = tenant.session()
    blockers = [tenant.schedule(http, "/APPJOBS/DEMO_SLEEP") for _ in range(os.cpu_count() or 1)]
    try:
        for job in blockers:
            tenant.wait_status(http, job, "R")
        result = appjobs(tenant, "run", "/APPJOBS/DEMO_ECHO", "--start-timeout", "2s", "--json")
        assert result.returncode == 4, result.stderr
        assert outcome(result)["status"] == "D"
        assert "--start-timeout reached" in result.stderr
    finally:
        for job in blockers:
            http.post(f"{tenant.root}/JobCancel?JobName='{job['JobName']}'&JobRunCount='{job['JobRunCount']}'")


def test_wrong_password_exits_5_after_exactly_one_failed_logon(tenant: Tenant) -> None:
    store = Store.open(Paths.resolve(str(tenant.data_dir)).database_url, migrate=False)
    try:
        before = store.users.failed_logons("OTHERUSER")
        result = appjobs(tenant, "run", "/APPJOBS/DEMO_ECHO", env=env_for(tenant, "OTHERUSER", "wrong-password"))
        assert result.returncode == 5, result.stderr
        assert store.users.failed_logons("OTHERUSER") == before + 1
        assert appjobs(tenant, "status", "X", "Y", env=env_for(tenant, "OTHERUSER")).returncode == 2
        assert store.users.failed_logons("OTHERUSER") == 0  # a good logon resets the count
    finally:
        store.close()


def test_unreachable_service_exits_6(tenant: Tenant) -> None:
    env = {**env_for(tenant), "APPJOBS_URL": f"http://127.0.0.1:{free_port()}/sap/opu/odata/sap/X"}
    result = appjobs(tenant, "run", "/APPJOBS/DEMO_ECHO", env=env)
    assert result.returncode == 6, result.stderr


def test_no_wait_returns_at_once_and_resume_reattaches(tenant: Tenant, tmp_path: pathlib.Path) -> None:
    state = tmp_path / "state.json"
    started = appjobs(tenant, "run", "/APPJOBS/DEMO_CHAIN", "--no-wait", "--state-file", str(state))
    assert started.returncode == 0, started.stderr
    saved = json.loads(state.read_text())
    assert job_status(tenant, saved["job_name"], saved["run_count"]) in {"S", "Y", "R"}
    resumed = appjobs(tenant, "run", "/APPJOBS/DEMO_CHAIN", "--resume", str(state), "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert (outcome(resumed)["job_name"], outcome(resumed)["status"]) == (saved["job_name"], "F")
    assert "reattached" in resumed.stderr


def test_resume_of_a_state_file_without_a_key_finds_the_job_by_its_text(tenant: Tenant, tmp_path: pathlib.Path) -> None:
    """A crash between JobSchedule and its answer leaves only the text; --resume finds the job by it."""
    http = tenant.session()
    job = tenant.schedule(http, "/APPJOBS/DEMO_ECHO", JobText="'crashed run [run ABCDEFGH]'")
    state = tmp_path / "state.json"
    sent_at = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - 5))
    state.write_text(
        json.dumps(
            {"url": tenant.root, "template": "/APPJOBS/DEMO_ECHO", "text": "crashed run [run ABCDEFGH]",
             "sent_at": sent_at, "job_name": None, "run_count": None}
        )
    )  # fmt: skip
    resumed = appjobs(tenant, "run", "/APPJOBS/DEMO_ECHO", "--resume", str(state), "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert outcome(resumed)["job_name"] == job["JobName"]


def test_log_file_gets_every_status_change(tenant: Tenant, tmp_path: pathlib.Path) -> None:
    log = tmp_path / "run.log"
    assert appjobs(tenant, "run", "/APPJOBS/DEMO_ECHO", "--log-file", str(log)).returncode == 0
    text = log.read_text()
    assert "scheduled from /APPJOBS/DEMO_ECHO" in text
    assert "status F (Finished)" in text
    assert tenant.password not in text


def test_status_info_jobs_cancel_templates_and_ping(tenant: Tenant) -> None:
    started = outcome(appjobs(tenant, "run", "/APPJOBS/DEMO_SLEEP", "--no-wait", "--json"))
    name, run_count = started["job_name"], started["run_count"]
    assert appjobs(tenant, "status", name, run_count).stdout.split()[0] in {"S", "Y", "R"}
    wait_for(lambda: appjobs(tenant, "status", name, run_count).stdout.startswith("R"))
    info = json.loads(appjobs(tenant, "info", name, run_count, "--json").stdout)
    assert info["steps"][0]["number"] == 1
    cancelled = appjobs(tenant, "cancel", name, run_count, "--wait", "--json")
    assert cancelled.returncode == 0, cancelled.stderr
    assert json.loads(cancelled.stdout)["status"] == "A"
    listed = json.loads(appjobs(tenant, "jobs", "--from", "2020-01-01", "--json").stdout)
    assert name in {job["key"]["name"] for job in listed}
    names = appjobs(tenant, "templates", "--filter", "sleep").stdout
    assert "/APPJOBS/DEMO_SLEEP" in names
    assert "/APPJOBS/DEMO_ECHO" not in names
    pinged = appjobs(tenant, "ping")
    assert pinged.returncode == 0
    assert "ok   csrf" in pinged.stdout


def test_ping_names_the_failing_check(tenant: Tenant) -> None:
    refused = appjobs(tenant, "ping", env=env_for(tenant, password="wrong-password"))
    assert refused.returncode == 5
    assert "FAIL logon" in refused.stdout
    nobody = appjobs(tenant, "ping", env={**env_for(tenant), "APPJOBS_URL": f"http://127.0.0.1:{free_port()}/x"})
    assert nobody.returncode == 6
    assert "FAIL host" in nobody.stdout


def test_password_is_never_an_argument_and_missing_settings_exit_2(tenant: Tenant) -> None:
    assert appjobs(tenant, "run", "X", "--password", "secret").returncode == 2  # no such option
    env = {k: v for k, v in env_for(tenant).items() if k != "APPJOBS_PASSWORD"}
    result = appjobs(tenant, "run", "/APPJOBS/DEMO_ECHO", env=env)
    assert result.returncode == 2
    assert "APPJOBS_PASSWORD" in result.stderr


def test_profiles_file(tenant: Tenant, tmp_path: pathlib.Path) -> None:
    secret = tmp_path / "password"
    secret.write_text(tenant.password + "\n")
    profiles = tmp_path / "profiles.toml"
    profiles.write_text(f'[local]\nurl = "{tenant.root}"\nuser = "{tenant.user}"\npassword_file = "{secret}"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPJOBS_")} | {"APPJOBS_PROFILES": str(profiles)}
    assert appjobs(tenant, "ping", "--profile", "local", env=env).returncode == 0
    missing = appjobs(tenant, "ping", "--profile", "prod", env=env)
    assert missing.returncode == 2
    assert "no profile [prod] (profiles: local)" in missing.stderr


def test_pyodata_reuses_the_clients_session(tenant: Tenant) -> None:
    """pyodata on ``client.session`` schedules with the client's logon session: no second logon, no new session."""
    import pyodata

    from appjobs.client import Client

    began = models.utcnow() - dt.timedelta(seconds=1)
    answers: list[requests.Response] = []
    with Client(tenant.root, auth=tenant.auth("OTHERUSER")) as client:
        client.session.hooks["response"].append(lambda response, **_: answers.append(response))
        client.schedule("/APPJOBS/DEMO_ECHO", "through the client")  # logged on, with a token: a session
        cookie = client.session.cookies.get(SESSION_COOKIE)
        assert cookie
        first = len(answers)
        service = pyodata.Client(client.service_url + "/", client.session)
        job = (
            service.functions.JobSchedule.parameter("JobTemplateName", "/APPJOBS/DEMO_ECHO")
            .parameter("JobText", "through pyodata on the client's session")
            .execute()
        )
        through_pyodata = answers[first:]
        assert through_pyodata, "pyodata sent nothing through the client's session"
        assert all(r.status_code == 200 for r in through_pyodata), [(r.url, r.status_code) for r in through_pyodata]
        assert not any(SESSION_COOKIE in r.headers.get("set-cookie", "") for r in through_pyodata)
        assert all(f"{SESSION_COOKIE}={cookie}" in r.request.headers.get("cookie", "") for r in through_pyodata)
        assert client.status(client_key(job)).status in set("SYRF")
        final = wait_for(lambda: (s := client.status(client_key(job)).status) is not None and s.is_final and s)
        assert str(final) == "F"
    assert sessions_opened_since(tenant, "OTHERUSER", began) == 1  # the server's own count agrees


SESSION_COOKIE = "SAP_SESSIONID_APJ_100"


def sessions_opened_since(tenant: Tenant, user: str, since: dt.datetime) -> int:
    """How many logon sessions of *user* the server opened since *since* (read from its database)."""
    store = Store.open(Paths.resolve(str(tenant.data_dir)).database_url, migrate=False)
    try:
        table = schema.http_session
        query = sa.select(sa.func.count()).where(table.c.user_name == user, table.c.created_at >= since)
        with store.db.read() as conn:
            return conn.execute(query).scalar_one()
    finally:
        store.close()


def client_key(job: object) -> object:
    from appjobs.client import JobKey

    return JobKey(job.JobName, job.JobRunCount)  # type: ignore[attr-defined]
