"""Atom and JSON payloads, compared with what real tenants send, and read back by SAP's own client."""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
import xml.etree.ElementTree as ET  # only for the Element type; parsing goes through defusedxml

import defusedxml.ElementTree as SafeET
import pyodata
import pyodata.v2.model
import pytest
import requests
import requests.adapters

from appjobs import errors
from appjobs.odata import metadata, model, payloads

UTC = dt.UTC
GUIDE_BASE = "https://sap/opu/odata/SAP/BC_EXT_APPJOB_MANAGEMENT;v=2/"
FEED_BASE = "https://[redacted]/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=2/"
ATOM = "{http://www.w3.org/2005/Atom}"
D = "{http://schemas.microsoft.com/ado/2007/08/dataservices}"
M = "{http://schemas.microsoft.com/ado/2007/08/dataservices/metadata}"
XML_NS = "{http://www.w3.org/XML/1998/namespace}"
JOB_NAME = "38EAA71741401EE6BEA162EB5331DF9C"

# The JobSchedule answer captured in the IBP guide (its OCR line breaks inside ids removed).
GUIDE_ENTRY = f"""<?xml version="1.0" encoding="UTF-8"?>
<entry xml:base="{GUIDE_BASE}"
  xmlns:d="http://schemas.microsoft.com/ado/2007/08/dataservices"
  xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"
  xmlns="http://www.w3.org/2005/Atom">
  <id>{GUIDE_BASE}JobScheduleStatusCollection(JobName='{JOB_NAME}',JobRunCount='JtUpUsyH')</id>
  <title type="text">JobScheduleStatusCollection(JobName='{JOB_NAME}',JobRunCount='JtUpUsyH')</title>
  <updated>2017-02-22T14:27:51Z</updated>
  <category scheme="http://schemas.microsoft.com/ado/2007/08/dataservices/scheme"
    term="BC_EXT_APPJOB_MANAGEMENT.JobScheduleStatus"/>
  <link title="JobScheduleStatus" rel="edit"
    href="JobScheduleStatusCollection(JobName='{JOB_NAME}',JobRunCount='JtUpUsyH')"/>
  <content type="application/xml">
    <m:properties>
      <d:JobName>{JOB_NAME}</d:JobName>
      <d:JobRunCount>JtUpUsyH</d:JobRunCount>
      <d:JobStatus/>
      <d:ReturnCode>0</d:ReturnCode>
    </m:properties>
  </content>
</entry>"""

