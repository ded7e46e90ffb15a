"""``$batch`` over real HTTP against a real server, on both databases.

Each request of a batch is answered by the path a request sent alone takes
(its answer is compared with the lone request's), a changeset is all or
nothing (and no worker ever runs a job of a refused one), the CSRF check is
made on the ``$batch`` POST, and a malformed batch is a 400 naming what is
wrong, with nothing stored.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid

import pytest
import requests
import restartsite
import sqlalchemy as sa
from batchbodies import answers, body, changeset, d, error_code, flat, key_url, op, post, schedule_url
from tenant import ROOT_PATH, Tenant, admin

from appjobs.storage import schema

pytestmark = pytest.mark.backends("sqlite", "postgresql")

ECHO, SLEEP = "/APPJOBS/DEMO_ECHO", "/APPJOBS/DEMO_SLEEP"


def marker() -> str:
    return f"batch {uuid.uuid4().hex[:12]}"


def stored(tenant: Tenant, text: str) -> list[dict]:
    """The jobs stored with *text*, as ``appjobs admin jobs list`` shows them (every user's)."""
    jobs = json.loads(admin(tenant.data_dir, "jobs", "list", "--json").stdout)
    return [job for job in jobs if job["text"] == text]


def audit_entries(tenant: Tenant, since: dt.datetime) -> list[dict]:
    """The schedule entries of the audit log since *since* (this module's tests run one after the other)."""
    entries = json.loads(admin(tenant.data_dir, "audit", "--json", "--since", f"{since:%Y-%m-%d %H:%M:%S}").stdout)
    return [e for e in entries if e["event"] == "schedule"]


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)


def same(part_body: bytes, alone: bytes) -> bool:
    """Equal but for transaction ids and timestamps (of error documents) and Atom's <updated> (the answer's time)."""
    clean = [re.sub(rb'(transactionid(?:>|":"))[0-9A-F]{32}', rb"\1", b) for b in (part_body, alone)]
    clean = [re.sub(rb'(timestamp(?:>|":"))\d{14}\.\d{7}', rb"\1", b) for b in clean]
    clean = [re.sub(rb"<updated>[^<]*</updated>", b"<updated/>", b) for b in clean]  # Atom: the time of the answer
    return clean[0] == clean[1]


def test_a_changeset_with_one_bad_schedule_stores_neither_job(tenant: Tenant) -> None:
    """Two JobSchedules in one changeset, the second for a template that does not exist: neither job exists."""
    http, text, since = tenant.session(), marker(), now()
    missing = f"/APPJOBS/NO_SUCH_{uuid.uuid4().hex[:8].upper()}"
    data = body(
        changeset(
            op("POST", schedule_url(ECHO, text), content_id="1"),
            op("POST", schedule_url(missing, text), content_id="2"),
        )
    )
    (answer,) = answers(post(http, tenant.root, data))
    assert not isinstance(answer, list), "a failed changeset is answered by its failing request alone"
    assert answer.status == 400
    assert error_code(answer) == "APJ_RT/015"
    assert answer.content_id == "2"
    assert stored(tenant, text) == []
    entries = audit_entries(tenant, since)  # each attempt is on record, with its outcome
    assert [e["outcome"] for e in entries if missing in e["detail"]] == ["failure"]
    rolled_back = [e for e in entries if "rolled back with its changeset" in e["detail"]]
    assert [e["outcome"] for e in rolled_back] == ["failure"]
    assert ECHO in rolled_back[0]["detail"]


