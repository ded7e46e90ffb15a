"""A database that cannot be used now but may be soon: recognising it under every driver.

A PostgreSQL server restarts for a minor upgrade, fails over to its standby,
or drops our connections; a SQLite file stays locked by another writer past
the busy timeout. None of these is a bug of ours or a fault of the caller,
and the same request may well succeed a few seconds later. So they get an
error of their own, :class:`~appjobs.errors.StorageUnavailable` (of which a
full disk is one kind): the HTTP layer answers 503 with ``Retry-After``, and
the worker keeps its steps running and tries again (see
:mod:`appjobs.engine.backoff`) instead of exiting and leaving them to crash
recovery.

How each driver says it:

- any driver: SQLAlchemy marks the error ``connection_invalidated`` when
  the dialect recognises a broken connection;
- psycopg: :class:`psycopg.OperationalError` (the server is unreachable,
  shut down, refuses connections, or ended our session) and
  :class:`psycopg.InterfaceError` (the connection is closed);
- SQLite: the result codes for a busy or locked database and an I/O
  error. Not a file that cannot be opened: on a local file that is a wrong
  path or wrong permissions, which waiting does not mend.

Everything else (a constraint, a value the database refuses, a missing
table) stays a plain :class:`~appjobs.errors.StorageError`: trying again
would meet it again.
"""

from __future__ import annotations

import sqlite3
import sys

import sqlalchemy as sa

#: SQLite's primary result codes that a later try may pass.
SQLITE_TRANSIENT = frozenset(
    {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_PROTOCOL}
)


def is_unavailable(exc: BaseException) -> bool:
    """True when *exc* (SQLAlchemy's error, or the driver's own) says the database cannot be used now."""
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return True
    orig = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
    if isinstance(orig, sqlite3.OperationalError):
        return (getattr(orig, "sqlite_errorcode", 0) & 0xFF) in SQLITE_TRANSIENT
    psycopg = sys.modules.get("psycopg")  # loaded if the error is one of its own; never imported for SQLite
    return psycopg is not None and isinstance(orig, psycopg.OperationalError | psycopg.InterfaceError)
