"""What an answer means, or the lack of one: the transport's judgement calls, as small functions.

A try that brought no answer is a :class:`Failed`, which says whether the
request may have reached the service (``sent``) and whether trying again
is safe at all (``retryable``: not after a TLS failure, which a retry does
not mend). An answer that is an error becomes a :class:`ServiceError` read
from SAP's error document (:func:`service_error_of`), or from what little a
proxy's page says (:func:`describe`).
"""

from __future__ import annotations

import datetime as dt
import re
import socket
import ssl

import requests
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError  # requests' own transport

from appjobs.client._errors import (
    AuthenticationError,
    OutcomeUnknown,
    ServiceError,
    TransportError,
    WrongHostError,
    service_error,
)
from appjobs.client._parsing import read_error

_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_SSL_SOURCE = re.compile(r" \(_ssl\.c:\d+\)")  # where in CPython's C source: noise for a user
_POOL = re.compile(r"\w*Connection(Pool)?\(host=[^)]*\)")  # urllib3's reprs of its pools and connections


class Failed(Exception):
    """One try that brought no answer. *sent* False: the request certainly never reached the service."""

    def __init__(self, error: TransportError, cause: Exception | None, *, sent: bool, retryable: bool) -> None:
        super().__init__(str(error))
        self.error, self.cause, self.sent, self.retryable = error, cause, sent, retryable


def service_error_of(response: requests.Response) -> ServiceError:
    """The :class:`ServiceError` an error answer means: from its SAP error document, else from its status."""
    place = where(response.request.method or "", response.request.url or "")
    document = read_error(response.content)
    if document is None:
        return service_error(f"{place}: {describe(response)}", status=response.status_code)
    reasons = [d.message for d in document.details if d.message and d.message != document.message]
    message = f"{document.message} ({document.code})" + (": " + "; ".join(reasons) if reasons else "")
    return service_error(
        message,
        status=response.status_code,
        code=document.code,
        details=document.details,
        transaction_id=document.transaction_id,
    )


def lost(operation: str, sent_at: dt.datetime, reason: str) -> OutcomeUnknown:
    """The error for a request that may have taken effect although its answer never came."""
    return OutcomeUnknown(
        f"{operation} was sent at {sent_at:%Y-%m-%d %H:%M:%S} UTC but its answer was lost ({reason}); "
        "it may have taken effect, so it is not sent again",
        operation=operation,
        sent_at=sent_at,
    )


def where(method: str, url: str) -> str:
    """``METHOD url`` without the query string, for messages (job texts can be long)."""
    return f"{method} {url.partition('?')[0]}"


def failure(method: str, url: str, exc: requests.RequestException) -> Failed:
    """What a requests exception means: was the request sent, and may it be tried again?"""
    place, why = where(method, url), reason(exc)
    if isinstance(exc, requests.exceptions.SSLError):
        error = TransportError(f"{place}: TLS failed ({why}); check the CA bundle and the client certificate")
        return Failed(error, exc, sent=False, retryable=False)
    if isinstance(exc, requests.exceptions.ConnectionError) and never_connected(exc):
        return Failed(TransportError(f"{place}: cannot connect ({why})"), exc, sent=False, retryable=True)
    if isinstance(exc, requests.exceptions.Timeout):
        return Failed(TransportError(f"{place}: no answer in time ({why})"), exc, sent=True, retryable=True)
    if isinstance(exc, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)):
        return Failed(TransportError(f"{place}: the answer was cut off ({why})"), exc, sent=True, retryable=True)
    if isinstance(exc, requests.exceptions.ConnectionError):
        return Failed(TransportError(f"{place}: the connection broke ({why})"), exc, sent=True, retryable=True)
    return Failed(TransportError(f"{place}: {why}"), exc, sent=True, retryable=False)


def reason(exc: BaseException) -> str:
    """The root cause of a requests exception in a few words, without urllib3's pool and connection reprs.

    ``Connection refused``, ``Name or service not known``, ``timed out``,
    ``[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: …``: the
    innermost OS or TLS error of the chain requests and urllib3 wrap around it.
    """
    chain = _chain(exc)
    for found in chain:
        if isinstance(found, ssl.SSLError):
            return _SSL_SOURCE.sub("", str(found))
    for found in chain:
        if isinstance(found, OSError) and found.strerror and not isinstance(found, requests.RequestException):
            return found.strerror
    for found in reversed(chain):
        if isinstance(found, TimeoutError | socket.timeout):
            return "timed out"
    innermost = chain[-1]
    return _POOL.sub("", str(innermost)).strip(" :") or type(innermost).__name__


