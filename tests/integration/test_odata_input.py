"""Input that nothing downstream can hold is refused at the edge with a 4xx, never a 500.

On PostgreSQL a NUL byte in any text that reaches the database raised
``DataError`` (500); on both databases a JobParameterValues nested a thousand
deep ran Python's parser out of stack and a lone surrogate (``\\ud800``) could
not be encoded (500). Each reproducer of the hardening issue is here, with the
answer a client gets now: 400 ``Malformed URI literal syntax`` for a literal,
401 for credentials, 400 APJ_RT/032 with a reason for JobParameterValues. The
admin command line gives exit 2 with a message for the same kinds of input.
"""

from __future__ import annotations

import base64
import json
import os
import pathlib
import subprocess

import pytest
import requests
from conftest import APPJOBS
from tenant import Tenant

from appjobs.engine import JobService

pytestmark = pytest.mark.backends("sqlite", "postgresql")

MALFORMED = "Malformed URI literal syntax"
SCHEDULE = {"JobTemplateName": "'/APPJOBS/DEMO_ECHO'", "JobText": "'input'", "$format": "json"}


@pytest.fixture(scope="module")
def http(tenant: Tenant) -> requests.Session:
    return tenant.session()


def message_of(response: requests.Response) -> str:
    return response.json()["error"]["message"]["value"]


@pytest.mark.parametrize(
    ("method", "resource", "params"),
    [
        ("POST", "JobSchedule", {**SCHEDULE, "JobText": "'a\x00b'"}),
        ("POST", "JobSchedule", {**SCHEDULE, "JobUser": "'CB\x00'"}),
        ("POST", "JobSchedule", {**SCHEDULE, "JobTemplateName": "'/APPJOBS/\x00'"}),
        ("POST", "JobSchedule", {**SCHEDULE, "JobParameterValues": "'\x00'"}),
        ("GET", "JobStatusGet", {"JobName": "'A\x00B'", "JobRunCount": "'X'", "$format": "json"}),
        ("GET", "JobinfoGet", {"JobName": "'A'", "JobRunCount": "'\x00'", "$format": "json"}),
        ("POST", "JobCancel", {"JobName": "'A\x00'", "JobRunCount": "'X'", "$format": "json"}),
        ("POST", "JobAbort", {"JobName": "'A\x00'", "JobRunCount": "'X'", "$format": "json"}),
        ("GET", "JobListGet", {"JobText": "'a\x00'", "$format": "json"}),
        ("GET", "JobListGet", {"JobName": "'\x00'", "JobUser": "'\x00'", "$format": "json"}),
        ("GET", "JobTemplateSet", {"$filter": "JobTemplateName eq 'a\x00'", "$format": "json"}),
    ],
)
def test_a_nul_in_a_literal_is_malformed(http: requests.Session, tenant: Tenant, method: str, resource: str, params):
    response = http.request(method, f"{tenant.root}/{resource}", params=params, timeout=10)
    assert response.status_code == 400, response.text
    assert MALFORMED in message_of(response), response.text
    assert "NUL" in message_of(response)


def test_a_nul_in_a_key_predicate_is_refused(http: requests.Session, tenant: Tenant) -> None:
    response = http.get(f"{tenant.root}/JobTemplateSet(JobTemplateName='%00',JobTemplateVersion='0')", timeout=10)
    assert 400 <= response.status_code < 500, response.text


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.mark.parametrize(("user", "password"), [("JOBSCHEDULER\x00USER", "x"), ("A\x00", "y"), (None, "pw\x00")])
def test_a_nul_in_basic_credentials_is_401(tenant: Tenant, user: str | None, password: str) -> None:
    headers = basic(user or tenant.user, password)
    for method in ("GET", "HEAD"):
        response = requests.request(method, tenant.root + "/", headers=headers, timeout=10)
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"].startswith("Basic realm=")
    post = requests.post(tenant.root + "/JobSchedule", params=SCHEDULE, headers=headers, timeout=10)
    assert post.status_code == 401, post.text


def test_a_nul_after_the_real_password_does_not_log_on(tenant: Tenant) -> None:
    user, password = tenant.auth()
    assert requests.get(tenant.root + "/", headers=basic(user, password), timeout=10).status_code == 200
    assert requests.get(tenant.root + "/", headers=basic(user, password + "\x00"), timeout=10).status_code == 401


