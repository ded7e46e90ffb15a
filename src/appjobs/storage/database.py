"""Opening a database: engine set-up per dialect, transactions, migrations.

This is the one module that knows SQLite and PostgreSQL apart.

SQLite is opened in WAL mode so that readers never block the writer, with
``synchronous=FULL`` so that a committed job survives a power cut as well
as a crash, and every read-write transaction starts with ``BEGIN IMMEDIATE``:
it takes the write lock up front, so two processes never deadlock trying to
upgrade a read lock (SQLAlchemy's documented pysqlite recipe). Read-only
transactions use a plain deferred ``BEGIN`` and run beside the writer.

Why a second lock, a file lock, in front of SQLite's own: a writer that finds
the write lock taken does not queue for it. SQLite calls its busy handler,
which sleeps 1, 2, 5, 10 ... up to 100 ms between retries. A process that
writes often (the worker) releases the lock and takes it again in far less
time than that, so a process that writes now and then (the one scheduling
jobs) keeps sleeping and retrying: with the worker busy, ``schedule()`` was
measured taking 110 ms at p99 and over half a second at worst, which capped
how fast jobs could be scheduled. So every read-write transaction first takes
an exclusive ``flock`` on a file next to the database (``<database>-writelock``).
The kernel queues waiters and wakes one the moment the holder lets go: the
same process then waited for the lock 0.002 ms at p50, 4 ms at p99 and 9 ms
at worst, about as long as one of the worker's transactions (``bench/engine_bench.py``
on a 2-core VM). ``BEGIN IMMEDIATE`` and ``busy_timeout`` stay:
they still serialise writers that do not use the file lock (the ``sqlite3``
shell, a process that could not open the lock file), and they are what keeps
the data safe; the file lock only decides who goes next. A process that dies
holding it releases it (the kernel closes its files). Waiting for the file
lock has no timeout; it is held only for the length of one short transaction,
never while user code runs. PostgreSQL queues lock waiters itself and uses no
file lock.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import functools
import os
import pathlib
import sqlite3
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa

from appjobs import errors, metrics
from appjobs.storage.diskfull import is_disk_full
from appjobs.storage.listen import WAKE_CHANNEL, Listener
from appjobs.storage.outage import is_unavailable
from appjobs.storage.quickread import QuickReader

MIGRATIONS = pathlib.Path(__file__).parent / "migrations"
PRIVATE_FILE = 0o600  # the database holds password hashes, sessions and job logs
SQLITE_SIDE_FILES = ("", "-wal", "-shm", "-journal", "-writelock")
BUSY_TIMEOUT = 30_000  # milliseconds a writer waits for the lock before failing
#: PostgreSQL advisory lock keys: of migrations (per transaction) and of set-up (see Database.setup_turn).
MIGRATION_LOCK, SETUP_LOCK = int.from_bytes(b"appjobs!", "big"), int.from_bytes(b"appjobs?", "big")


@functools.cache
def head_revision() -> str:
    """The newest migration's revision: its file name's first four characters (``0005_pass_env.py``)."""
    return max(path.name[:4] for path in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))


@dataclasses.dataclass
class Database:
    """An open database: a SQLAlchemy engine plus appjobs' transaction discipline."""

    engine: sa.Engine
    write_lock: WriteLock | None = None  #: SQLite only: queues writers (see the module docstring)
    quick: QuickReader | None = None  #: one-row reads without SQLAlchemy's overhead (not for in-memory SQLite)
    #: Per thread: the connection of the :meth:`unit` it is in, which its writes join.
    _unit: threading.local = dataclasses.field(default_factory=threading.local, repr=False, compare=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextlib.contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A read-write transaction, committed on success and rolled back on error.

        Inside a :meth:`unit` of this thread it is a savepoint of the unit's
        transaction instead: its statements commit, or roll back, with the unit.
        """
        unit = getattr(self._unit, "conn", None)
        if unit is not None:
            with _translate(), unit.begin_nested():
                yield unit
            return
        with self._write_turn(), _translate(), self.engine.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def unit(self) -> Iterator[None]:
        """One transaction for every :meth:`write` this thread makes inside it: all of them commit, or none.

        What a ``$batch`` changeset needs (:meth:`appjobs.engine.JobService.unit`).
        The transaction is opened at once and holds SQLite's write lock until it
        ends, so keep a unit as short as the work it groups. Reads (:meth:`read`,
        :meth:`one`) run on other connections and do not see the unit's writes
        before it commits; nor does anybody else, the workers included. A
        :meth:`wake_workers` inside it is delivered at its commit (PostgreSQL's
        ``NOTIFY``), never for a rollback. Units do not nest.
        """
        if getattr(self._unit, "conn", None) is not None:
            raise RuntimeError("units do not nest")
        with self._write_turn(), _translate(), self.engine.begin() as conn:
            self._unit.conn = conn
            try:
                yield
            finally:
                self._unit.conn = None

    @contextlib.contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A read-only transaction that does not take SQLite's write lock."""
        with _translate(), self.engine.connect() as plain:
            conn = plain.execution_options(appjobs_readonly=True)
            with conn.begin():
                yield conn

    def one(self, statement: sa.Select[Any], params: dict[str, Any]) -> Any:
        """The first row of a prebuilt *statement*, or None: the hot path's reads (see :mod:`.quickread`)."""
        if self.quick is not None:  # not in a context manager: entering one costs more than this query
            return self.quick.one(statement, params)
        with self.read() as conn:
            return conn.execute(statement, params).first()

    def migrate(self) -> None:
        """Bring the schema to the newest revision (a no-op when it is there).

        Processes starting side by side on one new database take turns: on SQLite
        the write lock orders them, on PostgreSQL a transaction-level advisory
        lock, so that the second finds the schema made and does nothing instead
        of failing on a table that the first has just created.
        """
        if self._revision() == head_revision():
            return  # the common case, without importing alembic: a tenth of a second off every process start
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self._write_turn(), _translate(), self.engine.begin() as conn:
            if self.dialect == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def schema_state(self) -> tuple[str | None, str]:
        """The schema revision the database holds (None: unreadable) and the newest this code knows.

        Raises :class:`~appjobs.errors.StorageError` when the database does not answer.
        """
        with self.read() as conn:
            conn.execute(sa.text("SELECT 1"))
        return self._revision(), head_revision()

    def _revision(self) -> str | None:
        """The schema revision alembic recorded, or None where there is none yet (or it cannot be read now)."""
        try:
            with self.engine.connect() as plain:
                conn = plain.execution_options(appjobs_readonly=True)
                return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        except sa.exc.DBAPIError:  # no such table yet, or anything else: alembic's own path decides and reports
            return None

    @contextlib.contextmanager
    def setup_turn(self) -> Iterator[None]:
        """One process at a time, for set-up that looks before it writes ("no templates yet: add them").

        Several servers starting at once on one new database would each find it
        empty and each add the same rows. On PostgreSQL this holds a session-level
        advisory lock on a connection of its own (in autocommit, so that it is not
        a transaction left open); on SQLite the write lock, which this process's
        own writes inside take again without waiting.
        """
        if self.dialect != "postgresql":
            with self._write_turn():
                yield
            return
        with _translate(), self.engine.connect() as plain:
            conn = plain.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": SETUP_LOCK})
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": SETUP_LOCK})

    def wake_workers(self, conn: sa.Connection) -> None:
        """Tell the workers on every host, when *conn* commits, that there are new jobs or cancel requests.

        On PostgreSQL a ``NOTIFY`` in the writing transaction: delivered at commit,
        never for a rollback, to every :class:`~appjobs.storage.listen.Listener`.
        SQLite's workers share the server's host and are woken through their
        sockets (:mod:`appjobs.engine.wake`).
        """
        if self.dialect == "postgresql":
            conn.execute(sa.text("SELECT pg_notify(:channel, '')"), {"channel": WAKE_CHANNEL})

    def listen(self) -> Listener | None:
        """A connection that hears :meth:`wake_workers` (PostgreSQL through psycopg); None on SQLite."""
        if self.dialect != "postgresql" or self.engine.driver != "psycopg":
            return None
        return Listener(_postgres_connector(self.engine), WAKE_CHANNEL)

    def close(self) -> None:
        if self.quick is not None:
            self.quick.close()
        self.engine.dispose()
        if self.write_lock is not None:
            self.write_lock.close()

    def _write_turn(self) -> contextlib.AbstractContextManager[None]:
        return self.write_lock.held() if self.write_lock is not None else contextlib.nullcontext()


class WriteLock:
    """An exclusive ``flock`` on *path*, shared by the threads of one process.

    ``flock`` belongs to an open file, not to a thread: two threads using the
    same descriptor would both "hold" it. So a thread first takes a process-wide
    mutex, and only the outermost holder takes and releases the file lock. After
    a ``fork`` the child opens its own file, since a descriptor inherited from
    the parent would share the parent's lock.
    """

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path
        self._open()

    def _open(self) -> None:
        self._pid, self._mutex, self._depth = os.getpid(), threading.RLock(), 0
        try:
            # Read-only is enough for flock, and lets a user who may only read the lock file take it.
            self._fd = os.open(self.path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE)
        except OSError:
            self._fd = -1  # then BEGIN IMMEDIATE and busy_timeout alone order the writers

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        if self._pid != os.getpid():
            self._open()  # a forked child: the inherited descriptor would share the parent's lock
        with self._mutex:
            if self._depth == 0 and self._fd >= 0:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._fd >= 0:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._pid == os.getpid() and self._fd >= 0:
            os.close(self._fd)
        self._pid, self._fd = -1, -1


def connect(url: str) -> Database:
    """Open the database at *url* (``sqlite:///path`` or ``postgresql+psycopg://…``)."""
    try:
        engine = sa.create_engine(url, **_engine_options(url))
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise errors.ConfigurationError(f"cannot open database {_redact(url)}: {exc}") from exc
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
        path = sqlite_file(engine.url)
        if path is None:  # in memory: no file to lock or to keep private, and one process only
            return Database(engine)
        _make_private(path)
        lock = WriteLock(pathlib.Path(f"{path}-writelock").absolute())
        if (engine.url.database or "").startswith("file:"):
            return Database(engine, lock)  # the quick reader opens plain paths, not URIs; the general way reads
        connector = _sqlite_connector(engine.url.database or "", BUSY_TIMEOUT / 1000)
        return Database(engine, lock, QuickReader(connector, engine.dialect, (sqlite3.Error,)))
    if engine.dialect.name == "postgresql" and engine.driver == "psycopg":
        import psycopg  # here: installations on SQLite alone need not have it

        quick = QuickReader(_postgres_connector(engine), engine.dialect, (psycopg.Error,))
        return Database(engine, quick=quick)
    return Database(engine)


def _sqlite_connector(path: str, busy_timeout: float) -> Callable[[], sqlite3.Connection]:
    """Opens plain :mod:`sqlite3` connections to *path* in autocommit mode."""
    return lambda: sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)


