"""Communication users: the identities external schedulers log on with."""

from __future__ import annotations

import re

from appjobs import errors, models
from appjobs.auth import passwords
from appjobs.storage import Store

USER_NAME_RE = re.compile(r"^[A-Z0-9_.\-]{1,40}$")


def add_user(store: Store, name: str, password: str) -> None:
    """Create communication user *name* with an argon2id hash of *password*."""
    if not USER_NAME_RE.match(name):
        raise errors.InvalidInput(
            f"{name!r} is not a communication user name (upper-case letters, digits, _ . -; at most 40)"
        )
    if len(password) < 8:
        raise errors.InvalidInput("the password must have at least 8 characters")
    store.users.add(name, passwords.hash_password(password), models.utcnow())
