"""The poll's short way (:mod:`appjobs.server.polls`) answers exactly what the general way answers, or nothing."""

from __future__ import annotations

import pytest
from starlette.datastructures import Headers

from appjobs import models
from appjobs.engine import JobService
from appjobs.engine import templates as template_files
from appjobs.server import odata, polls
from appjobs.server.app import SERVICE_PATH, create_app
from appjobs.server.odata import Incoming, ODataEndpoint
from appjobs.server.runner import DEMO_TEMPLATES
from appjobs.server.security import Caller
from appjobs.storage import Store

pytestmark = pytest.mark.backends("sqlite", "postgresql")

ORIGIN = "http://tenant.example.com:8443"


#: The communication users these tests poll as (a poll from the caches checks that its caller's logon holds).
USERS = ("U", "OWNER", "STRANGER", "AUDITOR")


@pytest.fixture
def endpoint(store: Store) -> ODataEndpoint:
    store.templates.add(template_files.load_file(DEMO_TEMPLATES, by="SAP", now=models.utcnow()))
    for name in USERS:
        store.users.add(name, None, models.utcnow())
    app = create_app(JobService(store))
    return next(route.app for route in app.routes if getattr(route, "path", "").startswith("/sap"))


def poll(query: str, path: str = SERVICE_PATH + "JobStatusGet", accept: str = "") -> Incoming:
    headers = Headers({"accept": accept} if accept else {})
    return Incoming("GET", path, query.encode(), headers, ORIGIN, "127.0.0.1")


def key_query(job: models.Job, extra: str = "&$format=json") -> str:
    return f"JobName='{job.key.name}'&JobRunCount='{job.key.run_count}'{extra}"


@pytest.mark.parametrize(
    ("path", "extra", "accept"),
    [
        (SERVICE_PATH + "JobStatusGet", "&$format=json", ""),
        (SERVICE_PATH + "JobStatusGet", "", "application/json"),
        ("/sap/opu/odata/SAP/BC_EXT_APPJOB_MANAGEMENT;v=2/JobStatusGet", "&$format=json", ""),
    ],
)
def test_short_way_gives_the_same_bytes(endpoint: ODataEndpoint, path: str, extra: str, accept: str) -> None:
    """Body, status and headers of the short way equal the general way's, whatever spelling of the root."""
    job = endpoint.service.schedule("/APPJOBS/DEMO_SLEEP", creator="U")
    caller = Caller("U", version=0)
    short = endpoint._quick_poll(poll(key_query(job, extra), path, accept), caller)
    general = endpoint.handle(poll(key_query(job, extra), path, accept), caller)
    assert (general.status_code, short) == (200, general.body)
    headers = [*odata._POLL_HEADERS, (b"content-length", str(len(short)).encode())]
    assert sorted(headers) == sorted(general.raw_headers)
    assert b'"JobStatus":"S"' in short
    assert ORIGIN.encode() in short


@pytest.mark.parametrize(
    "extra",
    [
        "&$format=atom",  # Atom: the general way
        "&$format=json&$select=JobStatus",  # any other option
        "&$format=json&$format=json",  # a repeated parameter is an error there
        "&$format=json&JobText='x'",  # a parameter JobStatusGet does not declare
    ],
)
def test_anything_more_than_a_plain_poll_is_left_to_the_general_way(endpoint: ODataEndpoint, extra: str) -> None:
    job = endpoint.service.schedule("/APPJOBS/DEMO_SLEEP", creator="U")
    assert endpoint._quick_poll(poll(key_query(job, extra)), Caller("U", version=0)) is None


def test_literals_the_short_way_does_not_read_are_left_to_the_general_way(endpoint: ODataEndpoint) -> None:
    """Escapes, blanks, over-long keys and a missing key go the general way, which owns their errors."""
    for query in (
        "JobName='A''B'&JobRunCount='ABCDEFGH'&$format=json",
        "JobName='ABC '&JobRunCount='ABCDEFGH'&$format=json",
        f"JobName='{'A' * 33}'&JobRunCount='ABCDEFGH'&$format=json",
        "JobRunCount='ABCDEFGH'&$format=json",
        "JobName=ABC&JobRunCount='ABCDEFGH'&$format=json",
    ):
        assert endpoint._quick_poll(poll(query), Caller("U", version=0)) is None, query


def test_missing_and_foreign_jobs_get_their_error_from_the_general_way(endpoint: ODataEndpoint) -> None:
    """A job that is not there, or not the caller's (SAP_COM_0064), is APJ_RT/003 from the one error writer."""
    job = endpoint.service.schedule("/APPJOBS/DEMO_SLEEP", creator="OWNER")
    assert endpoint._quick_poll(poll(key_query(job)), Caller("STRANGER", version=0)) is None
    missing = f"JobName='{'0' * 32}'&JobRunCount='AAAAAAAA'&$format=json"
    assert endpoint._quick_poll(poll(missing), Caller("OWNER", version=0)) is None
    answer = endpoint.handle(poll(key_query(job)), Caller("STRANGER", version=0))
    assert (answer.status_code, b"APJ_RT/003" in answer.body) == (400, True)
    assert endpoint._quick_poll(poll(key_query(job)), Caller("AUDITOR", sees_all_jobs=True, version=0)) is not None


def test_a_caller_whose_logon_no_longer_holds_is_sent_to_log_on_anew(endpoint: ODataEndpoint) -> None:
    """Another credential version (its password reset, say), or no such user any more: STALE, plain poll or not."""
    job = endpoint.service.schedule("/APPJOBS/DEMO_SLEEP", creator="U")
    for caller in (Caller("U", version=1), Caller("GONE", version=0)):
        assert endpoint._quick_poll(poll(key_query(job)), caller) is polls.STALE
        assert endpoint._quick_poll(poll(key_query(job, "&$format=atom")), caller) is polls.STALE