def _chain(exc: BaseException) -> list[BaseException]:
    """*exc* and the exceptions it wraps (args, ``reason``, causes), outermost first."""
    chain: list[BaseException] = []
    pending: list[BaseException] = [exc]
    while pending and len(chain) < 20:
        current = pending.pop(0)
        if any(current is seen for seen in chain):
            continue
        chain.append(current)
        linked = (getattr(current, "reason", None), current.__cause__, current.__context__, *current.args)
        pending += [item for item in linked if isinstance(item, BaseException)]
    return chain


def never_connected(exc: BaseException) -> bool:
    """True when no connection could be opened (refused, unknown host, proxy down): nothing was sent."""
    pending: list[BaseException] = [exc]
    for _ in range(10):  # the chain is requests -> MaxRetryError -> reason (-> original_error)
        if not pending:
            return False
        current = pending.pop()
        if isinstance(current, (NewConnectionError, ConnectTimeoutError)):
            return True
        linked = (getattr(current, "reason", None), getattr(current, "original_error", None), *current.args)
        pending += [item for item in linked if isinstance(item, BaseException)]
    return False


def cut_off(response: requests.Response) -> bool:
    """True when the body is shorter than its Content-Length (urllib3 usually notices first)."""
    expected = response.headers.get("content-length", "")
    if not expected.isdigit() or "content-encoding" in response.headers:
        return False
    return len(response.content) < int(expected)


def transient(status: int) -> bool:
    return status == 429 or status >= 500


def retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    return float(value) if value.isdigit() else None  # an HTTP date falls back to the backoff


def csrf_required(response: requests.Response) -> bool:
    return response.status_code == 403 and response.headers.get("x-csrf-token", "").strip().lower() == "required"


def is_html(response: requests.Response) -> bool:
    if "html" in response.headers.get("content-type", "").lower():
        return True
    return response.content[:256].lstrip().lower().startswith((b"<!doctype html", b"<html"))


def describe(response: requests.Response) -> str:
    """A line about an error answer that is not an SAP error document: a proxy's page, a text."""
    status = f"HTTP {response.status_code} {response.reason or ''}".strip()
    title = _TITLE.search(response.content[:4096])
    if title:
        import html  # rarely needed, and html.entities is large

        return f"{status}: {html.unescape(title.group(1).decode(errors='replace')).strip()}"
    text = response.content[:200].decode(errors="replace").strip()
    return f"{status}: {text}" if text and not is_html(response) else status


def unauthorized(response: requests.Response) -> AuthenticationError:
    """The error for a 401, with the realm the tenant names and the likely causes."""
    realm = response.headers.get("www-authenticate", "")
    return AuthenticationError(
        f"{where(response.request.method or '', response.request.url or '')}: logon refused "
        f"(HTTP 401{', ' + realm if realm else ''}). Wrong user or password, a locked communication user, "
        "or a client certificate the tenant does not map. Not tried again: on SAP's public cloud three "
        "failed logons lock the communication user",
        status=401,
    )


def wrong_host(response: requests.Response) -> WrongHostError | None:
    """The error for a redirect or an HTML page where OData belongs; None for anything else."""
    status, place = response.status_code, where(response.request.method or "", response.request.url or "")
    advice = "Use the API host (myNNNNNN-api…) from the communication arrangement"
    if 300 <= status < 400:
        location = response.headers.get("location", "nowhere")
        return WrongHostError(
            f"{place}: redirected (HTTP {status}) to {location}: wrong host or identity-provider redirect. {advice}",
            status=status,
        )
    if status < 300 and is_html(response):
        kind = "a SAML login page" if b"saml" in response.content.lower() else "an HTML page"
        return WrongHostError(
            f"{place}: the answer is {kind}, not OData: wrong host or identity-provider redirect. {advice}",
            status=status,
        )
    return None