def test_a_changeset_that_succeeds_stores_every_job_and_echoes_content_ids(tenant: Tenant) -> None:
    http, text, since = tenant.session(), marker(), now()
    data = body(
        changeset(
            op("POST", schedule_url(ECHO, text), content_id="first"),
            op("POST", schedule_url(ECHO, text), content_id="second"),
        )
    )
    (answer,) = answers(post(http, tenant.root, data))
    assert isinstance(answer, list)
    assert [part.content_id for part in answer] == ["first", "second"]
    jobs = [d(part) for part in answer]
    assert len({job["JobName"] for job in jobs}) == 2
    assert len(stored(tenant, text)) == 2
    for job in jobs:
        assert tenant.wait_status(http, job, "F") == "F"
    names = {job["JobName"] for job in jobs}
    entries = [e for e in audit_entries(tenant, since) if any(name in e["detail"] for name in names)]
    assert [e["outcome"] for e in entries] == ["success", "success"]


def test_a_refused_changeset_leaves_a_running_job_alone(tenant: Tenant) -> None:
    """JobCancel of a running job, then a bad JobSchedule, in one changeset: the job runs on."""
    http = tenant.session()
    job = tenant.schedule(http, SLEEP, JobParameterValues=_seconds(5))
    tenant.wait_status(http, job, "R")
    data = body(
        changeset(
            op("POST", key_url("JobCancel", job["JobName"], job["JobRunCount"])),
            op("POST", schedule_url("/APPJOBS/NO_SUCH", marker())),
        )
    )
    (answer,) = answers(post(http, tenant.root, data))
    assert not isinstance(answer, list)
    assert error_code(answer) == "APJ_RT/015"
    assert tenant.wait_status(http, job, "FA") == "F"


def test_a_refused_changeset_leaves_no_restarted_copy(tenant: Tenant) -> None:
    """JobRestart of a failed job, then a bad JobSchedule, in one changeset: no copy of the job exists."""
    http = tenant.session()
    job = tenant.schedule(http, "/APPJOBS/DEMO_FAIL")
    assert tenant.wait_status(http, job, "FA") == "A"
    restart = key_url("JobRestart", job["JobName"], job["JobRunCount"]) + "&JobRestartMode='E'"
    data = body(changeset(op("POST", restart), op("POST", schedule_url("/APPJOBS/NO_SUCH", marker()))))
    (answer,) = answers(post(http, tenant.root, data))
    assert error_code(answer) == "APJ_RT/015"
    assert copies_of(tenant, job) == []
    # In a changeset of its own, the same restart makes its copy: the rollback was the other request's doing.
    (alone,) = answers(post(http, tenant.root, body(changeset(op("POST", restart)))))
    assert isinstance(alone, list)
    assert alone[0].status == 200
    assert copies_of(tenant, job) == [d(alone[0])["JobName"]]


def copies_of(tenant: Tenant, job: dict) -> list[str]:
    """The names of the stored copies that restart *job*."""
    with restartsite.stored(tenant) as store, store.db.read() as conn:
        query = sa.select(schema.job.c.name).where(schema.job.c.restart_of_name == job["JobName"])
        return list(conn.scalars(query))


def _seconds(n: int) -> str:
    """JobParameterValues for DEMO_SLEEP, as an OData literal."""
    values = {"VALUES": [{"NAME": "SECONDS", "T_VALUE": [{"SIGN": "I", "OPTION": "EQ", "LOW": str(n), "HIGH": ""}]}]}
    return f"'{json.dumps(values)}'"


def test_retrieve_requests_and_changesets_are_answered_in_order(tenant: Tenant) -> None:
    http, text = tenant.session(), marker()
    job = tenant.schedule(http)
    status = key_url("JobStatusGet", job["JobName"], job["JobRunCount"], fmt="")
    data = body(
        op("GET", status + "&$format=json"),
        changeset(op("POST", schedule_url(ECHO, text), content_id="1")),
        op("GET", "JobTemplateSet?$top=1", "Accept: application/atom+xml"),
        op("GET", status, "Accept: application/json"),
        op("GET", status),
        op("GET", "$metadata"),
        op("GET", f"{ROOT_PATH}/JobStatusInfoSet?$format=json"),
        op("GET", f"{tenant.server.url}{ROOT_PATH}/JobStatusInfoSet?$format=json"),
    )
    items = answers(post(http, tenant.root, data))
    assert len(items) == 8
    first, scheduled, templates, by_accept, atom, metadata, by_path, by_url = items
    assert d(first)["JobName"] == job["JobName"]
    assert isinstance(scheduled, list)
    assert d(scheduled[0])["JobName"]
    assert templates.headers["content-type"].startswith("application/atom+xml;type=feed")
    assert b"<feed" in templates.body
    assert d(by_accept)["JobName"] == job["JobName"]
    assert atom.headers["content-type"].startswith("application/atom+xml")
    assert b"<entry" in atom.body
    assert metadata.headers["content-type"].startswith("application/xml")
    assert b"<edmx:Edmx" in metadata.body
    assert by_path.body == by_url.body
    assert d(by_path)["results"]


