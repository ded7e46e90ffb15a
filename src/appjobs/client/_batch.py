"""OData v2 ``$batch`` for the client: many requests in one round trip, and JobSchedules that succeed or fail together.

SAP recommends ``$batch`` when a JobSchedule's parameters would make its URL
too long: inside a batch each request's URL travels in the body. Two uses:

* :func:`schedule_many` sends JobSchedules as one changeset: the service
  schedules all of them or none (a failing one is reported, with SAP's code,
  as :class:`BatchRefused`, and none of the jobs exists).
* :func:`statuses` reads the status of many jobs in one request (retrieve
  requests), each answered on its own: a job that does not exist is a
  :class:`~appjobs.client.JobNotFound` in its place, not a failure of the whole.

A service without ``$batch`` (an older tenant, a proxy that refuses it)
answers 404, 405 or 501: :class:`BatchNotSupported` says so.

The multipart reader here is the client's own (the client imports nothing
of the service side); it reads what SAP Gateway and ``appjobs serve`` write.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Sequence
from http import HTTPStatus

from appjobs.client import _literals as literals
from appjobs.client import _records as records
from appjobs.client._errors import (
    BatchNotSupported,
    BatchRefused,
    OutcomeUnknown,
    ProtocolError,
    ServiceError,
    service_error,
)
from appjobs.client._models import JobKey, JobState
from appjobs.client._params import Parameters, parameter_values
from appjobs.client._parsing import read_error, read_rows
from appjobs.client._transport import Answer, Transport

NOT_OFFERED = (404, 405, 501)  #: what a service without $batch answers to one


@dataclasses.dataclass(frozen=True)
class Schedule:
    """One JobSchedule of :meth:`Client.schedule_many`, with the arguments of :meth:`Client.schedule`."""

    template_name: str
    text: str
    job_user: str | None = None
    test_mode: bool = False
    parameters: Parameters | None = None

    def query(self) -> str:
        """JobSchedule's query string: :meth:`Client.schedule` sends it alone, :meth:`Client.schedule_many` batched."""
        pairs = [("JobTemplateName", literals.string(self.template_name)), ("JobText", literals.string(self.text))]
        if self.job_user:
            pairs.append(("JobUser", literals.string(self.job_user)))
        pairs.append(("TestModeInd", literals.boolean(self.test_mode)))
        if self.parameters:
            pairs.append(("JobParameterValues", literals.string(parameter_values(self.parameters))))
        return literals.query([*pairs, ("$format", "json")])


@dataclasses.dataclass(frozen=True)
class Part:
    """One answer inside a batch response."""

    status: int
    headers: dict[str, str]
    body: bytes
    content_id: str | None = None


def schedule_many(transport: Transport, schedules: Sequence[Schedule]) -> list[JobState]:
    """Schedule every one of *schedules* in one changeset: their states in order, or :class:`BatchRefused`."""
    if not schedules:
        return []
    requests = [("POST", f"JobSchedule?{item.query()}") for item in schedules]
    (answer,) = send(transport, [requests], operation="JobSchedule ($batch)")
    if isinstance(answer, Part):
        raise _refused(answer, len(schedules))
    if len(answer) != len(schedules):
        raise ProtocolError(f"the changeset of {len(schedules)} JobSchedules was answered by {len(answer)} parts")
    return [_state(part) for part in answer]


def statuses(transport: Transport, jobs: Sequence[JobKey]) -> list[JobState | ServiceError]:
    """The status of each of *jobs* (JobStatusGet), in order; an error in the place of a job that has none."""
    if not jobs:
        return []
    requests = [("GET", f"JobStatusGet?{_key_query(job)}") for job in jobs]
    answers = send(transport, requests, operation="JobStatusGet ($batch)")
    results: list[JobState | ServiceError] = []
    for answer in answers:
        if not isinstance(answer, Part):
            raise ProtocolError("a retrieve request of the batch was answered by a changeset")
        results.append(_state(answer) if answer.status < 300 else _error(answer))
    return results


def send(
    transport: Transport, items: Sequence[tuple[str, str] | Sequence[tuple[str, str]]], *, operation: str
) -> list[Part | list[Part]]:
    """Send a batch: ``(method, relative URL)`` requests, or lists of them (changesets); the answers in order.

    Each answer is a :class:`Part`, or for a changeset that succeeded the list
    of its parts; a changeset that failed is answered by the one failing part.
    """
    boundary = f"batch_{uuid.uuid4()}"
    body = write_request(items, boundary)
    try:
        return transport.post(
            transport.url("$batch"),
            read_response,
            operation=operation,
            body=body,
            content_type=f"multipart/mixed; boundary={boundary}",
        )
    except OutcomeUnknown as lost:  # 501 is a 5xx, which the transport cannot tell from a failure after acting
        cause = lost.__cause__
        if isinstance(cause, ServiceError) and cause.status == HTTPStatus.NOT_IMPLEMENTED:
            raise _not_offered(transport, cause) from lost
        raise
    except ServiceError as exc:
        if exc.status in NOT_OFFERED:
            raise _not_offered(transport, exc) from exc
        raise


def _not_offered(transport: Transport, cause: ServiceError) -> BatchNotSupported:
    return BatchNotSupported(
        f"the service does not offer $batch (HTTP {cause.status} for {transport.root}/$batch: {cause}); "
        "send the requests one by one",
        status=cause.status,
    )


