"""One-row reads by key on SQLite, straight through :mod:`sqlite3`: the API's hottest path.

A scheduler polls JobStatusGet every few seconds per job, and each poll is
one primary-key read. Through SQLAlchemy that read costs far more than the
query: checking a connection out of the pool, ``BEGIN``, building the
result, ``COMMIT``, checking it back in, with events fired at each step.
Measured on a 2-core VM: 260 µs for ``JobStore.get`` against about 20 µs for
the same statement through :mod:`sqlite3`. So a :class:`QuickReader` keeps
one plain connection per thread, in autocommit mode (a single ``SELECT`` is
its own consistent snapshot, and in WAL mode it never waits for a writer),
and runs statements that SQLAlchemy compiled once, converting values with
the same type processors SQLAlchemy would use. Rows come back as named
tuples, so code written for SQLAlchemy rows reads them unchanged.

Only statements built once (module constants with named bind parameters)
belong here, and only reads of one row. Every other database and query goes
through :meth:`appjobs.storage.database.Database.read`.
"""

from __future__ import annotations

import collections
import datetime as dt
import sqlite3
import threading
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import sqlalchemy as sa

from appjobs.storage import schema

Processor = Callable[[Any], Any] | None


class Prepared(NamedTuple):
    statement: sa.Select[Any]  #: held, so that its id() is never reused by another object
    sql: str
    names: tuple[str, ...]  #: bind parameter names, in the order of the ``?`` placeholders
    binds: tuple[Processor, ...]
    converted: tuple[tuple[int, Callable[[Any], Any]], ...]  #: (column index, processor) where one is needed
    row: Any  #: the named-tuple class


class QuickReader:
    """Runs one-row selects on a per-thread :mod:`sqlite3` connection to *path*."""

    def __init__(self, path: str, dialect: sa.Dialect, busy_timeout: float) -> None:
        self.path = path
        self.dialect = dialect
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._prepared: dict[int, Prepared] = {}
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def one(self, statement: sa.Select[Any], params: Mapping[str, Any]) -> Any:
        """The first row of *statement* with *params*, as a named tuple, or None."""
        prepared = self._prepared.get(id(statement)) or self._prepare(statement)
        values = [p(params[n]) if p else params[n] for n, p in zip(prepared.names, prepared.binds, strict=True)]
        found = self._connection().execute(prepared.sql, values).fetchone()
        if found is None:
            return None
        row = list(found)
        for index, convert in prepared.converted:  # most columns (text, integers) need nothing
            row[index] = convert(row[index])
        return prepared.row._make(row)

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False)
            with self._lock:
                self._connections.append(conn)
            self._local.conn = conn
        return conn

    def _prepare(self, statement: sa.Select[Any]) -> Prepared:
        compiled = statement.compile(dialect=self.dialect)
        names = tuple(compiled.positiontup or ())
        binds = tuple(compiled.binds[n].type.dialect_impl(self.dialect).bind_processor(self.dialect) for n in names)
        columns = list(statement.selected_columns)
        processors = (self._result_processor(c.type) for c in columns)
        converted = tuple((i, p) for i, p in enumerate(processors) if p is not None)
        row = collections.namedtuple("Row", [c.key for c in columns])  # type: ignore[misc]
        prepared = Prepared(statement, compiled.string, names, binds, converted, row)
        self._prepared[id(statement)] = prepared
        return prepared

    def _result_processor(self, column_type: sa.types.TypeEngine[Any]) -> Processor:
        if isinstance(column_type, schema.Timestamp):
            # SQLAlchemy parses SQLite's timestamps with a regular expression, then converts to
            # aware UTC: five timestamps cost a job read 40 µs that way, 5 µs this way.
            return _utc_timestamp
        return column_type.dialect_impl(self.dialect).result_processor(self.dialect, None)


def _utc_timestamp(value: str | None) -> dt.datetime | None:
    """A timestamp as :class:`~appjobs.storage.schema.Timestamp` stores it on SQLite (naive UTC text), made aware."""
    return None if value is None else dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
