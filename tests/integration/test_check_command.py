"""``appjobs check``, ``appjobs run`` with steps and ranges, and the client's parameter calls, against a real server.

The "older tenant" is :class:`sap_peer.SapPeer`, a scripted SAP Gateway that
answers 404 for every function import it was not given, as a tenant from
before 2024 does for JobScheduleCheck.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest
from conftest import APPJOBS
from tenant import USERS, Tenant, admin

from appjobs.client import Client, JobKey, OperationNotOffered, ParameterRow, ParameterValue, parameter_values

sys.path.insert(0, str(pathlib.Path(__file__).parent.parent / "unit"))
from sap_peer import PASSWORD, USER, SapPeer

pytestmark = pytest.mark.backends("sqlite", "postgresql")

TEMPLATES = """
[[template]]
name = "/ZTEST/CHECKED"
text = "A template with typed parameters"

[[template.step]]
command = 'printf "%s|%s|%s" "$LIMIT" "$PLANTS" "$PLANTS_RANGES" > "$OUT_DIR/step1"'
[template.step.parameters]
OUT_DIR = "/nonexistent"
[template.step.parameters.LIMIT]
type = "integer"
mandatory = true
[template.step.parameters.PLANTS]
select_option = true

[[template.step]]
command = 'printf "%s" "$LIMIT" > "$OUT_DIR/step2"'
[template.step.parameters]
OUT_DIR = "/nonexistent"
LIMIT = "7"
"""
TEMPLATE = "/ZTEST/CHECKED"


@pytest.fixture(scope="module", autouse=True)
def templates(tenant: Tenant) -> None:
    toml = tenant.data_dir.parent / "checked.toml"
    toml.write_text(TEMPLATES, encoding="utf-8")
    admin(tenant.data_dir, "templates", "import", str(toml))


def appjobs(root: str, *args: str, user: str = "JOBSCHEDULERUSER", password: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "APPJOBS_URL": root, "APPJOBS_USER": user, "APPJOBS_PASSWORD": password or USERS[user]}
    return subprocess.run([*APPJOBS, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def client(tenant: Tenant) -> Client:
    return Client(tenant.root, auth=tenant.auth(), trust_env=False)


def test_check_says_the_job_would_be_scheduled_and_exits_0(tenant: Tenant) -> None:
    result = appjobs(tenant.root, "check", TEMPLATE, "-p", "LIMIT=010", "-r", "PLANTS", "I", "BT", "1", "5", "--json")
    assert result.returncode == 0, result.stderr
    said = json.loads(result.stdout)
    assert said["successful"] is True
    assert said["changed"] is True  # 010 became 10, and OUT_DIR's default was filled in
    assert said["messages"] == []
    values = {(e["STEP_NR"], e["NAME"]): e["T_VALUE"] for e in json.loads(said["parameter_values"])["VALUES"]}
    assert values[1, "LIMIT"][0]["LOW"] == "10"
    assert values[1, "PLANTS"] == [{"SIGN": "I", "OPTION": "BT", "LOW": "1", "HIGH": "5"}]
    plain = appjobs(tenant.root, "check", TEMPLATE, "-p", "LIMIT=3")
    assert plain.returncode == 0, plain.stderr
    assert "the job would be scheduled" in plain.stdout


def test_check_names_each_problem_and_exits_2(tenant: Tenant) -> None:
    result = appjobs(tenant.root, "check", TEMPLATE, "-p", "LIMIT@1=lots", "-p", "NOPE=1", "-p", "OUT_DIR@3=x")
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "the job would not be scheduled" in result.stdout
    assert "APJ_RT/032 Parameter LIMIT (step 1): value 'lots' is not an integer" in result.stdout
    assert "APJ_RT/032 Parameter OUT_DIR (step 3): STEP_NR 3: the template has no such step" in result.stdout
    assert "APJ_RT/032 Parameter NOPE: is not a parameter of this job template" in result.stdout
    bad_flag = appjobs(tenant.root, "check", TEMPLATE, "-p", "LIMIT@two=1")
    assert bad_flag.returncode == 2
    assert "the step after @ must be a step number" in bad_flag.stderr


def test_check_against_a_tenant_without_the_operation_names_it() -> None:
    with SapPeer() as older:
        result = appjobs(older.root, "check", "/IBP/ANY", "-p", "A=1", user=USER, password=PASSWORD)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "does not offer JobScheduleCheck (SAP added it in 2024)" in result.stderr, result.stderr
    with (
        SapPeer() as older,
        Client(older.root, auth=(USER, PASSWORD), trust_env=False) as old,
        pytest.raises(OperationNotOffered) as caught,
    ):
        old.job_parameters(JobKey("A" * 32, "abcdefgh"))
    assert caught.value.operation == "JobParamValuesGet"


def test_run_sends_step_numbers_and_ranges_to_their_step(tenant: Tenant) -> None:
    out = tenant.data_dir.parent / "run-ranges"
    out.mkdir()
    result = appjobs(
        tenant.root, "run", TEMPLATE, "--json", "--poll-interval", "1", "-p", f"OUT_DIR={out}",
        "-p", "LIMIT@1=4", "-p", "LIMIT@2=9", "-r", "PLANTS", "I", "EQ", "A", "", "-r", "PLANTS@1", "E", "CP", "B*", "",
        "-r", "PLANTS", "I", "EQ", "C", "",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    limit, plants, ranges = (out / "step1").read_text().split("|")
    assert (limit, plants) == ("4", "B*")  # PLANTS@1's rows win over PLANTS's (every step) for step 1
    assert json.loads(ranges) == [{"SIGN": "E", "OPTION": "CP", "LOW": "B*", "HIGH": ""}]
    assert (out / "step2").read_text() == "9"


def test_the_client_reads_parameters_back_and_schedules_them_again(tenant: Tenant) -> None:
    out = tenant.data_dir.parent / "client-round-trip"
    out.mkdir()
    sent = [
        ParameterValue.single("OUT_DIR", str(out)),
        ParameterValue.single("LIMIT", "12", step=1),
        ParameterValue("PLANTS", (ParameterRow("I", "BT", "100", "200"), ParameterRow("E", "EQ", "150", "")), 1),
    ]
    with client(tenant) as api:
        checked = api.check(TEMPLATE, sent)
        assert checked.successful, checked.messages
        first = api.schedule(TEMPLATE, "round trip 1", parameters=sent)
        read = api.job_parameters(first.key)
        assert {(v.step, v.name): v.rows for v in read}[1, "PLANTS"] == sent[2].rows
        second = api.schedule(TEMPLATE, "round trip 2", parameters=read)
        assert api.job_parameters(second.key) == read
        assert parameter_values(read) == parameter_values(api.job_parameters(second.key))
        defaults = {(v.step, v.name): v for v in api.template_parameters(TEMPLATE)}
        assert defaults[2, "LIMIT"].value == "7"
        assert defaults[1, "LIMIT"].rows == (ParameterRow("I", "EQ", "", ""),)  # not pre-defined: delivered
        assert defaults[1, "PLANTS"].rows == ()
        failed = api.check(TEMPLATE, {"LIMIT": "x"})
        assert not failed.successful
        assert any("Parameter LIMIT (step 1): value 'x' is not an integer" in m for m in failed.messages)
