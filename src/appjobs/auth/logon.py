"""Logging communication users on: the one place that decides, for passwords and certificates alike.

A logon succeeds when the user exists, is not locked, has at least one
communication arrangement, and proves who it is (password or client
certificate). Every refusal looks the same from outside (SAP answers 401
to a wrong password, an unknown user and a locked one alike), so
:meth:`Authenticator.password_logon` returns None for all of them, and the
audit log says which it was. They cost the same time too: each verifies
a hash (a dummy one for an unknown user) and writes one transaction of the
same shape (the failure count, which matches no row for an unknown user,
and the audit entry), so response times do not tell which users exist.

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

Credential changes take effect at once. Every user has a *credential
version* that a password reset, a lock, a lockout and the removal of an
arrangement move on (in the transaction that makes the change; see
:func:`appjobs.storage.comm.revoke_logons`). A :class:`Principal` carries
the version it was established under, and so do sessions and remembered
verifications; a server compares it with the stored version before it
answers (:meth:`Authenticator.principal` reads it, and the poll answered
from the caches reads it with the job), so nothing cached outlives a change
made by another process, even on another host of the same database.
What is cached by time alone is the scope of a user (:data:`SCOPE_TTL`):
a new arrangement is seen within that time.
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
SCOPE_TTL = 5.0  # seconds the poll from the caches trusts a user's scope without reading it
MAX_CACHED = 10_000


@dataclasses.dataclass(frozen=True)
class Principal:
    """A logged-on communication user and what it may see."""

    user: str
    sees_all_jobs: bool = False  #: SAP_COM_0326: every job, not only the ones it created
    version: int = 0  #: the user's credential version this logon holds under


@dataclasses.dataclass(frozen=True)
class _Verified:
    """A (user, password) pair verified lately, and the credential version it was verified under."""

    user: str
    until: float
    version: int


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
        self._verified: dict[bytes, _Verified] = {}
        self._scopes: dict[str, tuple[Principal | None, float]] = {}
        self._lock = threading.Lock()

    def password_logon(self, user: str, password: str, source: str | None = None) -> Principal | None:
        """The principal when *password* is *user*'s and the user may log on, else None.

        A pair verified lately is not verified again, if the user's
        credential version is still the one it was verified under.
        """
        digest = self._digest(user, password)
        remembered = self._remembered(digest)
        if remembered is not None:
            principal = self.principal(user)
            if principal is not None and principal.version == remembered.version:
                return principal
            self.forget(user)  # changed since: verify for real (a new password makes this a failure)
        found = self.store.users.credentials(user)
        if found is None or found.password_hash is None:
            passwords.verify_password(_dummy_hash(), password)
            # Not counted (a certificate user has no password to guess), at the same cost as a count.
            self._failed(user, source, "unknown user or no password", count=False)
            return None
        if not passwords.verify_password(found.password_hash, password):
            self._failed(user, source, "wrong password")
            return None
        principal = self.principal(user)
        if principal is None or principal.version != found.version:  # or changed while argon2 ran
            self._failed(user, source, "locked, or no communication arrangement", count=False)
            return None
        self.store.users.record_success(user)
        self._remember(digest, user, found.version)
        self._audit("success", user, source, "password")
        return principal

    def verified_lately(self, user: str, password: str) -> bool:
        """Whether this process verified *password* of *user* lately: a logon with it then needs no argon2."""
        return self._remembered(self._digest(user, password)) is not None

    def cached_password_logon(self, user: str, password: str) -> Principal | None:
        """The principal when this process verified *password* lately and knows *user* may log on.

        Never reads the database or runs argon2: None means "not known here",
        and the caller then takes the full way, :meth:`password_logon`. The
        principal carries the version the password was verified under; the
        caller must compare it with the stored one before it answers.
        """
        remembered = self._remembered(self._digest(user, password))
        if remembered is None:
            return None
        principal = self.cached_principal(user)
        return principal if principal is not None and principal.version == remembered.version else None

    def _digest(self, user: str, password: str) -> bytes:
        """The cache key of a (user, password) pair: keyed, so it is worthless outside this process."""
        return hmac.new(self._key, f"{user}\0{password}".encode(), hashlib.sha256).digest()

    def _remembered(self, digest: bytes) -> _Verified | None:
        cached = self._verified.get(digest)
        return cached if cached is not None and cached.until > self.clock() else None

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

    def principal(self, user: str) -> Principal | None:
        """*user* as a principal if it may log on now (not locked, arranged), read from the database; else None.

        The principal carries the user's current credential version; it is
        also remembered for :meth:`cached_principal`.
        """
        state = self.store.users.logon_state(user)
        principal = None
        if state is not None and not state.locked and state.arranged:
            principal = Principal(user, state.any_job, state.version)
        self._scopes[user] = (principal, self.clock() + SCOPE_TTL)
        return principal

    def is_current(self, user: str, version: int | None) -> bool:
        """Whether *version* is still *user*'s credential version (one read by primary key)."""
        return version is not None and self.store.users.credential_version(user) == version

    def forget(self, user: str) -> None:
        """Drop what is cached about *user* (its credentials changed, or a logon of it failed)."""
        with self._lock:
            self._verified = {k: v for k, v in self._verified.items() if v.user != user}
            self._scopes.pop(user, None)

    def _failed(self, user: str, source: str | None, detail: str, *, count: bool = True) -> None:
        """Audit a refused logon of *user* and, when *count*, count it; one transaction either way."""
        entry = models.AuditEntry(models.utcnow(), "logon", user, source, "failure", detail)
        locked = self.store.users.record_failure(user if count else None, self.max_failed, entry)
        # The next right password must be checked for real, so that its success resets the
        # count: a logon answered from the cache of verified passwords writes nothing.
        self.forget(user)
        if locked:  # the store revoked its logons in the same transaction
            self._audit("failure", user, source, f"locked after {self.max_failed} failed logons", event="lockout")

    def _remember(self, digest: bytes, user: str, version: int) -> None:
        with self._lock:
            if len(self._verified) >= MAX_CACHED:
                self._verified.clear()  # crude, and rare: a cache miss only costs one argon2 check
            self._verified[digest] = _Verified(user, self.clock() + self.cache_ttl, version)

    def _audit(self, outcome: str, user: str | None, source: str | None, detail: str, event: str = "logon") -> None:
        self.store.audit.add([models.AuditEntry(models.utcnow(), event, user, source, outcome, detail)])
