"""Who is calling, and may they change things: Basic auth, session cookies and CSRF tokens.

The order is SAP's: the logon comes first (401 when it fails), then the
CSRF check of a modifying request (403). A request that brings a live
session cookie is logged on by it, without the password being checked
again; a request with Basic credentials only is checked against the
stored hash. Asking for a token (``X-CSRF-Token: Fetch`` on a GET or
HEAD) opens a session when there is none, and the response carries its
cookies and token even when the request itself fails (Gateway does the
same, and clients rely on it: they fetch with a HEAD on whatever URL).

Sessions are opened only on a token fetch, not on every Basic logon: a
session is what a CSRF token is bound to, and a cookie-less client that
never fetches one would otherwise leave a session row behind per request.

A session belongs to one user. A request that brings a session cookie and
the Basic credentials of *another* user is logged on by the credentials
alone, as that other user (401 when they are wrong); it is never served
as the session's user.

Every caller carries the credential version of its user that its logon
holds under (see :mod:`appjobs.auth.logon`); a session or a cached logon
whose version is no longer the stored one is dropped, and the request is
logged on anew from what it brings (401 for an old session alone).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Mapping
from urllib.parse import unquote

from appjobs import errors
from appjobs.auth.logon import Authenticator, Principal
from appjobs.auth.sessions import Session, SessionManager
from appjobs.server.config import ServerSettings
from appjobs.server.errors import CsrfRequired, Unauthorized

MODIFYING = frozenset({"POST", "PUT", "PATCH", "MERGE", "DELETE"})
FETCHING = frozenset({"GET", "HEAD"})


@dataclasses.dataclass(frozen=True)
class Caller:
    """The communication user behind a request, and the session it came with (or was given)."""

    user: str
    sees_all_jobs: bool = False  #: SAP_COM_0326; else only the jobs this user created (SAP_COM_0064)
    session: Session | None = None
    opened: bool = False  #: the session was opened by this request: send its cookies
    version: int | None = None  #: the user's credential version its logon holds under

    @classmethod
    def of(cls, principal: Principal, session: Session | None = None) -> Caller:
        return cls(principal.user, principal.sees_all_jobs, session, version=principal.version)


class Gate:
    """Logs requests on and checks their CSRF tokens."""

    def __init__(self, authenticator: Authenticator, sessions: SessionManager, settings: ServerSettings) -> None:
        self.authenticator = authenticator
        self.sessions = sessions
        self.settings = settings

    def logon(
        self,
        headers: Mapping[str, str],
        cookies: Mapping[str, str],
        *,
        certificate: str | None = None,
        source: str | None = None,
        verify: bool = True,
    ) -> Caller | None:
        """The caller of a request; :class:`Unauthorized` when there is none.

        Tried in order: the session cookie (if the session's user is the
        Basic user, when there is one, and its credential version is the
        stored one), the client *certificate* (its fingerprint, verified by
        the TLS layer), Basic credentials. Without *verify*, returns None
        instead of running argon2 for credentials not verified lately: the
        caller then waits for a turn to verify (see :mod:`.odata`).
        """
        credentials = basic_credentials(headers.get("authorization"))
        cookie = cookies.get(self.settings.session_cookie)
        session = self.sessions.find(unquote(cookie)) if cookie else None
        if session is not None and (credentials is None or credentials[0] == session.user):
            principal = self.authenticator.principal(session.user)
            if principal is not None and principal.version == session.version:
                return Caller.of(principal, session)
            self.sessions.forget(session.id)  # its user was locked, or its password reset, since
        if certificate is not None and credentials is None:
            principal = self.authenticator.certificate_logon(certificate, source)
        elif credentials is not None:
            if not verify and not self.authenticator.verified_lately(*credentials):
                return None
            principal = self.authenticator.password_logon(*credentials, source=source)
        else:
            principal = None
        if principal is None:
            raise Unauthorized()
        return Caller.of(principal)

    def cached_logon(
        self, headers: Mapping[str, str], cookies: Mapping[str, str], *, certificate: str | None = None
    ) -> Caller | None:
        """The caller when this process knows it from its caches alone, without a database read; else None.

        The event loop uses it to answer a poll at once. A miss is not a
        refusal: :meth:`logon` then decides, in a worker thread. A hit is not
        the whole answer either: the caller's credential version must still
        be the stored one, which the poll reads with the job (:meth:`is_current`
        says so for other requests).
        """
        credentials = basic_credentials(headers.get("authorization"))
        cookie = cookies.get(self.settings.session_cookie)
        if cookie:
            session = self.sessions.find_cached(unquote(cookie))
            if session is None or (credentials is not None and credentials[0] != session.user):
                return None
            principal = self.authenticator.cached_principal(session.user)
            if principal is None or principal.version != session.version:
                return None
            return Caller.of(principal, session)
        if certificate is None and credentials is not None:
            principal = self.authenticator.cached_password_logon(*credentials)
            return Caller.of(principal) if principal is not None else None
        return None

    def is_current(self, caller: Caller) -> bool:
        """Whether *caller*'s logon still holds: its credential version is its user's (one read by key).

        False too when the database cannot say: the general way then logs on anew, and answers its error.
        """
        try:
            return self.authenticator.is_current(caller.user, caller.version)
        except errors.AppjobsError:
            return False

    def forget(self, caller: Caller) -> None:
        """Drop what this process cached of *caller*, whose credentials changed: the next request logs on anew."""
        self.authenticator.forget(caller.user)
        if caller.session is not None:
            self.sessions.forget(caller.session.id)

    def fetch_token(self, caller: Caller) -> Caller:
        """The caller with a session, opening one when it has none."""
        if caller.session is not None:
            return caller
        # A caller made without a version (none of the gate's) gets a session that never holds.
        session = self.sessions.open(caller.user, -1 if caller.version is None else caller.version)
        return dataclasses.replace(caller, session=session, opened=True)

    def check_token(self, method: str, caller: Caller, token: str | None) -> None:
        """:class:`CsrfRequired` when a modifying request lacks its session's token."""
        if method in MODIFYING and (caller.session is None or not caller.session.token_matches(token)):
            raise CsrfRequired()

    def cookie_headers(self, session: Session) -> list[tuple[bytes, bytes]]:
        """``Set-Cookie`` headers for a new session, shaped like a tenant's."""
        value = session.id.replace("=", "%3d")
        flags = "; path=/; HttpOnly; SameSite=Strict" + ("; Secure" if self.settings.secure_cookies else "")
        return [
            (b"set-cookie", f"sap-usercontext=sap-client={self.settings.client}; path=/".encode()),
            (b"set-cookie", f"{self.settings.session_cookie}={value}{flags}".encode()),
        ]


def wants_token(method: str, headers: Mapping[str, str]) -> bool:
    """True for a token fetch: ``X-CSRF-Token: Fetch`` (any case) on a GET or HEAD."""
    return method in FETCHING and headers.get("x-csrf-token", "").lower() == "fetch"


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """User and password of a Basic ``Authorization`` header, or None.

    SAP user names are case-insensitive, so the name is upper-cased.
    Passwords are decoded as UTF-8, falling back to Latin-1 for old clients.
    Credentials holding a NUL character count as none, like a header that
    is not Base64: no user name or password can hold one, and PostgreSQL
    could not even look such a name up. Without a session the answer is 401.
    """
    if not header or header[:6].lower() != "basic ":
        return None
    try:
        raw = base64.b64decode(header[6:].strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    user, sep, password = text.partition(":")
    return (user.upper(), password) if sep and user and "\x00" not in text else None
