"""Reading answers: the IBP guide's captures, the reference's error documents, every shape and value, and garbage."""

from __future__ import annotations

import datetime as dt

import pytest

from appjobs.client import JobKey, JobStatus, ProtocolError
from appjobs.client._parsing import read_error, read_rows
from appjobs.client._records import job_info, job_state, template, timestamp

UTC = dt.UTC
GUIDE_BASE = "https://sap/opu/odata/SAP/BC_EXT_APPJOB_MANAGEMENT;v=2/"
FEED_BASE = "https://[redacted]/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=2/"
NAMESPACES = (
    'xmlns:d="http://schemas.microsoft.com/ado/2007/08/dataservices" '
    'xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata" xmlns="http://www.w3.org/2005/Atom"'
)
JOB_NAME = "38EAA71741401EE6BEA162EB5331DF9C"


def guide_entry(status_element: str) -> bytes:
    """The JobScheduleStatus entries captured in the guide (JobSchedule, JobStatusGet), OCR line breaks removed."""
    key = f"JobScheduleStatusCollection(JobName='{JOB_NAME}',JobRunCount='JtUpUsyH')"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<entry xml:base="{GUIDE_BASE}" {NAMESPACES}>
  <id>{GUIDE_BASE}{key}</id>
  <title type="text">{key}</title>
  <updated>2017-02-22T14:27:51Z</updated>
  <category scheme="http://schemas.microsoft.com/ado/2007/08/dataservices/scheme"
    term="BC_EXT_APPJOB_MANAGEMENT.JobScheduleStatus"/>
  <link title="JobScheduleStatus" rel="edit" href="{key}"/>
  <content type="application/xml">
    <m:properties>
      <d:JobName>{JOB_NAME}</d:JobName>
      <d:JobRunCount>JtUpUsyH</d:JobRunCount>
      {status_element}
      <d:ReturnCode>0</d:ReturnCode>
    </m:properties>
  </content>
</entry>""".encode()


# The guide's JobTemplateSet capture: its first entry whole, its second as cut short in the guide.
GUIDE_FEED = f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"
xmlns:d="http://schemas.microsoft.com/ado/2007/08/dataservices" xml:base="{FEED_BASE}">
  <id>{FEED_BASE}JobTemplateSet</id>
  <title type="text">JobTemplateSet</title>
  <updated>2017-02-20T16:13:50Z</updated>
  <author><name/></author>
  <link href="JobTemplateSet" rel="self" title="JobTemplateSet"/>
  <entry>
    <id>{FEED_BASE}JobTemplateSet(JobTemplateName='%2FIBP%2FCREATE_TIME_PERIODS',JobTemplateVersion='0')</id>
    <title type="text">JobTemplateSet(JobTemplateName='%2FIBP%2FCREATE_TIME_PERIODS',JobTemplateVersion='0')</title>
    <updated>2017-02-20T16:13:50Z</updated>
    <category term="BC_EXT_APPJOB_MANAGEMENT.JobTemplate" scheme="http://schemas.microsoft.com/ado/2007/08/dataservices/scheme"/>
    <link href="JobTemplateSet(JobTemplateName='%2FIBP%2FCREATE_TIME_PERIODS',JobTemplateVersion='0')>" rel="edit" title="JobTemplate"/>
    <content type="application/xml">
      <m:properties xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata" xmlns:d="http://schemas.microsoft.com/ado/2007/08/dataservices">
        <d:JobTemplateName>/IBP/CREATE_TIME_PERIODS</d:JobTemplateName>
        <d:JobTemplateVersion>0</d:JobTemplateVersion>
        <d:JobTemplateStepCount>1</d:JobTemplateStepCount>
        <d:JobPeriodicGranularity/>
        <d:JobReportName>/IBP/CREATE_TIME_PERIODS</d:JobReportName>
        <d:JobUserName/>
        <d:JobPeriodicValue>000</d:JobPeriodicValue>
        <d:JobTemplateText>Create Time Periods for Time Profiles</d:JobTemplateText>
        <d:CreationDateTime>2015-09-01T15:42:36.0944660</d:CreationDateTime>
        <d:CreationUserName>SAP</d:CreationUserName>
        <d:LastChangeDateTime>2015-12-17T18:42:23.2763080</d:LastChangeDateTime>
        <d:LastChangeUserName>SAP</d:LastChangeUserName>
        <d:SupportsTestModeInd>false</d:SupportsTestModeInd>
      </m:properties>
    </content>
  </entry>
  <entry>
    <id>{FEED_BASE}JobTemplateSet(JobTemplateName='%2FIBP%2FLOG_DELETION',JobTemplateVersion='0')</id>
    <title type="text">JobTemplateSet(JobTemplateName='%2FIBP%2FLOG_DELETION',JobTemplateVersion='0')</title>
    <updated>2017-02-20T16:13:50Z</updated>
    <category term="BC_EXT_APPJOB_MANAGEMENT.JobTemplate" scheme="http://schemas.microsoft.com/ado/2007/08/dataservices/scheme"/>
    <link href="JobTemplateSet(JobTemplateName='%2FIBP%2FLOG_DELETION',JobTemplateVersion='0')>" rel="edit" title="JobTemplate"/>
    <content type="application/xml">
      <m:properties xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata" xmlns:d="http://schemas.microsoft.com/ado/2007/08/dataservices">
        <d:JobTemplateName>/IBP/LOG_DELETION</d:JobTemplateName>
        <d:JobTemplateVersion>0</d:JobTemplateVersion>
        <d:JobTemplateStepCount>1</d:JobTemplateStepCount>
        <d:JobPeriodicGranularity/>
        <d:JobReportName>/IBP/R_LOG_DELETE</d:JobReportName>
        <d:JobUserName/>
      </m:properties>
    </content>
  </entry>
</feed>""".encode()  # noqa: E501 - the capture's long lines are kept as they were

