"""``appjobs check``: what JobScheduleCheck says of a template and its parameters, without scheduling a job.

It prints whether the job would be scheduled, each message of the service,
and the parameters as the service would take them (its defaults filled in).
Exit code 0 when the job would be scheduled, 2 (bad input) when not. A
service without JobScheduleCheck (a tenant older than 2024) is named as such.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from appjobs.cli import connection, paramflags
from appjobs.cli.exits import ExitCode
from appjobs.cli.options import echo_json


@click.command()
@click.argument("template")
@click.option("--job-user", help="Business user the job would run for (JobUser).")
@paramflags.options
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@connection.connection_options
def check(template: str, job_user: str | None, parameters: Any, ranges: Any, as_json: bool, **flags: Any) -> None:
    """Check TEMPLATE's parameters as JobSchedule would (JobScheduleCheck), without scheduling a job.

    \b
    -p NAME=VALUE          a single value, in every step that declares NAME
    -p NAME@STEP=VALUE     ... in step STEP alone
    -r NAME[@STEP] SIGN OPTION LOW HIGH
                           a row of a select-option (repeat for more rows)

    \b
    Exit codes: 0 the job would be scheduled, 2 it would not (or bad input),
    5 logon refused, 6 network failure, 8 protocol error.
    """
    values = paramflags.parse(parameters, ranges)
    with connection.resolve(flags).client() as client:
        result = client.check(template, values or None, job_user=job_user)
    if as_json:
        echo_json(
            {
                "successful": result.successful,
                "changed": result.changed,
                "messages": list(result.messages),
                "parameter_values": result.parameter_values,
            }
        )
    else:
        _show(template, result)
    sys.exit(ExitCode.OK if result.successful else ExitCode.USAGE)


def _show(template: str, result: Any) -> None:
    if result.successful:
        changed = " (the service filled in or adjusted values)" if result.changed else ""
        click.echo(f"{template}: the job would be scheduled{changed}.")
    else:
        click.echo(f"{template}: the job would not be scheduled:")
        for message in result.messages:
            click.echo(f"  {message}")
        return
    for value in result.values:
        step = "all" if value.step is None else str(value.step)
        rows = "; ".join(f"{r.sign} {r.option} {r.low!r}" + (f"..{r.high!r}" if r.high else "") for r in value.rows)
        click.echo(f"  step {step:>3}  {value.name:<20} {rows or '(no value)'}")
