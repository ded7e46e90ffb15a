"""Password hashing for communication users: argon2id, and generated passwords.

Parameters follow OWASP's minimum for argon2id (m = 19 MiB, t = 2, p = 1):
about 40 ms a verification on one core here. That is too slow to pay on
every request, so the server verifies a password once per session (see the
service issue); the hash itself stays strong.

Each verification holds 19 MiB while it runs, so a flood of bad logons must
not run many at once: :data:`TURNS` of them run side by side in a process
(one per core: more would not finish sooner), the others wait their turn.
"""

from __future__ import annotations

import os
import secrets
import threading

import argon2

_hasher = argon2.PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, type=argon2.Type.ID)
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
TURNS = max(len(os.sched_getaffinity(0)), 1) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
_turns = threading.BoundedSemaphore(TURNS)


def hash_password(password: str) -> str:
    """An argon2id hash of *password*, with its parameters and salt encoded in it."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when *password* matches *password_hash*; never raises for a mismatch.

    Waits for one of the :data:`TURNS` (see above).
    """
    try:
        with _turns:
            return _hasher.verify(password_hash, password)
    except argon2.exceptions.VerificationError:
        return False
    except argon2.exceptions.InvalidHashError:
        return False


def generate_password(length: int = 32) -> str:
    """A random password without look-alike characters, like the ones SAP generates."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))
