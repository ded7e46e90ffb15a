"""Reading the service's answers: verbose JSON, Atom XML, and SAP error documents.

The client asks for JSON, but a tenant (or a proxy in between) may answer
in Atom anyway, so both are read, and the body decides, not the
Content-Type. Every reader returns *rows*: dicts keyed by SAP property
names, with the values as the wire had them (JSON numbers and booleans,
``"/Date(1492098664000)/"``, Atom text, None for ``null`` and
``m:null="true"``). Turning them into Python values is
:mod:`appjobs.client._records`' job. The shapes read::

    {"d": {"JobName": "…", "JobRunCount": "…", …}}                      one entity
    {"d": {"results": [{…}, …], "__next": "…"}}                           a collection (OData v2)
    {"d": [{…}, …]}                                                        a collection (OData v1)
    <entry …><content><m:properties><d:JobName>…</d:JobName>…              one entity
    <feed …><entry>…</entry><entry>…</entry><link rel="next" href="…"/>   a collection

XML goes through defusedxml: a hostile proxy must not be able to make the
client expand entities or fetch external DTDs. It is imported on the first
XML answer: the client asks for JSON, and ``appjobs run`` starts faster and
stays smaller without an XML parser it rarely needs.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from appjobs.client._errors import ErrorDetail, ProtocolError

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

ATOM = "{http://www.w3.org/2005/Atom}"
DATA = "{http://schemas.microsoft.com/ado/2007/08/dataservices}"
METADATA = "{http://schemas.microsoft.com/ado/2007/08/dataservices/metadata}"
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
_BOM = b"\xef\xbb\xbf"

Row = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Rows:
    """The entities of one answer, and the absolute URL of the next page when the service pages."""

    rows: tuple[Row, ...]
    next_url: str | None = None


@dataclasses.dataclass(frozen=True)
class ErrorDocument:
    """What an SAP error document says."""

    code: str
    message: str
    details: tuple[ErrorDetail, ...] = ()
    transaction_id: str | None = None


def read_rows(body: bytes) -> Rows:
    """The entities in *body*, JSON or Atom; :class:`ProtocolError` when it holds none."""
    first = body.lstrip().removeprefix(_BOM).lstrip()[:1]
    if first in (b"{", b"["):
        return _json_rows(_load_json(body))
    if first == b"<":
        return _atom_rows(_load_xml(body))
    raise ProtocolError("the answer is neither JSON nor XML" if body.strip() else "the answer is empty")


def read_error(body: bytes) -> ErrorDocument | None:
    """The SAP error document in *body*, JSON or XML; None when *body* is not one."""
    first = body.lstrip().removeprefix(_BOM).lstrip()[:1]
    try:
        if first == b"{":
            document = _load_json(body)
            return _json_error(document.get("error")) if isinstance(document, dict) else None
        if first == b"<":
            return _xml_error(_load_xml(body))
    except ProtocolError:
        return None
    return None


# --- JSON ------------------------------------------------------------------------------


def _load_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:  # UnicodeDecodeError is one too
        raise ProtocolError(f"the JSON answer cannot be read ({exc}); was it cut off?") from exc


def _json_rows(document: Any) -> Rows:
    d = document.get("d") if isinstance(document, dict) else None
    if isinstance(d, list):
        return Rows(tuple(_json_row(item) for item in d))
    if not isinstance(d, dict):
        raise ProtocolError('the JSON answer has no "d" object: it is not OData v2 verbose JSON')
    results = d.get("results")
    if isinstance(results, list):
        next_url = d.get("__next")
        return Rows(tuple(_json_row(item) for item in results), next_url if isinstance(next_url, str) else None)
    if isinstance(results, dict):  # SAP's documentation shows single entities wrapped like this
        return Rows((_json_row(results),))
    return Rows((_json_row(d),))


def _json_row(item: Any) -> Row:
    if not isinstance(item, dict):
        raise ProtocolError(f"an entity in the JSON answer is a {type(item).__name__}, not an object")
    # __metadata and deferred or expanded navigations are objects; properties never are.
    return {name: value for name, value in item.items() if not isinstance(value, (dict, list))}


def _json_error(error: Any) -> ErrorDocument | None:
    if not isinstance(error, dict) or "code" not in error:
        return None
    message = error.get("message")
    text = message.get("value") if isinstance(message, dict) else message
    inner = error.get("innererror") if isinstance(error.get("innererror"), dict) else {}
    listed = inner.get("errordetails", [])
    if isinstance(listed, dict):  # one Gateway wraps the list: {"errordetail": [...]}
        listed = listed.get("errordetail", [])
    details = tuple(_json_detail(item) for item in listed if isinstance(item, dict)) if isinstance(listed, list) else ()
    transaction = inner.get("transactionid")
    return ErrorDocument(
        str(error["code"]), str(text or ""), details, str(transaction) if transaction is not None else None
    )


def _json_detail(item: dict[str, Any]) -> ErrorDetail:
    return ErrorDetail(
        code=str(item.get("code") or ""),
        message=str(item.get("message") or ""),
        severity=str(item.get("severity") or "error"),
        target=str(item.get("target") or ""),
    )


# --- XML -------------------------------------------------------------------------------


def _load_xml(body: bytes) -> Element:
    from xml.etree.ElementTree import ParseError

    import defusedxml
    import defusedxml.ElementTree

    try:
        return defusedxml.ElementTree.fromstring(body)
    except (ParseError, defusedxml.DefusedXmlException) as exc:
        raise ProtocolError(f"the XML answer cannot be read ({exc}); was it cut off?") from exc


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _atom_rows(root: Element) -> Rows:
    if root.tag == ATOM + "entry":
        return Rows((_atom_row(root),))
    if root.tag != ATOM + "feed":
        raise ProtocolError(f"the XML answer is a <{_local(root.tag)}>, not an Atom feed or entry")
    rows = tuple(_atom_row(entry) for entry in root.findall(ATOM + "entry"))
    following = next((link for link in root.findall(ATOM + "link") if link.get("rel") == "next"), None)
    href = following.get("href") if following is not None else None
    try:
        return Rows(rows, urljoin(root.get(XML_BASE, ""), href) if href else None)
    except ValueError as exc:  # urljoin refuses a malformed base such as "https://[host]/"
        raise ProtocolError(f"the feed's next link cannot be resolved: {exc}") from exc


def _atom_row(entry: Element) -> Row:
    # Entities are in <content>; media-link entries put m:properties directly in the entry.
    properties = entry.find(f"{ATOM}content/{METADATA}properties")
    if properties is None:
        properties = entry.find(METADATA + "properties")
    if properties is None:
        raise ProtocolError("an Atom entry has no m:properties")
    return {
        _local(child.tag): None if child.get(METADATA + "null") == "true" else (child.text or "")
        for child in properties
    }


def _child_text(element: Element | None, name: str) -> str | None:
    """The text of *element*'s first child called *name* in any namespace (Gateways differ)."""
    if element is None:
        return None
    found = next((child for child in element if _local(child.tag) == name), None)
    return None if found is None else (found.text or "")


def _child(element: Element | None, name: str) -> Element | None:
    return None if element is None else next((c for c in element if _local(c.tag) == name), None)


def _xml_error(root: Element) -> ErrorDocument | None:
    code = _child_text(root, "code")
    if _local(root.tag) != "error" or code is None:
        return None
    inner = _child(root, "innererror")
    details = tuple(
        ErrorDetail(
            code=_child_text(item, "code") or "",
            message=_child_text(item, "message") or "",
            severity=_child_text(item, "severity") or "error",
            target=_child_text(item, "target") or "",
        )
        for item in (_child(inner, "errordetails") or ())
    )
    return ErrorDocument(
        code, (_child_text(root, "message") or "").strip(), details, _child_text(inner, "transactionid")
    )