# The JobTemplateSet answer captured in the guide, first entry (the stray '>' in its edit link removed).
GUIDE_FEED = f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"
  xmlns:d="http://schemas.microsoft.com/ado/2007/08/dataservices" xml:base="{FEED_BASE}">
  <id>{FEED_BASE}JobTemplateSet</id>
  <title type="text">JobTemplateSet</title>
  <updated>2017-02-20T16:13:50Z</updated>
  <author>
    <name/>
  </author>
  <link href="JobTemplateSet" rel="self" title="JobTemplateSet"/>
  <entry>
    <id>{FEED_BASE}JobTemplateSet(JobTemplateName='%2FIBP%2FCREATE_TIME_PERIODS',JobTemplateVersion='0')</id>
    <title type="text">JobTemplateSet(JobTemplateName='%2FIBP%2FCREATE_TIME_PERIODS',JobTemplateVersion='0')</title>
    <updated>2017-02-20T16:13:50Z</updated>
    <category term="BC_EXT_APPJOB_MANAGEMENT.JobTemplate"
      scheme="http://schemas.microsoft.com/ado/2007/08/dataservices/scheme"/>
    <link href="JobTemplateSet(JobTemplateName='%2FIBP%2FCREATE_TIME_PERIODS',JobTemplateVersion='0')" rel="edit"
      title="JobTemplate"/>
    <content type="application/xml">
      <m:properties xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"
        xmlns:d="http://schemas.microsoft.com/ado/2007/08/dataservices">
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
</feed>"""


def status(job_status: str = "", **overrides: object) -> dict[str, object]:
    """A JobScheduleStatus dict, as entities.schedule_status_entity makes them."""
    return {"JobName": JOB_NAME, "JobRunCount": "JtUpUsyH", "JobStatus": job_status, "ReturnCode": 0} | overrides


def guide_template(**overrides: object) -> dict[str, object]:
    """The JobTemplate of the guide's capture, with appjobs' values for the 11 later properties."""
    values: dict[str, object] = {
        "JobTemplateName": "/IBP/CREATE_TIME_PERIODS",
        "JobTemplateVersion": "0",
        "JobTemplateStepCount": 1,
        "JobPeriodicGranularity": "",
        "JobReportName": "/IBP/CREATE_TIME_PERIODS",
        "JobUserName": "",
        "JobPeriodicValue": "000",
        "JobTemplateText": "Create Time Periods for Time Profiles",
        "CreationDateTime": dt.datetime(2015, 9, 1, 15, 42, 36, 94466, tzinfo=UTC),
        "CreationUserName": "SAP",
        "LastChangeDateTime": dt.datetime(2015, 12, 17, 18, 42, 23, 276308, tzinfo=UTC),
        "LastChangeUserName": "SAP",
        "SupportsTestModeInd": False,
    }
    values |= {p.name: "" for p in model.JOB_TEMPLATE.properties[13:]}
    return values | overrides


def tree(element: ET.Element) -> tuple[object, ...]:
    """An element as (tag, attributes, stripped text, children), for order-sensitive structural comparison."""
    return (element.tag, dict(element.attrib), (element.text or "").strip(), [tree(c) for c in element])


def parse(document: bytes | str) -> ET.Element:
    return SafeET.fromstring(document.encode() if isinstance(document, str) else document)


def properties(document: bytes) -> list[ET.Element]:
    """The d:* elements of the first m:properties in an Atom document."""
    return next(parse(document).iter(f"{M}properties"))[:]


def test_atom_entry_matches_the_guides_jobschedule_capture() -> None:
    """A JobScheduleStatus entry has exactly the elements, attributes and texts of the guide's capture."""
    ours = payloads.entry_atom(
        model.JOB_SCHEDULE_STATUS_COLLECTION, status(), GUIDE_BASE, updated=dt.datetime(2017, 2, 22, 14, 27, 51)
    )
    assert tree(parse(ours)) == tree(parse(GUIDE_ENTRY))


def test_atom_entry_is_one_line_with_gateway_attribute_order() -> None:
    """The entry is compact, namespaces come first, and an empty JobStatus is a self-closing element."""
    ours = payloads.entry_atom(model.JOB_SCHEDULE_STATUS_COLLECTION, status(), GUIDE_BASE)
    assert ours.startswith(b'<?xml version="1.0" encoding="utf-8"?><entry xmlns="http://www.w3.org/2005/Atom" xmlns:m=')
    assert b"\n" not in ours
    assert b"<d:JobStatus/>" in ours
    assert b'<category term="BC_EXT_APPJOB_MANAGEMENT.JobScheduleStatus" scheme=' in ours
    # A single entry declares its namespaces once, on <entry>; only feed entries re-declare them.
    assert b'<content type="application/xml"><m:properties><d:JobName>' in ours


def test_atom_entry_status_letter_is_element_text() -> None:
    """A JobStatusGet answer carries the status letter as in the guide's second capture."""
    ours = payloads.entry_atom(model.JOB_SCHEDULE_STATUS_COLLECTION, status("F"), GUIDE_BASE)
    assert b"<d:JobStatus>F</d:JobStatus><d:ReturnCode>0</d:ReturnCode>" in ours


def test_atom_feed_matches_the_guides_jobtemplateset_capture() -> None:
    """A JobTemplateSet feed matches the capture, whose 13 properties lead our 24 in the same order."""
    ours = parse(
        payloads.feed_atom(
            model.JOB_TEMPLATE_SET, [guide_template()], FEED_BASE, updated=dt.datetime(2017, 2, 20, 16, 13, 50)
        )
    )
    expected = parse(GUIDE_FEED)
    ours_props = next(ours.iter(f"{M}properties"))
    expected_props = next(expected.iter(f"{M}properties"))
    assert [tree(p) for p in ours_props[:13]] == [tree(p) for p in expected_props]
    for extra in ours_props[13:]:
        ours_props.remove(extra)
    # The 2017 model had no navigations; today's JobTemplate has four, each a deferred link after the edit link.
    entry = next(ours.iter(f"{ATOM}entry"))
    related = [link for link in entry.findall(f"{ATOM}link") if "/related/" in link.get("rel", "")]
    assert [link.get("title") for link in related] == [n.name for n in model.JOB_TEMPLATE.navigations]
    for link in related:
        entry.remove(link)
    assert tree(ours) == tree(expected)


