"""The exception tree of :mod:`appjobs.client`.

Every error the client raises on purpose derives from :class:`ClientError`.
The families say what went wrong and therefore what the caller can do::

    ClientError
    ├── TransportError          no usable answer, even after the retries: refused or reset
    │   │                       connections, timeouts, truncated bodies, TLS failures
    │   └── OutcomeUnknown        a POST reached the service but its answer was lost:
    │       │                     it may have taken effect, so it is never re-sent blindly
    │       └── ScheduleOutcomeUnknown   ...and it was JobSchedule: look the job up by its text
    ├── ProtocolError           an answer the service would never send: unreadable body,
    │                           missing properties, not OData at all
    ├── WrongHostError          a redirect or an HTML/SAML login page: wrong host or
    │                           identity-provider redirect (use the ``-api`` host)
    ├── AuthenticationError     HTTP 401: wrong password, locked user, unmapped certificate;
    │                           never retried, because three failures lock the user
    ├── CsrfError               no CSRF token could be had, or a fresh one was refused too
    ├── ServiceError            the service said no, usually with an SAP error document
    │   ├── NotFound              HTTP 404, or an object the service does not know
    │   │   ├── JobNotFound         APJ_RT/003, APJ_RT/039
    │   │   ├── TemplateNotFound    APJ_RT/015, or no template has the text asked for
    │   │   ├── UserNotFound        APJ_RT/083 (JobUser)
    │   │   └── OperationNotOffered the service lacks a newer operation (HTTP 404 or 501 for it): an older tenant
    │   │       └── BatchNotSupported  no ``$batch`` (404, 405 or 501 for it)
    │   ├── AuthorizationError    HTTP 403, APJ_RT/005, /007, /024, /027 to /031, /077
    │   ├── JobStateError         the job's status does not allow it: APJ_RT/004, /011, /040, /079
    │   │   └── RestartRefused      JobRestart refused: APJ_RT/081 (the status), /082 (after the last step)
    │   ├── ScheduleError         JobSchedule failed: APJ_RT/016, /020 to /022, /032; ``details`` say why
    │   │   └── BatchRefused        a ``$batch`` changeset refused: none of its jobs exists; ``index`` names the one
    │   └── ServiceUnavailable    HTTP 429 or 5xx, still there after the retries
    └── AmbiguousTemplate       several templates have the text asked for

Every error has ``status``, the HTTP status when there was an answer.
:class:`ServiceError` also carries what SAP's error document says: ``code``
(``APJ_RT/003``), the message in the logon language, ``details`` (the
``errordetails`` list, where SAP puts the reason behind APJ_RT/032) and the
``transaction_id`` an administrator looks up in the tenant's error log::

    try:
        client.cancel(key)
    except JobStateError as exc:    # APJ_RT/040: "Job couldn't be canceled: Job is not running."
        print(exc.code, exc)

The client keeps this tree to itself (it does not use :mod:`appjobs.errors`),
so that it can talk to any tenant without the server side being installed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence


@dataclasses.dataclass(frozen=True)
class ErrorDetail:
    """One entry of an error document's ``errordetails``: a further message behind the main one."""

    code: str
    message: str
    severity: str = "error"  #: error, warning, info or success
    target: str = ""


class ClientError(Exception):
    """The External Job Scheduling service could not be used."""

    def __init__(self, message: str | None = None, *, status: int | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())
        self.status = status  #: the HTTP status of the answer, None when there was none

    @property
    def message(self) -> str:
        return str(self)


class TransportError(ClientError):
    """The service could not be reached, or its answer did not arrive whole."""


