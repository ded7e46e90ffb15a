"""``appjobs admin …``: local administration of a data directory (templates, users, jobs)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys
import time

import click

from appjobs import errors, models
from appjobs.cli import admin_jobs, comm
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


for _command in comm.COMMANDS:
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
        click.echo(f"{t.name}\t{t.text}\t{t.step_count} step(s)")


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
@json_option
def schedule(
    data_dir: str | None,
    template: str,
    text: str,
    job_user: str,
    parameters: tuple[str, ...],
    wait: bool,
    as_json: bool,
) -> None:
    """Schedule TEMPLATE to run at once; prints JobName and JobRunCount (with --json: the job, once).

    With --wait it waits until the job ends, and says on stderr when no
    worker is alive to run it.
    """
    service = _open(data_dir)
    values = dict(_split_parameter(p) for p in parameters)
    job = service.schedule(template, creator=ADMIN_USER, text=text, job_user=job_user, parameters=values)
    if not as_json:
        click.echo(f"{job.key.name} {job.key.run_count}")
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
@json_option
def list_jobs(
    data_dir: str | None, created_from: dt.datetime | None, created_to: dt.datetime | None, as_json: bool
) -> None:
    """List jobs by creation time."""
    now = models.utcnow()
    start = created_from.replace(tzinfo=models.UTC) if created_from else now - dt.timedelta(days=1)
    end = created_to.replace(tzinfo=models.UTC) if created_to else now
    found = _open(data_dir).jobs(start, end)
    if as_json:
        echo_json([_job_json(j) for j in found])
        return
    for j in found:
        created = f"{j.created_at:%Y-%m-%d %H:%M:%S}"
        click.echo(f"{j.key.name} {j.key.run_count} {j.status.value} {created} {j.template_name} {j.text}")


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
    if as_json:
        echo_json({**_job_json(job), "steps": [_step_json(s) for s in steps], "log": [_log_json(e) for e in log]})
        return
    click.echo(
        f"{job.key.name} {job.key.run_count} {job.status.value} ({job.status.text}) {job.template_name} {job.text}"
    )
    for s in steps:
        click.echo(f"  step {s.number}: {s.status.value} {s.text or s.target}")
    for e in log:
        step = f"step {e.step_number}" if e.step_number else "job"
        click.echo(f"  {e.logged_at:%H:%M:%S} {e.severity.value} [{step}] {e.text}")


@jobs.command("cancel")
@data_dir_option
@click.argument("name")
@click.argument("run_count")
def cancel(data_dir: str | None, name: str, run_count: str) -> None:
    """Cancel a job: delete it if it has not started, abort it if it runs."""
    outcome = _open(data_dir).cancel(models.JobKey(name, run_count), by=ADMIN_USER)
    click.echo("deleted (it had not started)" if outcome.deleted else "cancel requested; the job will end A")


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
