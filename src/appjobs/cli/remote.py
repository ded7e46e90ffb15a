"""The client commands besides ``run``: templates, status, info, cancel, jobs and ping.

Each works against any service that speaks BC_EXT_APPJOB_MANAGEMENT (an SAP
tenant or ``appjobs serve``), prints plain words for people, or JSON with
``--json``, and exits as :mod:`appjobs.cli.exits` says.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import socket
import sys
import time
from typing import Any
from urllib.parse import urlsplit

import click

from appjobs.cli import connection
from appjobs.cli.exits import ExitCode
from appjobs.cli.options import echo_json, json_option
from appjobs.cli.run import Duration


def _client(flags: dict[str, Any]) -> Any:
    return connection.resolve(flags).client()


def _plain(value: Any) -> Any:
    """A client record as JSON-ready data (datetimes as ISO 8601, enums as their letters)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: _plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def _key(name: str, run_count: str) -> Any:
    from appjobs.client import JobKey

    return JobKey(name, run_count)


@click.command()
@click.option("--filter", "text_filter", help="Only templates whose text contains TEXT (case-insensitive).")
@json_option
@connection.connection_options
def templates(text_filter: str | None, as_json: bool, **flags: Any) -> None:
    """List the job templates the communication user may schedule."""
    with _client(flags) as client:
        found = client.templates()
    if text_filter:
        found = [t for t in found if text_filter.lower() in t.text.lower()]
    if as_json:
        echo_json(_plain(found))
        return
    for template in found:
        click.echo(f"{template.name:42} {template.text}")


@click.command()
@click.argument("job_name")
@click.argument("run_count")
@json_option
@connection.connection_options
def status(job_name: str, run_count: str, as_json: bool, **flags: Any) -> None:
    """Print the status letter of a job."""
    with _client(flags) as client:
        state = client.status(_key(job_name, run_count))
    letter = str(state.status) if state.status else ""
    if as_json:
        echo_json({"job_name": job_name, "run_count": run_count, "status": letter, "text": _text(state.status)})
    else:
        click.echo(f"{letter} {_text(state.status)}")


def _text(status: Any) -> str:
    return status.text if status is not None else ""


@click.command()
@click.argument("job_name")
@click.argument("run_count")
@json_option
@connection.connection_options
def info(job_name: str, run_count: str, as_json: bool, **flags: Any) -> None:
    """Print a job's status, times and steps (JobinfoGet)."""
    with _client(flags) as client:
        job = client.info(_key(job_name, run_count))
    if as_json:
        echo_json(_plain(job))
        return
    click.echo(f"job {job.key}: {job.status} {_text(job.status)}")
    click.echo(f"  started {_when(job.started_at)}, ended {_when(job.ended_at)}")
    for step in job.steps:
        click.echo(f"  step {step.number}: {step.status} {_text(step.status)}, started {_when(step.started_at)}")


def _when(value: dt.datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else "-"


@click.command()
@click.argument("job_name")
@click.argument("run_count")
@click.option("--wait", is_flag=True, help="Wait until the job is final.")
@click.option("--timeout", type=Duration(), default="5m", show_default=True, help="How long --wait waits.")
@json_option
@connection.connection_options
def cancel(job_name: str, run_count: str, wait: bool, timeout: float, as_json: bool, **flags: Any) -> None:
    """Cancel a job: deleted if it has not started, stopped if it runs."""
    from appjobs.client import JobNotFound

    key = _key(job_name, run_count)
    with _client(flags) as client:
        client.cancel(key)
        letter = "cancel requested"
        if wait:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    state = client.status(key)
                except JobNotFound:
                    letter = "D"  # a job that had not started is deleted
                    break
                letter = str(state.status or "")
                if (state.status and state.status.is_final) or time.monotonic() > deadline:
                    break
                time.sleep(1)
    if as_json:
        echo_json({"job_name": job_name, "run_count": run_count, "status": letter})
    else:
        click.echo(letter)
    if wait and letter not in ("A", "C", "D", "F", "U", "W", "K"):
        sys.exit(ExitCode.TIMEOUT)


@click.command()
@click.option("--from", "since", type=click.DateTime(), required=True, help="Created at or after (UTC).")
@click.option("--to", "until", type=click.DateTime(), help="Created at or before (UTC) [default: now + 1 day].")
@click.option("--text", help="Only jobs with exactly this text.")
@json_option
@connection.connection_options
def jobs(since: dt.datetime, until: dt.datetime | None, text: str | None, as_json: bool, **flags: Any) -> None:
    """List jobs by creation time (JobListGet)."""
    utc = [None if t is None else t.replace(tzinfo=dt.UTC) for t in (since, until)]
    with _client(flags) as client:
        found = client.jobs(utc[0], utc[1], text=text)
    if as_json:
        echo_json(_plain(found))
        return
    for job in found:
        click.echo(f"{job.key.name} {job.key.run_count} {job.status or '-'} {_when(job.created_at)} {job.text}")


@click.command()
@json_option
@connection.connection_options
def ping(as_json: bool, **flags: Any) -> None:
    """Check host, TLS, logon and CSRF, and say plainly which one fails."""
    conn = connection.resolve(flags)
    checks: list[tuple[str, bool, str]] = []
    reached = _check_host(conn.url, checks)
    if reached:
        _check_service(conn, checks)
    if as_json:
        echo_json([{"check": name, "ok": ok, "detail": detail} for name, ok, detail in checks])
    else:
        for name, ok, detail in checks:
            click.echo(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")
    failed = next((name for name, ok, _ in checks if not ok), None)
    sys.exit(_PING_EXITS.get(failed, ExitCode.OK) if failed else ExitCode.OK)


_PING_EXITS = {
    "host": ExitCode.TRANSPORT,
    "tls": ExitCode.TRANSPORT,
    "logon": ExitCode.REFUSED,
    "csrf": ExitCode.REFUSED,
}


def _check_host(url: str, checks: list[tuple[str, bool, str]]) -> bool:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=10):
            checks.append(("host", True, f"{parts.hostname}:{port} accepts connections"))
            return True
    except OSError as exc:
        checks.append(("host", False, f"cannot connect to {parts.hostname}:{port}: {exc}"))
        return False


def _check_service(conn: connection.Connection, checks: list[tuple[str, bool, str]]) -> None:
    from appjobs import client as c

    with conn.client() as client:
        try:
            token = client.fetch_csrf_token()
        except c.TransportError as exc:
            tls = "SSL" in str(exc) or "certificate" in str(exc).lower()
            checks.append(("tls" if tls else "host", False, str(exc)))
            return
        except c.WrongHostError as exc:
            checks.append(("host", False, str(exc)))
            return
        except c.AuthenticationError as exc:
            checks.append(("logon", False, f"logon refused: {exc}"))
            return
        except c.ClientError as exc:
            checks.append(("csrf", False, str(exc)))
            return
    if urlsplit(conn.url).scheme == "https":
        checks.append(("tls", True, "certificate verified"))
    checks.append(("logon", True, "logged on"))
    checks.append(("csrf", True, f"token fetched ({len(token)} characters)"))