class OutcomeUnknown(TransportError):
    """A request reached the service, but its answer was lost: it may have taken effect."""

    def __init__(
        self, message: str | None = None, *, operation: str, sent_at: dt.datetime, status: int | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.operation = operation  #: the function import, e.g. ``"JobSchedule"``
        self.sent_at = sent_at  #: when the request was sent, UTC (the tenant's clock may differ)


class ScheduleOutcomeUnknown(OutcomeUnknown):
    """JobSchedule reached the service, but its answer was lost: the job may exist.

    Sending JobSchedule again could start the job twice. Look for it first::

        except ScheduleOutcomeUnknown as lost:
            found = client.find_jobs(lost.job_text, created_from=lost.sent_at - timedelta(minutes=10))
    """

    def __init__(
        self,
        message: str | None = None,
        *,
        sent_at: dt.datetime,
        template_name: str,
        job_text: str,
        status: int | None = None,
    ) -> None:
        super().__init__(message, operation="JobSchedule", sent_at=sent_at, status=status)
        self.template_name = template_name
        self.job_text = job_text


class ProtocolError(ClientError):
    """The answer is not what the service sends: it cannot be read as OData."""


class WrongHostError(ClientError):
    """The answer is a redirect or an HTML page, not OData: wrong host or identity-provider redirect.

    SAP's tenants answer API calls on the ``myNNNNNN-api`` host; the UI host
    (without ``-api``) sends a browser to a SAML identity provider instead.
    """


class AuthenticationError(ClientError):
    """Logon refused (HTTP 401)."""


class CsrfError(ClientError):
    """CSRF token validation failed (HTTP 403)."""


class ServiceError(ClientError):
    """The service refused the request."""

    def __init__(
        self,
        message: str | None = None,
        *,
        status: int | None = None,
        code: str | None = None,
        details: Sequence[ErrorDetail] = (),
        transaction_id: str | None = None,
    ) -> None:
        super().__init__(message, status=status)
        self.code = code  #: SAP's message id, ``APJ_RT/003``, or a Gateway code; None without a document
        self.details = tuple(details)
        self.transaction_id = transaction_id  #: what to search for in the tenant's error log


class NotFound(ServiceError):
    """Not found."""


class JobNotFound(NotFound):
    """Job doesn't exist."""


class TemplateNotFound(NotFound):
    """Job template doesn't exist."""


class UserNotFound(NotFound):
    """User doesn't exist or is invalid."""


class OperationNotOffered(NotFound):
    """The service does not offer this operation: an older tenant or server (HTTP 404 or 501 for it)."""

    def __init__(self, message: str | None = None, *, operation: str = "", status: int | None = None) -> None:
        super().__init__(message, status=status)
        self.operation = operation  #: the function import or entity set it lacks, e.g. ``"JobRestart"``


class BatchNotSupported(OperationNotOffered):
    """The service does not offer ``$batch``: send the requests one by one."""

    def __init__(self, message: str | None = None, *, status: int | None = None) -> None:
        super().__init__(message, operation="$batch", status=status)


class AuthorizationError(ServiceError):
    """Not authorized."""


class JobStateError(ServiceError):
    """The job's status does not allow this."""


class RestartRefused(JobStateError):
    """JobRestart refused: the job's status (APJ_RT/081), or "after" its last step (APJ_RT/082)."""


class ScheduleError(ServiceError):
    """Job couldn't be scheduled."""


class ServiceUnavailable(ServiceError):
    """The service is unavailable or overloaded."""


class AmbiguousTemplate(ClientError):
    """Several job templates have this text."""

    def __init__(self, message: str | None = None, *, names: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.names = tuple(names)  #: JobTemplateName of every match; schedule by one of them


# APJ_RT messages (reference §4.5) and the error each one is.
_BY_CODE: dict[str, type[ServiceError]] = {
    "APJ_RT/003": JobNotFound,
    "APJ_RT/039": JobNotFound,
    "APJ_RT/015": TemplateNotFound,
    "APJ_RT/083": UserNotFound,
    **dict.fromkeys(("APJ_RT/004", "APJ_RT/011", "APJ_RT/040", "APJ_RT/079"), JobStateError),
    **dict.fromkeys(("APJ_RT/081", "APJ_RT/082"), RestartRefused),
    **dict.fromkeys(("APJ_RT/005", "APJ_RT/007", "APJ_RT/024", "APJ_RT/077"), AuthorizationError),
    **{f"APJ_RT/{number:03d}": AuthorizationError for number in range(27, 32)},
    **dict.fromkeys(("APJ_RT/016", "APJ_RT/020", "APJ_RT/021", "APJ_RT/022", "APJ_RT/032"), ScheduleError),
}


def _class_for_status(status: int | None) -> type[ServiceError]:
    if status == 403:
        return AuthorizationError
    if status == 404:
        return NotFound
    if status is not None and (status == 429 or status >= 500):
        return ServiceUnavailable
    return ServiceError


def service_error(
    message: str,
    *,
    status: int | None,
    code: str | None = None,
    details: Sequence[ErrorDetail] = (),
    transaction_id: str | None = None,
) -> ServiceError:
    """The :class:`ServiceError` subclass for an SAP *code*, else for the HTTP *status*."""
    cls = _BY_CODE.get(code or "") or _class_for_status(status)
    return cls(message, status=status, code=code, details=details, transaction_id=transaction_id)


class BatchRefused(ScheduleError):
    """A changeset was refused: one of its requests failed, so none of them took effect.

    ``index`` is the position of the failing request (0-based) when the
    service names it (by its Content-ID), else None.
    """

    def __init__(self, message: str | None = None, *, index: int | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.index = index
