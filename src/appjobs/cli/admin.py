"""``appjobs admin …``: local administration of a data directory (templates, users, jobs)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys
import time
from typing import Any

import click

from appjobs import errors, models
from appjobs.cli import admin_jobs, backup, comm, doctor, planning
from appjobs.cli.options import data_dir_option, echo_json, existing_store, json_option
from appjobs.engine import JobService, Waker, wake
from appjobs.settings import Paths
from appjobs.storage import Store

ADMIN_USER = "ADMIN"  # who the log says scheduled or cancelled a job from these commands
NO_WORKER_AFTER = 3.0  # seconds a --wait waits for a job to start before it checks that a worker is alive


def _open(data_dir: str | None) -> JobService:
    paths, store = existing_store(data_dir)
    return JobService(store, notify=Waker(paths.data_dir / wake.SOCKET_DIR))


@click.group()
def admin() -> None:
    """Administer a data directory: templates, communication management, jobs, the audit log."""


@admin.command("init")
@data_dir_option
def init(data_dir: str | None) -> None:
    """Create a data directory and its database, empty: no templates, no users.

    For setting up users and templates before the first ``appjobs serve``
    (which adds the demo templates and user only where there are none). Every
    other ``admin`` command needs a data directory that exists; on one that
    does, this changes nothing but narrowing modes that were too open.
    """
    paths = Paths.resolve(data_dir)
    paths.create()
    Store.open(paths.database_url).close()
    click.echo(f"data directory {paths.data_dir} is ready")


for _command in [*comm.COMMANDS, *backup.COMMANDS, doctor.doctor]:
    admin.add_command(_command)


# --- templates -----------------------------------------------------------------------


@admin.group()
def templates() -> None:
    """Job templates."""


@templates.command("import")
@data_dir_option
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--replace", is_flag=True, help="Change templates that already exist instead of failing.")
def import_templates(data_dir: str | None, file: str, replace: bool) -> None:
    """Import the job templates defined in a TOML FILE (all or nothing)."""
    imported = _open(data_dir).import_file(file, by=ADMIN_USER, replace=replace)
    for template in imported:
        click.echo(f"{template.name}\t{template.text}\t{template.step_count} step(s)")


@templates.command("list")
@data_dir_option
@json_option
def list_templates(data_dir: str | None, as_json: bool) -> None:
    """List the job templates."""
    found = _open(data_dir).templates()
    if as_json:
        echo_json([_template_json(t) for t in found])
        return
    for t in found:
        click.echo(f"{t.name}\t{t.text}\t{t.step_count} step(s){_recurrence_text(t.recurrence)}")


def _recurrence_text(default: models.DefaultRecurrence | None) -> str:
    """A template's default recurrence in the text listing: ``\tevery 1d at 02:00 Europe/Berlin``."""
    if default is None:
        return ""
    at = f" at {default.at}" if default.at else ""
    return f"\tevery {default.every}{at} {default.timezone}"


def _template_json(t: models.Template) -> dict[str, object]:
    steps = [
        {"number": s.number, "kind": s.kind.value, "target": s.target, "text": s.text, "parameters": dict(s.parameters)}
        for s in t.steps
    ]
    return {
        "name": t.name,
        "text": t.text,
        "version": t.version,
        "supports_test_mode": t.supports_test_mode,
        "business_users": list(t.business_users),
        "recurrence": dataclasses.asdict(t.recurrence) if t.recurrence else None,
        "steps": steps,
    }


# --- jobs ----------------------------------------------------------------------------


@admin.group()
def jobs() -> None:
    """Application jobs, without going through the HTTP API."""


