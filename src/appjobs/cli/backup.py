"""``appjobs admin backup FILE`` and ``appjobs admin restore FILE``: the embedded database, safe and sound."""

from __future__ import annotations

import pathlib

import click

from appjobs import errors
from appjobs.cli.options import data_dir_option


@click.command("backup")
@data_dir_option
@click.argument("file", type=click.Path(dir_okay=False, path_type=pathlib.Path))
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
def backup(data_dir: str | None, file: pathlib.Path, force: bool) -> None:
    """Back up the database to FILE while the server runs, and check the copy.

    SQLite's online backup: a consistent snapshot, checked with an integrity
    check before it is put in place; the file is private (0600). On
    PostgreSQL this says how to use pg_dump instead.
    """
    from appjobs.settings import Paths
    from appjobs.storage import backup as backups

    paths = Paths.resolve(data_dir)
    paths.require()
    database = paths.sqlite_file
    if database is None:
        raise errors.ConfigurationError(backups.postgres_advice(_redacted(paths.database_url)))
    summary = backups.backup(database, file, force=force)
    click.echo(f"backed up {summary}")


@click.command("restore")
@data_dir_option
@click.argument("file", type=click.Path(dir_okay=False, path_type=pathlib.Path))
@click.option("--force", is_flag=True, help="Replace the data directory's database (it is kept beside it).")
def restore(data_dir: str | None, file: pathlib.Path, force: bool) -> None:
    """Restore the database from backup FILE; the server and its workers must be stopped.

    Without --force it only restores into a data directory that has no
    database yet. The replaced database is kept as appjobs.db.replaced-TIME.
    """
    from appjobs.engine import JobService
    from appjobs.settings import Paths
    from appjobs.storage import Store
    from appjobs.storage import backup as backups

    paths = Paths.resolve(data_dir)
    database = paths.sqlite_file
    if database is None:
        raise errors.ConfigurationError(backups.postgres_advice(_redacted(paths.database_url)))
    backups.verify(file)  # a bad file is refused before anything is looked at or changed
    paths.create()
    if database.exists():
        store = Store.open(paths.database_url, migrate=False)
        try:
            running = JobService(store).live_workers()
        finally:
            store.close()
        if running:
            where = ", ".join(f"pid {w.pid} on {w.hostname}" for w in running)
            raise errors.Conflict(f"workers are running on this database ({where}): stop appjobs serve and "
                                  "appjobs worker first")  # fmt: skip
    kept = backups.restore(file, database, force=force)
    Store.open(paths.database_url).close()  # brought to this code's schema, as a start would
    summary = backups.verify(database)
    click.echo(f"restored {summary}" + (f"; the database it replaced is kept as {kept}" if kept else ""))


def _redacted(url: str) -> str:
    import sqlalchemy as sa

    return sa.make_url(url).render_as_string(hide_password=True)


COMMANDS = [backup, restore]