# The reference's XML error (§3.5): the guide's failed JobSchedule, with its OCR damage repaired.
GUIDE_ERROR = b"""<?xml version="1.0" encoding="utf-8"?>
<error xmlns="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata">
  <code>APJ_RT/032</code><message xml:lang="en">Job scheduling failed</message>
  <innererror>
    <application><component_id>BC-CCM-BTC</component_id><service_namespace>/SAP/</service_namespace>
      <service_id>BC_EXT_APPJOB_MANAGEMENT</service_id><service_version>0002</service_version></application>
    <transactionid>545B03A9D9230230E0058AD11AF3AC59</transactionid>
    <timestamp>20181210225525.4356360</timestamp>
    <Error_Resolution><SAP_Transaction/><SAP_Note>See SAP Note 1797736 for error analysis</SAP_Note></Error_Resolution>
    <errordetails>
      <errordetail><code>/IBP/CM_PL_OP/201</code><message>Planning area DS6A isn't valid for you.</message>
        <propertyref/><severity>error</severity><target/></errordetail>
      <errordetail><code>/IBP/CM_PL_OP/200</code><message>You need authorization to use planning area DS6A.</message>
        <longtext_url>/sap/opu/odata/iwbep/message_text;o=/</longtext_url><propertyref/><severity>error</severity>
        <target/></errordetail>
    </errordetails>
  </innererror>
</error>"""

# The reference's JSON error (§3.5, from a Gateway 404), errordetails as a list.
GATEWAY_JSON_ERROR = b"""{"error":{"code":"005056A509B11EE1B9A8FEC11C21D78E",
"message":{"lang":"en","value":"Resource not found for the segment 'Address2'."},
"innererror":{"application":{"component_id":"","service_namespace":"/SAP/","service_id":"X","service_version":"0001"},
"transactionid":"C83CB3D2A1420000E00609D31E196BD4","timestamp":"20210524082515.9921880",
"Error_Resolution":{"SAP_Transaction":"","SAP_Note":"See SAP Note 1797736"},
"errordetails":[{"code":"/IWBEP/CM_TEA/002","message":"'TEAM_012345678' is not a valid ID.",
"propertyref":"Team/Team_Identifier","severity":"error","target":""}]}}}"""


def one(body: bytes) -> dict[str, object]:
    (row,) = read_rows(body).rows
    return row


# --- the guide's captures --------------------------------------------------------------------


