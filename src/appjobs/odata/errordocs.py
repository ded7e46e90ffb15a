"""SAP Gateway error documents for BC_EXT_APPJOB_MANAGEMENT, in XML and in JSON.

:func:`error_document` writes what a real tenant answers with its HTTP 4xx/5xx
(reference §3.5, the IBP guide's capture of a failed JobSchedule). XML, on one
line in reality::

    <?xml version="1.0" encoding="utf-8"?>
    <error xmlns="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata">
     <code>APJ_RT/003</code><message xml:lang="en">Job doesn't exist.</message>
     <innererror>
      <application><component_id>BC-CCM-BTC</component_id><service_namespace>/SAP/</service_namespace>
       <service_id>BC_EXT_APPJOB_MANAGEMENT</service_id><service_version>0002</service_version></application>
      <transactionid>545B03A9D9230230E0058AD11AF3AC59</transactionid>
      <timestamp>20181210225525.4356360</timestamp>
      <Error_Resolution><SAP_Transaction/><SAP_Note>See SAP Note 1797736 for error analysis (…)</SAP_Note>
      </Error_Resolution>
      <errordetails>
       <errordetail><code>APJ_RT/003</code><message>Job doesn't exist.</message><propertyref/>
        <severity>error</severity><target/></errordetail>
      </errordetails>
     </innererror>
    </error>

JSON, the same fields::

    {"error": {"code": "APJ_RT/003", "message": {"lang": "en", "value": "Job doesn't exist."},
               "innererror": {"application": {…}, "transactionid": "…", "timestamp": "…",
                              "Error_Resolution": {"SAP_Transaction": "", "SAP_Note": "…"},
                              "errordetails": [{"code": "…", "message": "…", "propertyref": "",
                                                "severity": "error", "target": ""}]}}}

No details give ``<errordetails/>`` and ``[]``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import secrets
from collections.abc import Sequence
from typing import Any

from appjobs.odata.values import xml_attr, xml_text

METADATA_NS = "http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"

#: innererror/application of this service, as captured from an IBP tenant.
APPLICATION = {
    "component_id": "BC-CCM-BTC",
    "service_namespace": "/SAP/",
    "service_id": "BC_EXT_APPJOB_MANAGEMENT",
    "service_version": "0002",
}
#: The captured IBP error leaves SAP_Transaction empty (a cloud tenant offers its customers no
#: transactions); on-premise Gateways write :data:`ON_PREMISE_SAP_TRANSACTION` instead.
SAP_TRANSACTION = ""
ON_PREMISE_SAP_TRANSACTION = (
    "For backend administrators: run transaction /IWFND/ERROR_LOG on SAP Gateway hub system "
    "and search for entries with the timestamp above for more details"
)
SAP_NOTE = "See SAP Note 1797736 for error analysis (https://service.sap.com/sap/support/notes/1797736)"


@dataclasses.dataclass(frozen=True)
class ErrorDetail:
    """One ``errordetail``: a further message, e.g. the application's reason behind APJ_RT/032."""

    code: str
    message: str
    severity: str = "error"  #: error, warning, info or success
    target: str = ""
    propertyref: str = ""
    longtext_url: str | None = None  #: written only when set, between message and propertyref


def transaction_id() -> str:
    """A fresh Gateway-style transaction id: 32 upper-case hex digits."""
    return secrets.token_hex(16).upper()


def sap_timestamp(now: dt.datetime) -> str:
    """An ABAP long timestamp in UTC, ``YYYYMMDDhhmmss.fffffff``: ``20181210225525.4356360``."""
    if now.tzinfo is not None:
        now = now.astimezone(dt.UTC)
    return now.strftime("%Y%m%d%H%M%S") + f".{now.microsecond:06d}0"


def _element(name: str, text: str) -> str:
    return f"<{name}>{xml_text(text)}</{name}>" if text else f"<{name}/>"


def _detail_xml(detail: ErrorDetail) -> str:
    longtext = "" if detail.longtext_url is None else _element("longtext_url", detail.longtext_url)
    return (
        f"<errordetail>{_element('code', detail.code)}{_element('message', detail.message)}{longtext}"
        f"{_element('propertyref', detail.propertyref)}{_element('severity', detail.severity)}"
        f"{_element('target', detail.target)}</errordetail>"
    )


def _innererror_xml(details: Sequence[ErrorDetail], transaction: str, timestamp: str) -> str:
    application = "".join(_element(k, v) for k, v in APPLICATION.items())
    listed = "".join(_detail_xml(d) for d in details)
    return (
        f"<innererror><application>{application}</application>"
        f"{_element('transactionid', transaction)}{_element('timestamp', timestamp)}"
        f"<Error_Resolution>{_element('SAP_Transaction', SAP_TRANSACTION)}{_element('SAP_Note', SAP_NOTE)}"
        f"</Error_Resolution>{f'<errordetails>{listed}</errordetails>' if listed else '<errordetails/>'}"
        "</innererror>"
    )


def _detail_json(detail: ErrorDetail) -> dict[str, str]:
    fields = {"code": detail.code, "message": detail.message}
    if detail.longtext_url is not None:
        fields["longtext_url"] = detail.longtext_url
    fields |= {"propertyref": detail.propertyref, "severity": detail.severity, "target": detail.target}
    return fields


def _innererror_json(details: Sequence[ErrorDetail], transaction: str, timestamp: str) -> dict[str, Any]:
    return {
        "application": dict(APPLICATION),
        "transactionid": transaction,
        "timestamp": timestamp,
        "Error_Resolution": {"SAP_Transaction": SAP_TRANSACTION, "SAP_Note": SAP_NOTE},
        "errordetails": [_detail_json(d) for d in details],
    }


def error_document(
    code: str,
    message: str,
    *,
    fmt: str = "xml",
    lang: str = "en",
    details: Sequence[ErrorDetail] = (),
    transaction: str | None = None,
    now: dt.datetime | None = None,
    innererror: bool = True,
) -> bytes:
    """An SAP error document for *code* (``APJ_RT/003``) and *message*, as UTF-8 bytes.

    *fmt* is ``"json"`` for JSON, ``"xml"`` or ``"atom"`` for XML. *transaction*
    (32 hex digits) and *now* default to a fresh id and the current time; pass
    them to log the same id or to get a reproducible document. *innererror*
    False leaves the ``innererror`` out, as some Gateway framework errors do.
    """
    if fmt not in ("xml", "atom", "json"):
        raise ValueError(f"unknown error format {fmt!r}")
    transaction = transaction or transaction_id()
    timestamp = sap_timestamp(now or dt.datetime.now(dt.UTC))
    if fmt == "json":
        body: dict[str, Any] = {"code": code, "message": {"lang": lang, "value": message}}
        if innererror:
            body["innererror"] = _innererror_json(details, transaction, timestamp)
        return json.dumps({"error": body}, ensure_ascii=False, separators=(",", ":")).encode()
    inner = _innererror_xml(details, transaction, timestamp) if innererror else ""
    return (
        f'<?xml version="1.0" encoding="utf-8"?><error xmlns="{METADATA_NS}">{_element("code", code)}'
        f'<message xml:lang="{xml_attr(lang)}">{xml_text(message)}</message>{inner}</error>'
    ).encode()
