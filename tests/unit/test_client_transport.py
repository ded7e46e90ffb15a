"""Tests of the client's transport against a scripted peer: CSRF, logon, retries, lost answers, redirects.

The peer (:mod:`sap_peer`) is a real HTTP server on loopback that plays an
SAP tenant and fails on cue, so these tests see what goes over the wire:
how many requests, in which order, on which connection.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import requests
from sap_peer import JOB, KEY, PASSWORD, TEMPLATE, USER, SapPeer, cut_off, garbled, login_page, redirect, reply, reset

from appjobs.client import (
    AuthenticationError,
    Client,
    CsrfError,
    JobNotFound,
    JobStatus,
    OutcomeUnknown,
    ProtocolError,
    Retry,
    ScheduleOutcomeUnknown,
    ServiceUnavailable,
    TransportError,
    WrongHostError,
)
from appjobs.odata import errordocs

FAST = Retry(attempts=4, backoff=0.01, max_backoff=0.02)


@pytest.fixture
def peer() -> Iterator[SapPeer]:
    with SapPeer() as running:
        yield running


def connect(peer: SapPeer, *, password: str = PASSWORD, retry: Retry = FAST, **options: object) -> Client:
    # trust_env=False: a proxy in the test environment must not stand between client and peer.
    return Client(peer.root, auth=(USER, password), retry=retry, trust_env=False, **options)  # type: ignore[arg-type]


def trail(peer: SapPeer) -> list[str]:
    """The requests the peer saw, as ``METHOD resource`` (``/`` for the service root)."""
    return [f"{s.method} {s.resource or '/'}" for s in peer.seen]


# --- CSRF ----------------------------------------------------------------------------------


def test_the_token_is_fetched_with_head_on_the_service_root_before_the_first_post(peer: SapPeer) -> None:
    """The first POST is preceded by ``HEAD <root>/`` with ``X-CSRF-Token: Fetch``; the POST brings token and cookie."""
    connect(peer).schedule(TEMPLATE.name, "run 1")
    assert trail(peer) == ["HEAD /", "POST JobSchedule"]
    head, post = peer.seen
    assert head.path.endswith(";v=0002/")
    assert head.headers["x-csrf-token"] == "Fetch"
    assert post.headers["x-csrf-token"] == next(iter(peer.sessions.values()))
    assert "SAP_SESSIONID_APJ_100=" in post.headers["cookie"]


def test_the_token_is_fetched_once_and_reused(peer: SapPeer) -> None:
    """Two POSTs share one token fetch."""
    client = connect(peer)
    client.schedule(TEMPLATE.name, "run 1")
    client.cancel(KEY)
    assert trail(peer) == ["HEAD /", "POST JobSchedule", "POST JobCancel"]


@pytest.mark.parametrize(
    "head_answer",
    [reply(403, b"Forbidden", "text/plain"), reply(405, b""), reply(200, b"")],
    ids=["403", "405", "200-without-token"],
)
def test_the_token_fetch_falls_back_to_get_when_head_brings_none(peer: SapPeer, head_answer: object) -> None:
    """A HEAD that is refused, or answered without a token, is followed by a GET on the service root."""
    peer.script("HEAD", "", head_answer)  # type: ignore[arg-type]
    state = connect(peer).schedule(TEMPLATE.name, "run 1")
    assert state.key.run_count == KEY.run_count
    assert trail(peer) == ["HEAD /", "GET /", "POST JobSchedule"]
    assert peer.seen[1].headers["x-csrf-token"] == "Fetch"


def test_no_token_from_head_or_get_is_a_csrf_error_and_nothing_is_posted(peer: SapPeer) -> None:
    """When neither HEAD nor GET brings a token, JobSchedule is not sent at all."""
    peer.script("HEAD", "", reply(200, b""))
    peer.script("GET", "", reply(200, b'{"d":{"EntitySets":[]}}'))
    with pytest.raises(CsrfError):
        connect(peer).schedule(TEMPLATE.name, "run 1")
    assert trail(peer) == ["HEAD /", "GET /"]


def test_an_expired_token_is_fetched_again_and_the_post_sent_once_more(peer: SapPeer) -> None:
    """403 with ``x-csrf-token: Required`` (the session timed out) means: fetch a new token, send the POST again."""
    client = connect(peer)
    client.schedule(TEMPLATE.name, "run 1")
    peer.expire_sessions()
    client.schedule(TEMPLATE.name, "run 2")
    assert trail(peer) == ["HEAD /", "POST JobSchedule", "POST JobSchedule", "HEAD /", "POST JobSchedule"]
    assert peer.seen[3].headers.get("x-csrf-token") == "Fetch"


def test_a_token_refused_twice_is_a_csrf_error_after_exactly_two_posts(peer: SapPeer) -> None:
    """The re-fetch and retry happen once; a second 403 Required ends the call."""
    refused = reply(403, b"CSRF token validation failed", "text/plain", x_csrf_token="Required")
    peer.script("POST", "JobSchedule", refused, refused)
    with pytest.raises(CsrfError) as caught:
        connect(peer).schedule(TEMPLATE.name, "run 1")
    assert caught.value.status == 403
    assert trail(peer) == ["HEAD /", "POST JobSchedule", "HEAD /", "POST JobSchedule"]


def test_the_session_exposes_token_and_cookies_for_other_clients(peer: SapPeer) -> None:
    """``client.session`` carries the fetched token, so a POST sent through it by someone else passes."""
    session = connect(peer).session
    response = session.post(peer.root + "/JobCancel", params={"JobName": f"'{KEY.name}'"})
    assert response.status_code == 200
    assert trail(peer) == ["HEAD /", "POST JobCancel"]


# --- logon ---------------------------------------------------------------------------------


def test_401_is_never_retried_exactly_one_request_is_sent(peer: SapPeer) -> None:
    """A refused logon is reported at once, with a hint at locked users, after one request."""
    with pytest.raises(AuthenticationError) as caught:
        connect(peer, password="wrong").status(KEY)
    assert trail(peer) == ["GET JobStatusGet"]
    assert caught.value.status == 401
    assert "lock" in str(caught.value)
    assert "SAP NetWeaver Application Server" in str(caught.value)


def test_after_a_401_the_client_sends_nothing_more(peer: SapPeer) -> None:
    """Every further call fails without a request: three failed logons would lock the communication user."""
    client = connect(peer, password="wrong")
    with pytest.raises(AuthenticationError):
        client.status(KEY)
    with pytest.raises(AuthenticationError, match="not sent"):
        client.info(KEY)
    with pytest.raises(AuthenticationError, match="not sent"):
        client.schedule(TEMPLATE.name, "run 1")
    assert len(peer.seen) == 1


def test_a_401_on_the_token_fetch_does_not_fall_back_to_get(peer: SapPeer) -> None:
    """The HEAD that fails the logon is the only request: a GET would be a second failed logon."""
    with pytest.raises(AuthenticationError):
        connect(peer, password="wrong").schedule(TEMPLATE.name, "run 1")
    assert trail(peer) == ["HEAD /"]


# --- retries of idempotent requests --------------------------------------------------------


def test_gets_are_retried_after_reset_503_429_and_a_truncated_body(peer: SapPeer) -> None:
    """Each transient failure costs one try; the fifth try gets the answer."""
    peer.script("GET", "JobStatusGet", reset(), reply(503), reply(429, retry_after="0"), cut_off())
    state = connect(peer, retry=Retry(attempts=5, backoff=0.01)).status(KEY)
    assert state.status is JobStatus.RUNNING
    assert trail(peer) == ["GET JobStatusGet"] * 5


def test_a_body_that_cannot_be_read_is_fetched_again(peer: SapPeer) -> None:
    """A JSON body cut in half (with a Content-Length that agrees) looks unreadable, and a GET is safe to repeat."""
    peer.script("GET", "JobinfoGet", garbled())
    info = connect(peer).info(KEY)
    assert [step.number for step in info.steps] == [1]
    assert trail(peer) == ["GET JobinfoGet"] * 2


def test_retries_stop_after_the_last_attempt_with_the_last_error(peer: SapPeer) -> None:
    """Four 503s with four attempts: ServiceUnavailable, after exactly four requests."""
    peer.script("GET", "JobStatusGet", *[reply(503, b"<html><title>Service Unavailable</title></html>")] * 4)
    with pytest.raises(ServiceUnavailable) as caught:
        connect(peer).status(KEY)
    assert caught.value.status == 503
    assert "Service Unavailable" in str(caught.value)
    assert len(peer.seen) == 4


def test_connection_failures_past_the_retries_are_a_transport_error(peer: SapPeer) -> None:
    """Four resets with four attempts: TransportError, not retried further."""
    peer.script("GET", "JobListGet", *[reset()] * 4)
    with pytest.raises(TransportError):
        connect(peer).jobs(dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    assert len(peer.seen) == 4


def test_unreadable_bodies_past_the_retries_are_a_protocol_error(peer: SapPeer) -> None:
    """A body that stays unreadable is a ProtocolError once the tries are used up."""
    peer.answer("JobStatusGet", b'{"d": {"JobName": "38EA')
    with pytest.raises(ProtocolError):
        connect(peer, retry=Retry(attempts=2, backoff=0.01)).status(KEY)
    assert len(peer.seen) == 2


def test_a_business_error_is_not_retried(peer: SapPeer) -> None:
    """An SAP error document with HTTP 400 is an answer: one request, a typed error."""
    peer.answer("JobStatusGet", errordocs.error_document("APJ_RT/003", "Job doesn't exist.", fmt="json"), status=400)
    with pytest.raises(JobNotFound):
        connect(peer).status(KEY)
    assert len(peer.seen) == 1


# --- POSTs are never re-sent blindly -------------------------------------------------------


@pytest.mark.parametrize(
    "failure", [reset(), reply(503), reply(502, b"<html>Bad Gateway</html>", "text/html"), cut_off(), garbled()]
)
def test_job_schedule_is_sent_once_when_its_answer_is_lost(peer: SapPeer, failure: object) -> None:
    """A broken connection, a 5xx or an unreadable answer after JobSchedule: the outcome is unknown, not retried."""
    peer.script("POST", "JobSchedule", failure)  # type: ignore[arg-type]
    with pytest.raises(ScheduleOutcomeUnknown) as caught:
        connect(peer).schedule(TEMPLATE.name, "run 7")
    assert len(peer.requests_for("JobSchedule")) == 1
    lost = caught.value
    assert (lost.template_name, lost.job_text, lost.operation) == (TEMPLATE.name, "run 7", "JobSchedule")
    assert lost.sent_at.tzinfo is not None
    assert "find_jobs" in str(lost)


def test_a_lost_job_schedule_is_found_again_by_its_text(peer: SapPeer) -> None:
    """What to do after ScheduleOutcomeUnknown: look the job up by its (unique) text in JobListGet."""
    peer.script("POST", "JobSchedule", reset())
    client = connect(peer)
    with pytest.raises(ScheduleOutcomeUnknown) as caught:
        client.schedule(TEMPLATE.name, JOB.text)
    lost = caught.value
    found = client.find_jobs(lost.job_text, created_from=lost.sent_at - dt.timedelta(days=3650))
    assert [job.key.name for job in found] == [KEY.name]
    assert len(peer.requests_for("JobSchedule")) == 1


def test_a_lost_cancel_is_an_outcome_unknown_and_not_sent_again(peer: SapPeer) -> None:
    """JobCancel is no more repeatable than JobSchedule: a second one would answer for a job that is gone."""
    peer.script("POST", "JobCancel", reset())
    with pytest.raises(OutcomeUnknown) as caught:
        connect(peer).cancel(KEY)
    assert caught.value.operation == "JobCancel"
    assert len(peer.requests_for("JobCancel")) == 1


def test_a_post_whose_connection_is_refused_never_left_and_is_no_outcome_unknown(peer: SapPeer) -> None:
    """With the tenant gone, the POST cannot be delivered: a TransportError, certainly not a job started twice."""
    client = connect(peer)
    client.fetch_csrf_token()
    peer.stop()
    with pytest.raises(TransportError) as caught:
        client.schedule(TEMPLATE.name, "run 1")
    assert not isinstance(caught.value, OutcomeUnknown)
    assert "cannot connect" in str(caught.value)


# --- wrong hosts, redirects, one session ---------------------------------------------------


def test_an_html_login_page_is_reported_as_wrong_host_and_not_retried(peer: SapPeer) -> None:
    """A SAML form where OData was expected: the UI host, or an identity provider in the way."""
    peer.script("GET", "JobTemplateSet", login_page())
    with pytest.raises(WrongHostError, match="wrong host or identity-provider redirect") as caught:
        connect(peer).templates()
    assert "SAML" in str(caught.value)
    assert len(peer.seen) == 1


def test_redirects_are_not_followed(peer: SapPeer) -> None:
    """A 302 to an identity provider is reported; the client never goes there with its credentials."""
    peer.script("GET", "JobStatusGet", redirect(f"http://127.0.0.1:{peer.port}/idp/login?SAMLRequest=x"))
    with pytest.raises(WrongHostError, match="redirected") as caught:
        connect(peer).status(KEY)
    assert caught.value.status == 302
    assert [s.path for s in peer.seen if s.path.startswith("/idp")] == []


def test_the_shared_session_does_not_follow_redirects_either(peer: SapPeer) -> None:
    """pyodata and other users of ``client.session`` get an error instead of a redirected request."""
    session = connect(peer).session
    peer.script("GET", "$metadata", redirect(f"http://127.0.0.1:{peer.port}/idp/login"))
    with pytest.raises(requests.TooManyRedirects):
        session.get(peer.root + "/$metadata")
    assert [s.path for s in peer.seen if s.path.startswith("/idp")] == []


def test_one_connection_carries_every_request(peer: SapPeer) -> None:
    """Keep-alive: fetch, POSTs and GETs of one client travel over a single connection."""
    client = connect(peer)
    state = client.schedule(TEMPLATE.name, "run 1")
    client.status(state.key)
    client.info(state.key)
    client.cancel(state.key)
    assert len(peer.seen) == 5
    assert len({s.port for s in peer.seen}) == 1


def test_sap_client_and_language_go_with_every_request(peer: SapPeer) -> None:
    """``sap-client`` and ``sap-language`` are on the token fetch, the GETs and the POSTs alike."""
    client = connect(peer, sap_client="100", sap_language="DE")
    client.status(KEY)
    client.cancel(KEY)
    assert len(peer.seen) == 3
    for seen in peer.seen:
        assert (seen.params["sap-client"], seen.params["sap-language"]) == ("100", "DE")