def test_feed_entries_redeclare_namespaces_on_properties() -> None:
    """Inside a feed, m:properties re-declares xmlns:m and xmlns:d as the capture shows."""
    ours = payloads.feed_atom(model.JOB_TEMPLATE_SET, [guide_template()], FEED_BASE)
    assert b'<m:properties xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata" xmlns:d=' in ours


def test_atom_feed_inline_count_follows_the_self_link() -> None:
    """With a count, <m:count> comes right after the feed's self link and before the first entry."""
    ours = parse(payloads.feed_atom(model.JOB_TEMPLATE_SET, [guide_template()], FEED_BASE, count=1))
    tags = [child.tag for child in ours]
    assert tags == [f"{ATOM}id", f"{ATOM}title", f"{ATOM}updated", f"{ATOM}author", f"{ATOM}link", f"{M}count",
                    f"{ATOM}entry"]  # fmt: skip
    assert ours.find(f"{M}count").text == "1"


def test_atom_feed_without_count_and_entries() -> None:
    """An empty feed without count has the feed header and nothing else."""
    ours = parse(payloads.feed_atom(model.JOB_TEMPLATE_SET, [], FEED_BASE))
    assert ours.find(f"{M}count") is None
    assert ours.findall(f"{ATOM}entry") == []


def test_function_import_feed_is_named_after_its_path() -> None:
    """A collection-returning function import's feed uses the given path, its entries their entity set."""
    row = {"JobName": JOB_NAME, "JobRunCount": "JtUpUsyH", "JobStatus": "F", "JobSdlDateTime": None,
           "JobStartDateTime": None, "JobEndDateTime": None, "JobAppRC": 0, "StepCount": 1, "StepStatus": "F",
           "StepStartDateTime": None, "StepAppRC": 0}  # fmt: skip
    ours = parse(payloads.feed_atom(model.JOBINFO_SET, [row], GUIDE_BASE, path="JobinfoGet"))
    assert ours.find(f"{ATOM}id").text == GUIDE_BASE + "JobinfoGet"
    assert ours.find(f"{ATOM}title").text == "JobinfoGet"
    assert ours.find(f"{ATOM}link").get("href") == "JobinfoGet"
    entry_id = ours.find(f"{ATOM}entry/{ATOM}id").text
    assert entry_id == f"{GUIDE_BASE}JobinfoSet(JobName='{JOB_NAME}',JobRunCount='JtUpUsyH',StepCount=1)"


def test_single_key_ids_use_the_short_form() -> None:
    """An entity with one key property is addressed as Set('value') or Set(0), as Gateway does."""
    info = parse(payloads.entry_atom(model.JOB_STATUS_INFO_SET, {"JobStatus": "c", "JobStatusText": "x"}, GUIDE_BASE))
    assert info.find(f"{ATOM}link").get("href") == "JobStatusInfoSet('c')"
    result = json.loads(payloads.entry_json(model.FUNC_IMP_RETURN_COLLECTION, {"ReturnCode": 0}, GUIDE_BASE))
    assert result["d"]["__metadata"]["uri"] == GUIDE_BASE + "FuncImpReturnCollection(0)"


def test_json_entry_shape() -> None:
    """A single entity is {"d": {...}} with __metadata first, then the properties in model order and type."""
    document = json.loads(payloads.entry_json(model.JOB_SCHEDULE_STATUS_COLLECTION, status("R"), GUIDE_BASE))
    uri = f"{GUIDE_BASE}JobScheduleStatusCollection(JobName='{JOB_NAME}',JobRunCount='JtUpUsyH')"
    assert document == {
        "d": {
            "__metadata": {"id": uri, "uri": uri, "type": "BC_EXT_APPJOB_MANAGEMENT.JobScheduleStatus"},
            "JobName": JOB_NAME,
            "JobRunCount": "JtUpUsyH",
            "JobStatus": "R",
            "ReturnCode": 0,
        }
    }
    assert list(document["d"]) == ["__metadata", "JobName", "JobRunCount", "JobStatus", "ReturnCode"]


