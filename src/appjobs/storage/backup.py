"""Backups of the embedded database, taken while the server runs, and restores into a stopped one.

A backup is SQLite's online backup (``sqlite3.Connection.backup``) copied in
one step from a read transaction: in WAL mode that is a consistent snapshot
of the moment the copy began, while the server goes on writing. The copy is
written beside the target under a temporary name, checked with
``PRAGMA integrity_check`` and renamed into place only when it is sound, so a
failed backup never leaves a file that looks like one. It is a single file
(journal mode DELETE), private (0600: it holds password hashes and logs).

A restore replaces the database of a data directory whose server and
workers are stopped. The backup is checked first (integrity, an appjobs
schema, not newer than this code's); the database it replaces is kept
beside it as ``appjobs.db.replaced-<time>``, after a checkpoint has moved
everything its write-ahead log held into it. The restored database is then
migrated to this code's schema, as any start would.

PostgreSQL has tools made for this: ``pg_dump`` and ``pg_restore``
(:func:`postgres_advice`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import pathlib
import sqlite3

from appjobs import errors
from appjobs.storage.database import head_revision

PRIVATE_FILE = 0o600  # as every file of a data directory (appjobs.settings)


@dataclasses.dataclass(frozen=True)
class Summary:
    """What a backup file holds."""

    path: pathlib.Path
    revision: str
    jobs: int
    templates: int
    size: int

    def __str__(self) -> str:
        return (f"{self.path}: {self.jobs} job(s), {self.templates} template(s), schema revision {self.revision}, "
                f"{self.size / 1024 / 1024:.1f} MiB")  # fmt: skip


def backup(database: pathlib.Path, target: pathlib.Path, *, force: bool = False) -> Summary:
    """Copy *database* to *target* while it is in use; checked before it is put in place."""
    if target.exists() and not force:
        raise errors.Conflict(f"{target} exists; give --force to replace it")
    if target.resolve() == database.resolve():
        raise errors.InvalidInput(f"{target} is the database itself")
    temporary = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        _copy(database, temporary)
        summary = verify(temporary)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return dataclasses.replace(summary, path=target)


def _copy(source: pathlib.Path, target: pathlib.Path) -> None:
    target.unlink(missing_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)  # private from its first byte
    os.close(fd)
    try:
        with contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src, \
                contextlib.closing(sqlite3.connect(target)) as dst:  # fmt: skip
            src.backup(dst)  # all pages in one step: a consistent snapshot, however busy the server
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    except sqlite3.Error as exc:
        raise errors.StorageError(f"cannot copy {source} to {target}: {exc}") from exc


def verify(path: pathlib.Path) -> Summary:
    """What the backup at *path* holds; :class:`InvalidInput` naming the fault when it is no sound appjobs backup."""
    if not path.is_file():
        raise errors.InvalidInput(f"{path} does not exist or is not a file")
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            check = db.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                raise errors.InvalidInput(f"{path} is damaged: {check}")
            revision = db.execute("SELECT version_num FROM alembic_version").fetchone()[0]
            jobs = db.execute("SELECT count(*) FROM job").fetchone()[0]
            templates = db.execute("SELECT count(*) FROM template").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise errors.InvalidInput(f"{path} is not an appjobs backup (an SQLite database of appjobs): {exc}") from exc
    if revision > head_revision():
        raise errors.InvalidInput(f"{path} was made by a newer appjobs (schema {revision}; this one knows up to "
                                  f"{head_revision()})")  # fmt: skip
    return Summary(path, revision, jobs, templates, path.stat().st_size)


def restore(backup_file: pathlib.Path, database: pathlib.Path, *, force: bool = False) -> pathlib.Path | None:
    """Make *backup_file* the *database*; returns where the replaced database was kept (None: there was none).

    The caller has made sure that no server or worker uses *database*.
    """
    summary = verify(backup_file)
    if database.exists() and not force:
        raise errors.Conflict(f"{database} exists; give --force to replace it (it is kept beside it)")
    temporary = database.with_name(f".{database.name}.restoring")
    try:
        _copy(summary.path, temporary)
        verify(temporary)
        kept = _set_aside(database) if database.exists() else None
        os.replace(temporary, database)
    finally:
        temporary.unlink(missing_ok=True)
    return kept


def _set_aside(database: pathlib.Path) -> pathlib.Path:
    """Move *database* aside, with what its write-ahead log held, and return where it went."""
    with contextlib.closing(sqlite3.connect(database)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the WAL's committed pages into the file itself
    kept = database.with_name(f"{database.name}.replaced-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}")
    os.replace(database, kept)
    for suffix in ("-wal", "-shm"):
        database.with_name(database.name + suffix).unlink(missing_ok=True)
    return kept


def postgres_advice(url: str) -> str:
    """How to back up and restore a PostgreSQL database: with its own tools."""
    return (
        "the database is PostgreSQL: back it up with its own tool, while the server runs, e.g.\n"
        f"  pg_dump --format=custom --file appjobs.dump '{url}'\n"
        "and restore it, with every appjobs process stopped, into an empty database:\n"
        "  pg_restore --no-owner --dbname 'postgresql://…/NEW_DATABASE' appjobs.dump\n"
        "then point APPJOBS_DATABASE_URL at it and start appjobs serve"
    )