def write_request(items: Sequence[tuple[str, str] | Sequence[tuple[str, str]]], boundary: str) -> bytes:
    """The body of a batch request; a changeset's requests get Content-IDs 1, 2, … in their order."""
    out: list[str] = []
    for item in items:
        out.append(f"--{boundary}")
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            out += _request_part(*item)
            continue
        inner = f"changeset_{uuid.uuid4()}"
        out += [f"Content-Type: multipart/mixed; boundary={inner}", ""]
        for number, (method, url) in enumerate(item, 1):  # type: ignore[misc]
            out += [f"--{inner}", *_request_part(method, url, content_id=str(number))]
        out.append(f"--{inner}--")
    out.append(f"--{boundary}--")
    return ("\r\n".join(out) + "\r\n").encode("utf-8")


def _request_part(method: str, url: str, content_id: str | None = None) -> list[str]:
    head = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    head += [f"Content-ID: {content_id}"] if content_id else []
    return [*head, "", f"{method} {url} HTTP/1.1", "Accept: application/json", ""]


# --- reading the response -------------------------------------------------------------

_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)


def read_response(answer: Answer) -> list[Part | list[Part]]:
    """The parts of a batch response, in order; :class:`ProtocolError` when it is not one."""
    boundary = _boundary(answer.content_type, "the batch response")
    items: list[Part | list[Part]] = []
    for raw in _split(answer.body, boundary):
        headers, content = _head(raw)
        content_type = headers.get("content-type", "")
        if content_type.lower().startswith("multipart/mixed"):
            inner = _boundary(content_type, "a changeset response")
            items.append([_http_part(*_head(part)) for part in _split(content, inner)])
        else:
            items.append(_http_part(headers, content))
    return items


def _boundary(content_type: str, what: str) -> str:
    match = _BOUNDARY.search(content_type)
    if not content_type.lower().startswith("multipart/mixed") or match is None:
        raise ProtocolError(f"{what} is not multipart/mixed with a boundary (Content-Type {content_type!r})")
    return match.group(1).strip()


def _split(body: bytes, boundary: str) -> list[bytes]:
    """The parts between the delimiter lines of *body*, up to the close delimiter (RFC 2046)."""
    delimiter = re.compile(rb"(?:\A|(?<=\n))--" + re.escape(boundary.encode()) + rb"(--)?[ \t]*(?:\r?\n|\Z)")
    parts, start = [], None
    for match in delimiter.finditer(body):
        if start is not None:
            parts.append(re.sub(rb"\r?\n\Z", b"", body[start : match.start()]))
        if match.group(1):
            return parts
        start = match.end()
    raise ProtocolError(f"the batch response does not end with its delimiter --{boundary}--")


def _head(data: bytes) -> tuple[dict[str, str], bytes]:
    """Headers (names in lower case) up to the first empty line, and what follows it."""
    end = re.search(rb"(?:\A|\n)\r?\n", data)
    head, rest = (data[: end.start()], data[end.end() :]) if end else (data, b"")
    headers = {}
    for line in head.decode("latin-1").splitlines():
        name, colon, value = line.partition(":")
        if not colon:
            raise ProtocolError(f"the batch response has a header line without a colon: {line[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    return headers, rest


def _http_part(headers: dict[str, str], content: bytes) -> Part:
    status_line, _, message = content.partition(b"\n")
    fields = status_line.decode("latin-1").strip().split(" ", 2)
    if len(fields) < 2 or not fields[0].startswith("HTTP/") or not fields[1].isdigit():
        raise ProtocolError(f"a part of the batch response has no status line: {status_line[:80]!r}")
    inner, body = _head(message) if message else ({}, b"")
    length = inner.get("content-length", "")
    if length.isdigit():
        body = body[: int(length)]
    content_id = headers.get("content-id") or inner.get("content-id")
    return Part(int(fields[1]), inner, body, content_id)


def _state(part: Part) -> JobState:
    rows = read_rows(part.body).rows
    if len(rows) != 1:
        raise ProtocolError(f"expected one entity in a part of the batch response, got {len(rows)}")
    return records.job_state(rows[0])


def _error(part: Part) -> ServiceError:
    document = read_error(part.body)
    if document is None:
        return service_error(f"HTTP {part.status} in the batch response", status=part.status)
    return service_error(
        f"{document.message} ({document.code})",
        status=part.status,
        code=document.code,
        details=document.details,
        transaction_id=document.transaction_id,
    )


def _refused(part: Part, count: int) -> BatchRefused:
    cause = _error(part)
    index = int(part.content_id) - 1 if (part.content_id or "").isdigit() else None
    which = f"JobSchedule {index + 1} of {count}" if index is not None and index < count else "a JobSchedule"
    reasons = [d.message for d in cause.details if d.message and d.message != cause.message]
    return BatchRefused(
        f"{which} failed, so none of the {count} jobs was scheduled: {cause}"
        + (f": {'; '.join(reasons)}" if reasons else ""),
        index=index,
        status=part.status,
        code=cause.code,
        details=cause.details,
        transaction_id=cause.transaction_id,
    )


def _key_query(job: JobKey) -> str:
    return literals.query(
        [("JobName", literals.string(job.name)), ("JobRunCount", literals.string(job.run_count)), ("$format", "json")]
    )
