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
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
from collections.abc import Mapping

from appjobs import errors

DEFAULT_DATA_DIR = "./appjobs-data"

#: Environment variables appjobs reads, with what they set. The client commands read theirs
#: in :mod:`appjobs.cli.connection`, through click, so that a waiting ``appjobs run`` stays small.
ENVIRONMENT = {
    "APPJOBS_DATA_DIR": "data directory (default ./appjobs-data)",
    "APPJOBS_DATABASE_URL": "SQLAlchemy URL of the database (default: SQLite file appjobs.db in the data directory)",
    "APPJOBS_URL": "client commands: service root URL",
    "APPJOBS_PUBLIC_URL": "admin arrangements: where schedulers reach the server, for the service URL",
    "APPJOBS_USER": "client commands: communication user",
    "APPJOBS_PASSWORD": "client commands: the communication user's password",
    "APPJOBS_PROFILE": "client commands: profile in the profiles file",
    "APPJOBS_PROFILES": "client commands: the profiles file (default ~/.config/appjobs/profiles.toml)",
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

    def create(self) -> None:
        """Create the data directory (private to this user); a clear error if that fails."""
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise errors.ConfigurationError(f"cannot create data directory {self.data_dir}: {exc}") from exc
        if not os.access(self.data_dir, os.W_OK):
            raise errors.ConfigurationError(f"data directory {self.data_dir} is not writable")
