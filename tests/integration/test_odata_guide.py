"""Every URL of the SAP guide, sent as the guide writes it, against a real ``appjobs serve``.

The placeholders (``<JOBNAME>`` …) are filled in; nothing else is changed:
quotes stay raw, blanks stay blanks (requests percent-encodes them as a
browser would), and JobListGet sends its unused filters as ``' '``.
"""

from __future__ import annotations

import datetime as dt

import pytest
from defusedxml import ElementTree
from tenant import Tenant

pytestmark = pytest.mark.backends("sqlite", "postgresql")

ATOM = "{http://www.w3.org/2005/Atom}"
M = "{http://schemas.microsoft.com/ado/2007/08/dataservices/metadata}"
D = "{http://schemas.microsoft.com/ado/2007/08/dataservices}"


def properties(xml: bytes) -> dict[str, str | None]:
    """``d:`` properties of an Atom entry."""
    entry = ElementTree.fromstring(xml)
    props = entry.find(f"{ATOM}content/{M}properties")
    assert props is not None
    return {child.tag.removeprefix(D): child.text for child in props}


def entries(xml: bytes) -> list[dict[str, str | None]]:
    feed = ElementTree.fromstring(xml)
    return [
        {child.tag.removeprefix(D): child.text for child in entry.find(f"{ATOM}content/{M}properties")}  # type: ignore[union-attr]
        for entry in feed.findall(f"{ATOM}entry")
    ]


def test_the_guides_flow_verbatim(tenant: Tenant) -> None:
    """Find a template by its text, schedule it, poll it, read its steps, list it (guide, 'Using the API')."""
    http = tenant.session()
    url = tenant.root  # <SERVICE_URL>
    found = entries(http.get(f"{url}/JobTemplateSet?$filter=JobTemplateText eq 'Three-step chain'").content)
    assert [t["JobTemplateName"] for t in found] == ["/APPJOBS/DEMO_CHAIN"]
    template = found[0]["JobTemplateName"]

    scheduled = http.post(f"{url}/JobSchedule?JobTemplateName='{template}'&JobText='Scheduled via the guide'")
    assert scheduled.status_code == 200, scheduled.text
    assert scheduled.headers["content-type"] == "application/atom+xml;type=entry; charset=utf-8"
    job = properties(scheduled.content)
    assert job["JobStatus"] is None
    assert job["ReturnCode"] == "0"
    name, run_count = job["JobName"], job["JobRunCount"]
    assert name is not None
    assert len(name) == 32
    assert run_count is not None
    assert len(run_count) == 8

    assert tenant.wait_status(http, {"JobName": name, "JobRunCount": run_count}) == "F"
    status = properties(http.get(f"{url}/JobStatusGet?JobName='{name}'&JobRunCount='{run_count}'").content)
    assert status["JobStatus"] == "F"

    steps = entries(http.get(f"{url}/JobinfoGet?JobName='{name}'&JobRunCount='{run_count}'").content)
    assert [(s["StepCount"], s["StepStatus"], s["JobStatus"]) for s in steps] == [
        ("1", "F", "F"),
        ("2", "F", "F"),
        ("3", "F", "F"),
    ]

    today = dt.datetime.now(dt.UTC)
    since, until = (
        (today - dt.timedelta(days=1)).strftime("%Y-%m-%d"),
        (today + dt.timedelta(days=1)).strftime("%Y-%m-%d"),
    )
    listed = http.get(
        f"{url}/JobListGet?JobName=' '&CreationTimeFrom=datetime'{since}T00:00:00'"
        f"&CreationTimeTo=datetime'{until}T00:00:00'&JobCreator=' '&JobText=' '&Report=' '&TemplateName=' '&Variant=' '"
    )
    assert listed.status_code == 200, listed.text
    rows = {row["JobName"]: row for row in entries(listed.content)}
    assert rows[name]["JobText"] == "Scheduled via the guide"
    assert rows[name]["TemplateName"] == "/APPJOBS/DEMO_CHAIN"
    assert rows[name]["NrSteps"] == "3"


def test_job_schedule_with_job_user_as_the_abap_sample_sends_it(tenant: Tenant) -> None:
    http = tenant.session()
    url = (
        f"{tenant.root}/JobSchedule?JobTemplateName='/APPJOBS/DEMO_ECHO'"
        "&JobText='Scheduled%20via%20Sample%20Code%20in%20ABAP'&JobUser='CB8980000030'"
    )
    job = properties(http.post(url).content)
    rows = http.get(f"{tenant.root}/JobListGet?JobName='{job['JobName']}'&$format=json").json()["d"]["results"]
    assert rows[0]["JobText"] == "Scheduled via Sample Code in ABAP"


