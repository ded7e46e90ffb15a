"""PostgreSQL for the tests: a real server, and a fresh database for each test that asks for one.

The server is ``APPJOBS_TEST_POSTGRES`` (a libpq URL of a database the test user may connect to
and create databases from), by default the machine's own: ``postgresql://postgres@127.0.0.1:5432/test``.
Each test gets a database of its own, ``appjobs_t_<random>``, dropped when it ends, so that tests
never see each other's jobs and a failed test leaves nothing behind for the next run.

A server that cannot be reached fails the tests that need it, with the reason: they are part
of the suite, not an option. ``pytest -m "not postgresql"`` leaves them out on purpose.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The libpq URL of the test server, checked once per session."""
    import psycopg

    url = os.environ.get("APPJOBS_TEST_POSTGRES", DEFAULT_SERVER)
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        pytest.fail(f"PostgreSQL at {url} (APPJOBS_TEST_POSTGRES) cannot be reached: {exc}", pytrace=False)
    return url


@contextlib.contextmanager
def new_database(server: str) -> Iterator[str]:
    """A SQLAlchemy URL of a new, empty database on *server*; dropped, with any connection left to it, afterwards."""
    import psycopg
    from psycopg import sql

    name = f"appjobs_t_{secrets.token_hex(6)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    info = psycopg.conninfo.conninfo_to_dict(server)
    port = int(info.get("port") or 5432)
    url = sa.URL.create("postgresql+psycopg", info.get("user"), info.get("password"), info.get("host"), port, name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        drop_database(server, name)


def drop_database(server: str, name: str, patience: float = 120.0) -> None:
    """``DROP DATABASE … WITH (FORCE)``, tried again while the server cannot checkpoint.

    DROP DATABASE waits for a checkpoint, and a checkpoint fails while any tablespace is full:
    test_diskfull.py fills one on purpose, for seconds, while other tests end beside it.
    """
    import psycopg
    from psycopg import sql

    deadline = time.monotonic() + patience
    while True:
        try:
            with psycopg.connect(server, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            return
        except psycopg.errors.InternalError as exc:
            if "checkpoint request failed" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.fixture
def postgres_database(postgres_server: str) -> Iterator[str]:
    """A new database for one test (see :func:`new_database`)."""
    with new_database(postgres_server) as url:
        yield url


@contextlib.contextmanager
def outage(server: str, url: str) -> Iterator[None]:
    """The database of *url* is down while the block runs: its connections are ended and new ones refused.

    As a restart or fail-over of the PostgreSQL server looks to its clients, without stopping the
    server that the other tests use: ``ALLOW_CONNECTIONS false``, then every session ended.
    """
    import psycopg
    from psycopg import sql

    name = sql.Identifier(sa.make_url(url).database)
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(name))
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (sa.make_url(url).database,)
        )
    try:
        yield
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(name))
