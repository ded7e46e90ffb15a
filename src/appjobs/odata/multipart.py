"""OData v2 ``$batch`` bodies: a strict reader of requests and a writer of responses (MIME multipart/mixed).

A batch request is ``multipart/mixed``; each part is either one request
(``Content-Type: application/http``, ``Content-Transfer-Encoding: binary``,
the part's body an HTTP request) or a changeset (``Content-Type:
multipart/mixed; boundary=…``, whose parts are requests that change
something)::

    --batch_1
    Content-Type: application/http
    Content-Transfer-Encoding: binary

    GET JobStatusGet?JobName='…'&JobRunCount='…' HTTP/1.1
    Accept: application/json

    --batch_1
    Content-Type: multipart/mixed; boundary=changeset_1

    --changeset_1
    Content-Type: application/http
    Content-Transfer-Encoding: binary
    Content-ID: 1

    POST JobSchedule?JobTemplateName='…' HTTP/1.1

    --changeset_1--
    --batch_1--

Why a parser of our own and not :mod:`email`: the email package is made to
read whatever a mail reader meets, so it records defects (a missing close
delimiter, a header line without a colon, a missing boundary) instead of
refusing them, and it knows nothing of the HTTP message inside a part,
which needs a parser anyway. Here every departure from the format is a
:class:`MalformedBatch` that names the part and what is wrong, and the rules
fit on a page. Line ends may be CRLF (the standard) or a bare LF (what
hand-written batches often have), as most OData servers accept.

What is refused: a Content-Type without a boundary, a body without its
delimiters or its close delimiter, a part without a Content-Type or of
another type, a transfer encoding other than ``binary``, a changeset inside
a changeset, a GET inside a changeset or anything but a GET outside one
(OData v2: only retrieve requests stand alone), a method HTTP or OData does
not know, a request line that is not ``METHOD URL HTTP/1.1``, a header line
without a name or holding a control character, and more than
:data:`MAX_OPERATIONS` requests.
"""

from __future__ import annotations

import dataclasses
import http
import re
import uuid
from collections.abc import Sequence
from urllib.parse import urlsplit

from appjobs import errors

MAX_OPERATIONS = 1000  #: requests in one batch, changeset requests included
METHODS = frozenset({"GET", "POST", "PUT", "MERGE", "PATCH", "DELETE"})  #: what a batch request may use
_TOKEN = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_BOUNDARY = re.compile(r"^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$")  # RFC 2046 bchars
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_VERSIONS = (b"HTTP/1.1", b"HTTP/1.0")
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")


class MalformedBatch(errors.InvalidInput):
    """A ``$batch`` body that is not what OData v2 allows; the message names the part and what is wrong."""


@dataclasses.dataclass(frozen=True)
class Operation:
    """One request of a batch: the HTTP request inside an ``application/http`` part."""

    method: str
    path: str  #: raw (percent-encoded): absolute (``/sap/opu/…``), or relative to the service root
    query: str  #: raw, without the ``?``
    headers: dict[str, str]  #: the request's own headers, names in lower case
    body: bytes = b""
    content_id: str | None = None  #: the part's ``Content-ID``, echoed in its answer


@dataclasses.dataclass(frozen=True)
class Changeset:
    """Requests that succeed or fail together."""

    operations: tuple[Operation, ...]


@dataclasses.dataclass(frozen=True)
class Answer:
    """One request's response, to be written into the batch response."""

    status: int
    headers: Sequence[tuple[str, str]]
    body: bytes
    content_id: str | None = None


def boundary_of(content_type: str | None) -> str:
    """The boundary of a ``multipart/mixed`` Content-Type; :class:`MalformedBatch` for anything else."""
    media, params = _content_type(content_type or "")
    if media != "multipart/mixed":
        raise MalformedBatch(
            f"The Content-Type of a $batch request must be multipart/mixed with a boundary, not '{content_type or ''}'."
        )
    boundary = params.get("boundary", "")
    if not _BOUNDARY.match(boundary):
        raise MalformedBatch(
            "The Content-Type of the $batch request has no boundary"
            + (f" it may use ('{boundary}' is not one by RFC 2046)." if boundary else ".")
        )
    return boundary