def test_each_answer_is_the_answer_of_the_request_sent_alone(tenant: Tenant) -> None:
    """Same status, content type and body as alone (error documents but for their transaction id and time)."""
    http = tenant.session()
    job = tenant.schedule(http)
    tenant.wait_status(http, job, "F")
    urls = [
        key_url("JobinfoGet", job["JobName"], job["JobRunCount"]),
        key_url("JobStatusGet", job["JobName"], job["JobRunCount"], fmt="xml"),
        "JobTemplateSet?$filter=JobTemplateName eq '/APPJOBS/DEMO_ECHO'&$format=json".replace(" ", "%20"),
        "JobStatusGet?JobName='X'&JobRunCount=nope",  # a malformed literal
        "JobStatusGet?JobName='0123456789ABCDEF0123456789ABCDEF'&JobRunCount='ABCDEFGH'",  # APJ_RT/003
        "NoSuchThing",  # 404
        "JobSchedule?JobTemplateName='x'",  # a GET of a POST-only function import: 405
    ]
    items = answers(post(http, tenant.root, body(*(op("GET", url) for url in urls))))
    for url, part in zip(urls, items, strict=True):
        alone = http.get(f"{tenant.root}/{url}", timeout=10)
        assert not isinstance(part, list)
        assert part.status == alone.status_code, url
        assert part.headers["content-type"] == alone.headers["content-type"], url
        assert part.headers.get("allow") == alone.headers.get("allow"), url
        assert same(part.body, alone.content), url


def test_another_users_job_is_apj_rt_003_as_alone(tenant: Tenant) -> None:
    other = tenant.session("OTHERUSER")
    theirs = tenant.schedule(other, SLEEP, JobParameterValues=_seconds(3))
    http = tenant.session()
    data = body(
        op("GET", key_url("JobStatusGet", theirs["JobName"], theirs["JobRunCount"])),
        changeset(op("POST", key_url("JobCancel", theirs["JobName"], theirs["JobRunCount"]))),
    )
    read, cancel = answers(post(http, tenant.root, data))
    assert not isinstance(read, list)
    assert not isinstance(cancel, list)
    assert (read.status, error_code(read)) == (400, "APJ_RT/003")
    assert (cancel.status, error_code(cancel)) == (400, "APJ_RT/003")
    assert tenant.wait_status(other, theirs, "FA") == "F", "their job was not cancelled"


def test_a_batch_without_a_csrf_token_is_refused_and_runs_nothing(tenant: Tenant) -> None:
    text = marker()
    http = requests.Session()
    http.auth = tenant.auth()
    response = post(http, tenant.root, body(changeset(op("POST", schedule_url(ECHO, text)))))
    assert response.status_code == 403
    assert response.headers["x-csrf-token"] == "Required"
    assert response.text == "CSRF token validation failed"
    wrong = tenant.session()
    wrong.headers["X-CSRF-Token"] = "not-the-token"
    assert post(wrong, tenant.root, body(changeset(op("POST", schedule_url(ECHO, text))))).status_code == 403
    assert stored(tenant, text) == []


