"""``appjobs run``: what a scheduler calls to run one SAP application job and learn how it ended."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import signal
import sys
from collections.abc import Iterator
from typing import Any

import click

from appjobs import errors
from appjobs.cli import connection, paramflags, restarting
from appjobs.cli.runner import Outcome, Runner, RunOptions

#: Signals that make ``appjobs run`` cancel its job; CTRL_BREAK arrives as SIGBREAK on Windows.
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGHUP", "SIGBREAK") if hasattr(signal, name)
)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd]?)")
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?[smhd])*(?:\d+(?:\.\d+)?)?")


def parse_duration(text: str) -> float:
    """Seconds in a duration such as ``90``, ``90s``, ``15m``, ``2h`` or ``1h30m`` (a bare number is seconds)."""
    value = text.strip().lower()
    if not _DURATION.fullmatch(value):
        raise click.BadParameter(f"{text!r} is not a duration like 90, 90s, 15m, 2h or 1h30m")
    total = sum(float(number) * _UNITS[unit or "s"] for number, unit in _DURATION_PART.findall(value))
    if total <= 0:
        raise click.BadParameter(f"{text!r} is not a positive duration")
    return total


class Duration(click.ParamType):
    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        return value if isinstance(value, float) else parse_duration(str(value))


@click.command()
@click.argument("template", required=False)
@click.option("--by-text", is_flag=True, help="TEMPLATE is the template's text (JobTemplateText), not its name.")
@click.option("--text", help="JobText of the job [default: the template's text]; a run marker is appended.")
@click.option("--job-user", help="Business user the job runs for (JobUser).")
@click.option("--test-mode", is_flag=True, help="Schedule in test mode (TestModeInd).")
@paramflags.options
@click.option("--no-wait", is_flag=True, help="Schedule and exit 0 at once, without waiting.")
@click.option("--show-log", is_flag=True, help="Print the job's log lines on stderr as they arrive (JobHeaderSet).")
@click.option("--poll-interval", type=Duration(), default="15s", show_default=True, help="Longest pause between polls.")
@click.option("--timeout", type=Duration(), help="Longest time for the whole run.")
@click.option("--start-timeout", type=Duration(), help="Longest time before the job runs (in S, Y or P).")
@click.option("--on-timeout", type=click.Choice(["cancel", "leave"]), default="cancel", show_default=True)
@click.option("--cancel-grace", type=Duration(), default="60s", show_default=True, help="Wait after cancelling.")
@click.option("--retry-window", type=Duration(), default="5m", show_default=True, help="Network trouble tolerated.")
@click.option("--strict-warnings", is_flag=True, help="A job that ends W exits 7 instead of 0.")
@click.option("--state-file", type=click.Path(dir_okay=False), help="Write the job's key here before waiting.")
@click.option("--resume", type=click.Path(dir_okay=False), help="Reattach to the job of this state file.")
@click.option("--log-file", type=click.Path(dir_okay=False), help="Append what happens to this file.")
@click.option("--json", "as_json", is_flag=True, help="End with one JSON object on stdout.")
# JobRestart (see appjobs.cli.restarting): run the copy of a failed job instead of a new one.
@click.option(
    "--restart-from-failed",
    nargs=2,
    metavar="JOBNAME RUNCOUNT",
    help="Instead of TEMPLATE: restart this failed job from its failed step (JobRestart) and run the copy.",
)
@click.option("--restart-after-failed", nargs=2, metavar="JOBNAME RUNCOUNT", help="The same, after its failed step.")
@connection.connection_options
def run(as_json: bool, log_file: str | None, **flags: Any) -> None:
    """Run an SAP application job from TEMPLATE, wait for it, and exit with its outcome.

    The job's name and run count go to stderr at once, then every status
    change. SIGTERM, SIGINT or SIGHUP cancel the job (JobCancel) and exit 3.

    With --restart-from-failed JOBNAME RUNCOUNT instead of TEMPLATE, the job
    is the restarted copy of that failed job (JobRestart; SAP offers it since 2023).

    \b
    Exit codes: 0 finished (F; W too unless --strict-warnings), 1 failed (A, U),
    2 usage or configuration, 3 cancelled, 4 timeout, 5 logon refused,
    6 network failure, 7 warnings (--strict-warnings), 8 protocol error.
    """
    conn = connection.take(flags)
    restart = restarting.requested(flags)
    options = _options(flags, restart is not None)
    with _reporter(log_file) as report, conn.client() as client:
        runner = (
            Runner(client, options, report)
            if restart is None
            else restarting.RestartRunner(client, options, report, *restart)
        )
        outcome = run_to_the_end(runner)
    document = outcome.as_json() if restart is None else restarting.as_json(outcome.as_json(), *restart)
    if as_json:
        click.echo(json.dumps(document))
    sys.exit(int(outcome.exit_code))


def _options(flags: dict[str, Any], restart: bool = False) -> RunOptions:
    if flags["resume"] and flags["by_text"]:
        raise errors.ConfigurationError("--resume reattaches to a job; it cannot be combined with --by-text")
    if not (flags["template"] or flags["resume"] or restart):
        raise errors.InvalidInput("give a TEMPLATE to run (or --restart-from-failed JOBNAME RUNCOUNT, or --resume)")
    return RunOptions(
        template=flags["template"] or "",
        by_text=flags["by_text"],
        text=flags["text"],
        job_user=flags["job_user"],
        test_mode=flags["test_mode"],
        parameters=paramflags.parse(flags["parameters"], flags["ranges"]),
        wait=not flags["no_wait"],
        show_log=flags["show_log"],
        poll_interval=flags["poll_interval"],
        timeout=flags["timeout"],
        start_timeout=flags["start_timeout"],
        on_timeout=flags["on_timeout"],
        strict_warnings=flags["strict_warnings"],
        state_file=flags["state_file"],
        resume=flags["resume"],
        cancel_grace=flags["cancel_grace"],
        retry_window=flags["retry_window"],
    )


def run_to_the_end(runner: Runner) -> Outcome:
    """*runner*'s outcome, its job cancelled by the stop signals; an appjobs error becomes an outcome (exit code)."""
    with _signals_cancel(runner):
        try:
            return runner.run()
        except Exception as exc:
            if not type(exc).__module__.startswith("appjobs."):
                raise
            return runner.failed(exc)


@contextlib.contextmanager
def _reporter(log_file: str | None) -> Iterator[Any]:
    """A function that tells a person what happens: on stderr, and appended to *log_file*."""
    log = open(log_file, "a", encoding="utf-8") if log_file else None  # noqa: SIM115 (closed below)

    def report(message: str) -> None:
        click.echo(f"appjobs: {message}", err=True)
        if log is not None:
            log.write(f"{dt.datetime.now(dt.UTC).isoformat(timespec='seconds')} {message}\n")
            log.flush()

    try:
        yield report
    finally:
        if log is not None:
            log.close()


@contextlib.contextmanager
def _signals_cancel(runner: Runner) -> Iterator[None]:
    """While the run lasts, the stop signals ask it to cancel its job instead of killing the program."""
    previous = {sig: signal.signal(sig, lambda *_: runner.stop()) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
