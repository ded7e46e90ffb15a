"""Job logs on the command line: ``appjobs log JOBNAME RUNCOUNT [--follow]`` and ``appjobs run --show-log``.

Both read the job's whole log with ``Client.log`` (JobHeaderSet with
``$expand=JobStepSet/JobStepLogInfoSet/JobLogMessageSet``) and print each
message once. A :class:`LogFollower` remembers, per step, how many messages
it has printed: a step's log only ever grows at its end (its messages are
numbered 1, 2, … in the order they were written), so the messages after that
count are the new ones, and polling again loses and repeats none.

A line reads ``step 2 I 2026-01-01T12:00:00Z text``: the step, SAP's message
type (I, S, W, E, A) and the time in UTC when the service says it.

Against a service without JobHeaderSet (tenants before 2024) ``appjobs log``
says so and exits 2; ``appjobs run --show-log`` says so once and goes on
waiting for the job without its log.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from collections.abc import Callable
from typing import Any

import click

from appjobs.cli import connection
from appjobs.cli.exits import ExitCode, for_error
from appjobs.cli.run import Duration

FINAL = frozenset({"F", "W", "A", "U", "C", "D", "K"})


def format_message(message: Any) -> str:
    """One log message as a line of text."""
    when = message.time.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if message.time else "-"
    return f"step {message.step_number} {message.type or '-'} {when} {message.text}"


class LogFollower:
    """The messages of one job's log that have not been shown yet, read again on every :meth:`new_messages`."""

    def __init__(self, client: Any, key: Any) -> None:
        self.client = client
        self.key = key
        self.shown: dict[int, int] = {}  #: step number -> messages of its log shown so far
        self.status: str | None = None  #: the job's status letter at the last read

    def new_messages(self) -> list[Any]:
        """Messages written since the last call, in order; the job's status is in :attr:`status` after it."""
        header = self.client.header(self.key, expand="messages")
        self.status = None if header.status is None else str(header.status)
        fresh = []
        for step in header.steps or ():
            messages = step.messages or ()
            fresh += messages[self.shown.get(step.number, 0) :]
            self.shown[step.number] = max(self.shown.get(step.number, 0), len(messages))
        return fresh


def show_log_while_waiting(client: Any, key: Any, say: Callable[[str], None]) -> Callable[[], None]:
    """For ``appjobs run --show-log``: a function that prints the job's new log lines on stderr when called.

    A service without JobHeaderSet is reported once through *say*; then the function does nothing.
    Any other trouble reading the log is reported and tried again at the next call: the run's
    outcome comes from the job's status, not from its log.
    """
    from appjobs.client import ClientError, OperationNotOffered

    follower = LogFollower(client, key)
    state = {"on": True}

    def show() -> None:
        if not state["on"]:
            return
        try:
            fresh = follower.new_messages()
        except OperationNotOffered as exc:
            say(f"--show-log: {exc}; waiting without the job's log")
            state["on"] = False
            return
        except ClientError as exc:
            say(f"--show-log: cannot read the job's log ({exc}); trying again")
            return
        for message in fresh:
            click.echo(format_message(message), err=True)

    return show


@click.command()
@click.argument("job_name")
@click.argument("run_count")
@click.option("--follow", is_flag=True, help="Keep printing new lines until the job is final.")
@click.option("--poll-interval", type=Duration(), default="2s", show_default=True, help="Pause between reads.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per message, one per line.")
@connection.connection_options
def log(job_name: str, run_count: str, follow: bool, poll_interval: float, as_json: bool, **flags: Any) -> None:
    """Print the log of job JOB_NAME RUN_COUNT: every step's output lines and the job framework's messages.

    Reads SAP's JobHeaderSet (tenants from 2024 on, and appjobs serve). With
    --follow, prints each new line once as it arrives, until the job is final.
    """
    from appjobs.client import ClientError, JobKey

    with connection.resolve(flags).client() as client:
        follower = LogFollower(client, JobKey(job_name, run_count))
        try:
            _print(follower, as_json)
            while follow and follower.status not in FINAL:
                time.sleep(poll_interval)
                _print(follower, as_json)
        except ClientError as exc:
            click.echo(f"appjobs: error: {exc}", err=True)
            sys.exit(int(for_error(exc)))
    sys.exit(int(ExitCode.OK))


def _print(follower: LogFollower, as_json: bool) -> None:
    for message in follower.new_messages():
        if as_json:
            time_ = message.time.isoformat() if message.time else None
            line = {"step": message.step_number, "number": message.number, "type": message.type, "time": time_}
            click.echo(json.dumps({**line, "text": message.text}, ensure_ascii=False))  # one line per message
        else:
            click.echo(format_message(message))
