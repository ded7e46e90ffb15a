"""Checking a communication user's credentials.

This is the one place that decides whether a logon succeeds, so that
every way in (Basic auth now, client certificates and lockout later) ends
in the same answer: a user name, or a refusal that says nothing about why.
The server must answer a wrong password, an unknown user and a locked
user alike (SAP answers 401 to each), so :meth:`Authenticator.check`
returns None for all of them.
"""

from __future__ import annotations

import functools

from appjobs.auth import passwords
from appjobs.storage import Store


@functools.cache
def _dummy_hash() -> str:
    # Verifying against a real hash when the user is unknown costs the same time as a
    # wrong password, so response times do not tell which user names exist.
    return passwords.hash_password("appjobs-no-such-user")


class Authenticator:
    """Verifies passwords of the communication users in *store*."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def check(self, user: str, password: str) -> str | None:
        """The user's name when *password* is right, else None; every failure of a known user is counted."""
        stored = self.store.users.password_hash(user)
        if stored is None:
            passwords.verify_password(_dummy_hash(), password)
            return None
        ok = passwords.verify_password(stored, password)
        if not ok or self.store.users.failed_logons(user):
            self.store.users.record_logon(user, ok=ok)
        return user if ok else None