def test_the_guides_job_schedule_answer() -> None:
    """The captured JobSchedule entry: the key, and no status yet (``<d:JobStatus/>``)."""
    state = job_state(one(guide_entry("<d:JobStatus/>")))
    assert state.key == JobKey(JOB_NAME, "JtUpUsyH")
    assert (state.status, state.return_code) == (None, 0)


def test_the_guides_job_status_answer() -> None:
    """The captured JobStatusGet entry: F, finished."""
    state = job_state(one(guide_entry("<d:JobStatus>F</d:JobStatus>")))
    assert state.status is JobStatus.FINISHED
    assert state.status.is_final


def test_the_guides_template_feed() -> None:
    """Both captured templates; the second, cut short in the guide, has no text and no times."""
    first, second = (template(row) for row in read_rows(GUIDE_FEED).rows)
    assert (first.name, first.text, first.version, first.step_count) == (
        "/IBP/CREATE_TIME_PERIODS",
        "Create Time Periods for Time Profiles",
        "0",
        1,
    )
    assert first.created_at == dt.datetime(2015, 9, 1, 15, 42, 36, 94466, tzinfo=UTC)
    assert (first.changed_by, first.supports_test_mode, first.report_name) == ("SAP", False, "/IBP/CREATE_TIME_PERIODS")
    assert (second.name, second.text, second.created_at, second.report_name) == (
        "/IBP/LOG_DELETION",
        "",
        None,
        "/IBP/R_LOG_DELETE",
    )
    assert read_rows(GUIDE_FEED).next_url is None


def test_the_guides_error_document() -> None:
    """The failed JobSchedule: code, message, transaction id and both details."""
    error = read_error(GUIDE_ERROR)
    assert error is not None
    assert (error.code, error.message, error.transaction_id) == (
        "APJ_RT/032",
        "Job scheduling failed",
        "545B03A9D9230230E0058AD11AF3AC59",
    )
    assert [d.code for d in error.details] == ["/IBP/CM_PL_OP/201", "/IBP/CM_PL_OP/200"]
    assert error.details[0].message == "Planning area DS6A isn't valid for you."


@pytest.mark.parametrize(
    "body",
    [
        GATEWAY_JSON_ERROR,
        GATEWAY_JSON_ERROR.replace(b'"errordetails":[', b'"errordetails":{"errordetail":[').replace(b"}]}", b"}]}}"),
    ],
    ids=["list", "wrapped"],
)
def test_a_gateway_json_error(body: bytes) -> None:
    """JSON errors: ``message.value``, and ``errordetails`` as a list or wrapped in ``errordetail``."""
    error = read_error(body)
    assert error is not None
    assert (error.code, error.message) == (
        "005056A509B11EE1B9A8FEC11C21D78E",
        "Resource not found for the segment 'Address2'.",
    )
    assert [d.code for d in error.details] == ["/IWBEP/CM_TEA/002"]


def test_what_is_no_error_document_reads_as_none() -> None:
    """A feed, a text, an HTML page and broken JSON are not error documents."""
    for body in (GUIDE_FEED, b"CSRF token validation failed", b"<html><body>x</body></html>", b'{"error": '):
        assert read_error(body) is None


