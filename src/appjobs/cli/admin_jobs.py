"""``appjobs admin jobs delete|purge``: deleting jobs that ended, by hand.

The worker deletes them by itself after ``--retention-days``; these are for
an administrator who wants one job gone now, or a purge with another
cut-off (before a backup, say). Each change is written to the audit log.
A job that has not ended cannot be deleted: cancel it instead.
"""

from __future__ import annotations

import datetime as dt

import click

from appjobs import models
from appjobs.cli.options import data_dir_option, existing_store

ADMIN_USER = "ADMIN"  # who the audit log says did it (as for the other admin commands)


class IsoTime(click.ParamType):
    """An ISO 8601 date or date and time; UTC unless it carries an offset (``2026-12-01``, ``…T02:00+01:00``)."""

    name = "TIME"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> dt.datetime:
        if isinstance(value, dt.datetime):
            return value
        try:
            parsed = dt.datetime.fromisoformat(str(value))
        except ValueError:
            self.fail(
                f"{value!r} is not an ISO 8601 date or time: write 2026-12-01, 2026-12-01T02:00 (UTC) "
                "or 2026-12-01T02:00+01:00",
                param,
                ctx,
            )
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@click.command("delete")
@data_dir_option
@click.argument("name")
@click.argument("run_count")
def delete(data_dir: str | None, name: str, run_count: str) -> None:
    """Delete the job NAME RUNCOUNT, which has ended, with its steps and log (cancel one that has not)."""
    from appjobs.engine import retention

    _, store = existing_store(data_dir)
    try:
        retention.delete_job(store, models.JobKey(name, run_count), by=ADMIN_USER)
    finally:
        store.close()
    click.echo(f"deleted job {name} {run_count}")


@click.command("purge")
@data_dir_option
@click.option(
    "--before",
    required=True,
    type=IsoTime(),
    help="Delete what ended before TIME (ISO 8601; UTC unless it has an offset).",
)
@click.option("--audit", is_flag=True, help="Delete the audit log's entries from before TIME too.")
def purge(data_dir: str | None, before: dt.datetime, audit: bool) -> None:
    """Delete every job that ended before TIME, with its steps and logs; never one planned, ready or running."""
    from appjobs.engine import retention

    _, store = existing_store(data_dir)
    try:
        done = retention.purge(store, before, by=ADMIN_USER, audit=audit)
    finally:
        store.close()
    when = before.astimezone(dt.UTC).isoformat()
    click.echo(f"deleted {done.jobs} job(s) that ended before {when}")
    if done.audit_entries is not None:
        entries = retention.entry_or_entries(done.audit_entries)
        click.echo(f"deleted {done.audit_entries} audit {entries} from before {when}")


COMMANDS = [delete, purge]
