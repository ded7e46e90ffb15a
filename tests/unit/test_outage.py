"""Which database errors mean "not now" (StorageUnavailable: wait, answer 503) and which mean "never" (StorageError).

The errors are the drivers' own, made the way they arise: a second SQLite writer, a port nobody
listens on. Guessing wrong either way costs: a missing table taken for an outage makes the worker
wait for ever instead of saying what is wrong; an outage taken for a bug aborts running jobs.
"""

from __future__ import annotations

import pathlib
import sqlite3

import psycopg
import pytest
import sqlalchemy as sa

from appjobs import errors
from appjobs.storage import quickread
from appjobs.storage.outage import is_unavailable


def sqlite_error(path: pathlib.Path, sql: str) -> sqlite3.Error:
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE IF NOT EXISTS t (x)")
    holder.execute("BEGIN IMMEDIATE")  # the write lock, held
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        with pytest.raises(sqlite3.Error) as caught:
            other.execute(sql)
        return caught.value
    finally:
        other.close()
        holder.execute("ROLLBACK")
        holder.close()


def test_a_locked_sqlite_database_is_unavailable(tmp_path: pathlib.Path) -> None:
    busy = sqlite_error(tmp_path / "db", "INSERT INTO t VALUES (1)")
    assert "locked" in str(busy)
    assert is_unavailable(busy)
    assert is_unavailable(sa.exc.OperationalError("INSERT", {}, busy))  # as SQLAlchemy wraps it


def test_a_missing_sqlite_table_is_not(tmp_path: pathlib.Path) -> None:
    missing = sqlite_error(tmp_path / "db", "SELECT * FROM nowhere")
    assert isinstance(missing, sqlite3.OperationalError)  # the same class as "locked": the code tells them apart
    assert not is_unavailable(missing)
    assert not is_unavailable(sa.exc.OperationalError("SELECT", {}, missing))


def test_a_postgresql_server_that_cannot_be_reached_is_unavailable() -> None:
    with pytest.raises(psycopg.OperationalError) as caught:
        psycopg.connect("postgresql://nobody@127.0.0.1:1/none", connect_timeout=2)
    assert is_unavailable(caught.value)
    error = quickread.storage_error(caught.value)
    assert type(error) is errors.StorageUnavailable
    assert str(error).startswith("the database is unavailable: OperationalError:")


def test_a_value_postgresql_refuses_is_not() -> None:
    refused = psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")
    assert not is_unavailable(refused)
    assert not is_unavailable(sa.exc.DataError("INSERT", {}, refused))
    assert type(quickread.storage_error(refused)) is errors.StorageError


def test_a_connection_sqlalchemy_found_broken_is_unavailable_whatever_the_driver_said() -> None:
    broken = sa.exc.DBAPIError("SELECT 1", {}, Exception("server closed the connection"), connection_invalidated=True)
    assert is_unavailable(broken)


def test_a_sqlite_file_that_cannot_be_opened_is_not(tmp_path: pathlib.Path) -> None:
    """A wrong path or mode: a worker waiting for it would wait for ever; it must say what is wrong and stop."""
    with pytest.raises(sqlite3.OperationalError) as caught:
        sqlite3.connect(tmp_path / "no-such-directory" / "db")
    assert not is_unavailable(caught.value)
