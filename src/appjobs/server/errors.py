"""The one place where errors become HTTP responses, as SAP Gateway writes them.

Every failure under the service root ends here, whether the engine raised
it (:mod:`appjobs.errors`) or the HTTP layer did (the classes below, which
belong to the same tree). The mapping, with SAP's codes:

=============================  ======  =============================================================
error                          status  body
=============================  ======  =============================================================
JobNotFound, TemplateNotFound  400     SAP error document, code ``APJ_RT/003`` / ``APJ_RT/015``
JobStateError, other business  400     code from ``message_id`` (``APJ_RT/040`` …)
RestartRefused                 400     ``APJ_RT/081``/``082``; errordetails say why (status, failed step)
MalformedLiteral               400     "Malformed URI literal syntax …"
InvalidInput (query options)   400     Gateway's framework code for a bad request
ResourceNotFound               404     "Resource not found for the segment 'X'."
MethodNotAllowed               405     error document, ``Allow`` header
UriTooLong                     414     error document
PayloadTooLarge                413     error document (a ``$batch`` body over its limit)
BatchBodiesBusy                503     error document, ``Retry-After: 5`` (``$batch`` bodies being read hold the budget)
Unauthorized                   401     ``WWW-Authenticate: Basic realm=…``, HTML body like ICF's
CsrfRequired                   403     ``x-csrf-token: Required``, text ``CSRF token validation failed``
StorageFull                    507     error document "The server's storage is full …", ``Retry-After: 60``
StorageUnavailable             503     error document "The database cannot be used now …", ``Retry-After: 10``
anything else                  500     error document; the exception is logged with its transaction id
=============================  ======  =============================================================

Why 507 Insufficient Storage for a full disk, and not 500 or 503: the
request was understood and may well succeed later, so it is no 500 (which
says "a bug; look in the log"); 503 would say "overloaded or down", and a
load balancer that sees it may take the whole server out of rotation,
although reads still work. 507 (RFC 4918: "unable to store the
representation needed to complete the request") names the cause exactly;
``Retry-After`` tells a client that honours it when to try again. The log
says it once a minute, not once a request (:class:`~appjobs.storage.diskfull.Throttled`).

A database that is down or unreachable (a PostgreSQL restart or fail-over,
a SQLite file locked past the busy timeout) is what 503 means: this server
cannot serve now, another one or a later try may. Schedulers treat it as
transient and poll again, where a 500 would fail the job they watch.

Choices where the reference is silent ([I] in sap-service-facts.md): the
Gateway framework codes are OTR GUIDs; we reuse the two captured ones
(``…B9A8FEC11C21D78E`` for a missing resource, ``…BB8AF4A65EC3CA20`` for a
bad request of any other kind). Error documents say DataServiceVersion 1.0,
as the captured 400 does.
"""

from __future__ import annotations

import logging

from starlette.responses import Response

from appjobs import errors
from appjobs.odata import errordocs
from appjobs.storage.diskfull import Throttled

logger = logging.getLogger(__name__)
_storage_full_log = Throttled(logger)
_unavailable_log = Throttled(logger)
STORAGE_FULL_RETRY_AFTER = "60"  # seconds: an operator has to free space, so not less
UNAVAILABLE_RETRY_AFTER = "10"  # seconds: a database restart or fail-over takes about that

RESOURCE_NOT_FOUND_CODE = "005056A509B11EE1B9A8FEC11C21D78E"
BAD_REQUEST_CODE = "005056A509B11EE1BB8AF4A65EC3CA20"
SCHEDULE_FAILED = "APJ_RT/032"
INTERNAL_ERROR = "An internal error occurred; the server log has the transaction id of this response."

CONTENT_TYPES = {"json": "application/json; charset=utf-8", "xml": "application/xml; charset=utf-8"}
BASE_HEADERS = {"cache-control": "no-store, no-cache", "x-content-type-options": "nosniff", "sap-server": "true"}


class HttpError(errors.AppjobsError):
    """A failure of the HTTP protocol itself, not of the job engine."""

    status = 400
    code = BAD_REQUEST_CODE


class ResourceNotFound(HttpError):
    """Resource not found."""

    status = 404
    code = RESOURCE_NOT_FOUND_CODE

    def __init__(self, segment: str) -> None:
        super().__init__(f"Resource not found for the segment '{segment}'.")


class MethodNotAllowed(HttpError):
    """Method not allowed."""

    status = 405

    def __init__(self, method: str, resource: str, allowed: tuple[str, ...]) -> None:
        super().__init__(f"The HTTP method {method} is not allowed for {resource}; use {' or '.join(allowed)}.")
        self.allowed = allowed