def test_a_batch_without_logon_is_401(tenant: Tenant) -> None:
    response = post(requests.Session(), tenant.root, body(op("GET", "JobStatusInfoSet")))
    assert response.status_code == 401


#: case: (Content-Type, the parts after a good changeset or a whole raw body, what the message says)
MALFORMED: dict[str, tuple[str, list[str] | bytes, str]] = {
    "no boundary": ("multipart/mixed", b"", "no boundary"),
    "not multipart": ("application/json", b"{}", "must be multipart/mixed"),
    "no close delimiter": (
        "",
        b"--batch_test\r\nContent-Type: application/http\r\n\r\nGET $metadata HTTP/1.1\r\n",
        "close delimiter",
    ),
    "no part": ("", b"hello", "no part"),
    "a changeset in a changeset": (
        "",
        [changeset(changeset(op("POST", "JobSchedule"), boundary="in"))],
        "another changeset",
    ),
    "a GET in a changeset": ("", [changeset(op("GET", "JobStatusInfoSet"))], "GET request cannot be inside"),
    "a POST outside a changeset": ("", [op("POST", "JobSchedule")], "must be inside a changeset"),
    "an unknown method": ("", [changeset(op("BREW", "JobSchedule"))], "unknown method 'BREW'"),
    "a bad request line": ("", [op("GET", "JobStatusInfoSet HTTP/1.1 extra")], "is not a request line"),
    "a part of another type": ("", ["Content-Type: text/plain\r\n\r\nhello"], "must be application/http"),
    "a part without headers": ("", ["\r\nGET $metadata HTTP/1.1"], "has none"),
    "base64": ("", [op("GET", "$metadata").replace("binary", "base64")], "must be binary"),
    "a header without a colon": ("", [op("GET", "$metadata", "Accept application/json")], "not a header line"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_batch_is_a_400_naming_what_is_wrong(tenant: Tenant, case: str) -> None:
    content_type, parts, says = MALFORMED[case]
    http, text = tenant.session(), marker()
    # A good changeset first: a malformed batch is refused before any of it runs.
    good = changeset(op("POST", schedule_url(ECHO, text)), boundary="good")
    data = parts if isinstance(parts, bytes) else body(good, *parts)
    headers = {"Content-Type": content_type or "multipart/mixed; boundary=batch_test"}
    response = http.post(tenant.root + "/$batch?$format=json", data=data, headers=headers, timeout=10)
    assert response.status_code == 400, response.text
    document = response.json()["error"]
    assert says in document["message"]["value"], document
    assert stored(tenant, text) == []


def test_limits(tenant: Tenant) -> None:
    """A request's URL over 64 KiB is its own 414; over 1000 requests or 16 MiB the batch is refused."""
    http = tenant.session()
    long_url = "JobStatusInfoSet?$format=json&x=" + "a" * 65536
    items = answers(post(http, tenant.root, body(op("GET", long_url), op("GET", "JobStatusInfoSet?$format=json"))))
    assert [part.status for part in flat(items)] == [414, 200]
    many = post(http, tenant.root, body(*[op("GET", "JobStatusInfoSet")] * 1001))
    assert many.status_code == 400
    assert "more than 1000 requests" in many.text
    assert len(flat(answers(post(http, tenant.root, body(*[op("GET", "JobStatusInfoSet")] * 1000))))) == 1000
    huge = post(http, tenant.root, body(op("GET", "JobStatusInfoSet", "X-Pad: " + "p" * (16 * 1024 * 1024))))
    assert huge.status_code == 413
    assert "at most 16777216" in huge.text


def test_batch_itself_and_nested(tenant: Tenant) -> None:
    http = tenant.session()
    get = http.get(tenant.root + "/$batch", timeout=10)
    assert get.status_code == 405
    assert get.headers["allow"] == "POST"
    (nested,) = answers(post(http, tenant.root, body(changeset(op("POST", "$batch")))))
    assert not isinstance(nested, list)
    assert nested.status == 400
    assert b"cannot contain another $batch" in nested.body