def test_json_feed_with_inline_count() -> None:
    """A collection is {"d": {"__count": "N", "results": [...]}}, the count a string and first."""
    raw = payloads.feed_json(model.JOB_TEMPLATE_SET, [guide_template(), guide_template()], GUIDE_BASE, count=7)
    document = json.loads(raw)
    assert list(document["d"]) == ["__count", "results"]
    assert document["d"]["__count"] == "7"
    assert [r["JobTemplateName"] for r in document["d"]["results"]] == ["/IBP/CREATE_TIME_PERIODS"] * 2
    assert document["d"]["results"][0]["JobTemplateStepCount"] == 1
    assert document["d"]["results"][0]["SupportsTestModeInd"] is False


def test_json_feed_without_count() -> None:
    """Without a count the collection has only results, which may be empty."""
    assert json.loads(payloads.feed_json(model.JOB_TEMPLATE_SET, [], GUIDE_BASE)) == {"d": {"results": []}}


def test_atom_datetimes_have_the_propertys_precision() -> None:
    """Edm.DateTime is written with 7 fractional digits for Precision 7 and none for Precision 0."""
    row = guide_template(LastChangeDateTime=dt.datetime(2017, 1, 2, 3, 4, 5, tzinfo=UTC))
    values = {e.tag: e.text for e in properties(payloads.entry_atom(model.JOB_TEMPLATE_SET, row, GUIDE_BASE))}
    assert values[f"{D}CreationDateTime"] == "2015-09-01T15:42:36.0944660"
    assert values[f"{D}LastChangeDateTime"] == "2017-01-02T03:04:05.0000000"
    job = {"JobName": JOB_NAME, "JobRunCount": "JtUpUsyH", "JobStatus": "R",
           "JobSdlDateTime": dt.datetime(2018, 11, 20, 0, 0, 0, 999999, tzinfo=UTC),
           "JobStartDateTime": dt.datetime(2018, 11, 20, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
           "JobEndDateTime": None, "JobAppRC": 0, "StepCount": 1, "StepStatus": "R",
           "StepStartDateTime": dt.datetime(2018, 11, 20, 9, 30), "StepAppRC": 0}  # fmt: skip
    values = {e.tag: e.text for e in properties(payloads.entry_atom(model.JOBINFO_SET, job, GUIDE_BASE))}
    assert values[f"{D}JobSdlDateTime"] == "2018-11-20T00:00:00"
    assert values[f"{D}JobStartDateTime"] == "2018-11-19T23:00:00"  # converted to UTC
    assert values[f"{D}StepStartDateTime"] == "2018-11-20T09:30:00"  # naive is taken as UTC


def test_json_datetimes_are_escaped_date_ticks() -> None:
    """Edm.DateTime in JSON is "\\/Date(ms)\\/" on the wire, /Date(ms)/ once decoded, in UTC milliseconds."""
    created = dt.datetime.fromtimestamp(1492098664, UTC)
    raw = payloads.entry_json(model.JOB_TEMPLATE_SET, guide_template(CreationDateTime=created), GUIDE_BASE)
    assert b'"CreationDateTime":"\\/Date(1492098664000)\\/"' in raw
    assert json.loads(raw)["d"]["CreationDateTime"] == "/Date(1492098664000)/"
    naive = guide_template(CreationDateTime=dt.datetime(1970, 1, 1, 0, 0, 1, 500000))
    assert json.loads(payloads.entry_json(model.JOB_TEMPLATE_SET, naive, GUIDE_BASE))["d"]["CreationDateTime"] == (
        "/Date(1500)/"
    )


def test_nulls_in_both_formats() -> None:
    """None is <d:X m:null="true"/> in Atom and null in JSON."""
    row = guide_template(CreationDateTime=None)
    atom = payloads.entry_atom(model.JOB_TEMPLATE_SET, row, GUIDE_BASE)
    assert b'<d:CreationDateTime m:null="true"/>' in atom
    element = next(e for e in properties(atom) if e.tag == f"{D}CreationDateTime")
    assert element.get(f"{M}null") == "true"
    assert json.loads(payloads.entry_json(model.JOB_TEMPLATE_SET, row, GUIDE_BASE))["d"]["CreationDateTime"] is None


def test_booleans_in_both_formats() -> None:
    """Edm.Boolean is true/false in Atom text and a JSON boolean."""
    row = guide_template(SupportsTestModeInd=True)
    assert b"<d:SupportsTestModeInd>true</d:SupportsTestModeInd>" in payloads.entry_atom(
        model.JOB_TEMPLATE_SET, row, GUIDE_BASE
    )
    assert json.loads(payloads.entry_json(model.JOB_TEMPLATE_SET, row, GUIDE_BASE))["d"]["SupportsTestModeInd"] is True


def test_select_keeps_only_the_named_properties() -> None:
    """$select drops the other properties in both formats but keeps the full key in ids."""
    atom = payloads.feed_atom(model.JOB_TEMPLATE_SET, [guide_template()], GUIDE_BASE, select=["JobTemplateText"])
    assert [e.tag for e in properties(atom)] == [f"{D}JobTemplateText"]
    assert b"JobTemplateVersion='0'" in atom
    document = json.loads(
        payloads.feed_json(model.JOB_TEMPLATE_SET, [guide_template()], GUIDE_BASE, select=["JobTemplateName"])
    )
    assert list(document["d"]["results"][0]) == ["__metadata", "JobTemplateName"]


def test_select_of_an_unknown_property_is_invalid_input() -> None:
    """Selecting a property the type lacks raises InvalidInput."""
    with pytest.raises(errors.InvalidInput):
        payloads.entry_json(model.JOB_TEMPLATE_SET, guide_template(), GUIDE_BASE, select=["SupportsTestMode"])


def test_missing_property_is_a_programming_error() -> None:
    """A dict without one of the type's properties raises KeyError instead of inventing a value."""
    with pytest.raises(KeyError):
        payloads.entry_atom(model.JOB_SCHEDULE_STATUS_COLLECTION, {"JobName": "A", "JobRunCount": "B"}, GUIDE_BASE)


TRICKY = 'Tom\'s <job> & "friends" – Größe 日本 🚀'


def test_xml_special_characters_and_non_ascii_round_trip_in_atom() -> None:
    """Values with <, &, quotes and non-ASCII text come back unchanged from the parsed Atom."""
    row = guide_template(JobTemplateText=TRICKY, CreationUserName="a\r\nb\tc")
    values = {e.tag: e.text for e in properties(payloads.entry_atom(model.JOB_TEMPLATE_SET, row, GUIDE_BASE))}
    assert values[f"{D}JobTemplateText"] == TRICKY
    assert values[f"{D}CreationUserName"] == "a\r\nb\tc"


def test_xml_invalid_characters_are_replaced() -> None:
    """Control characters XML cannot carry become U+FFFD in Atom but survive in JSON."""
    row = guide_template(JobTemplateText="bell\x07end")
    values = {e.tag: e.text for e in properties(payloads.entry_atom(model.JOB_TEMPLATE_SET, row, GUIDE_BASE))}
    assert values[f"{D}JobTemplateText"] == "bell\ufffdend"
    assert json.loads(payloads.entry_json(model.JOB_TEMPLATE_SET, row, GUIDE_BASE))["d"]["JobTemplateText"] == (
        "bell\x07end"
    )


def test_non_ascii_round_trips_in_json_as_utf8() -> None:
    """JSON keeps non-ASCII text as UTF-8 and escapes quotes, so it decodes to the original value."""
    raw = payloads.entry_json(model.JOB_TEMPLATE_SET, guide_template(JobTemplateText=TRICKY), GUIDE_BASE)
    assert "日本".encode() in raw
    assert json.loads(raw)["d"]["JobTemplateText"] == TRICKY


def test_key_values_are_percent_encoded_in_ids() -> None:
    """Slashes, spaces, quotes and non-ASCII in key values are percent-encoded; quotes are doubled first."""
    row = guide_template(JobTemplateName="/A B/O'Neil é")
    entry = parse(payloads.entry_atom(model.JOB_TEMPLATE_SET, row, GUIDE_BASE))
    expected = "JobTemplateSet(JobTemplateName='%2FA%20B%2FO''Neil%20%C3%A9',JobTemplateVersion='0')"
    assert entry.find(f"{ATOM}link").get("href") == expected
    assert json.loads(payloads.entry_json(model.JOB_TEMPLATE_SET, row, GUIDE_BASE))["d"]["__metadata"]["id"] == (
        GUIDE_BASE + expected
    )


# --- SAP's own client reads what we write ---------------------------------------------------------------------------

SERVICE_URL = "https://host/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=0002/"


class CannedAdapter(requests.adapters.BaseAdapter):
    """A requests transport that answers each path's last segment with canned bytes; no sockets."""

    def __init__(self, routes: dict[str, tuple[str, bytes]]) -> None:
        super().__init__()
        self.routes = routes
        self.requests: list[tuple[str, str]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: object) -> requests.Response:
        self.requests.append((request.method or "", request.url or ""))
        content_type, body = self.routes[urllib.parse.urlsplit(request.url).path.rsplit("/", 1)[-1]]
        response = requests.Response()
        response.status_code = 200
        response._content = body
        response.headers["Content-Type"] = content_type
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        pass


def pyodata_client(routes: dict[str, tuple[str, bytes]]) -> tuple[pyodata.Client, CannedAdapter]:
    adapter = CannedAdapter({"$metadata": ("application/xml", metadata.metadata_document())} | routes)
    session = requests.Session()
    session.mount("https://", adapter)
    config = pyodata.v2.model.Config(retain_null=True)  # keep nulls as None instead of type defaults
    return pyodata.Client(SERVICE_URL, session, config=config), adapter


def test_pyodata_reads_a_jobschedule_answer_after_posting() -> None:
    """pyodata POSTs JobSchedule (from m:HttpMethod) and reads JobName, JobRunCount and the empty JobStatus."""
    answer = payloads.entry_json(model.JOB_SCHEDULE_STATUS_COLLECTION, status(), SERVICE_URL)
    client, adapter = pyodata_client({"JobSchedule": ("application/json", answer)})
    result = (
        client.functions.JobSchedule.parameter("JobTemplateName", "/IBP/X")
        .parameter("JobText", "nightly")
        .parameter("JobUser", "CB8980000030")
        .execute()
    )
    assert (result.JobName, result.JobRunCount, result.JobStatus, result.ReturnCode) == (JOB_NAME, "JtUpUsyH", "", 0)
    assert adapter.requests[-1][0] == "POST"


def test_pyodata_reads_a_jobinfoget_collection_with_datetimes() -> None:
    """pyodata reads JobinfoGet's results, /Date()/ values as UTC datetimes and nulls as None."""
    row = {"JobName": JOB_NAME, "JobRunCount": "JtUpUsyH", "JobStatus": "A",
           "JobSdlDateTime": dt.datetime(2018, 11, 20, 8, 0, 1, tzinfo=UTC), "JobStartDateTime": None,
           "JobEndDateTime": None, "JobAppRC": 0, "StepCount": 2, "StepStatus": "A", "StepStartDateTime": None,
           "StepAppRC": 3}  # fmt: skip
    answer = payloads.feed_json(model.JOBINFO_SET, [row], SERVICE_URL)
    client, adapter = pyodata_client({"JobinfoGet": ("application/json", answer)})
    (info,) = client.functions.JobinfoGet.parameter("JobName", JOB_NAME).parameter("JobRunCount", "JtUpUsyH").execute()
    assert info.JobSdlDateTime == dt.datetime(2018, 11, 20, 8, 0, 1, tzinfo=UTC)
    assert info.JobStartDateTime is None
    assert (info.StepCount, info.StepAppRC) == (2, 3)
    assert adapter.requests[-1][0] == "GET"


def test_pyodata_reads_the_template_set_with_inline_count() -> None:
    """pyodata lists JobTemplateSet and reads the string __count of $inlinecount."""
    answer = payloads.feed_json(model.JOB_TEMPLATE_SET, [guide_template()], SERVICE_URL, count=1)
    client, _ = pyodata_client({"JobTemplateSet": ("application/json", answer)})
    templates = client.entity_sets.JobTemplateSet.get_entities().count(inline=True).execute()
    assert templates.total_count == 1
    assert templates[0].JobTemplateName == "/IBP/CREATE_TIME_PERIODS"
    assert templates[0].CreationDateTime == dt.datetime(2015, 9, 1, 15, 42, 36, 94000, tzinfo=UTC)
    assert templates[0].SupportsTestModeInd is False


def step_log_info(**overrides: object) -> dict[str, object]:
    """A JobStepLogInfo entity (JobHeaderSet's $expand reaches it), every property filled."""
    values: dict[str, object] = {p.name: "" for p in model.JOB_STEP_LOG_INFO.properties}
    values |= dict.fromkeys(("MsgCntAll", "MsgCntA", "MsgCntE", "MsgCntW", "MsgCntI", "MsgCntS"), 0)
    values |= {"JobName": JOB_NAME, "JobRunCount": "JtUpUsyH", "StepNumber": 1, "LogHandle": "H1"}
    return values | overrides


def log_message(number: str, text: str) -> dict[str, object]:
    values: dict[str, object] = {p.name: "" for p in model.JOB_LOG_MESSAGE.properties}
    return values | {"JobName": JOB_NAME, "JobRunCount": "JtUpUsyH", "StepNumber": 1, "LogHandle": "H1",
                     "MsgNumber": number, "MsgType": "I", "MsgText": text}  # fmt: skip


INFO_PATH = f"JobStepLogInfoSet(JobName='{JOB_NAME}',JobRunCount='JtUpUsyH',StepNumber=1,LogHandle='H1')"
RELATED_MESSAGES = "http://schemas.microsoft.com/ado/2007/08/dataservices/related/JobLogMessageSet"


def test_an_expanded_navigation_is_an_inline_feed_named_after_it_in_atom() -> None:
    messages = [log_message("000001", "first"), log_message("000002", "second")]
    entry = parse(
        payloads.entry_atom(model.JOB_STEP_LOG_INFO_SET, step_log_info(JobLogMessageSet=messages), GUIDE_BASE)
    )
    (link,) = [child for child in entry.findall(f"{ATOM}link") if child.get("rel") == RELATED_MESSAGES]
    assert link.get("href") == f"{INFO_PATH}/JobLogMessageSet"
    assert link.get("type") == "application/atom+xml;type=feed"
    feed = link.find(f"{M}inline/{ATOM}feed")
    assert feed is not None, "no inline feed"
    assert feed.find(f"{ATOM}id").text == f"{GUIDE_BASE}{INFO_PATH}/JobLogMessageSet"
    assert feed.find(f"{ATOM}title").text == "JobLogMessageSet"  # the navigation's name, not the whole path
    assert feed.find(f"{ATOM}link").get("href") == f"{INFO_PATH}/JobLogMessageSet"
    texts = [e.find(f"{ATOM}content/{M}properties/{D}MsgText").text for e in feed.findall(f"{ATOM}entry")]
    assert texts == ["first", "second"]
    assert entry.find(f"{ATOM}content/{M}properties/{D}LogHandle").text == "H1"  # the entry's own properties after


def test_an_expanded_navigation_without_entries_is_an_empty_inline_feed() -> None:
    entry = parse(payloads.entry_atom(model.JOB_STEP_LOG_INFO_SET, step_log_info(JobLogMessageSet=[]), GUIDE_BASE))
    (link,) = [child for child in entry.findall(f"{ATOM}link") if child.get("rel") == RELATED_MESSAGES]
    feed = link.find(f"{M}inline/{ATOM}feed")
    assert feed is not None
    assert feed.findall(f"{ATOM}entry") == []


def test_a_navigation_not_expanded_is_a_deferred_link_unless_select_leaves_it_out() -> None:
    entry = parse(payloads.entry_atom(model.JOB_STEP_LOG_INFO_SET, step_log_info(), GUIDE_BASE))
    (link,) = [child for child in entry.findall(f"{ATOM}link") if child.get("rel") == RELATED_MESSAGES]
    assert link.get("href") == f"{INFO_PATH}/JobLogMessageSet"
    assert list(link) == []  # deferred: no m:inline
    selected = parse(
        payloads.entry_atom(model.JOB_STEP_LOG_INFO_SET, step_log_info(), GUIDE_BASE, select=["LogHandle"])
    )
    assert [child.get("rel") for child in selected.findall(f"{ATOM}link")] == ["edit"]


def test_an_expanded_navigation_is_a_results_list_in_json() -> None:
    messages = [log_message("000001", "first"), log_message("000002", "second")]
    raw = payloads.entry_json(model.JOB_STEP_LOG_INFO_SET, step_log_info(JobLogMessageSet=messages), GUIDE_BASE)
    expanded = json.loads(raw)["d"]["JobLogMessageSet"]
    assert [m["MsgText"] for m in expanded["results"]] == ["first", "second"]
    key = f"JobName='{JOB_NAME}',JobRunCount='JtUpUsyH',StepNumber=1,LogHandle='H1',MsgNumber='000002'"
    assert expanded["results"][1]["__metadata"]["uri"] == f"{GUIDE_BASE}JobLogMessageSet({key})"
    deferred = json.loads(payloads.entry_json(model.JOB_STEP_LOG_INFO_SET, step_log_info(), GUIDE_BASE))["d"]
    assert deferred["JobLogMessageSet"] == {"__deferred": {"uri": f"{GUIDE_BASE}{INFO_PATH}/JobLogMessageSet"}}
