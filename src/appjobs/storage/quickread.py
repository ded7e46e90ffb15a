"""One-row reads by key, straight through the driver: the API's hottest path.

A scheduler polls JobStatusGet every few seconds per job, and each poll is
one primary-key read. Through SQLAlchemy that read costs far more than the
query: checking a connection out of the pool, ``BEGIN``, building the
result, ``COMMIT``, checking it back in, with events fired at each step.
Measured on a 2-core VM: 260 µs for ``JobStore.get`` against about 20 µs for
the same statement through :mod:`sqlite3`; on PostgreSQL a poll's read took
350 µs in a transaction through SQLAlchemy. So a :class:`QuickReader` keeps
a few plain driver connections, in autocommit mode (a single
``SELECT`` is its own consistent snapshot; on SQLite in WAL mode it never
waits for a writer), and runs statements that SQLAlchemy compiled once,
converting values with the same type processors SQLAlchemy would use. Rows
come back as named tuples, so code written for SQLAlchemy rows reads them
unchanged.

Only statements built once (module constants with named bind parameters)
belong here, and only reads of one row. Every other query goes through
:meth:`appjobs.storage.database.Database.read`.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import threading
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import sqlalchemy as sa

from appjobs import errors
from appjobs.storage import schema
from appjobs.storage.outage import is_unavailable

Processor = Callable[[Any], Any] | None


class Prepared(NamedTuple):
    statement: sa.Select[Any]  #: held, so that its id() is never reused by another object
    sql: str
    names: tuple[str, ...]  #: bind parameter names, in the order of the placeholders
    positional: bool  #: ``?`` placeholders (sqlite3) rather than ``%(name)s`` (psycopg)
    binds: tuple[Processor, ...]
    converted: tuple[tuple[int, Callable[[Any], Any]], ...]  #: (column index, processor) where one is needed
    row: Any  #: the named-tuple class


class QuickReader:
    """Runs one-row selects on plain driver connections that *connect* opens (in autocommit mode).

    A read takes an idle connection, or opens one when none is idle, and gives
    it back when done; so there are only as many as reads that ever ran at the
    same moment, not one per thread that ever read (on PostgreSQL each is a
    server process). *failures* are the driver's exception classes: one of
    them closes the connection it came from and is raised as a
    :class:`~appjobs.errors.StorageError`; the next read opens another.
    """

    def __init__(self, connect: Callable[[], Any], dialect: sa.Dialect, failures: tuple[type[Exception], ...]) -> None:
        self.connect = connect
        self.dialect = dialect
        self.failures = failures
        self._prepared: dict[int, Prepared] = {}
        self._idle: list[Any] = []  # append() and pop() are atomic: no lock on the hot path
        self._connections: list[Any] = []
        self._lock = threading.Lock()

    def one(self, statement: sa.Select[Any], params: Mapping[str, Any]) -> Any:
        """The first row of *statement* with *params*, as a named tuple, or None."""
        prepared = self._prepared.get(id(statement)) or self._prepare(statement)
        values = [p(params[n]) if p else params[n] for n, p in zip(prepared.names, prepared.binds, strict=True)]
        bound = values if prepared.positional else dict(zip(prepared.names, values, strict=True))
        found = self._fetch(prepared.sql, bound)
        if found is None:
            return None
        row = list(found)
        for index, convert in prepared.converted:  # most columns (text, integers) need nothing
            row[index] = convert(row[index])
        return prepared.row._make(row)

    def _fetch(self, sql: str, bound: Any) -> Any:
        """The first row of *sql*, on an idle connection or a new one.

        An idle connection that the database has ended meanwhile (it restarted, or an
        administrator ended our sessions) is dropped and the read tried on the next,
        as SQLAlchemy's pre-ping does for its pool: only a new connection's failure is raised.
        """
        while True:
            try:
                conn, pooled = self._idle.pop(), True
            except IndexError:
                conn, pooled = self._open(), False
            try:
                found = conn.execute(sql, bound).fetchone()
            except self.failures as exc:
                self._drop(conn)
                if pooled and is_unavailable(exc):
                    continue
                raise storage_error(exc) from exc
            except BaseException:
                self._idle.append(conn)  # not the connection's fault (a value the driver cannot adapt)
                raise
            self._idle.append(conn)
            return found

    @property
    def connections(self) -> int:
        """How many connections are open now."""
        return len(self._connections)

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                with contextlib.suppress(*self.failures):
                    conn.close()
            self._connections.clear()
            self._idle.clear()

    def _open(self) -> Any:
        try:
            conn = self.connect()
        except self.failures as exc:
            raise storage_error(exc) from exc
        with self._lock:
            self._connections.append(conn)
        return conn

    def _drop(self, conn: Any) -> None:
        """Close a connection after a failure: it may be broken, and a new one costs little."""
        with self._lock, contextlib.suppress(ValueError):
            self._connections.remove(conn)
        with contextlib.suppress(*self.failures):
            conn.close()

    def _prepare(self, statement: sa.Select[Any]) -> Prepared:
        compiled = statement.compile(dialect=self.dialect)
        positional = compiled.positiontup is not None
        names = tuple(compiled.positiontup if positional else compiled.bind_names.values())
        binds = tuple(compiled.binds[n].type.dialect_impl(self.dialect).bind_processor(self.dialect) for n in names)
        columns = list(statement.selected_columns)
        processors = (self._result_processor(c.type) for c in columns)
        converted = tuple((i, p) for i, p in enumerate(processors) if p is not None)
        row = collections.namedtuple("Row", [c.key for c in columns])  # type: ignore[misc]
        prepared = Prepared(statement, compiled.string, names, positional, binds, converted, row)
        self._prepared[id(statement)] = prepared
        return prepared

    def _result_processor(self, column_type: sa.types.TypeEngine[Any]) -> Processor:
        if isinstance(column_type, schema.Timestamp) and self.dialect.name == "sqlite":
            # SQLAlchemy parses SQLite's timestamps with a regular expression, then converts to
            # aware UTC: five timestamps cost a job read 40 µs that way, 5 µs this way.
            return _utc_timestamp
        return column_type.dialect_impl(self.dialect).result_processor(self.dialect, None)


def _utc_timestamp(value: str | None) -> dt.datetime | None:
    """A timestamp as :class:`~appjobs.storage.schema.Timestamp` stores it on SQLite (naive UTC text), made aware."""
    return None if value is None else dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)


def storage_error(exc: BaseException) -> errors.StorageError:
    """Our error for the driver's *exc*: :class:`~appjobs.errors.StorageUnavailable` where a later try may pass."""
    if is_unavailable(exc):
        return errors.StorageUnavailable(f"the database is unavailable: {exc.__class__.__name__}: {exc}")
    return errors.StorageError(f"database error: {exc.__class__.__name__}: {exc}")