@jobs.command("schedule")
@data_dir_option
@click.argument("template")
@click.option("--text", default="", help="JobText (default: the template's text).")
@click.option("--job-user", default="", help="Business user the job runs for (default: ADMIN).")
@click.option(
    "-p", "--parameter", "parameters", multiple=True, metavar="NAME=VALUE", help="Override a parameter default."
)
@click.option("--wait", is_flag=True, help="Wait until the job ends; exit 1 unless it finished (F).")
@planning.planning_options
@json_option
def schedule(
    data_dir: str | None,
    template: str,
    text: str,
    job_user: str,
    parameters: tuple[str, ...],
    wait: bool,
    as_json: bool,
    **when: Any,
) -> None:
    """Schedule TEMPLATE to run at once, at a time, or periodically; prints JobName and JobRunCount.

    With --json: the job, once. With --start-at it is planned (status S until
    then); with --every or --default-recurrence it is the first job of a
    periodic series, and a second line names the series and its first start.
    With --wait it waits until the (first) job ends, and says on stderr when
    no worker is alive to run it.
    """
    service = _open(data_dir)
    values = dict(_split_parameter(p) for p in parameters)
    job, series = planning.schedule(
        service, template, planning.When(**when), creator=ADMIN_USER, text=text, job_user=job_user, parameters=values
    )
    if not as_json:
        click.echo(f"{job.key.name} {job.key.run_count}")
        if when["start_at"] or series is not None:
            click.echo(planning.describe(job, series))
    if wait:
        job = _wait(service, job.key)
    if as_json:
        echo_json(_job_json(job))  # stdout holds exactly one JSON document
    elif wait:
        click.echo(f"{job.status.value} {job.status.text}")
    if wait:
        sys.exit(0 if job.status is models.JobStatus.FINISHED else 1)


