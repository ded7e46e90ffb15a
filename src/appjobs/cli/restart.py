"""``appjobs restart``: restart a failed job as a copy (JobRestart), and with ``--wait`` watch it as ``run`` does."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from appjobs.cli import connection, restarting
from appjobs.cli.options import echo_json, json_option
from appjobs.cli.run import Duration, _reporter, run_to_the_end
from appjobs.cli.runner import RunOptions


@click.command()
@click.argument("job_name")
@click.argument("run_count")
@click.option(
    "--from-failed/--after-failed",
    "from_failed",
    default=True,
    help="Run the failed step again and the steps after it (JobRestartMode E, the default), "
    "or only the steps after it (A).",
)
@click.option("--wait", is_flag=True, help="Wait for the copy and exit as 'appjobs run' does.")
@click.option("--poll-interval", type=Duration(), default="15s", show_default=True, help="Longest pause between polls.")
@click.option("--timeout", type=Duration(), help="With --wait: longest time to wait; then the copy is cancelled.")
@click.option("--cancel-grace", type=Duration(), default="60s", show_default=True, help="Wait after cancelling.")
@click.option("--retry-window", type=Duration(), default="5m", show_default=True, help="Network trouble tolerated.")
@click.option("--strict-warnings", is_flag=True, help="With --wait: a copy that ends W exits 7 instead of 0.")
@json_option
@connection.connection_options
def restart(job_name: str, run_count: str, from_failed: bool, wait: bool, as_json: bool, **flags: Any) -> None:
    """Restart the failed job JOB_NAME RUN_COUNT as a copy, from or after its failed step; print the copy's key.

    Only a job that failed (A), was cancelled (C) or ended with a user error (U)
    can be restarted; the copy has its own JobName and JobRunCount and the
    original's text, job user and parameters. The service must offer
    JobRestart (SAP's since 2023).

    \b
    With --wait, SIGTERM, SIGINT or SIGHUP cancel the copy (JobCancel) and exit 3.
    Exit codes: 0 restarted (with --wait: the copy finished, F; W too unless
    --strict-warnings), 1 the copy failed, 2 usage, unknown job, a job that cannot
    be restarted (APJ_RT/081, /082) or a service without JobRestart, 3 cancelled,
    4 timeout, 5 logon refused, 6 network failure, 7 warnings, 8 protocol error.
    """
    from appjobs.client import JobKey, RestartMode

    conn = connection.take(flags)
    original = JobKey(job_name, run_count)
    mode = RestartMode.FROM_FAILED if from_failed else RestartMode.AFTER_FAILED
    if not wait:
        with conn.client() as client:
            copy = client.restart(original, mode)
        if as_json:
            echo_json(restarting.as_json({"job_name": copy.name, "run_count": copy.run_count}, original, mode))
        else:
            click.echo(f"{copy.name} {copy.run_count}")
        return
    options = RunOptions(template="", **flags)
    with _reporter(None) as report, conn.client() as client:
        outcome = run_to_the_end(restarting.RestartRunner(client, options, report, original, mode))
    if as_json:
        click.echo(json.dumps(restarting.as_json(outcome.as_json(), original, mode)))
    elif outcome.key is not None:
        click.echo(f"{outcome.key.name} {outcome.key.run_count}")
    sys.exit(int(outcome.exit_code))
