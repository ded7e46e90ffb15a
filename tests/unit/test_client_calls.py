"""Each client call against a scripted peer: the URL it sends, the record it returns, the error it raises.

The peer's answers are written by :mod:`appjobs.odata`, so these tests also
prove that the client reads what ``appjobs serve`` writes, in JSON and Atom.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from urllib.parse import unquote

import pyodata
import pytest
from sap_peer import BASE, JOB, KEY, PASSWORD, STEP, TEMPLATE, USER, SapPeer, reply

from appjobs import models
from appjobs.client import (
    AmbiguousTemplate,
    AuthorizationError,
    Client,
    JobKey,
    JobNotFound,
    JobStateError,
    JobStatus,
    NotFound,
    ProtocolError,
    Retry,
    ScheduleError,
    ServiceUnavailable,
    TemplateNotFound,
)
from appjobs.odata import entities, errordocs, literals, model, payloads

UTC = dt.UTC


@pytest.fixture
def peer() -> Iterator[SapPeer]:
    with SapPeer() as running:
        yield running


@pytest.fixture
def client(peer: SapPeer) -> Client:
    return Client(peer.root, auth=(USER, PASSWORD), retry=Retry(attempts=2, backoff=0.01), trust_env=False)


def last(peer: SapPeer, resource: str) -> dict[str, str]:
    """The decoded parameters of the last request for *resource*."""
    return peer.requests_for(resource)[-1].params


def templates_feed(*texts: str) -> bytes:
    made = [models.Template(models.user_template_name(text), text, TEMPLATE.steps) for text in texts]
    return payloads.feed_json(model.JOB_TEMPLATE_SET, [entities.template_entity(t) for t in made], BASE)


# --- what goes over the wire ---------------------------------------------------------------


def test_schedule_sends_the_guides_parameters_as_odata_literals(client: Client, peer: SapPeer) -> None:
    """JobSchedule?JobTemplateName='…'&JobText='…'&JobUser='…'&TestModeInd=false, asking for JSON."""
    state = client.schedule(TEMPLATE.name, "Nightly load", job_user="CB9980000001")
    assert state.key == JobKey(KEY.name, KEY.run_count)
    assert state.status is None  # JobSchedule answers with an empty JobStatus
    post = peer.requests_for("JobSchedule", "POST")[0]
    assert post.query == (
        f"JobTemplateName='{TEMPLATE.name}'&JobText='Nightly%20load'&JobUser='CB9980000001'&TestModeInd=false&$format=json"
    )
    assert post.headers["accept"] == "application/json"


@pytest.mark.parametrize(
    "text", ["O'Brien's load", "50% + 50% = 100%", "Müller & Söhne #1", "a=b&c=d", "两个作业", "tab\there", "  ", "''"]
)
def test_job_texts_arrive_as_sent(client: Client, peer: SapPeer, text: str) -> None:
    """Quotes are doubled, and the value is percent-encoded UTF-8 (a space is %20, a plus %2B), so the
    server's own literal parser gets back exactly the text."""
    client.schedule(TEMPLATE.name, text)
    raw = peer.requests_for("JobSchedule")[0].query
    assert "+" not in raw
    sent = dict(pair.split("=", 1) for pair in raw.split("&"))["JobText"]
    assert literals.parse_literal(unquote(sent), "Edm.String") == text


def test_schedule_in_test_mode_with_parameters(client: Client, peer: SapPeer) -> None:
    """TestModeInd=true and JobParameterValues in SAP's {"VALUES": [...]} format."""
    client.schedule(TEMPLATE.name, "run", test_mode=True, parameters={"P_AREA": "Z1DUNIFPA"})
    params = last(peer, "JobSchedule")
    assert params["TestModeInd"] == "true"
    assert "JobUser" not in params
    values = json.loads(literals.parse_literal(params["JobParameterValues"], "Edm.String"))
    assert values == {
        "VALUES": [{"NAME": "P_AREA", "T_VALUE": [{"SIGN": "I", "OPTION": "EQ", "LOW": "Z1DUNIFPA", "HIGH": ""}]}]
    }


@pytest.mark.parametrize(
    ("call", "resource"),
    [
        (Client.status, "JobStatusGet"),
        (Client.info, "JobinfoGet"),
        (Client.cancel, "JobCancel"),
        (Client.abort, "JobAbort"),
    ],
)
def test_job_calls_name_the_job_by_name_and_run_count(
    client: Client, peer: SapPeer, call: object, resource: str
) -> None:
    """JobStatusGet, JobinfoGet, JobCancel and JobAbort carry JobName='…'&JobRunCount='…'."""
    call(client, KEY)  # type: ignore[operator]
    assert last(peer, resource) == {
        "JobName": f"'{KEY.name}'",
        "JobRunCount": f"'{KEY.run_count}'",
        "$format": "json",
    }
    assert peer.requests_for(resource)[-1].method == ("POST" if resource in ("JobCancel", "JobAbort") else "GET")