def test_job_list_window_excludes_other_days(tenant: Tenant) -> None:
    http = tenant.session()
    tenant.schedule(http)
    url = (
        f"{tenant.root}/JobListGet?JobName=' '&CreationTimeFrom=datetime'2018-11-20T00:00:00'"
        "&CreationTimeTo=datetime'2018-11-22T00:00:00'"
        "&JobCreator=' '&JobText=' '&Report=' '&TemplateName=' '&Variant=' '"
    )
    response = http.get(url)
    assert response.status_code == 200
    assert entries(response.content) == []


def test_job_list_filters_narrow(tenant: Tenant) -> None:
    http = tenant.session()
    tenant.schedule(http, JobText="'unique text 7f3a'")
    tenant.schedule(http, JobText="'another text'")
    rows = http.get(f"{tenant.root}/JobListGet?JobText='unique text 7f3a'&$format=json").json()["d"]["results"]
    assert [r["JobText"] for r in rows] == ["unique text 7f3a"]


def test_template_by_key_and_select(tenant: Tenant) -> None:
    http = tenant.session()
    url = f"{tenant.root}/JobTemplateSet(JobTemplateName='%2FAPPJOBS%2FDEMO_SLEEP',JobTemplateVersion='0')"
    template = properties(http.get(url).content)
    assert template["JobTemplateText"] == "Sleep"
    assert template["JobTemplateStepCount"] == "1"
    only = http.get(f"{tenant.root}/JobTemplateSet?$select=JobTemplateName&$format=json").json()["d"]["results"]
    assert all(set(t) == {"__metadata", "JobTemplateName"} for t in only)
    missing = http.get(f"{tenant.root}/JobTemplateSet(JobTemplateName='NOPE',JobTemplateVersion='0')")
    assert missing.status_code == 404


def test_cancel_a_running_job_aborts_it(tenant: Tenant) -> None:
    http = tenant.session()
    job = tenant.schedule(http, "/APPJOBS/DEMO_SLEEP")
    tenant.wait_status(http, job, "R")
    name, run_count = job["JobName"], job["JobRunCount"]
    response = http.post(f"{tenant.root}/JobCancel?JobName='{name}'&JobRunCount='{run_count}'")
    assert response.status_code == 200
    assert properties(response.content) == {"ReturnCode": "0"}
    assert tenant.wait_status(http, job, "A", timeout=15) == "A"


def test_failed_job_shows_a_in_status_and_steps(tenant: Tenant) -> None:
    http = tenant.session()
    job = tenant.schedule(http, "/APPJOBS/DEMO_FAIL")
    assert tenant.wait_status(http, job) == "A"
    steps = http.get(
        f"{tenant.root}/JobinfoGet?JobName='{job['JobName']}'&JobRunCount='{job['JobRunCount']}'&$format=json"
    ).json()["d"]["results"]
    assert steps[0]["StepStatus"] == "A"
    assert steps[0]["StepAppRC"] != 0


# --- scope: SAP_COM_0064 ----------------------------------------------------------------


@pytest.fixture
def someone_elses_job(tenant: Tenant) -> dict:
    other = tenant.session("OTHERUSER")
    return tenant.schedule(other, "/APPJOBS/DEMO_SLEEP", JobText="'not yours'")


@pytest.mark.parametrize(
    ("method", "function"),
    [("GET", "JobStatusGet"), ("GET", "JobinfoGet"), ("POST", "JobCancel"), ("POST", "JobAbort")],
)
def test_another_users_job_does_not_exist_for_me(
    tenant: Tenant, someone_elses_job: dict, method: str, function: str
) -> None:
    http = tenant.session()
    params = {
        "JobName": f"'{someone_elses_job['JobName']}'",
        "JobRunCount": f"'{someone_elses_job['JobRunCount']}'",
        "$format": "json",
    }
    response = http.request(method, f"{tenant.root}/{function}", params=params)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "APJ_RT/003"
    owner = tenant.session("OTHERUSER")
    assert tenant.status(owner, someone_elses_job["JobName"], someone_elses_job["JobRunCount"]) in {"S", "Y", "R"}


def test_job_list_shows_only_my_jobs(tenant: Tenant, someone_elses_job: dict) -> None:
    http = tenant.session()
    rows = http.get(f"{tenant.root}/JobListGet?$format=json").json()["d"]["results"]
    assert someone_elses_job["JobName"] not in {r["JobName"] for r in rows}
    assert all(r["JobCreator"] == "JOBSCHEDULERUSER" for r in rows)
    # Naming the other user as JobCreator does not widen the scope.
    theirs = http.get(f"{tenant.root}/JobListGet?JobCreator='OTHERUSER'&$format=json")
    assert theirs.json()["d"]["results"] == []