def _split_parameter(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep:
        raise errors.InvalidInput(f"parameter {text!r} is not NAME=VALUE")
    return name, value


def _wait(service: JobService, key: models.JobKey) -> models.Job:
    """The job once it has ended; says so on stderr, once, when it has not started and no worker is alive."""
    check_at, warned = time.monotonic() + NO_WORKER_AFTER, False
    while not (job := service.status(key)).status.is_final:
        if not warned and time.monotonic() >= check_at and job.status is not models.JobStatus.RUNNING:
            warned = _warn_without_workers(service)
            check_at = time.monotonic() + NO_WORKER_AFTER
        time.sleep(0.2)
    return job


def _warn_without_workers(service: JobService) -> bool:
    """Say on stderr that no worker is alive, if none is; True when it was said."""
    if service.live_workers():
        return False
    click.echo(
        "appjobs: no worker is alive for this data directory, so the job waits; start one with "
        "`appjobs serve` (it runs a worker) or `appjobs worker`, or stop waiting with Ctrl-C (the job stays scheduled)",
        err=True,
    )
    return True


@jobs.command("list")
@data_dir_option
@click.option(
    "--from", "created_from", type=click.DateTime(), help="Created at or after (UTC) [default: 24 hours ago]."
)
@click.option("--to", "created_to", type=click.DateTime(), help="Created at or before (UTC) [default: now].")
@click.option("--planned", is_flag=True, help="Instead: the jobs planned to start later (S), soonest first.")
@json_option
def list_jobs(
    data_dir: str | None,
    created_from: dt.datetime | None,
    created_to: dt.datetime | None,
    planned: bool,
    as_json: bool,
) -> None:
    """List jobs by creation time, or (--planned) the planned ones by their start."""
    now = models.utcnow()
    start = created_from.replace(tzinfo=models.UTC) if created_from else now - dt.timedelta(days=1)
    end = created_to.replace(tzinfo=models.UTC) if created_to else now
    service = _open(data_dir)
    found = service.store.jobs.planned() if planned else service.jobs(start, end)
    if as_json:
        echo_json([_job_json(j) for j in found])
        return
    for j in found:
        when = f"{(j.scheduled_at if planned else j.created_at):%Y-%m-%d %H:%M:%S}"
        series = f" series {j.series_id}" if planned and j.series_id else ""
        click.echo(f"{j.key.name} {j.key.run_count} {j.status.value} {when} {j.template_name} {j.text}{series}")


@jobs.command("show")
@data_dir_option
@click.argument("name")
@click.argument("run_count")
@json_option
def show(data_dir: str | None, name: str, run_count: str, as_json: bool) -> None:
    """Show a job: status, steps and log."""
    service = _open(data_dir)
    key = models.JobKey(name, run_count)
    job, steps, log = service.status(key), service.steps(key), service.log(key)
    series = _series_json(service, job)
    if as_json:
        steps_json, log_json = [_step_json(s) for s in steps], [_log_json(e) for e in log]
        echo_json({**_job_json(job), "series": series, "steps": steps_json, "log": log_json})
        return
    click.echo(
        f"{job.key.name} {job.key.run_count} {job.status.value} ({job.status.text}) {job.template_name} {job.text}"
    )
    click.echo(f"  planned start: {job.scheduled_at:%Y-%m-%d %H:%M:%S}Z")
    if series:
        click.echo(f"  series {series['id']}: every {series['every']} in {series['timezone']}, {series['end']}")
        click.echo(f"  next start: {series['next_start'] or 'none (the series has ended)'}")
    for s in steps:
        click.echo(f"  step {s.number}: {s.status.value} {s.text or s.target}")
    for e in log:
        step = f"step {e.step_number}" if e.step_number else "job"
        click.echo(f"  {e.logged_at:%H:%M:%S} {e.severity.value} [{step}] {e.text}")


@jobs.command("cancel")
@data_dir_option
@click.argument("name")
@click.argument("run_count")
@click.option("--series", is_flag=True, help="The job is of a periodic series: cancel the whole series.")
def cancel(data_dir: str | None, name: str, run_count: str, series: bool) -> None:
    """Cancel a job: delete it if it has not started, abort it if it runs.

    A job of a periodic series is cancelled only with --series, which deletes
    every planned job of the series and aborts a running one (SAP's rule).
    """
    service, key = _open(data_dir), models.JobKey(name, run_count)
    if series and service.status(key).series_id is None:
        raise errors.InvalidInput(f"job {key} belongs to no periodic series: cancel it without --series")
    outcome = service.cancel(key, by=ADMIN_USER, series=series)
    if series:
        click.echo("series cancelled: its planned jobs are deleted, a running one is aborted")
    click.echo("deleted (it had not started)" if outcome.deleted else "cancel requested; the job will end A")


def _series_json(service: JobService, job: models.Job) -> dict[str, object] | None:
    """The series of *job* and its next start, for ``jobs show``; None for a job of no series."""
    if job.series_id is None:
        return None
    series = service.store.jobs.series(job.series_id)
    following = service.store.jobs.next_of_series(series.id)
    if series.max_runs:
        end = f"{series.max_runs} starts"
    else:
        end = f"until {series.until:%Y-%m-%d %H:%M:%S}Z" if series.until else "no end"
    return {
        "id": series.id,
        "every": series.recurrence.every,
        "timezone": series.recurrence.timezone,
        "anchor": series.anchor.isoformat(),
        "end": end,
        "created_at": series.created_at,
        "ended_at": series.ended_at,
        "next_start": f"{following[1]:%Y-%m-%d %H:%M:%S}Z" if following else None,
        "next_job": f"{following[0].name} {following[0].run_count}" if following else None,
    }


def _job_json(j: models.Job) -> dict[str, object]:
    data = dataclasses.asdict(j)
    data.update(name=j.key.name, run_count=j.key.run_count, status=j.status.value, status_text=j.status.text)
    data.pop("key")
    return data


def _step_json(s: models.StepRun) -> dict[str, object]:
    data = dataclasses.asdict(s)
    data.pop("key")
    data.update(kind=s.kind.value, status=s.status.value)
    return data


def _log_json(e: models.LogEntry) -> dict[str, object]:
    return {
        "step": e.step_number,
        "time": e.logged_at,
        "severity": e.severity.value,
        "source": e.source,
        "text": e.text,
    }


for _command in admin_jobs.COMMANDS:  # delete, purge: retention by hand
    jobs.add_command(_command)