def _postgres_connector(engine: sa.Engine) -> Callable[[], Any]:
    """Opens psycopg connections as *engine* would, in autocommit mode, outside its pool."""
    args, kwargs = engine.dialect.create_connect_args(engine.url)

    def connect() -> Any:
        conn = engine.dialect.connect(*args, **kwargs)
        conn.autocommit = True
        return conn

    return connect


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        # One connection per thread is plenty for SQLite; no pool churn.
        return {"connect_args": {"timeout": BUSY_TIMEOUT / 1000, "check_same_thread": False}}
    return {"pool_pre_ping": True}


def sqlite_file(url: sa.URL) -> pathlib.Path | None:
    """The file of a SQLite database URL; None for a database in memory, which has none.

    A plain path (``sqlite:///data/appjobs.db``) or a ``file:`` URI, which SQLAlchemy passes to
    SQLite with ``uri=true`` (``sqlite:///file:/data/appjobs.db?uri=true&cache=shared``): its
    path part, percent-decoded. A ``file:`` name without ``uri=true`` is a plain file name.
    """
    database = url.database or ""
    if database in ("", ":memory:") or url.query.get("mode") == "memory":
        return None
    if database.startswith("file:") and url.query.get("uri") == "true":
        path = urllib.parse.unquote(urllib.parse.urlsplit(database).path)
        return None if path in ("", ":memory:") else pathlib.Path(path)
    return pathlib.Path(database)