def test_jobs_sends_every_filter_with_blank_for_any(client: Client, peer: SapPeer) -> None:
    """JobListGet gets all eight parameters as in the guide's example; ' ' means any, times are UTC literals."""
    since = dt.datetime(2024, 1, 1, 2, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    client.jobs(since, dt.datetime(2024, 1, 2), text="Nightly load")
    assert last(peer, "JobListGet") == {
        "JobName": "' '",
        "CreationTimeFrom": "datetime'2024-01-01T00:00:00'",
        "CreationTimeTo": "datetime'2024-01-02T00:00:00'",
        "JobCreator": "' '",
        "JobText": "'Nightly load'",
        "Report": "' '",
        "TemplateName": "' '",
        "Variant": "' '",
        "$format": "json",
    }


def test_templates_are_asked_for_with_a_filter(client: Client, peer: SapPeer) -> None:
    """The guide's lookup: JobTemplateSet?$filter=JobTemplateText eq '<text>'."""
    client.find_template("Nightly load")
    assert last(peer, "JobTemplateSet")["$filter"] == "JobTemplateText eq 'Nightly load'"


# --- what comes back -----------------------------------------------------------------------


def test_status_info_and_jobs_read_what_the_service_side_writes(client: Client) -> None:
    """Records built from appjobs' own payloads: keys, letters, times and steps survive the trip."""
    assert client.status(KEY).status is JobStatus.RUNNING
    info = client.info(KEY)
    assert (info.status, info.started_at, info.ended_at) == (JobStatus.RUNNING, JOB.started_at, None)
    assert [(s.number, s.status, s.started_at) for s in info.steps] == [(1, JobStatus.RUNNING, STEP.started_at)]
    (summary,) = client.jobs(dt.datetime(2024, 1, 1, tzinfo=UTC))
    assert summary.key == JobKey(KEY.name, KEY.run_count)
    assert (summary.text, summary.creator, summary.created_at) == (JOB.text, USER, JOB.created_at)
    assert (summary.template_name, summary.step_count, summary.step_status) == (TEMPLATE.name, 1, JobStatus.RUNNING)


def test_atom_answers_are_read_although_json_was_asked_for(client: Client, peer: SapPeer) -> None:
    """A tenant (or a proxy) that ignores $format and Accept still gets understood."""
    finished = entities.schedule_status_entity(JOB, include_status=True) | {"JobStatus": "F"}
    peer.answer(
        "JobStatusGet",
        payloads.entry_atom(model.JOB_SCHEDULE_STATUS_COLLECTION, finished, BASE),
        200,
        "application/atom+xml",
    )
    rows = entities.jobinfo_entities(JOB, [STEP])
    peer.answer(
        "JobinfoGet", payloads.feed_atom(model.JOBINFO_SET, rows, BASE, path="JobinfoGet"), 200, "application/atom+xml"
    )
    assert client.status(KEY).status is JobStatus.FINISHED
    assert client.info(KEY).steps[0].started_at == STEP.started_at


def test_find_template_returns_the_one_with_exactly_that_text(client: Client, peer: SapPeer) -> None:
    """Only an exact match counts, even when the service ignores the filter and sends everything."""
    peer.answer("JobTemplateSet", templates_feed("Nightly load (old)", "Nightly load", "nightly load"))
    assert client.find_template("Nightly load").name == models.user_template_name("Nightly load")


def test_find_template_is_ambiguous_when_several_templates_have_the_text(client: Client, peer: SapPeer) -> None:
    """Two templates with one text: the error names both, so the caller can pick one by name."""
    peer.answer("JobTemplateSet", templates_feed("Nightly load", "Nightly load", "Other"))
    with pytest.raises(AmbiguousTemplate) as caught:
        client.find_template("Nightly load")
    assert caught.value.names == (models.user_template_name("Nightly load"),) * 2


def test_find_template_not_found_says_templates_must_be_shared(client: Client, peer: SapPeer) -> None:
    """No template with the text: TemplateNotFound, with the usual cause."""
    peer.answer("JobTemplateSet", templates_feed("Other"))
    with pytest.raises(TemplateNotFound, match="shared"):
        client.find_template("Nightly load")


def test_template_pages_are_followed(client: Client, peer: SapPeer) -> None:
    """A server-driven next link (JSON ``__next``) is followed for the rest of the templates."""
    first = json.loads(templates_feed("First"))
    first["d"]["__next"] = peer.root + "/JobTemplateSet?$skiptoken=1"
    peer.script("GET", "JobTemplateSet", reply(200, json.dumps(first).encode()))
    assert [t.text for t in client.templates()] == ["First", "Nightly load"]
    assert peer.requests_for("JobTemplateSet")[1].params["$skiptoken"] == "1"


def test_a_next_link_to_another_host_is_refused(client: Client, peer: SapPeer) -> None:
    """The credentials go only to the service root they were given for."""
    first = json.loads(templates_feed("First"))
    first["d"]["__next"] = "https://elsewhere.example/JobTemplateSet?$skiptoken=1"
    peer.answer("JobTemplateSet", json.dumps(first).encode())
    with pytest.raises(ProtocolError, match="outside"):
        client.templates()


# --- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_an_sap_error_document_becomes_a_typed_error(client: Client, peer: SapPeer, fmt: str) -> None:
    """APJ_RT/003 in JSON or XML: JobNotFound with code, message, status and transaction id."""
    document = errordocs.error_document("APJ_RT/003", "Job doesn't exist.", fmt=fmt, transaction="A" * 32)
    peer.answer("JobStatusGet", document, status=400, content_type=f"application/{fmt}")
    with pytest.raises(JobNotFound) as caught:
        client.status(KEY)
    error = caught.value
    assert (error.code, error.status, error.transaction_id) == ("APJ_RT/003", 400, "A" * 32)
    assert str(error) == "Job doesn't exist. (APJ_RT/003)"


def test_a_failed_schedule_carries_the_reason_from_the_error_details(client: Client, peer: SapPeer) -> None:
    """APJ_RT/032 says little; the errordetails (here the guide's planning-area message) say why."""
    detail = errordocs.ErrorDetail("/IBP/CM_PL_OP/201", "Planning area DS6A isn't valid for you.")
    document = errordocs.error_document("APJ_RT/032", "Job couldn't be scheduled.", fmt="xml", details=[detail])
    peer.answer("JobSchedule", document, status=400, content_type="application/xml")
    with pytest.raises(ScheduleError, match="DS6A") as caught:
        client.schedule(TEMPLATE.name, "run")
    assert caught.value.details[0].code == "/IBP/CM_PL_OP/201"


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (404, "005056A509B11EE1B9A8FEC11C21D78E", NotFound),
        (403, "", AuthorizationError),
        (400, "APJ_RT/077", AuthorizationError),
        (400, "APJ_RT/015", TemplateNotFound),
    ],
)
def test_errors_are_classified_by_code_then_status(
    client: Client, peer: SapPeer, status: int, code: str, expected: type
) -> None:
    """The SAP code decides when it is known, else the HTTP status."""
    body = errordocs.error_document(code, "refused", fmt="json") if code else b"Forbidden"
    peer.answer("JobTemplateSet", body, status=status)
    with pytest.raises(expected):
        client.templates()