def parse_batch(body: bytes, boundary: str) -> list[Operation | Changeset]:
    """The requests and changesets of a batch body, in order; :class:`MalformedBatch` when it is malformed."""
    items: list[Operation | Changeset] = []
    count = 0
    for number, raw in enumerate(_split(body, boundary, "$batch request"), 1):
        where = f"part {number} of the $batch request"
        headers, content = _mime_part(raw, where)
        media, params = _content_type(headers.get("content-type", ""))
        if media == "multipart/mixed":
            item: Operation | Changeset = _changeset(content, params, headers, where)
            count += len(item.operations)
        else:
            item = _operation(media, headers, content, where)
            if item.method != "GET":
                raise MalformedBatch(f"{where}: a {item.method} request must be inside a changeset.")
            count += 1
        if count > MAX_OPERATIONS:
            raise MalformedBatch(f"The $batch request holds more than {MAX_OPERATIONS} requests.")
        items.append(item)
    return items


def _changeset(content: bytes, params: dict[str, str], headers: dict[str, str], where: str) -> Changeset:
    _check_encoding(headers, where)
    boundary = params.get("boundary", "")
    if not _BOUNDARY.match(boundary):
        raise MalformedBatch(f"{where}: the changeset has no valid boundary in its Content-Type.")
    operations = []
    for number, raw in enumerate(_split(content, boundary, f"changeset in {where}"), 1):
        inner = f"{where}, request {number} of its changeset"
        part_headers, part_content = _mime_part(raw, inner)
        media, _ = _content_type(part_headers.get("content-type", ""))
        if media == "multipart/mixed":
            raise MalformedBatch(f"{inner}: a changeset cannot hold another changeset.")
        operation = _operation(media, part_headers, part_content, inner)
        if operation.method == "GET":
            raise MalformedBatch(f"{inner}: a GET request cannot be inside a changeset.")
        operations.append(operation)
    return Changeset(tuple(operations))


def _operation(media: str, headers: dict[str, str], content: bytes, where: str) -> Operation:
    if media != "application/http":
        shown = headers.get("content-type")
        raise MalformedBatch(
            f"{where}: its Content-Type must be application/http or multipart/mixed, "
            + (f"not '{shown}'." if shown else "and it has none.")
        )
    _check_encoding(headers, where)
    lines, body = _head(content)
    if not lines:
        raise MalformedBatch(f"{where}: the part holds no HTTP request.")
    fields = lines[0].split(b" ")
    if len(fields) != 3 or fields[2] not in _VERSIONS or _bad_url(fields[1]):
        shown = lines[0][:100].decode("latin-1")
        raise MalformedBatch(f"{where}: '{shown}' is not a request line (METHOD URL HTTP/1.1).")
    method = fields[0].decode("latin-1")
    if method not in METHODS:
        raise MalformedBatch(
            f"{where}: unknown method '{method[:20]}'; a batch request uses {', '.join(sorted(METHODS))}."
        )
    request_headers = _headers(lines[1:], where)
    content_id = headers.get("content-id") or request_headers.get("content-id")
    path, query = _target(fields[1].decode("latin-1"), where)
    return Operation(method, path, query, request_headers, body, content_id)


def _target(url: str, where: str) -> tuple[str, str]:
    """Path and query of a request's URL: relative to the service root, an absolute path, or an absolute URL."""
    url = url.partition("#")[0]
    if "://" not in url.partition("?")[0]:
        path, _, query = url.partition("?")
        return path, query
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise MalformedBatch(f"{where}: '{url[:100]}' is not a URL ({exc}).") from exc
    if parts.scheme.lower() not in ("http", "https") or not parts.path.startswith("/"):
        raise MalformedBatch(f"{where}: '{url[:100]}' is not an http(s) URL with a path.")
    return parts.path, parts.query


def _bad_url(url: bytes) -> bool:
    return not url or _CONTROL.search(url) is not None or b"\t" in url


def _check_encoding(headers: dict[str, str], where: str) -> None:
    encoding = headers.get("content-transfer-encoding")
    if encoding is not None and encoding.lower() != "binary":
        raise MalformedBatch(f"{where}: Content-Transfer-Encoding must be binary, not '{encoding}'.")


