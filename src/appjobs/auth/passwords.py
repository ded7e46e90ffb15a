"""Password hashing for communication users: argon2id, and generated passwords.

Parameters follow OWASP's minimum for argon2id (m = 19 MiB, t = 2, p = 1):
about 40 ms a verification on one core here. That is too slow to pay on
every request, so the server verifies a password once per session (see the
service issue); the hash itself stays strong.

Each verification holds 19 MiB while it runs, so a flood of bad logons must
not run many at once: :data:`TURNS` of them run side by side in a process
(one per core: more would not finish sooner), the others wait their turn.
And the memory must go back to the system when a check ends, which glibc
does not do by itself: see :func:`return_memory_promptly`.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import sys
import threading

import argon2

_hasher = argon2.PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, type=argon2.Type.ID)
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
TURNS = max(len(os.sched_getaffinity(0)), 1) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
_turns = threading.BoundedSemaphore(TURNS)
_M_MMAP_THRESHOLD = -3  # mallopt's parameter number, from glibc's malloc.h
MMAP_THRESHOLD = 4 * 1024 * 1024  # bytes from which glibc serves an allocation with a mapping of its own


def return_memory_promptly() -> None:
    """Have glibc give a password check's 19 MiB back to the system when the check ends (where glibc is).

    glibc serves a large allocation with a mapping of its own, unmapped when
    freed, but after the first such free it raises that threshold (its
    "dynamic mmap threshold") so that the next ones come from the arena of the
    thread, which keeps the memory. A server verifies in whichever of its pool
    threads runs the logon, so every thread's arena ended up holding 19 MiB:
    120 bad logons took a server from 73 MB to 912 MB for good. Fixing the
    threshold (which turns the dynamic one off) returns each check's memory
    at once; measured on a 2-core VM, 200 checks from 40 threads, two at a
    time: peak 379 MB and kept before, 56 MB and back to 17 MB after. The
    price is fresh pages for every check, about 10 ms on that VM (page faults
    are dear there), paid once per session or per verified-credential cache
    miss. A process-wide setting: called once by ``appjobs serve``. Off Linux,
    or with a libc without mallopt (musl), it does nothing.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)


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