def test_a_proxy_error_page_is_described_by_its_title(client: Client, peer: SapPeer) -> None:
    """A 502 page from a proxy is no SAP document; its title says what happened."""
    page = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    peer.answer("JobStatusGet", page, status=502, content_type="text/html")
    with pytest.raises(ServiceUnavailable, match="502 Bad Gateway"):
        client.status(KEY)


def test_a_non_zero_return_code_of_a_cancel_is_an_error(client: Client, peer: SapPeer) -> None:
    """A 200 with ReturnCode 40 is not success: it reads as APJ_RT/040 (job not running)."""
    peer.answer("JobCancel", payloads.entry_json(model.FUNC_IMP_RETURN_COLLECTION, entities.func_imp_return(40), BASE))
    with pytest.raises(JobStateError) as caught:
        client.cancel(KEY)
    assert caught.value.code == "APJ_RT/040"


# --- other OData clients on the same session -----------------------------------------------


def test_pyodata_reuses_the_clients_session(client: Client, peer: SapPeer) -> None:
    """pyodata.Client(url, client.session) reads $metadata, calls a GET and a POST function import,
    with the client's logon, token and cookies; no second token fetch."""
    service = pyodata.Client(client.service_url, client.session)
    state = service.functions.JobStatusGet.parameter("JobName", KEY.name).parameter("JobRunCount", KEY.run_count)
    assert state.execute().JobStatus == "R"
    cancel = service.functions.JobCancel.parameter("JobName", KEY.name).parameter("JobRunCount", KEY.run_count)
    assert cancel.execute().ReturnCode == 0
    assert [s.method for s in peer.seen] == ["HEAD", "GET", "GET", "POST"]
    assert peer.seen[-1].headers["x-csrf-token"] == next(iter(peer.sessions.values()))