def _split(body: bytes, boundary: str, what: str) -> list[bytes]:
    """The parts of a multipart *body*: between its delimiter lines, up to the close delimiter.

    The line end before a delimiter belongs to the delimiter (RFC 2046); what
    comes before the first delimiter (the preamble) and after the close
    delimiter (the epilogue) is ignored.
    """
    # The literal first lets the regex engine skip ahead; that a delimiter begins a line is checked after.
    pattern = re.compile(re.escape(b"--" + boundary.encode("ascii")) + rb"(--)?[ \t]*(?:\r?\n|\Z)")
    matches = [m for m in pattern.finditer(body) if m.start() == 0 or body[m.start() - 1] == 0x0A]
    if not matches:
        raise MalformedBatch(f"The {what} has no part: no line '--{boundary}' begins one.")
    parts = []
    for index, match in enumerate(matches):
        if match.group(1):
            return parts
        if index + 1 == len(matches):
            break
        content = body[match.end() : matches[index + 1].start()]
        parts.append(
            content[:-2] if content.endswith(b"\r\n") else content[:-1] if content.endswith(b"\n") else content
        )
    raise MalformedBatch(f"The {what} does not end with its close delimiter '--{boundary}--'.")


def _mime_part(raw: bytes, where: str) -> tuple[dict[str, str], bytes]:
    lines, content = _head(raw)
    return _headers(lines, where), content


def _head(data: bytes) -> tuple[list[bytes], bytes]:
    """The header lines of *data* (up to the first empty line, or its end) and what follows them."""
    if not data:
        return [], b""
    if data.startswith((b"\n", b"\r\n")):
        return [], data[data.index(b"\n") + 1 :]
    blank = _BLANK_LINE.search(data)
    if blank is None:  # the head runs to the end, perhaps with the end of its last line
        head, rest = data[:-1] if data.endswith(b"\n") else data, b""
    else:
        head, rest = data[: blank.start()], data[blank.end() :]
    return [line[:-1] if line.endswith(b"\r") else line for line in head.split(b"\n")], rest


def _headers(lines: list[bytes], where: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.match(name) or _CONTROL.search(value):
            shown = line[:100].decode("latin-1").encode("unicode_escape").decode("ascii")
            raise MalformedBatch(f"{where}: '{shown}' is not a header line (Name: value).")
        key, text = name.decode("ascii").lower(), value.strip(b" \t").decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return headers


def _content_type(value: str) -> tuple[str, dict[str, str]]:
    """Media type (lower case) and parameters of a Content-Type value."""
    media, *rest = value.split(";")
    params = {}
    for item in rest:
        name, _, text = item.strip().partition("=")
        text = text.strip()
        if len(text) >= 2 and text[0] == text[-1] == '"':
            text = text[1:-1]
        params[name.strip().lower()] = text
    return media.strip().lower(), params


# --- writing the response --------------------------------------------------------------


def new_boundary(kind: str) -> str:
    """A boundary no body holds: ``batchresponse_…`` or ``changesetresponse_…`` and a random UUID, as Gateway's."""
    return f"{kind}_{uuid.uuid4()}"


def write_batch(items: Sequence[Answer | Sequence[Answer]], boundary: str) -> bytes:
    """The body of a batch response: one part per request, a nested multipart per changeset that succeeded.

    A changeset that failed is answered by one part, the failing request's
    answer, in place of the nested multipart (OData v2, as SAP Gateway does).
    """
    out: list[bytes] = []
    for item in items:
        out.append(b"--" + boundary.encode() + b"\r\n")
        if isinstance(item, Answer):
            out.append(_answer_part(item))
            continue
        inner = new_boundary("changesetresponse")
        out.append(f"Content-Type: multipart/mixed; boundary={inner}\r\n\r\n".encode())
        for answer in item:
            out.append(b"--" + inner.encode() + b"\r\n" + _answer_part(answer))
        out.append(b"--" + inner.encode() + b"--\r\n")
    out.append(b"--" + boundary.encode() + b"--\r\n")
    return b"".join(out)


def _answer_part(answer: Answer) -> bytes:
    head = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if answer.content_id is not None:
        head.append(f"Content-ID: {answer.content_id}")
    head += ["", f"HTTP/1.1 {answer.status} {_reason(answer.status)}"]
    head += [f"{name}: {value}" for name, value in answer.headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + answer.body + b"\r\n"


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
