"""Hearing PostgreSQL's ``NOTIFY`` without a thread: a connection a worker can ``select()`` on.

Workers on other hosts cannot be reached through a socket in the server's
data directory, so on PostgreSQL the transaction that schedules a job or asks
for a cancel also sends ``NOTIFY appjobs_work``
(:meth:`~appjobs.storage.database.Database.wake_workers`). Each worker keeps
one connection that ``LISTEN``\\ s: its socket becomes readable when a
notification arrives, so the worker's selector waits on it beside its own
wake-up socket, and :meth:`Listener.drain` reads what came with libpq's
non-blocking calls. Polling the database stays, as the fallback for a
notification lost with a dropped connection.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from appjobs import errors

WAKE_CHANNEL = "appjobs_work"


class Listener:
    """A connection of its own that LISTENs on *channel*; select on :meth:`fileno`, then :meth:`drain`."""

    def __init__(self, connect: Callable[[], Any], channel: str) -> None:
        """Open a connection of its own with *connect* (in autocommit mode) and LISTEN on *channel*."""
        import psycopg  # here, not above: installations on SQLite alone need not have it

        self._errors = psycopg.Error
        self._conn: Any = None
        try:
            self._conn = connect()
            self._conn.execute(f'LISTEN "{channel}"')
            self._fileno = self._conn.fileno()
        except self._errors as exc:
            self.close()
            raise errors.StorageError(f"cannot listen for wake-ups: {exc}") from exc

    def fileno(self) -> int:
        return self._fileno

    def drain(self) -> int:
        """Read the notifications that have arrived; how many. :class:`StorageError` if the connection broke."""
        pgconn = self._conn.pgconn
        try:
            pgconn.consume_input()
        except self._errors as exc:
            raise errors.StorageError(f"lost the connection that listens for wake-ups: {exc}") from exc
        count = 0
        while pgconn.notifies() is not None:
            count += 1
        return count

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(self._errors):  # a broken connection may fail to close; it is gone anyway
                self._conn.close()
