"""What JobSchedule promises to pass on reaches the step: JobParameterValues and TestModeInd.

The README: ``JobParameterValues`` (SAP's ``{"VALUES":[{"NAME":…,"T_VALUE":[{"LOW":…}]}]}``)
sets template parameters by name; a step sees them (a callable as keyword
arguments, a shell command as environment variables) and sees
``APPJOBS_TEST_MODE``; a template that does not support test mode refuses
TestModeInd true. Each is checked where it lands: in the job's log, which is
what the step printed (``appjobs admin jobs show --json``).
"""

from __future__ import annotations

import json

import pytest
import requests
from tenant import Tenant, admin

pytestmark = pytest.mark.backends("sqlite", "postgresql")

TEMPLATES = """
[[template]]
name = "/ZTEST/SHOW_ENV"
text = "Print a parameter and the test mode"
supports_test_mode = true
[[template.step]]
command = 'printf "message=[%s] test_mode=[%s]\\\\n" "$MESSAGE" "$APPJOBS_TEST_MODE"'
parameters = { MESSAGE = "default message" }

[[template]]
name = "/ZTEST/NO_TEST_MODE"
text = "A template without a test mode"
[[template.step]]
command = 'printf "test_mode=[%s]\\\\n" "$APPJOBS_TEST_MODE"'
"""
#: Quotes, a percent sign, an ampersand, non-ASCII and an emoji: all of it must arrive unchanged.
MESSAGE = "Grüße from O'Brien & 100% 😀"


@pytest.fixture(scope="module")
def http(tenant: Tenant) -> requests.Session:
    toml = tenant.data_dir.parent / "schedule-inputs.toml"
    toml.write_text(TEMPLATES, encoding="utf-8")
    admin(tenant.data_dir, "templates", "import", str(toml))
    return tenant.session()


def parameter_values(**values: str) -> str:
    """JobParameterValues as SAP's clients send it, as a string literal."""
    entries = [
        {"STEP_NR": 1, "NAME": name, "T_VALUE": [{"SIGN": "I", "OPTION": "EQ", "LOW": value, "HIGH": ""}]}
        for name, value in values.items()
    ]
    return "'" + json.dumps({"VALUES": entries}, ensure_ascii=False).replace("'", "''") + "'"


def run(tenant: Tenant, http: requests.Session, template: str, **params: str) -> list[str]:
    """Schedule *template* over HTTP, wait until it ends F, and return what its steps printed (its log)."""
    job = tenant.schedule(http, template, **params)
    assert tenant.wait_status(http, job) == "F"
    shown = admin(tenant.data_dir, "jobs", "show", job["JobName"], job["JobRunCount"], "--json")
    return [entry["text"] for entry in json.loads(shown.stdout)["log"] if entry["step"] is not None]


def test_job_parameter_values_reach_a_callable_step(tenant: Tenant, http: requests.Session) -> None:
    printed = run(tenant, http, "/APPJOBS/DEMO_ECHO", JobParameterValues=parameter_values(MESSAGE=MESSAGE))
    assert f"MESSAGE={MESSAGE}" in printed, printed


def test_job_parameter_values_reach_a_shell_step(tenant: Tenant, http: requests.Session) -> None:
    printed = run(tenant, http, "/ZTEST/SHOW_ENV", JobParameterValues=parameter_values(MESSAGE=MESSAGE))
    assert f"message=[{MESSAGE}] test_mode=[]" in printed, printed


def test_without_job_parameter_values_the_step_sees_the_default(tenant: Tenant, http: requests.Session) -> None:
    printed = run(tenant, http, "/ZTEST/SHOW_ENV")
    assert "message=[default message] test_mode=[]" in printed, printed


def test_test_mode_reaches_the_step(tenant: Tenant, http: requests.Session) -> None:
    printed = run(tenant, http, "/ZTEST/SHOW_ENV", TestModeInd="true")
    assert "message=[default message] test_mode=[X]" in printed, printed
    printed = run(tenant, http, "/ZTEST/SHOW_ENV", TestModeInd="false")
    assert "message=[default message] test_mode=[]" in printed, printed


def test_test_mode_is_refused_by_a_template_without_it(tenant: Tenant, http: requests.Session) -> None:
    params = {"JobTemplateName": "'/ZTEST/NO_TEST_MODE'", "TestModeInd": "true", "$format": "json"}
    response = http.post(f"{tenant.root}/JobSchedule", params=params, timeout=10)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "APJ_RT/032"
    assert "doesn't support test mode" in error["innererror"]["errordetails"][0]["message"]
    assert "test_mode=[]" in run(tenant, http, "/ZTEST/NO_TEST_MODE", TestModeInd="false")
