"""A full disk: recognising it under every driver, and saying so without filling the log.

A full volume is not a bug of ours and not the caller's fault: nothing can
be stored until an operator frees space, and everything can go on once they
have. So it gets an error of its own, :class:`~appjobs.errors.StorageFull`,
which the HTTP layer answers with 507 and the command line with exit 1, and
the worker outlives it (it waits and tries again, see :mod:`appjobs.engine.backoff`).

How each store says it:

- SQLite: ``SQLITE_FULL`` ("database or disk is full"), which it also
  reports when ``write()`` fails with ENOSPC;
- PostgreSQL: SQLSTATE 53100 ``disk_full`` (psycopg's ``DiskFull``), e.g.
  "could not extend file … No space left on device";
- files of our own: :class:`OSError` with ENOSPC, or EDQUOT (a quota).

A process that meets a full disk does so on every attempt, hundreds of
times a second under load: :class:`Throttled` logs it at most once a minute,
with the number of times it happened in between.
"""

from __future__ import annotations

import errno
import logging
import sqlite3
import threading
import time

FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
POSTGRES_DISK_FULL = "53100"
LOG_EVERY = 60.0  # seconds between two log lines about the same full disk


def is_disk_full(exc: BaseException | None) -> bool:
    """True when *exc* (a driver error, or an OSError) says that the storage is full."""
    if isinstance(exc, sqlite3.Error):
        return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "disk is full" in str(exc)
    if isinstance(exc, OSError):
        return exc.errno in FULL_ERRNOS
    return getattr(exc, "sqlstate", None) == POSTGRES_DISK_FULL  # psycopg's DiskFull, without importing psycopg


class Throttled:
    """A log line said at most once every *every* seconds, counting the times it was held back."""

    def __init__(self, logger: logging.Logger, every: float = LOG_EVERY) -> None:
        self.logger, self.every = logger, every
        self._lock = threading.Lock()
        self._next = 0.0
        self._held = 0

    def warning(self, message: str, *args: object) -> bool:
        """Log *message* if a minute has passed since the last one; True when it was logged."""
        now = time.monotonic()
        with self._lock:
            if now < self._next:
                self._held += 1
                return False
            held, self._held, self._next = self._held, 0, now + self.every
        suffix = f" ({held} more time(s) since the last message)" if held else ""
        self.logger.warning(message + suffix, *args)
        return True

    def reset(self) -> None:
        """The condition is over: the next occurrence is logged at once."""
        with self._lock:
            self._next, self._held = 0.0, 0