# --- shapes and values --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"d": {"JobName": "N", "JobRunCount": "R", "JobStatus": "c", "ReturnCode": 0}}',
        b'{"d": {"results": {"JobName": "N", "JobRunCount": "R", "JobStatus": "c", "ReturnCode": "0"}}}',
        b'{"d": {"results": [{"JobName": "N", "JobRunCount": "R", "JobStatus": "c"}]}}',
        b'{"d": [{"JobName": "N", "JobRunCount": "R", "JobStatus": "c", "ReturnCode": null}]}',
        b'\xef\xbb\xbf {"d": {"__metadata": {"uri": "x"}, "JobName": "N", "JobRunCount": "R", "JobStatus": "c"}}',
    ],
    ids=["entity", "results-object", "results-list", "v1-array", "bom"],
)
def test_every_json_shape_of_one_entity(body: bytes) -> None:
    """Single entity, SAP's documented ``results`` wrapper, a one-row collection, OData v1, and a BOM."""
    state = job_state(one(body))
    assert (state.key, state.status, state.return_code) == (JobKey("N", "R"), JobStatus.CANCELING, 0)
    assert not state.status.is_final


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("/Date(1492098664000)/", dt.datetime(2017, 4, 13, 15, 51, 4, tzinfo=UTC)),
        ("/Date(1492098664000+0000)/", dt.datetime(2017, 4, 13, 15, 51, 4, tzinfo=UTC)),
        ("/Date(1492098664000+0060)/", dt.datetime(2017, 4, 13, 15, 51, 4, tzinfo=UTC)),
        ("/Date(-86400000)/", dt.datetime(1969, 12, 31, tzinfo=UTC)),
        ("2015-09-01T15:42:36.0944660", dt.datetime(2015, 9, 1, 15, 42, 36, 94466, tzinfo=UTC)),
        ("2018-11-20T00:00", dt.datetime(2018, 11, 20, tzinfo=UTC)),
        ("2018-11-20T01:00:00+01:00", dt.datetime(2018, 11, 20, tzinfo=UTC)),
        (None, None),
        ("", None),
    ],
)
def test_date_and_time_values(wire: str | None, expected: dt.datetime | None) -> None:
    """JSON ``/Date(ms)/`` with or without an offset, Atom ISO text with up to seven digits; null is None."""
    assert timestamp(wire) == expected


def test_an_atom_next_link_is_made_absolute_with_xml_base() -> None:
    """A relative ``<link rel="next">`` is resolved against the feed's xml:base."""
    body = GUIDE_FEED.replace(
        b'rel="self" title="JobTemplateSet"/>',
        b'rel="self" title="JobTemplateSet"/><link href="JobTemplateSet?$skiptoken=2" rel="next"/>',
    )
    assert (
        read_rows(body.replace(b"[redacted]", b"tenant")).next_url
        == FEED_BASE.replace("[redacted]", "tenant") + "JobTemplateSet?$skiptoken=2"
    )


def test_an_empty_jobinfo_answer_is_a_job_without_status() -> None:
    """No rows at all: the key asked for, and nothing else claimed."""
    info = job_info(JobKey("N", "R"), read_rows(b'{"d": {"results": []}}').rows)
    assert (info.key, info.status, info.steps) == (JobKey("N", "R"), None, ())


# --- what cannot be read ------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<feed xmlns="http://www.w3.org/2005/Atom">&lol2;</feed>"""


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"CSRF token validation failed",
        b'{"d": {"results": [{"JobName": "N", "JobRun',
        GUIDE_FEED[: len(GUIDE_FEED) // 2],
        BILLION_LAUGHS,
        b"<html><body>Sign in</body></html>",
        b'{"value": []}',
        b'{"d": "text"}',
        b'{"d": {"results": ["text"]}}',
        b"<entry xmlns='http://www.w3.org/2005/Atom'><content/></entry>",
    ],
    ids=["empty", "text", "cut-json", "cut-xml", "entities", "html", "odata-v4", "d-text", "row-text", "no-properties"],
)
def test_unreadable_answers_are_protocol_errors(body: bytes) -> None:
    """Anything that is not OData v2 JSON or Atom is a ProtocolError; XML entities are refused (defusedxml)."""
    with pytest.raises(ProtocolError):
        read_rows(body)


@pytest.mark.parametrize(
    "row",
    [
        {"JobRunCount": "R"},
        {"JobName": "N", "JobRunCount": "R", "ReturnCode": "zero"},
        {"JobName": "N", "JobRunCount": "R", "ReturnCode": True},
    ],
    ids=["no-name", "word", "boolean"],
)
def test_rows_without_a_key_or_with_wrong_values_are_protocol_errors(row: dict[str, object]) -> None:
    """A missing JobName, or a ReturnCode that is no number."""
    with pytest.raises(ProtocolError):
        job_state(row)


def test_a_wrong_date_is_a_protocol_error() -> None:
    """Ticks beyond the year 9999 and text that is no date are ProtocolErrors."""
    with pytest.raises(ProtocolError):
        timestamp("/Date(99999999999999999999)/")
    with pytest.raises(ProtocolError):
        timestamp("yesterday")
