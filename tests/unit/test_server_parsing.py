"""Reading requests: the raw path, Basic credentials, the response format."""

from __future__ import annotations

import base64
from urllib.parse import parse_qsl

import pytest
from hypothesis import given
from hypothesis import strategies as st

from appjobs import errors as appjobs_errors
from appjobs.server import errors, odata, security, targets

ROOT = "/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=0002"


@pytest.mark.parametrize(
    ("path", "resource", "key"),
    [
        (ROOT, "", None),
        (ROOT + "/", "", None),
        (ROOT + "/$metadata", "$metadata", None),
        (ROOT + "/JobSchedule/", "JobSchedule", None),
        ("/sap/opu/odata/SAP/BC_EXT_APPJOB_MANAGEMENT;v=2/JobStatusGet", "JobStatusGet", None),
        # Without a version, as the guide's samples write it: SAP Gateway serves that too.
        ("/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT", "", None),
        ("/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT/$metadata", "$metadata", None),
        ("/sap/opu/odata/SAP/BC_EXT_APPJOB_MANAGEMENT/JobSchedule/", "JobSchedule", None),
        (ROOT + "/JobTemplateSet(JobTemplateName='%2FIBP%2FX',JobTemplateVersion='0')", "JobTemplateSet",
         "JobTemplateName='/IBP/X',JobTemplateVersion='0'"),
        (ROOT + "/JobTemplateSet(JobTemplateName='/IBP/X',JobTemplateVersion='0')", "JobTemplateSet",
         "JobTemplateName='/IBP/X',JobTemplateVersion='0'"),
        (ROOT + "/JobTemplateSet%28JobTemplateName%3D%27/A/B%27%2CJobTemplateVersion%3D%270%27%29", "JobTemplateSet",
         "JobTemplateName='/A/B',JobTemplateVersion='0'"),
        (ROOT + "/JobTemplateSet(JobTemplateName='it''s/x',JobTemplateVersion='0')", "JobTemplateSet",
         "JobTemplateName='it''s/x',JobTemplateVersion='0'"),
    ],
)  # fmt: skip
def test_targets(path: str, resource: str, key: str | None) -> None:
    target = targets.parse_target(path)
    assert (target.resource, target.key) == (resource, key)
    assert target.root.endswith("/")


@pytest.mark.parametrize(
    ("path", "segment"),
    [
        ("/sap/opu/odata/sap/OTHER_SERVICE/x", "OTHER_SERVICE"),
        ("/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=0001/", "BC_EXT_APPJOB_MANAGEMENT;v=0001"),
        ("/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENTS/", "BC_EXT_APPJOB_MANAGEMENTS"),
        ("/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=/", "BC_EXT_APPJOB_MANAGEMENT;v="),
        (ROOT + "/JobTemplateSet/Extra", "Extra"),
        (ROOT + "/JobTemplateSet(JobTemplateName='x')/Nav(1)", "Nav"),
    ],
)
def test_paths_we_do_not_serve_name_their_segment(path: str, segment: str) -> None:
    with pytest.raises(errors.ResourceNotFound) as raised:
        targets.parse_target(path)
    assert str(raised.value) == f"Resource not found for the segment '{segment}'."


def basic(text: bytes) -> str:
    return "Basic " + base64.b64encode(text).decode()


def test_basic_credentials() -> None:
    assert security.basic_credentials(basic(b"user:pa:ss")) == ("USER", "pa:ss")
    assert security.basic_credentials(basic("jörg:pässword".encode())) == ("JÖRG", "pässword")
    assert security.basic_credentials(basic("u:p\xe4".encode("latin-1"))) == ("U", "p\xe4")
    for bad in (None, "", "Bearer x", "Basic", "Basic ***", basic(b"nocolon"), basic(b":nouser")):
        assert security.basic_credentials(bad) is None, bad


def incoming(query: bytes = b"", accept: str = "") -> odata.Incoming:
    return odata.Incoming("GET", ROOT, query, {"accept": accept} if accept else {}, {}, "http://h")


@pytest.mark.parametrize(
    ("query", "accept", "fmt"),
    [
        (b"", "", "xml"),
        (b"$format=json", "", "json"),
        (b"$format=atom", "application/json", "xml"),
        (b"", "application/json", "json"),
        (b"", "application/atom+xml,application/json", "xml"),
        (b"", "text/html, application/json;q=0.9", "json"),
        (b"$format=bogus", "application/json", "json"),
        (b"$format=%ff", "", "xml"),
    ],
)
def test_negotiation(query: bytes, accept: str, fmt: str) -> None:
    assert odata.negotiate(incoming(query, accept)) == fmt


def test_query_pairs_decode_plus_and_reject_bad_utf8() -> None:
    assert odata.query_pairs(b"JobText='a+b%20c'&x=") == [("JobText", "'a b c'"), ("x", "")]
    with pytest.raises(appjobs_errors.InvalidInput):
        odata.query_pairs(b"JobText=%ff")


QUERY_ALPHABET = st.sampled_from([*"ab'=&+%$ ", "%27", "%2", "%C3%A9", "%ff", "%3D", "%26"])


@given(st.lists(QUERY_ALPHABET, max_size=30).map("".join))
def test_query_pairs_are_parse_qsl_s(query: str) -> None:
    """The hand-written parser gives parse_qsl's pairs, and fails exactly where parse_qsl fails."""
    try:
        expected = parse_qsl(query, keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        with pytest.raises(appjobs_errors.InvalidInput):
            odata.query_pairs(query.encode("ascii"))
        return
    assert odata.query_pairs(query.encode("ascii")) == expected
