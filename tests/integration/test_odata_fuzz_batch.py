"""Hypothesis against ``$batch`` on a live server, on both databases: any body gets a well-formed answer.

The bodies are made of the pieces a batch is made of (delimiters of the
batch and of changesets, close delimiters, part headers, request lines with
every method, blank lines) shuffled together with random bytes, CR and LF
line ends mixed. Whatever comes out:

* the answer is a 202 whose multipart body the client's reader reads, with
  no part answered 5xx; or a 400 or 413 SAP error document; never a 5xx;
* a refused batch stores nothing: the JobSchedules in it carry a text of
  their own, and no job with that text exists afterwards.

Raise ``max_examples`` in :data:`FUZZ` to hunt harder; the parser alone is
fuzzed much harder, without a server, in ``tests/unit/test_odata_multipart.py``.
"""

from __future__ import annotations

import uuid

import pytest
import requests
from batchbodies import answers, flat
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tenant import Tenant

pytestmark = pytest.mark.backends("sqlite", "postgresql")

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
TEXT = "FUZZTEXT"  #: replaced by each example's own JobText

PIECES = [
    "--b",
    "--b--",
    "--c",
    "--c--",
    "--b ",
    "Content-Type: application/http",
    "Content-Type: multipart/mixed; boundary=c",
    "Content-Type: multipart/mixed; boundary=b",
    "Content-Type: multipart/mixed",
    "Content-Type: text/plain",
    "Content-Transfer-Encoding: binary",
    "Content-Transfer-Encoding: base64",
    "Content-ID: 1",
    "Content-Length: 5",
    "Accept: application/json",
    "Accept: application/atom+xml",
    "X-CSRF-Token: Fetch",
    "",
    "",
    "GET JobStatusInfoSet HTTP/1.1",
    "GET $metadata HTTP/1.1",
    "GET JobStatusGet?JobName='A'&JobRunCount='B'&$format=json HTTP/1.1",
    "GET JobTemplateSet?$filter=JobTemplateName%20eq%20'x'&$format=json HTTP/1.1",
    "GET http://h/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT/JobStatusInfoSet HTTP/1.1",
    "GET /elsewhere HTTP/1.1",
    "GET JobStatusInfoSet%00 HTTP/1.1",
    "GET JobStatusInfoSet?%ff HTTP/1.1",
    "POST $batch HTTP/1.1",
    f"POST JobSchedule?JobTemplateName='/APPJOBS/DEMO_ECHO'&JobText='{TEXT}' HTTP/1.1",
    f"POST JobSchedule?JobTemplateName='/APPJOBS/NOPE'&JobText='{TEXT}' HTTP/1.1",
    "POST JobCancel?JobName='A'&JobRunCount='B' HTTP/1.1",
    "DELETE JobTemplateSet HTTP/1.1",
    "MERGE JobStatusInfoSet HTTP/1.1",
    "HEAD $metadata HTTP/1.1",
    "BREW coffee HTTP/1.1",
    "GET  HTTP/1.1",
    "GET JobStatusInfoSet HTTP/2",
    "Bad header",
    " folded: line",
]
piece = st.one_of(
    st.sampled_from(PIECES), st.text(max_size=20), st.binary(max_size=20).map(lambda b: b.decode("latin-1"))
)
line_end = st.sampled_from(["\r\n", "\n", "\r\n", "\r"])
bodies = st.lists(st.tuples(piece, line_end), max_size=40).map(lambda items: "".join(p + e for p, e in items))
content_types = st.sampled_from(
    [
        "multipart/mixed; boundary=b",
        'multipart/mixed; boundary="b"',
        "multipart/mixed;boundary=b",
        "multipart/mixed",
        "multipart/mixed; boundary=",
        "application/json",
        "multipart/mixed; boundary=" + "x" * 80,
    ]
)

VALID = (
    "--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\nContent-Type: application/http\r\n"
    "Content-Transfer-Encoding: binary\r\n\r\n"
    f"POST JobSchedule?JobTemplateName='/APPJOBS/DEMO_ECHO'&JobText='{TEXT}' HTTP/1.1\r\n\r\n\r\n--c--\r\n--b--\r\n"
)


@FUZZ
@given(body=bodies, content_type=content_types)
@example(body=VALID, content_type="multipart/mixed; boundary=b")
@example(body=VALID.replace("--b--", "--b-"), content_type="multipart/mixed; boundary=b")  # no close delimiter
@example(body=VALID.replace("POST", "GET"), content_type="multipart/mixed; boundary=b")  # a GET in a changeset
def test_any_batch_gets_a_well_formed_answer_and_a_refused_one_stores_nothing(
    tenant: Tenant, http: requests.Session, body: str, content_type: str
) -> None:
    text = f"fuzz {uuid.uuid4().hex[:16]}"
    data = body.replace(TEXT, text.replace(" ", "%20")).encode("utf-8", "surrogateescape")
    response = http.post(tenant.root + "/$batch", data=data, headers={"Content-Type": content_type}, timeout=30)
    assert response.status_code < 500, response.text
    if response.status_code == 202:
        for part in flat(answers(response)):
            assert part.status < 500, part.body
        return
    assert response.status_code in (400, 413), response.text
    assert "<code>" in response.text, response.text  # an SAP error document (XML: the batch asked for no format)
    assert _jobs_with(tenant, http, text) == [], "a refused batch stored a job"


@pytest.fixture(scope="module")
def http(tenant: Tenant) -> requests.Session:
    """One logged-on session with a CSRF token for all examples: each costs a millisecond, not a logon."""
    return tenant.session()


def _jobs_with(tenant: Tenant, http: requests.Session, text: str) -> list[dict]:
    params = {
        "CreationTimeFrom": "datetime'2000-01-01T00:00:00'",
        "CreationTimeTo": "datetime'9999-12-31T00:00:00'",
        "JobText": f"'{text}'",
        "$format": "json",
    }
    response = http.get(tenant.root + "/JobListGet", params=params, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["d"]["results"]
