"""Parameters as SAP has them, over HTTP: typed declarations, STEP_NR, select-options, JobScheduleCheck and the reads.

Each value is checked where it lands: a step of the template below writes what
it got (its parameters as environment variables) to a file named after its step.
"""

from __future__ import annotations

import json
import pathlib

import pytest
import requests
from tenant import Tenant, admin

pytestmark = pytest.mark.backends("sqlite", "postgresql")

TEMPLATES = """
[[template]]
name = "/ZTEST/PARAMS"
text = "Two steps that write what they got"

[[template.step]]
text = "Write step 1's parameters"
command = 'printf "%s|%s|%s|%s" "$DAY" "$PLANTS" "$PLANTS_RANGES" "$MODE" > "$OUT_DIR/step1"'
[template.step.parameters]
OUT_DIR = "/nonexistent"
MODE = "delta"
[template.step.parameters.DAY]
type = "date"
mandatory = true
text = "Day to load"
[template.step.parameters.PLANTS]
select_option = true
allowed = ["1000", "2000", "3000"]
default = [{ option = "BT", low = "1000", high = "2000" }]

[[template.step]]
text = "Write step 2's parameters"
command = 'printf "%s|%s|%s" "$MODE" "$COUNT" "$FULL" > "$OUT_DIR/step2"'
[template.step.parameters]
OUT_DIR = "/nonexistent"
MODE = "delta"
[template.step.parameters.COUNT]
type = "integer"
default = 5
[template.step.parameters.FULL]
type = "boolean"
"""
TEMPLATE = "/ZTEST/PARAMS"


@pytest.fixture(scope="module")
def http(tenant: Tenant) -> requests.Session:
    toml = tenant.data_dir.parent / "params.toml"
    toml.write_text(TEMPLATES, encoding="utf-8")
    admin(tenant.data_dir, "templates", "import", str(toml))
    return tenant.session()


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def values(*entries: tuple) -> str:
    """JobParameterValues from (name, rows, step) triples; a row is a string (I EQ) or a 4-tuple."""
    result = []
    for name, given, *step in entries:
        rows = [given] if isinstance(given, str | tuple) else given
        t_value = [
            {"SIGN": "I", "OPTION": "EQ", "LOW": row, "HIGH": ""}
            if isinstance(row, str)
            else dict(zip(("SIGN", "OPTION", "LOW", "HIGH"), row, strict=True))
            for row in rows
        ]
        entry = {"NAME": name, "T_VALUE": t_value}
        if step:
            entry["STEP_NR"] = step[0]
        result.append(entry)
    return json.dumps({"VALUES": result}, ensure_ascii=False)


def out_dir(tenant: Tenant, name: str) -> pathlib.Path:
    path = tenant.data_dir.parent / name
    path.mkdir()
    return path


def call(tenant: Tenant, http: requests.Session, method: str, name: str, **params: str) -> requests.Response:
    return http.request(method, f"{tenant.root}/{name}", params={**params, "$format": "json"}, timeout=10)


