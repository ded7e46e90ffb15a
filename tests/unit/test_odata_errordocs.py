"""SAP error documents in XML and JSON, compared with a real tenant's capture (sap-service-facts.md)."""

from __future__ import annotations

import datetime as dt
import json
import re
import xml.etree.ElementTree as ET  # only for the Element type; parsing goes through defusedxml

import defusedxml.ElementTree as SafeET
import pytest

from appjobs.odata import errordocs

UTC = dt.UTC
M = "{http://schemas.microsoft.com/ado/2007/08/dataservices/metadata}"
XML_NS = "{http://www.w3.org/XML/1998/namespace}"


def parse(document: bytes | str) -> ET.Element:
    return SafeET.fromstring(document.encode() if isinstance(document, str) else document)


NOW = dt.datetime(2018, 12, 10, 22, 55, 25, 435636, tzinfo=UTC)
TRANSACTION = "545B03A9D9230230E0058AD11AF3AC59"
DETAILS = [
    errordocs.ErrorDetail("/IBP/CM_PL_OP/201", "Planning area DS6A isn't valid for you."),
    errordocs.ErrorDetail(
        "/IBP/CM_PL_OP/200",
        "You need authorization to use planning area DS6A.",
        longtext_url="/sap/opu/odata/iwbep/message_text;o=/",
    ),
]


def test_xml_error_document_shape() -> None:
    """The XML error has code, message with xml:lang and the innererror of the captured IBP error, in order."""
    raw = errordocs.error_document(
        "APJ_RT/032", "Job scheduling failed", details=DETAILS, transaction=TRANSACTION, now=NOW
    )
    root = parse(raw)
    assert root.tag == f"{M}error"
    assert [c.tag for c in root] == [f"{M}code", f"{M}message", f"{M}innererror"]
    assert root.find(f"{M}code").text == "APJ_RT/032"
    assert root.find(f"{M}message").get(f"{XML_NS}lang") == "en"
    inner = root.find(f"{M}innererror")
    assert [c.tag.removeprefix(M) for c in inner] == [
        "application", "transactionid", "timestamp", "Error_Resolution", "errordetails",
    ]  # fmt: skip
    assert {c.tag.removeprefix(M): c.text for c in inner.find(f"{M}application")} == {
        "component_id": "BC-CCM-BTC",
        "service_namespace": "/SAP/",
        "service_id": "BC_EXT_APPJOB_MANAGEMENT",
        "service_version": "0002",
    }
    assert inner.find(f"{M}transactionid").text == TRANSACTION
    assert inner.find(f"{M}timestamp").text == "20181210225525.4356360"
    resolution = inner.find(f"{M}Error_Resolution")
    assert [c.tag.removeprefix(M) for c in resolution] == ["SAP_Transaction", "SAP_Note"]
    assert "1797736" in resolution.find(f"{M}SAP_Note").text


def test_xml_error_details_follow_the_capture() -> None:
    """Each errordetail has code, message, optional longtext_url, propertyref, severity and target, in that order."""
    raw = errordocs.error_document("APJ_RT/032", "Job scheduling failed", details=DETAILS, now=NOW)
    details = parse(raw).findall(f"{M}innererror/{M}errordetails/{M}errordetail")
    assert [[c.tag.removeprefix(M) for c in d] for d in details] == [
        ["code", "message", "propertyref", "severity", "target"],
        ["code", "message", "longtext_url", "propertyref", "severity", "target"],
    ]
    assert details[0].find(f"{M}message").text == "Planning area DS6A isn't valid for you."
    assert details[1].find(f"{M}severity").text == "error"
    assert b"<propertyref/>" in raw
    assert b"<target/>" in raw


def test_xml_error_without_details_or_innererror() -> None:
    """No details give an empty <errordetails/>; innererror=False leaves the innererror out."""
    assert b"<errordetails/>" in errordocs.error_document("APJ_RT/003", "Job doesn't exist.")
    root = parse(errordocs.error_document("X", "y", innererror=False))
    assert [c.tag for c in root] == [f"{M}code", f"{M}message"]


def test_json_error_document_shape() -> None:
    """The JSON error nests the same fields, with message {lang, value} and errordetails as an array."""
    raw = errordocs.error_document(
        "APJ_RT/003", "Job doesn't exist.", fmt="json", lang="de", details=DETAILS[:1], transaction=TRANSACTION, now=NOW
    )
    error = json.loads(raw)["error"]
    assert list(error) == ["code", "message", "innererror"]
    assert error["code"] == "APJ_RT/003"
    assert error["message"] == {"lang": "de", "value": "Job doesn't exist."}
    inner = error["innererror"]
    assert list(inner) == ["application", "transactionid", "timestamp", "Error_Resolution", "errordetails"]
    assert inner["application"]["component_id"] == "BC-CCM-BTC"
    assert inner["transactionid"] == TRANSACTION
    assert inner["timestamp"] == "20181210225525.4356360"
    assert list(inner["Error_Resolution"]) == ["SAP_Transaction", "SAP_Note"]
    assert inner["errordetails"] == [
        {
            "code": "/IBP/CM_PL_OP/201",
            "message": "Planning area DS6A isn't valid for you.",
            "propertyref": "",
            "severity": "error",
            "target": "",
        }
    ]


def test_error_ids_and_timestamps_are_generated() -> None:
    """Without arguments an error gets a fresh 32-hex-digit transaction id and a current SAP timestamp."""
    first = json.loads(errordocs.error_document("A", "b", fmt="json"))["error"]["innererror"]
    second = json.loads(errordocs.error_document("A", "b", fmt="json"))["error"]["innererror"]
    assert re.fullmatch(r"[0-9A-F]{32}", first["transactionid"])
    assert first["transactionid"] != second["transactionid"]
    assert re.fullmatch(r"\d{14}\.\d{7}", first["timestamp"])


def test_error_messages_are_escaped() -> None:
    """Special characters in error messages survive both formats."""
    message = "Job <X> & 'Y' – ü"
    assert parse(errordocs.error_document("C", message)).find(f"{M}message").text == message
    assert json.loads(errordocs.error_document("C", message, fmt="json"))["error"]["message"]["value"] == message


def test_error_document_rejects_unknown_formats() -> None:
    """Only xml, atom and json are known error formats."""
    with pytest.raises(ValueError, match="format"):
        errordocs.error_document("C", "m", fmt="html")
