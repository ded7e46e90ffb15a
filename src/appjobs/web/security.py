"""Who may see and do what on the pages: the session cookie, CSRF, roles, and the errors they turn into.

Every page endpoint is wrapped by :func:`page`, which

* finds the session from the ``appjobs_ui`` cookie (HttpOnly,
  SameSite=Strict, Secure under TLS, path ``/appjobs/ui/``) and sends a
  reader without one to the logon form (an htmx request gets 401 with
  ``HX-Redirect``, so the browser goes there as a whole page);
* refuses a modifying request (POST) whose CSRF token, from the form
  field ``csrf_token`` or the ``X-CSRF-Token`` header htmx sends, is not
  the session's: SameSite=Strict alone would already stop cross-site
  forms in current browsers, the token also stops them in the others;
* refuses a user whose role does not include the one the page needs (403);
* runs the endpoint, a plain function, in the thread pool (it reads the
  database), and turns an :class:`~appjobs.errors.AppjobsError` it raises
  into an error page: the one place where errors become page responses.

:class:`SecurityHeaders` gives every answer of the pages a strict
Content-Security-Policy (scripts only from this site: htmx, no inline
script), ``X-Frame-Options: DENY``, ``Cache-Control: no-store``, and the
request's ``x-correlationid``, as the OData service does.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from appjobs import errors, logs
from appjobs.auth.ui import Role, UiAuth, UiSession
from appjobs.web.rendering import PREFIX, render

logger = logging.getLogger(__name__)

SESSION_COOKIE = "appjobs_ui"
LOGON_COOKIE = "appjobs_ui_logon"  #: the CSRF token of the logon form, before there is a session
COOKIE_PATH = PREFIX + "/"
MAX_FORM = 1024 * 1024  # bytes of an uploaded template file; far more than any real one
SAFE_METHODS = frozenset({"GET", "HEAD"})

#: The one mapping of errors to page statuses.
INTERNAL_ERROR = "An internal error occurred; the server log says more."

STATUSES: list[tuple[type[errors.AppjobsError], int]] = [
    (errors.InvalidInput, 400),
    (errors.NotFound, 404),
    (errors.NotAuthorized, 403),
    (errors.Conflict, 409),
    (errors.StorageFull, 507),  # before its parent: the first match wins
    (errors.StorageUnavailable, 503),
]

Endpoint = Callable[[Request], Response]


def error_status(exc: errors.AppjobsError) -> int:
    return next((status for kind, status in STATUSES if isinstance(exc, kind)), 500)


def page(needs: Role = Role.VIEWER) -> Callable[[Endpoint], Callable[[Request], Any]]:
    """Wrap a page endpoint: a session of role *needs* (or above), a valid CSRF token on POST."""

    def wrap(endpoint: Endpoint) -> Callable[[Request], Any]:
        @functools.wraps(endpoint)
        async def handler(request: Request) -> Response:
            try:  # the session's look-up too: a database that is down is a 503 page, not a bare 500
                return await checked(request)
            except errors.AppjobsError as exc:
                return failed(request, exc)

        async def checked(request: Request) -> Response:
            auth: UiAuth = request.app.state.ui_auth
            cookie = request.cookies.get(SESSION_COOKIE)
            session = await run_in_threadpool(auth.find, cookie) if cookie else None
            if session is None:
                return to_logon(request)
            request.state.session = session
            if request.method not in SAFE_METHODS:
                form = await request.form(max_part_size=MAX_FORM)
                request.state.form = form
                if not session.token_matches(request.headers.get("x-csrf-token") or _field(form, "csrf_token")):
                    return refuse(request, 403, "This form is out of date or did not come from this site. "
                                                "Reload the page and try again.")  # fmt: skip
            if not session.role.may(needs):
                return refuse(request, 403, f"Your role ({session.role.value}) may not do this; "
                                            f"it needs the role {needs.value} or above.")  # fmt: skip
            return await run_in_threadpool(endpoint, request)

        return handler

    return wrap


def _field(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


def form_of(request: Request) -> FormData:
    """The form of a POST that :func:`page` read (and checked) already."""
    return request.state.form


def session_of(request: Request) -> UiSession:
    return request.state.session


def failed(request: Request, exc: errors.AppjobsError) -> Response:
    """The error page for *exc*. A 500 is ours, not the reader's: the log gets it whole, the page a sentence.

    (Its message would show a viewer the failed SQL and the names of our tables.)
    """
    status = error_status(exc)
    if status < 500 or isinstance(exc, errors.StorageUnavailable):  # the reader's to act on, or to wait out
        return refuse(request, status, exc.public_message)
    # %r: the path is the reader's, and a decoded %0A would start a forged log line.
    logger.error("internal error on %s %r", request.method, request.url.path, exc_info=exc)
    return refuse(request, status, INTERNAL_ERROR)


def refuse(request: Request, status: int, message: str) -> Response:
    """An error page saying *message*; to an htmx request, the message alone, to show in place."""
    if request.headers.get("hx-request"):
        return render(request, "fragments/error.html", status, error=message)
    return render(request, "error.html", status, error=message)


def to_logon(request: Request) -> Response:
    """Send a reader without a session to the logon form, and back here after it."""
    target = f"{PREFIX}/?next={request.url.path}" if request.method in SAFE_METHODS else f"{PREFIX}/"
    if request.headers.get("hx-request"):
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def set_session_cookie(response: Response, session: UiSession, *, secure: bool) -> None:
    response.set_cookie(SESSION_COOKIE, session.id, path=COOKIE_PATH, httponly=True, samesite="strict", secure=secure)


def safe_next(target: str | None) -> str:
    """Where to go after the logon: a page of ours, never another site (``//evil`` or ``/\\evil``)."""
    if target and target.startswith(PREFIX + "/") and "//" not in target and "\\" not in target:
        return target
    return f"{PREFIX}/jobs"


CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


class SecurityHeaders:
    """ASGI middleware: the headers every answer of the pages carries."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith(PREFIX + "/static/")
        request_id = logs.request_id(Headers(scope=scope).get("x-correlationid"))
        logs.bind(request_id=request_id)  # the pages' log lines and audit entries name it, as the service's do

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["x-correlationid"] = request_id
                headers["Content-Security-Policy"] = CSP
                headers["X-Frame-Options"] = "DENY"
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "same-origin"
                if not static:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)
