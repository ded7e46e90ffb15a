"""Opening a database: engine set-up per dialect, transactions, migrations.

This is the one module that knows SQLite and PostgreSQL apart.

SQLite is opened in WAL mode so that readers never block the writer, with
``synchronous=FULL`` so that a committed job survives a power cut as well
as a crash, and every read-write transaction starts with ``BEGIN IMMEDIATE``:
it takes the write lock up front, so two processes never deadlock trying to
upgrade a read lock (SQLAlchemy's documented pysqlite recipe). Read-only
transactions use a plain deferred ``BEGIN`` and run beside the writer.
"""

from __future__ import annotations

import contextlib
import dataclasses
import pathlib
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from appjobs import errors

MIGRATIONS = pathlib.Path(__file__).parent / "migrations"
BUSY_TIMEOUT = 30_000  # milliseconds a writer waits for the lock before failing


@dataclasses.dataclass
class Database:
    """An open database: a SQLAlchemy engine plus appjobs' transaction discipline."""

    engine: sa.Engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextlib.contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A read-write transaction, committed on success and rolled back on error."""
        with _translate(), self.engine.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A read-only transaction that does not take SQLite's write lock."""
        with _translate(), self.engine.connect() as plain:
            conn = plain.execution_options(appjobs_readonly=True)
            with conn.begin():
                yield conn

    def migrate(self) -> None:
        """Bring the schema to the newest revision (a no-op when it is there)."""
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with _translate(), self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def close(self) -> None:
        self.engine.dispose()


def connect(url: str) -> Database:
    """Open the database at *url* (``sqlite:///path`` or ``postgresql+psycopg://…``)."""
    try:
        engine = sa.create_engine(url, **_engine_options(url))
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise errors.ConfigurationError(f"cannot open database {_redact(url)}: {exc}") from exc
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return Database(engine)


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        # One connection per thread is plenty for SQLite; no pool churn.
        return {"connect_args": {"timeout": BUSY_TIMEOUT / 1000, "check_same_thread": False}}
    return {"pool_pre_ping": True}


def _configure_sqlite(engine: sa.Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event, not pysqlite, decide how transactions start.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=FULL", f"busy_timeout={BUSY_TIMEOUT}", "foreign_keys=ON"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def on_begin(conn: sa.Connection) -> None:
        readonly = conn.get_execution_options().get("appjobs_readonly", False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


@contextlib.contextmanager
def _translate() -> Iterator[None]:
    """Turn driver errors into :class:`~appjobs.errors.StorageError` at this one boundary."""
    try:
        yield
    except sa.exc.IntegrityError:
        raise  # the store turns these into Conflict errors where it expects them
    except sa.exc.SQLAlchemyError as exc:
        raise errors.StorageError(f"database error: {exc.__class__.__name__}: {exc.orig or exc}") from exc


def _redact(url: str) -> str:
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<unparsable URL>"
