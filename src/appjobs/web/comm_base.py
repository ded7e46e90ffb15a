"""What the Communication Management pages share: who acted, generated passwords, the service URL, answers.

Every page and action there is the administrator's. An action calls the
function of :mod:`appjobs.auth.users` that the ``appjobs admin`` command
calls (same checks, same lockout and revocation, same audit entry), with
the source ``ui:USER`` naming the UI user who acted, and answers with the
page again: the change's message on success, or its error and the user's
input (status 400, 404 or 409) with nothing stored.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from appjobs import errors
from appjobs.auth.users import ui_source
from appjobs.storage import Store
from appjobs.web.security import error_status, session_of

# The service's path, as appjobs.server.app.SERVICE_PATH has it: the web pages may not import the server
# (import-linter layers); tests/integration/test_ui_comm.py holds the two equal.
SERVICE_PATH = "/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=0002/"

PASSWORD_LENGTH = 24  # SAP's "Propose Password" gives at least 20 characters with a special one
SPECIALS = "!#%+-=?@_"  # special characters; no quote, backslash, colon or space, which tools trip on
ALPHABET = string.ascii_letters + string.digits + SPECIALS

Page = Callable[..., Response]


def generate_password(length: int = PASSWORD_LENGTH) -> str:
    """A new random password (from :mod:`secrets`) with upper and lower case, a digit and a special character."""
    while True:  # redrawing whole passwords, rather than patching one, keeps every character uniform
        password = "".join(secrets.choice(ALPHABET) for _ in range(length))
        kinds = (str.isupper, str.islower, str.isdigit, SPECIALS.__contains__)
        if all(any(kind(c) for c in password) for kind in kinds):
            return password


def source_of(request: Request) -> str:
    """The audit source of a change made on this request: ``ui:`` and the UI user."""
    return ui_source(session_of(request).user)


def store_of(request: Request) -> Store:
    return request.app.state.service.store


def service_url(request: Request) -> str:
    """Where a scheduler reaches the service: ``--public-url``, else this request's scheme, host and port.

    Behind a proxy that ends TLS, the request the server sees may say ``http`` and an inner host.
    """
    public = request.app.state.public_url
    return (public or f"{request.url.scheme}://{request.url.netloc}") + SERVICE_PATH


def act(again: Page, action: Callable[[], str], **context: object) -> Response:
    """Run *action*; the page *again* with its message, or with the error (and *context*, the input) if it fails."""
    try:
        message = action()
    except errors.AppjobsError as exc:
        return again(error_status(exc), error=exc.message, **context)
    return again(message=message)


def field(form: FormData, name: str) -> str:
    """Form field *name* as text, stripped ("" when absent or a file)."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""
