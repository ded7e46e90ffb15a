"""Settings of the server-side commands, and the layout of a data directory.

This module reads the server side's environment; the client commands read
theirs in :mod:`appjobs.cli.connection`. Precedence is: command
line flag > environment variable > default. Every setting is listed in
:data:`ENVIRONMENT` with its help text, and the README documents each.

A data directory holds::

    appjobs.db        the SQLite database (unless APPJOBS_DATABASE_URL points elsewhere)
    appjobs.db-writelock  the lock that orders writers across processes
    logs/             output of running steps (moved into the database when a step ends)
    run/              wake-up sockets of the workers

Everything in it is private to the user the server runs as: password hashes,
sessions, job logs and the audit log live there. Directories are made 0700
and files 0600 whatever the umask, and a directory that already existed with
wider modes is narrowed (with a warning) when ``serve``, ``worker`` or
``admin init`` opens it. The steps themselves keep the umask the server was
started with: what a job writes elsewhere is the job's business.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pathlib
import stat
from collections.abc import Mapping

from appjobs import errors

logger = logging.getLogger(__name__)

DEFAULT_DATA_DIR = "./appjobs-data"
PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600
#: Folders of a data directory, made with it (see the module docstring).
SUBDIRS = ("logs", "run")

#: Environment variables appjobs reads, with what they set. The client commands read theirs
#: in :mod:`appjobs.cli.connection`, through click, so that a waiting ``appjobs run`` stays small.
ENVIRONMENT = {
    "APPJOBS_DATA_DIR": "data directory (default ./appjobs-data)",
    "APPJOBS_DATABASE_URL": "SQLAlchemy URL of the database (default: SQLite file appjobs.db in the data directory)",
    "APPJOBS_URL": "client commands: service root URL",
    "APPJOBS_PUBLIC_URL": "serve, admin arrangements: where schedulers reach the server, for the service URL",
    "APPJOBS_USER": "client commands: communication user",
    "APPJOBS_PASSWORD": "client commands: the communication user's password",
    "APPJOBS_PROFILE": "client commands: profile in the profiles file",
    "APPJOBS_PROFILES": "client commands: the profiles file (default ~/.config/appjobs/profiles.toml)",
    "APPJOBS_METRICS_TOKEN": "serve: bearer token for /appjobs/metrics (or --metrics-token-file)",
    "APPJOBS_LOG_FORMAT": "serve, worker: log lines as text (default) or json (--log-format)",
    "APPJOBS_LOG_LEVEL": "serve, worker: the least severe log lines written, default INFO (--log-level)",
}


@dataclasses.dataclass(frozen=True)
class Paths:
    """Where the parts of one data directory live."""

    data_dir: pathlib.Path
    database_url: str

    @classmethod
    def resolve(cls, data_dir: str | None = None, environ: Mapping[str, str] | None = None) -> Paths:
        """Paths from an explicit *data_dir*, else ``APPJOBS_DATA_DIR``, else ``./appjobs-data``."""
        env = os.environ if environ is None else environ
        root = pathlib.Path(data_dir or env.get("APPJOBS_DATA_DIR") or DEFAULT_DATA_DIR).expanduser().absolute()
        url = env.get("APPJOBS_DATABASE_URL") or f"sqlite:///{root / 'appjobs.db'}"
        return cls(root, url)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def is_new(self) -> bool:
        """True when the embedded database does not exist yet (a fresh data directory)."""
        return self.is_sqlite and not (self.data_dir / "appjobs.db").exists()

    @property
    def metrics_dir(self) -> pathlib.Path:
        """Where this host's appjobs processes count their metrics (see :mod:`appjobs.metrics`)."""
        return self.data_dir / "run" / "metrics"

    @property
    def sqlite_file(self) -> pathlib.Path | None:
        """The SQLite database file, when the database is one (None for PostgreSQL or an in-memory database)."""
        if not self.is_sqlite:
            return None
        _, sep, rest = self.database_url.partition(":///")
        path = rest.split("?", 1)[0] if sep else ""  # "sqlite://" alone is in memory
        return None if path in ("", ":memory:") or path.startswith("file:") else pathlib.Path(path)

    def create(self) -> None:
        """Create the data directory and its folders, all private; a clear error if that fails.

        Only ``serve``, ``worker`` and ``admin init`` create a data directory;
        the other commands call :meth:`require`. A directory that exists is
        narrowed to 0700 and what it holds to 0600/0700 (see :func:`make_private`).
        """
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
            make_private(self.data_dir)
            for name in SUBDIRS:
                (self.data_dir / name).mkdir(exist_ok=True, mode=PRIVATE_DIR)
        except OSError as exc:
            raise errors.ConfigurationError(f"cannot create data directory {self.data_dir}: {exc}") from exc
        if not os.access(self.data_dir, os.W_OK):
            raise errors.ConfigurationError(f"data directory {self.data_dir} is not writable")

    def require(self) -> None:
        """Fail unless the data directory and its database exist: the administration commands never create one.

        An administrator who runs ``appjobs admin users add`` from another folder
        must learn that no data directory is there, not get a new empty one and
        a success that the server never sees. On PostgreSQL the database decides
        (see :meth:`appjobs.storage.Store.open_existing`); the data directory
        itself only holds the local step output and sockets, so it may be absent.
        """
        database = self.sqlite_file
        if database is None or database.exists():
            return
        where = f"no appjobs data directory at {self.data_dir}"
        if self.data_dir.is_dir():
            where = f"no appjobs database in {self.data_dir} ({database.name} is missing)"
        raise errors.ConfigurationError(
            f"{where}; give --data-dir or set APPJOBS_DATA_DIR to the server's data directory, "
            "or create one with `appjobs admin init` (or `appjobs serve`)"
        )


def make_private(data_dir: pathlib.Path) -> None:
    """Make *data_dir* 0700 and everything under it 0700 (folders) or 0600 (files), warning when it was open.

    A data directory made with ``mkdir -m755`` (or under a umask of 022 by an
    older appjobs) would leave password hashes and job logs readable by every
    local user. Symbolic links are left alone: they may point outside.
    """
    mode = stat.S_IMODE(data_dir.stat().st_mode)
    if mode & 0o077:
        try:
            data_dir.chmod(PRIVATE_DIR)
        except OSError as exc:
            logger.warning("data directory %s is open to other users (mode %04o) and stays so: %s", data_dir, mode, exc)
            return
        logger.warning(
            "data directory %s was open to other users (mode %04o); made it %04o", data_dir, mode, PRIVATE_DIR
        )
    for root, dirs, files in os.walk(data_dir):
        for name, wanted in [*((d, PRIVATE_DIR) for d in dirs), *((f, PRIVATE_FILE) for f in files)]:
            _narrow(pathlib.Path(root, name), wanted)


def _narrow(path: pathlib.Path, wanted: int) -> None:
    try:
        found = path.lstat()
        if not stat.S_ISLNK(found.st_mode) and stat.S_IMODE(found.st_mode) & ~wanted:
            path.chmod(stat.S_IMODE(found.st_mode) & wanted)
    except FileNotFoundError:
        pass  # a step's output file, collected while we looked
