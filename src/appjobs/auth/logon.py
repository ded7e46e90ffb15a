"""Logging communication users on: the one place that decides, for passwords and certificates alike.

A logon succeeds when the user exists, is not locked, has at least one
communication arrangement, and proves who it is (password or client
certificate). Every refusal looks the same from outside (SAP answers 401
to a wrong password, an unknown user and a locked one alike), so
:meth:`Authenticator.password_logon` returns None for all of them, and the
audit log says which it was.

Lockout: each failed password logon of a known user counts once (once per
request: the server never retries a logon by itself); at ``max_failed``
failures in a row the user is locked until an administrator unlocks it.
SAP's public cloud locks at 3; the default here is 5.

Cost: argon2id takes tens of milliseconds on purpose. A client with a
session cookie pays it once per session; a cookie-less Basic client would
pay it per request, so a verified (user, password) pair is remembered for
``cache_ttl`` seconds under a keyed hash (HMAC-SHA-256 with a per-process
random key: the cache never holds a password, and its keys are worthless
outside this process).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable

from appjobs import models
from appjobs.auth import passwords
from appjobs.storage import Store

DEFAULT_MAX_FAILED = 5
DEFAULT_CACHE_TTL = 60.0  # seconds a verified password is trusted without argon2
SCOPE_TTL = 5.0  # seconds a user's lock state and scenarios are trusted without a read
MAX_CACHED = 10_000


@dataclasses.dataclass(frozen=True)
class Principal:
    """A logged-on communication user and what it may see."""

    user: str
    sees_all_jobs: bool = False  #: SAP_COM_0326: every job, not only the ones it created


@functools.cache
def _dummy_hash() -> str:
    # Verifying against a real hash when the user is unknown costs the same time as a
    # wrong password, so response times do not tell which user names exist.
    return passwords.hash_password("appjobs-no-such-user")


class Authenticator:
    """Checks credentials against the users in *store*, counts failures and locks."""

    def __init__(
        self,
        store: Store,
        *,
        max_failed: int = DEFAULT_MAX_FAILED,
        cache_ttl: float = DEFAULT_CACHE_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.max_failed = max_failed
        self.cache_ttl = cache_ttl
        self.clock = clock
        self._key = secrets.token_bytes(32)
        self._verified: dict[bytes, tuple[str, float]] = {}
        self._scopes: dict[str, tuple[Principal | None, float]] = {}
        self._lock = threading.Lock()

    def password_logon(self, user: str, password: str, source: str | None = None) -> Principal | None:
        """The principal when *password* is *user*'s and the user may log on, else None."""
        digest = self._digest(user, password)
        if self._verified_lately(digest):
            return self.principal(user)
        stored = self.store.users.password_hash(user)
        if stored is None:
            passwords.verify_password(_dummy_hash(), password)
            self._audit("failure", user, source, "unknown user or no password")
            return None
        if not passwords.verify_password(stored, password):
            self._failed(user, source)
            return None
        principal = self.principal(user, fresh=True)
        if principal is None:
            self._audit("failure", user, source, "locked, or no communication arrangement")
            return None
        self.store.users.record_success(user)
        self._remember(digest, user)
        self._audit("success", user, source, "password")
        return principal

    def cached_password_logon(self, user: str, password: str) -> Principal | None:
        """The principal when this process verified *password* lately and knows *user* may log on.

        Never reads the database or runs argon2: None means "not known here",
        and the caller then takes the full way, :meth:`password_logon`.
        """
        return self.cached_principal(user) if self._verified_lately(self._digest(user, password)) else None

    def _digest(self, user: str, password: str) -> bytes:
        """The cache key of a (user, password) pair: keyed, so it is worthless outside this process."""
        return hmac.new(self._key, f"{user}\0{password}".encode(), hashlib.sha256).digest()

    def _verified_lately(self, digest: bytes) -> bool:
        cached = self._verified.get(digest)
        return cached is not None and cached[1] > self.clock()

    def cached_principal(self, user: str) -> Principal | None:
        """*user*'s principal if this process knows it lately, without a read; None when not known (or refused)."""
        cached = self._scopes.get(user)
        return cached[0] if cached is not None and cached[1] > self.clock() else None

    def certificate_logon(self, fingerprint: str, source: str | None = None) -> Principal | None:
        """The principal of the user whose certificate has *fingerprint*, if it may log on."""
        user = self.store.users.by_certificate(fingerprint)
        principal = self.principal(user) if user else None
        if principal is None:
            self._audit("failure", user, source, f"certificate {fingerprint[:16]}… not accepted")
        return principal

    def principal(self, user: str, *, fresh: bool = False) -> Principal | None:
        """*user* as a principal if it may log on now (not locked, arranged); None otherwise."""
        now = self.clock()
        cached = self._scopes.get(user)
        if cached is not None and cached[1] > now and not fresh:
            return cached[0]
        state = self.store.users.logon_state(user)
        principal = None
        if state is not None and not state[0] and state[1]:
            principal = Principal(user, models.Scenario.ANY_JOB in state[1])
        self._scopes[user] = (principal, now + SCOPE_TTL)
        return principal

    def forget(self, user: str) -> None:
        """Drop what is cached about *user* (after a lock, an unlock or a password change in this process)."""
        with self._lock:
            self._verified = {k: v for k, v in self._verified.items() if v[0] != user}
            self._scopes.pop(user, None)

    def _failed(self, user: str, source: str | None) -> None:
        locked = self.store.users.record_failure(user, self.max_failed, models.utcnow())
        self._audit("failure", user, source, "wrong password")
        # The next right password must be checked for real, so that its success resets the
        # count: a logon answered from the cache of verified passwords writes nothing.
        self.forget(user)
        if locked:
            self.store.sessions.delete_user(user)
            self._audit("failure", user, source, f"locked after {self.max_failed} failed logons", event="lockout")

    def _remember(self, digest: bytes, user: str) -> None:
        with self._lock:
            if len(self._verified) >= MAX_CACHED:
                self._verified.clear()  # crude, and rare: a cache miss only costs one argon2 check
            self._verified[digest] = (user, self.clock() + self.cache_ttl)

    def _audit(self, outcome: str, user: str | None, source: str | None, detail: str, event: str = "logon") -> None:
        self.store.audit.add([models.AuditEntry(models.utcnow(), event, user, source, outcome, detail)])
