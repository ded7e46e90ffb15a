"""Logging on to the web pages: UI users (business users with a password and a role), sessions, roles.

The pages and the OData service keep their users apart. A communication
user logs on to the service (:mod:`appjobs.auth.logon`) and never to the
pages; a UI user logs on to the pages and never to the service: the two
are checked against different tables, and their sessions live in
different tables under different cookies.

A UI logon works like a service logon: an unknown user, a wrong password
and a locked user are refused alike, at the same cost (argon2 against a
dummy hash when the user is unknown), and each refusal is audited;
``max_failed`` wrong passwords in a row lock the user until an
administrator unlocks it. A session is read from the database on every
request, joined with its user, so a lock, a new password or a new role
made by another process (``appjobs admin``) ends it at once: a session
holds only while its user's credential version is the one it was opened
under. Pages are not polled as often as JobStatusGet, so the read is
cheap enough, and nothing is cached that could outlive a revocation.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import hmac
import secrets
from collections.abc import Callable

from appjobs import errors, models
from appjobs.auth import passwords
from appjobs.auth.logon import DEFAULT_MAX_FAILED, _dummy_hash
from appjobs.auth.sessions import DEFAULT_IDLE_TIMEOUT, TOUCH_EVERY
from appjobs.storage import Store

MIN_PASSWORD = 12  # a person's password for a web page: longer than a scheduler's minimum


class Role(enum.StrEnum):
    """What a UI user may do: read, act on jobs and templates, or everything."""

    VIEWER = "viewer"  #: reads every page
    OPERATOR = "operator"  #: ... and schedules, cancels, restarts jobs, imports templates
    ADMINISTRATOR = "administrator"  #: ... and manages communication and business users

    def may(self, needed: Role) -> bool:
        """Whether this role includes *needed*."""
        order = [Role.VIEWER, Role.OPERATOR, Role.ADMINISTRATOR]
        return order.index(self) >= order.index(needed)


@dataclasses.dataclass(frozen=True)
class UiSession:
    """A live UI session: whose, in which role, its CSRF token."""

    id: str
    user: str
    role: Role
    csrf_token: str

    def token_matches(self, token: str | None) -> bool:
        """True when *token* is this session's CSRF token (compared in constant time)."""
        return token is not None and hmac.compare_digest(token.encode(), self.csrf_token.encode())


def parse_role(value: str) -> Role:
    try:
        return Role(value.lower())
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise errors.InvalidInput(f"{value!r} is not a role ({known})") from None


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise errors.InvalidInput(f"a UI user's password must have at least {MIN_PASSWORD} characters")


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class UiAuth:
    """Logs UI users on and finds their sessions, over *store*."""

    def __init__(
        self,
        store: Store,
        *,
        max_failed: int = DEFAULT_MAX_FAILED,
        idle_timeout: dt.timedelta = DEFAULT_IDLE_TIMEOUT,
        clock: Callable[[], dt.datetime] = models.utcnow,
    ) -> None:
        self.store = store
        self.max_failed = max_failed
        self.idle_timeout = idle_timeout
        self.clock = clock

    def logon(self, user: str, password: str, source: str | None = None) -> UiSession | None:
        """A new session when *password* is *user*'s and the user may log on; else None (audited, counted)."""
        user = user.strip().upper()
        found = self.store.ui_users.credentials(user) if user else None
        if found is None or found.password_hash is None or found.role is None:
            passwords.verify_password(_dummy_hash(), password)
            self._failed(user, source, "unknown user, or not a UI user", count=False)
            return None
        if not passwords.verify_password(found.password_hash, password):
            self._failed(user, source, "wrong password")
            return None
        if found.locked:
            self._failed(user, source, "locked", count=False)
            return None
        self.store.ui_users.record_success(user)
        self._audit("success", user, source, "password")
        return self._open(user, Role(found.role), found.version)

    def _open(self, user: str, role: Role, version: int) -> UiSession:
        session = UiSession(secrets.token_urlsafe(32), user, role, secrets.token_urlsafe(24))
        self.store.ui_users.add_session(_hash(session.id), user, session.csrf_token, self.clock(), version)
        return session

    def find(self, session_id: str) -> UiSession | None:
        """The live session *session_id*, or None: unknown, idle too long, or its user changed or locked since."""
        key = _hash(session_id)
        state = self.store.ui_users.session(key)
        if state is None:
            return None
        now = self.clock()
        if state.locked or state.role is None or state.version != state.session_version:
            self.store.ui_users.end_session(key)
            return None
        if now - state.last_seen_at > self.idle_timeout:
            self.store.ui_users.end_session(key)
            return None
        if now - state.last_seen_at > TOUCH_EVERY:
            self.store.ui_users.touch_session(key, now)
        return UiSession(session_id, state.user_id, Role(state.role), state.csrf_token)

    def end(self, session: UiSession) -> None:
        self.store.ui_users.end_session(_hash(session.id))
        self._audit("success", session.user, None, "logged off", event="ui-logoff")

    def _failed(self, user: str, source: str | None, detail: str, *, count: bool = True) -> None:
        entry = models.AuditEntry(self.clock(), "ui-logon", user or None, source, "failure", detail)
        if self.store.ui_users.record_failure(user if count else None, self.max_failed, entry):
            self._audit("failure", user, source, f"locked after {self.max_failed} failed logons", event="ui-lockout")

    def _audit(self, outcome: str, user: str | None, source: str | None, detail: str, event: str = "ui-logon") -> None:
        self.store.audit.add([models.AuditEntry(self.clock(), event, user, source, outcome, detail)])