def _make_private(database: pathlib.Path) -> None:
    """Create the SQLite file 0600 before SQLite does, and narrow its side files that exist.

    SQLite creates a database with 0644 less the umask, and gives its ``-wal``
    and ``-shm`` files the database file's own mode; so a database that exists,
    empty, with mode 0600 keeps all three private whatever the umask. An empty
    file is a valid empty database.
    """
    with contextlib.suppress(OSError):  # it exists; or its folder does not, which SQLite reports when it opens it
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE_FILE))
    for suffix in SQLITE_SIDE_FILES:
        path = pathlib.Path(f"{database}{suffix}")
        with contextlib.suppress(OSError):  # absent, or not ours: SQLite reports what matters when it opens it
            if path.stat().st_mode & 0o077:
                path.chmod(PRIVATE_FILE)


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
        metrics.database_error()
        if is_disk_full(getattr(exc, "orig", None)):
            raise errors.StorageFull() from exc
        cause = getattr(exc, "orig", None) or exc  # errors of SQLAlchemy's own (a missing bind value) have none
        if is_unavailable(exc):
            raise errors.StorageUnavailable(f"the database is unavailable: {type(cause).__name__}: {cause}") from exc
        raise errors.StorageError(f"database error: {exc.__class__.__name__}: {cause}") from exc
    except OSError as exc:
        if is_disk_full(exc):  # the write lock's file, or anything else of ours on the way
            metrics.database_error()
            raise errors.StorageFull() from exc
        raise


def _redact(url: str) -> str:
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<unparsable URL>"