class UriTooLong(HttpError):
    """The request URI is too long."""

    status = 414


class PayloadTooLarge(HttpError):
    """The request body is too large."""

    status = 413


class BatchBodiesBusy(HttpError):
    """The ``$batch`` bodies being read fill their budget: try again in a few seconds."""

    status = 503


class Unauthorized(HttpError):
    """Logon failed."""

    status = 401


class CsrfRequired(HttpError):
    """CSRF token validation failed"""

    status = 403


class ScheduleFailed(errors.InvalidInput):
    """Job couldn't be scheduled."""

    message_id = SCHEDULE_FAILED

    def __init__(self, reason: errors.AppjobsError) -> None:
        super().__init__()
        self.reason = reason


def error_response(exc: Exception, fmt: str, *, realm: str = "") -> Response:
    """The response for *exc*, in *fmt* (``"json"`` or ``"xml"``) where a document is sent."""
    if isinstance(exc, Unauthorized):
        return _unauthorized(realm)
    if isinstance(exc, CsrfRequired):
        headers = BASE_HEADERS | {"x-csrf-token": "Required"}
        return Response(str(exc), 403, headers, media_type="text/plain; charset=utf-8")
    status, headers, body = raw_error(exc, fmt)
    return Response(body, status, headers)


def raw_error(exc: Exception, fmt: str = "xml") -> tuple[int, dict[str, str], bytes]:
    """Status, headers and SAP error document for *exc*, for callers below Starlette too."""
    status, code, details = _classify(exc)
    transaction = errordocs.transaction_id()
    unexpected = status >= 500 and not isinstance(exc, HttpError | errors.StorageUnavailable)
    if isinstance(exc, errors.StorageFull):
        _storage_full_log.warning("requests answered 507: %s", exc)
    elif isinstance(exc, errors.StorageUnavailable):
        _unavailable_log.warning("requests answered 503: %s", exc)
    elif unexpected:
        logger.error("internal error, transaction %s", transaction, exc_info=exc)
    # Only our own errors get here without being unexpected (anything else is a 500).
    message = exc.public_message if isinstance(exc, errors.AppjobsError) and not unexpected else INTERNAL_ERROR
    body = errordocs.error_document(code, message, fmt=fmt, details=details, transaction=transaction)
    headers = BASE_HEADERS | {"dataserviceversion": "1.0", "content-type": CONTENT_TYPES[fmt]}
    if isinstance(exc, MethodNotAllowed):
        headers["allow"] = ", ".join(exc.allowed)
    if isinstance(exc, errors.StorageFull):
        headers["retry-after"] = STORAGE_FULL_RETRY_AFTER
    elif isinstance(exc, errors.StorageUnavailable):
        headers["retry-after"] = UNAVAILABLE_RETRY_AFTER
    if isinstance(exc, BatchBodiesBusy):
        headers["retry-after"] = "5"
    return status, headers, body


def _classify(exc: Exception) -> tuple[int, str, list[errordocs.ErrorDetail]]:
    """Status, SAP code and error details for *exc*."""
    if isinstance(exc, HttpError):
        return exc.status, exc.code, []
    if isinstance(exc, errors.StorageUnavailable):  # a full disk is one kind, with a status of its own
        return 507 if isinstance(exc, errors.StorageFull) else 503, BAD_REQUEST_CODE, []
    if isinstance(exc, ScheduleFailed):
        reason = exc.reason
        return 400, SCHEDULE_FAILED, [errordocs.ErrorDetail(reason.message_id or BAD_REQUEST_CODE, reason.message)]
    if isinstance(exc, errors.AppjobsError) and exc.message_id:
        why = exc.why if isinstance(exc, errors.RestartRefused) else ""  # what SAP's terse message leaves out
        return 400, exc.message_id, [errordocs.ErrorDetail(exc.message_id, why)] if why else []
    if isinstance(exc, (errors.InvalidInput, errors.NotFound, errors.Conflict)):
        return 400, BAD_REQUEST_CODE, []
    return 500, BAD_REQUEST_CODE, []


def _unauthorized(realm: str) -> Response:
    # ICF answers with an HTML logon-error page; clients only look at the status and the header.
    body = "<html><head><title>Logon failed</title></head><body><h1>Logon failed</h1></body></html>"
    headers = BASE_HEADERS | {"www-authenticate": f'Basic realm="{realm}"'}
    return Response(body, 401, headers, media_type="text/html; charset=utf-8")