def parameter_values(value: str, name: str = "MESSAGE") -> str:
    return json.dumps({"VALUES": [{"NAME": name, "T_VALUE": [{"SIGN": "I", "OPTION": "EQ", "LOW": value}]}]})


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("[" * 1000 + "]" * 1000, "nested deeper than"),
        ('{"VALUES":' + "[" * 5000 + "]" * 5000 + "}", "nested deeper than"),
        (parameter_values("\ud800"), "lone surrogate"),
        (parameter_values("a\udfffb"), "lone surrogate"),
        (parameter_values("x", name="MESSAGE\ud800"), "lone surrogate"),
        (parameter_values("a\x00b"), "NUL"),
        (parameter_values("x", name="MESSAGE\x00"), "NUL"),
    ],
)
def test_bad_job_parameter_values_are_apj_rt_032_with_a_reason(
    http: requests.Session, tenant: Tenant, raw: str, reason: str
) -> None:
    # json.dumps writes \ud800 and \u0000 as escapes: the URL itself is plain ASCII, as a client would send it.
    literal = "'" + raw.replace("'", "''") + "'"
    response = http.post(tenant.root + "/JobSchedule", params={**SCHEDULE, "JobParameterValues": literal}, timeout=10)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "APJ_RT/032"
    detail = error["innererror"]["errordetails"][0]["message"]
    assert "JobParameterValues" in detail
    assert reason in detail, detail


def test_a_surrogate_pair_in_job_parameter_values_is_a_character(http: requests.Session, tenant: Tenant) -> None:
    """Escaped as a pair (as json.dumps writes an emoji), it is one valid character and is scheduled."""
    literal = "'" + parameter_values("\U0001f600") + "'"
    assert "\\ud83d\\ude00" in literal
    response = http.post(tenant.root + "/JobSchedule", params={**SCHEDULE, "JobParameterValues": literal}, timeout=10)
    assert response.status_code == 200, response.text


def test_the_server_keeps_serving_after_bad_input(http: requests.Session, tenant: Tenant) -> None:
    job = tenant.schedule(http, JobParameterValues="'" + parameter_values("still here") + "'")
    assert tenant.status(http, job["JobName"], job["JobRunCount"]) in {"", "S", "Y", "R", "F"}
    assert "Traceback" not in tenant.server.output()


# --- the admin command line -----------------------------------------------------------------


def admin_bytes(data_dir: pathlib.Path, *args: bytes) -> subprocess.CompletedProcess[bytes]:
    """``appjobs admin ARGS`` with raw bytes as arguments, as a shell passes ``$'\\xff'``."""
    command = [os.fsencode(part) for part in APPJOBS] + [b"admin", *args, b"--data-dir", os.fsencode(data_dir)]
    return subprocess.run(command, check=False, capture_output=True, timeout=60)


@pytest.mark.parametrize(
    "args",
    [
        [b"jobs", b"schedule", b"/APPJOBS/DEMO_ECHO", b"-p", b"MESSAGE=\xff"],
        [b"jobs", b"schedule", b"/APPJOBS/DEMO_ECHO", b"--text", b"a\xffb"],
        [b"jobs", b"schedule", b"/APPJOBS/\xff"],
        [b"jobs", b"schedule", b"/APPJOBS/DEMO_ECHO", b"--job-user", b"\xed\xa0\x80"],
        [b"jobs", b"show", b"\xff", b"X"],
        [b"users", b"lock", b"\xff"],
    ],
)
def test_admin_arguments_that_are_not_utf8_exit_2(demo: JobService, data_dir: pathlib.Path, args: list[bytes]) -> None:
    done = admin_bytes(data_dir, *args)
    assert done.returncode == 2, done.stderr
    assert b"is not valid UTF-8" in done.stderr, done.stderr
    assert b"Traceback" not in done.stderr


def test_a_template_file_with_a_nul_exits_2(demo: JobService, data_dir: pathlib.Path, tmp_path: pathlib.Path) -> None:
    toml = tmp_path / "nul.toml"
    toml.write_text('[[template]]\nname = "/ZZ/NUL"\ntext = "ok"\n[[template.step]]\ncommand = "echo a\\u0000b"\n')
    done = admin_bytes(data_dir, b"templates", b"import", os.fsencode(toml))
    assert done.returncode == 2, done.stderr
    assert b"template[1].step[1].command" in done.stderr, done.stderr
    assert b"NUL" in done.stderr
