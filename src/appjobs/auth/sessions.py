"""Logon sessions, the way SAP's ICF keeps them: a session id in a cookie, a CSRF token bound to it.

A client logs on once with Basic auth and ``X-CSRF-Token: Fetch``; the
server opens a session, sends its id in the ``SAP_SESSIONID_<SID>_<client>``
cookie and its CSRF token in the ``x-csrf-token`` header. Later requests
that bring the cookie are authenticated by it alone (the password is not
checked again), and modifying requests must also bring the token.

Ids and tokens have the shapes captured from real tenants: a session id is
32 random bytes in URL-safe base64 (44 characters, ``=``-padded, which the
cookie carries as ``%3d``), a token 16 random bytes (24 characters, ``==``).
The database holds only a SHA-256 of the id.

A session ends after :attr:`SessionManager.idle_timeout` without a request
(SAP's ``http/security_session_timeout`` defaults to 30 minutes). To keep
reads cheap, the idle clock is written back at most once a
:data:`TOUCH_EVERY`, so a session may live up to that much longer than the
timeout says.

Reads are cheaper still: a session found in the database is remembered in
this process for :data:`CACHE_FOR`, so a client polling with its cookie
costs one session read per few seconds, not one per request. A session
ended by *another* process (a lock or a password reset done by ``appjobs
admin``) is nevertheless refused at once: a session carries the credential
version of its user when it was opened, and the server compares it with
the stored one on every request (see :mod:`appjobs.auth.logon`).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Callable

from appjobs import models
from appjobs.storage import Store
from appjobs.storage.sessions import SessionRow

DEFAULT_IDLE_TIMEOUT = dt.timedelta(minutes=30)
TOUCH_EVERY = dt.timedelta(seconds=60)
SWEEP_EVERY = 100  # sessions opened between two sweeps of idle ones
CACHE_FOR = dt.timedelta(seconds=5)  # how long a session read from the database is trusted
MAX_CACHED = 10_000


@dataclasses.dataclass(frozen=True)
class Session:
    """A live session: whose it is and its CSRF token."""

    id: str
    user: str
    csrf_token: str
    version: int = 0  #: the user's credential version when the session was opened

    def token_matches(self, token: str | None) -> bool:
        """True when *token* is this session's CSRF token (compared in constant time)."""
        return token is not None and hmac.compare_digest(token.encode(), self.csrf_token.encode())


def new_session_id() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def new_csrf_token() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).decode()


def id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionManager:
    """Opens, finds and ends sessions stored in *store*."""

    def __init__(
        self,
        store: Store,
        *,
        idle_timeout: dt.timedelta = DEFAULT_IDLE_TIMEOUT,
        clock: Callable[[], dt.datetime] = models.utcnow,
    ) -> None:
        self.store = store
        self.idle_timeout = idle_timeout
        self.clock = clock
        self._opened = 0
        # id hash -> (session, its last_seen_at as stored, trusted until)
        self._cache: dict[str, tuple[Session, dt.datetime, dt.datetime]] = {}

    def open(self, user: str, version: int = 0) -> Session:
        """A new session for *user*, whose logon holds under credential *version*, with a fresh id and CSRF token.

        Every :data:`SWEEP_EVERY` sessions, the idle ones are deleted, so the
        table holds about as many rows as there are live clients.
        """
        now = self.clock()
        if self._opened % SWEEP_EVERY == 0:
            self.store.sessions.delete_idle(now - self.idle_timeout)
        self._opened += 1
        session = Session(new_session_id(), user, new_csrf_token(), version)
        self.store.sessions.add(SessionRow(id_hash(session.id), user, session.csrf_token, now, now, version))
        return session

    def find(self, session_id: str) -> Session | None:
        """The live session with *session_id*, or None (unknown, or idle too long)."""
        return self.find_cached(session_id) or self._find_stored(session_id)

    def find_cached(self, session_id: str) -> Session | None:
        """The session if this process read it lately and its idle clock need not move; never touches the database."""
        cached = self._cache.get(id_hash(session_id))
        if cached is None:
            return None
        session, last_seen, trusted_until = cached
        now = self.clock()
        if now >= trusted_until or now - last_seen > min(TOUCH_EVERY, self.idle_timeout):
            return None
        return session

    def _find_stored(self, session_id: str) -> Session | None:
        key = id_hash(session_id)
        self._cache.pop(key, None)
        row = self.store.sessions.get(key)
        if row is None:
            return None
        now = self.clock()
        idle, last_seen = now - row.last_seen_at, row.last_seen_at
        if idle > self.idle_timeout:
            self.store.sessions.delete(key)
            return None
        if idle > TOUCH_EVERY:
            self.store.sessions.touch(key, now)
            last_seen = now
        session = Session(session_id, row.user_name, row.csrf_token, row.credential_version)
        if len(self._cache) >= MAX_CACHED:
            self._cache.clear()  # crude and rare: a miss costs one read
        self._cache[key] = (session, last_seen, now + CACHE_FOR)
        return session

    def forget(self, session_id: str) -> None:
        """Drop *session_id* from this process's cache (its user's credentials changed)."""
        self._cache.pop(id_hash(session_id), None)

    def end(self, session_id: str) -> None:
        key = id_hash(session_id)
        self._cache.pop(key, None)
        self.store.sessions.delete(key)
