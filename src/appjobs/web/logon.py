"""The logon form, logon and logoff.

The logon form carries a CSRF token too, bound to a short-lived cookie
(there is no session yet): a logon another site posts would otherwise log
the browser on as the attacker's user ("login CSRF").
"""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Awaitable, Callable

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from appjobs import errors
from appjobs.auth import passwords
from appjobs.auth.ui import UiAuth
from appjobs.web import security
from appjobs.web.rendering import PREFIX, render

LOGON_FAILED = "Logon failed: the user or the password is wrong, or the user is locked."


def _outage_on_the_form(endpoint: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """The form with 503 and the reason (or 507 on a full disk) when the database cannot be used now.

    Any other error stays the server's: its detail is not for a reader who has not logged on.
    """

    @functools.wraps(endpoint)
    async def handler(request: Request) -> Response:
        try:
            return await endpoint(request)
        except errors.StorageUnavailable as exc:
            return _form(request, security.error_status(exc), exc.public_message)

    return handler


@_outage_on_the_form
async def logon_form(request: Request) -> Response:
    """``GET /appjobs/ui/``: the logon form, or the job list for a reader who is logged on."""
    auth: UiAuth = request.app.state.ui_auth
    cookie = request.cookies.get(security.SESSION_COOKIE)
    if cookie and await run_in_threadpool(auth.find, cookie):
        return RedirectResponse(security.safe_next(request.query_params.get("next")), status_code=303)
    return _form(request, 200, None)


def _form(request: Request, status: int, error: str | None, username: str = "") -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request, "logon.html", status, error=error, logon_token=token, username=username,
        next=request.query_params.get("next", ""),
    )  # fmt: skip
    response.set_cookie(
        security.LOGON_COOKIE, token, path=security.COOKIE_PATH, httponly=True, samesite="strict",
        secure=request.app.state.secure_cookies, max_age=3600,
    )  # fmt: skip
    return response


@_outage_on_the_form
async def logon(request: Request) -> Response:
    """``POST /appjobs/ui/logon``: fields ``username``, ``password``, ``csrf_token`` and ``next``."""
    form = await request.form(max_part_size=64 * 1024)
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    token, expected = str(form.get("csrf_token", "")), request.cookies.get(security.LOGON_COOKIE, "")
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        return _form(request, 403, "The logon form was out of date; please log on again.", username)
    auth: UiAuth = request.app.state.ui_auth
    source = request.client.host if request.client else None
    # A few argon2 checks at a time, outside the thread pool (as the OData service does): a storm of logons
    # must neither take the memory of one check per request nor the threads the logged-on pages need.
    if request.app.state.logon_turns is None:
        request.app.state.logon_turns = anyio.CapacityLimiter(passwords.TURNS)
    check = functools.partial(auth.logon, username, password, source)
    session = await anyio.to_thread.run_sync(check, limiter=request.app.state.logon_turns)
    if session is None:
        return _form(request, 401, LOGON_FAILED, username)
    response = RedirectResponse(security.safe_next(str(form.get("next", ""))), status_code=303)
    security.set_session_cookie(response, session, secure=request.app.state.secure_cookies)
    response.delete_cookie(security.LOGON_COOKIE, path=security.COOKIE_PATH)
    return response


@security.page()
def logoff(request: Request) -> Response:
    """``POST /appjobs/ui/logoff``: the session ends here and in the database."""
    request.app.state.ui_auth.end(security.session_of(request))
    response = RedirectResponse(f"{PREFIX}/", status_code=303)
    response.delete_cookie(security.SESSION_COOKIE, path=security.COOKIE_PATH)
    return response


routes = [
    Route("/", logon_form, methods=["GET"]),
    Route("/logon", logon, methods=["POST"]),
    Route("/logoff", logoff, methods=["POST"]),
]
