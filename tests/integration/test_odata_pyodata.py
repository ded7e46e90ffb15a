"""SAP's own Python OData client, pyodata, against a real ``appjobs serve``.

pyodata loads ``$metadata`` strictly (it refuses unknown types, bad facets
and function imports without an HTTP method), builds its URLs from the
model and parses the JSON answers by the declared types: if it works
unchanged, a program written with it against a real tenant works too.
"""

from __future__ import annotations

import datetime as dt

import pyodata
import pytest
from pyodata.exceptions import HttpError
from tenant import Tenant

pytestmark = pytest.mark.backends("sqlite", "postgresql")


@pytest.fixture
def client(tenant: Tenant) -> pyodata.Client:
    return pyodata.Client(tenant.root + "/", tenant.session())


def test_metadata_loads_with_every_type_and_function(client: pyodata.Client) -> None:
    names = {f.name for f in client.schema.function_imports}
    assert names >= {"JobSchedule", "JobStatusGet", "JobCancel", "JobinfoGet", "JobListGet", "JobAbort"}
    template = client.schema.entity_type("JobTemplate")
    assert "SupportsTestModeInd" in {p.name for p in template.proprties()}
    assert client.schema.function_import("JobSchedule").http_method == "POST"


def test_template_set_with_filter_and_select(client: pyodata.Client) -> None:
    everything = client.entity_sets.JobTemplateSet.get_entities().execute()
    assert "/APPJOBS/DEMO_ECHO" in {t.JobTemplateName for t in everything}
    found = (
        client.entity_sets.JobTemplateSet.get_entities()
        .filter("JobTemplateText eq 'Echo parameters'")
        .select("JobTemplateName,JobTemplateText")
        .execute()
    )
    assert [t.JobTemplateName for t in found] == ["/APPJOBS/DEMO_ECHO"]
    one = client.entity_sets.JobTemplateSet.get_entity(JobTemplateName="/APPJOBS/DEMO_CHAIN", JobTemplateVersion="0")
    entity = one.execute()
    assert entity.JobTemplateStepCount == 3
    assert isinstance(entity.CreationDateTime, dt.datetime)


def _wait_final(client: pyodata.Client, name: str, run_count: str, tenant: Tenant) -> str:
    http = tenant.session()
    return tenant.wait_status(http, {"JobName": name, "JobRunCount": run_count})


def test_schedule_status_info_and_list(client: pyodata.Client, tenant: Tenant) -> None:
    scheduled = (
        client.functions.JobSchedule.parameter("JobTemplateName", "/APPJOBS/DEMO_CHAIN")
        .parameter("JobText", "Scheduled by pyodata")
        .parameter("JobUser", "JOBSCHEDULERUSER")
        .parameter("TestModeInd", False)
        .execute()
    )
    name, run_count = scheduled.JobName, scheduled.JobRunCount
    assert scheduled.JobStatus == ""
    assert _wait_final(client, name, run_count, tenant) == "F"

    status = client.functions.JobStatusGet.parameter("JobName", name).parameter("JobRunCount", run_count).execute()
    assert status.JobStatus == "F"

    steps = client.functions.JobinfoGet.parameter("JobName", name).parameter("JobRunCount", run_count).execute()
    assert [s.StepCount for s in steps] == [1, 2, 3]
    assert all(s.StepStatus == "F" for s in steps)
    assert isinstance(steps[0].JobStartDateTime, dt.datetime)

    now = dt.datetime.now(dt.UTC)
    listed = (
        client.functions.JobListGet.parameter("CreationTimeFrom", now - dt.timedelta(hours=1))
        .parameter("CreationTimeTo", now + dt.timedelta(hours=1))
        .parameter("JobText", "Scheduled by pyodata")
        .execute()
    )
    assert [(row.JobName, row.NrSteps) for row in listed] == [(name, 3)]


def test_cancel_running_job(client: pyodata.Client, tenant: Tenant) -> None:
    scheduled = (
        client.functions.JobSchedule.parameter("JobTemplateName", "/APPJOBS/DEMO_SLEEP")
        .parameter("JobText", "pyodata cancel")
        .execute()
    )
    name, run_count = scheduled.JobName, scheduled.JobRunCount
    http = tenant.session()
    tenant.wait_status(http, {"JobName": name, "JobRunCount": run_count}, "R")
    result = client.functions.JobCancel.parameter("JobName", name).parameter("JobRunCount", run_count).execute()
    assert result.ReturnCode == 0
    assert tenant.wait_status(http, {"JobName": name, "JobRunCount": run_count}, "A", timeout=15) == "A"


def test_business_error_reaches_pyodata_as_http_400(client: pyodata.Client) -> None:
    request = client.functions.JobStatusGet.parameter("JobName", "NOPE").parameter("JobRunCount", "NOPE")
    with pytest.raises(HttpError) as raised:
        request.execute()
    assert raised.value.response.status_code == 400
    assert raised.value.response.json()["error"]["code"] == "APJ_RT/003"