def check(tenant: Tenant, http: requests.Session, parameters: str, **extra: str) -> dict:
    response = call(
        tenant, http, "POST", "JobScheduleCheck", JobTemplateName=literal(TEMPLATE),
        JobParameterValues=literal(parameters), **extra,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    return response.json()["d"]


def schedule(tenant: Tenant, http: requests.Session, parameters: str, field: str = "JobParameterValues") -> dict:
    return tenant.schedule(http, TEMPLATE, **{field: literal(parameters)})


def refused(tenant: Tenant, http: requests.Session, parameters: str) -> str:
    """The reason JobSchedule gives for refusing *parameters* (APJ_RT/032, reason in errordetails)."""
    params = {"JobTemplateName": literal(TEMPLATE), "JobText": "'x'", "JobParameterValues": literal(parameters)}
    response = call(tenant, http, "POST", "JobSchedule", **params)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "APJ_RT/032", error
    return " ".join(d["message"] for d in error["innererror"]["errordetails"])


def test_step_nr_and_ranges_reach_the_right_step(tenant: Tenant, http: requests.Session) -> None:
    out = out_dir(tenant, "ranges")
    sent = values(
        ("OUT_DIR", str(out)),
        ("DAY", "2026-12-06"),
        ("PLANTS", [("I", "EQ", "3000", ""), ("E", "BT", "1000", "2000")]),
        ("MODE", "full", 2),  # step 2 alone; step 1 keeps its default
        ("COUNT", "0042", "2"),  # STEP_NR as a text, as SAP's sample writes it
    )
    job = schedule(tenant, http, sent)
    assert tenant.wait_status(http, job) == "F"
    day, plants, ranges, mode = (out / "step1").read_text().split("|")
    assert (day, plants, mode) == ("20261206", "3000", "delta")
    assert json.loads(ranges) == [
        {"SIGN": "I", "OPTION": "EQ", "LOW": "3000", "HIGH": ""},
        {"SIGN": "E", "OPTION": "BT", "LOW": "1000", "HIGH": "2000"},
    ]
    assert (out / "step2").read_text() == "full|42|"


def test_job_parameters_round_trip_through_job_param_values_get(tenant: Tenant, http: requests.Session) -> None:
    out = out_dir(tenant, "round-trip")
    first = schedule(tenant, http, values(("OUT_DIR", str(out)), ("DAY", "20260101"), ("FULL", "X", 2)))
    key = {"JobName": literal(first["JobName"]), "JobCount": literal(first["JobRunCount"])}
    got = call(tenant, http, "GET", "JobParamValuesGet", **key)
    assert got.status_code == 200, got.text
    text = got.json()["d"]["ParameterValues"]
    read = {(e["STEP_NR"], e["NAME"]): e["T_VALUE"] for e in json.loads(text)["VALUES"]}
    assert read[1, "PLANTS"] == [{"SIGN": "I", "OPTION": "BT", "LOW": "1000", "HIGH": "2000"}]
    assert read[2, "FULL"] == [{"SIGN": "I", "OPTION": "EQ", "LOW": "X", "HIGH": ""}]
    assert read[2, "COUNT"][0]["LOW"] == "5"
    second = schedule(tenant, http, text, field="JobParameterValuesSimple")
    again = call(
        tenant, http, "GET", "JobParamValuesGet",
        JobName=literal(second["JobName"]), JobCount=literal(second["JobRunCount"]),
    )  # fmt: skip
    assert json.loads(again.json()["d"]["ParameterValues"]) == json.loads(text)
    struct = call(tenant, http, "GET", "JobParamValuesStructGet", **key).json()["d"]["results"]
    rows = {(r["StepNr"], r["JobParameterName"]): (r["Sign"], r["Option"], r["Low"], r["High"]) for r in struct}
    assert rows[1, "DAY"] == ("I", "EQ", "20260101", "")
    assert rows[1, "PLANTS"] == ("I", "BT", "1000", "2000")


def test_job_param_values_get_takes_a_real_job_name_either_way_round(tenant: Tenant, http: requests.Session) -> None:
    """The model declares JobName MaxLength 14 (SAP's swap); a 32-character JobName still works, and so does
    a client that sent the two swapped as the declaration suggests. Another user's job is APJ_RT/003."""
    job = schedule(tenant, http, values(("DAY", "20260101")))
    name, count = literal(job["JobName"]), literal(job["JobRunCount"])
    straight = call(tenant, http, "GET", "JobParamValuesGet", JobName=name, JobCount=count)
    swapped = call(tenant, http, "GET", "JobParamValuesGet", JobName=count, JobCount=name)
    assert straight.status_code == swapped.status_code == 200, (straight.text, swapped.text)
    assert straight.json()["d"] == swapped.json()["d"]
    other = tenant.session("OTHERUSER")
    hidden = call(tenant, other, "GET", "JobParamValuesGet", JobName=name, JobCount=count)
    assert hidden.status_code == 400, hidden.text
    assert hidden.json()["error"]["code"] == "APJ_RT/003", hidden.text
    too_long = call(tenant, http, "GET", "JobParamValuesGet", JobName=literal("A" * 33), JobCount=count)
    assert too_long.status_code == 400, too_long.text


@pytest.mark.parametrize(
    ("entries", "named"),
    [
        ((("NOPE", "1"),), "NOPE"),
        ((("COUNT", "many", 2),), "COUNT"),
        ((("DAY", "20261332"),), "DAY"),
        ((("PLANTS", [("I", "EQ", "9999", "")]),), "PLANTS"),
        ((("FULL", "yes", 2),), "FULL"),
        ((("MODE", ["a", "b"]),), "MODE"),
        ((("DAY", ""),), "DAY"),  # mandatory, and no default
        ((("MODE", "x", 3),), "MODE"),  # no step 3
    ],
)
def test_a_bad_parameter_is_032_naming_it_and_nothing_is_stored(
    tenant: Tenant, http: requests.Session, entries: tuple, named: str
) -> None:
    before = admin(tenant.data_dir, "jobs", "list", "--json").stdout
    reason = refused(tenant, http, values(*entries))
    assert f"Parameter {named}" in reason, reason
    assert admin(tenant.data_dir, "jobs", "list", "--json").stdout == before


def test_a_missing_mandatory_parameter_is_named(tenant: Tenant, http: requests.Session) -> None:
    reason = refused(tenant, http, values(("MODE", "x")))
    assert "Parameter DAY (step 1): is mandatory and has no value" in reason, reason


def test_schedule_check_accepts_good_parameters_and_fills_in_the_rest(tenant: Tenant, http: requests.Session) -> None:
    result = check(tenant, http, values(("DAY", "2026-02-03")))
    assert result["SuccessfulInd"] is True, result
    assert result["ChangedInd"] is True, result
    assert result["ErrMessages"] == ""
    assert result["DynamicProperties"] == ""
    adjusted = {(e["STEP_NR"], e["NAME"]): e["T_VALUE"] for e in json.loads(result["JobParameterValues"])["VALUES"]}
    assert adjusted[1, "DAY"][0]["LOW"] == "20260203"  # SAP's form
    assert adjusted[2, "COUNT"][0]["LOW"] == "5"  # the default, filled in
    again = check(tenant, http, result["JobParameterValues"])  # the adjusted string needs no more adjusting
    assert again["SuccessfulInd"] is True, again
    assert again["ChangedInd"] is False, again
    assert json.loads(again["JobParameterValues"]) == json.loads(result["JobParameterValues"])


def test_schedule_check_lists_every_problem_and_schedules_nothing(tenant: Tenant, http: requests.Session) -> None:
    before = admin(tenant.data_dir, "jobs", "list", "--json").stdout
    sent = values(("COUNT", "many", 2), ("NOPE", "1"))
    result = check(tenant, http, sent, JobUser="'NOBODY'")
    assert result["SuccessfulInd"] is False, result
    assert result["ChangedInd"] is False, result
    lines = result["ErrMessages"].splitlines()
    assert any(line.startswith("APJ_RT/032 Parameter COUNT (step 2): value 'many' is not an integer") for line in lines)
    assert any(line.startswith("APJ_RT/032 Parameter NOPE") for line in lines), lines
    assert any(line.startswith("APJ_RT/032 Parameter DAY (step 1): is mandatory") for line in lines), lines
    assert "APJ_RT/083 User NOBODY doesn't exist or is invalid." in lines
    assert result["JobParameterValues"] == sent
    malformed = check(tenant, http, '{"VALUES": 5}')
    assert malformed["SuccessfulInd"] is False
    assert "JobParameterValues is not valid" in malformed["ErrMessages"]
    assert admin(tenant.data_dir, "jobs", "list", "--json").stdout == before


def test_schedule_check_of_an_unknown_template_is_015(tenant: Tenant, http: requests.Session) -> None:
    response = call(tenant, http, "POST", "JobScheduleCheck", JobTemplateName="'/ZTEST/NONE'")
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "APJ_RT/015", response.text


def test_template_values_and_declarations(tenant: Tenant, http: requests.Session) -> None:
    got = call(tenant, http, "GET", "TemplateValuesGet", JobTemplateName=literal(TEMPLATE)).json()["d"]
    entries = {(e["STEP_NR"], e["NAME"]): e["T_VALUE"] for e in json.loads(got["ParameterValues"])["VALUES"]}
    assert entries[1, "DAY"] == [{"SIGN": "I", "OPTION": "EQ", "LOW": "", "HIGH": ""}]  # not pre-defined: delivered
    assert entries[1, "PLANTS"] == [{"SIGN": "I", "OPTION": "BT", "LOW": "1000", "HIGH": "2000"}]
    struct = call(tenant, http, "GET", "TemplateValuesStructGet", JobTemplateName=literal(TEMPLATE)).json()["d"]
    assert {(r["StepNr"], r["JobParameterName"]) for r in struct["results"]} == set(entries)
    template = http.get(
        f"{tenant.root}/JobTemplateSet(JobTemplateName='{TEMPLATE}',JobTemplateVersion='0')",
        params={"$format": "json"}, timeout=10,
    ).json()["d"]  # fmt: skip
    declared = {(e["STEP_NR"], e["NAME"]): e for e in json.loads(template["JobTemplateValues"])["VALUES"]}
    assert declared[1, "DAY"]["TYPE"] == "DATS"
    assert declared[1, "DAY"]["MANDATORY"] is True
    assert declared[1, "PLANTS"]["KIND"] == "S"
    assert declared[1, "PLANTS"]["ALLOWED"] == ["1000", "2000", "3000"]
    assert declared[2, "COUNT"]["TYPE"] == "INT4"
    assert declared[2, "FULL"]["TYPE"] == "BOOLE"
    sequence = json.loads(template["JobTemplateSequence"])
    assert [s["JobSequencePosition"] for s in sequence] == [1, 2]
    assert sequence[0]["JobSequenceText"] == "Write step 1's parameters"
    data = call(tenant, http, "GET", "JobTemplateRead", JobTemplateName=literal(TEMPLATE)).json()["d"]
    shape = json.loads(data["TemplateData"])["templates"][0]
    assert shape["text"] == "Two steps that write what they got"
    params = {p["name"]: p for p in shape["sequences"][0]["seq_param_val"]}
    assert params["DAY"]["label"] == "Day to load"
    assert params["DAY"]["hidden"] is False
    assert params["PLANTS"]["value"] == [{"sign": "I", "option": "BT", "low": "1000", "high": "2000"}]


def test_both_parameter_fields_at_once_are_refused(tenant: Tenant, http: requests.Session) -> None:
    text = literal(values(("DAY", "20260101")))
    params = {"JobTemplateName": literal(TEMPLATE), "JobText": "'x'"}
    response = call(
        tenant, http, "POST", "JobSchedule", **params, JobParameterValues=text, JobParameterValuesSimple=text
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "APJ_RT/032", response.text


def test_the_parameter_operations_answer_in_atom_too(tenant: Tenant, http: requests.Session) -> None:
    template = {"JobTemplateName": literal(TEMPLATE)}
    for method, name, params in (
        ("POST", "JobScheduleCheck", {**template, "JobParameterValues": literal(values(("DAY", "20260101")))}),
        ("GET", "TemplateValuesGet", template),
        ("GET", "TemplateValuesStructGet", template),
        ("GET", "JobTemplateRead", template),
    ):
        response = http.request(method, f"{tenant.root}/{name}", params=params, timeout=10)
        assert response.status_code == 200, (name, response.text)
        assert response.headers["content-type"].startswith("application/atom+xml"), name
    check = http.post(f"{tenant.root}/JobScheduleCheck", params=template, timeout=10)
    assert b"<d:SuccessfulInd>false</d:SuccessfulInd>" in check.content, check.text
    assert b"Parameter DAY (step 1): is mandatory" in check.content
