"""The ``appjobs`` command group: every command loads lazily, and every error ends in :mod:`exits`.

Server-side commands (``serve``, ``worker``, ``admin …``) import the server,
engine and storage only when they run, and client commands (``run``,
``status`` …) import only the client, so that ``appjobs run`` starts fast
and stays small while it waits.
"""

from __future__ import annotations

import importlib
import os
import sys
import warnings
from typing import Any

import click

from appjobs import __version__
from appjobs.cli import exits

#: Every command, loaded only when used: server commands pull in the engine and storage,
#: client commands the client and requests.
LAZY_COMMANDS = {
    "serve": "appjobs.cli.local:serve",
    "worker": "appjobs.cli.local:worker",
    "admin": "appjobs.cli.admin:admin",
    "run": "appjobs.cli.run:run",
    "templates": "appjobs.cli.remote:templates",
    "status": "appjobs.cli.remote:status",
    "info": "appjobs.cli.remote:info",
    "cancel": "appjobs.cli.remote:cancel",
    "jobs": "appjobs.cli.remote:jobs",
    "ping": "appjobs.cli.remote:ping",
    "check": "appjobs.cli.check:check",
    "restart": "appjobs.cli.restart:restart",
    "log": "appjobs.cli.logs:log",
}


CLIENT_COMMANDS = frozenset({"run", "templates", "status", "info", "cancel", "jobs", "ping", "check", "restart", "log"})


def skip_charset_detection() -> None:
    """Keep requests from loading a character-set detector into a client command.

    requests imports charset_normalizer (or chardet) only to guess the
    encoding of ``Response.text`` when a server does not declare one. The
    client never reads ``.text``: it parses bytes, and SAP declares UTF-8.
    Not loading it keeps 2.7 MB out of a waiting ``appjobs run`` (bench/run_bench.py),
    which schedulers keep alive for hours, one per job. Only done before
    requests is imported, so a process that already uses requests keeps
    its detector.
    """
    if "requests" in sys.modules:
        return
    for name in ("charset_normalizer", "chardet"):
        sys.modules.setdefault(name, None)  # type: ignore[assignment]
    # requests warns once that it found no detector; for us that is intended.
    warnings.filterwarnings("ignore", message="Unable to find acceptable character detection dependency")


class AppjobsGroup(click.Group):
    """A click group that loads heavy commands lazily and maps appjobs errors to exit codes."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in CLIENT_COMMANDS:
            skip_charset_detection()
        if cmd_name in LAZY_COMMANDS:
            module, _, attr = LAZY_COMMANDS[cmd_name].partition(":")
            command: click.Command = getattr(importlib.import_module(module), attr)
            return command
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            if not type(exc).__module__.startswith("appjobs."):
                raise  # click's own exceptions, and bugs: let them show as they are
            click.echo(f"appjobs: error: {exc}", err=True)
            sys.exit(exits.for_error(exc))


@click.group(cls=AppjobsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="appjobs")
def cli() -> None:
    """appjobs: SAP-compatible application jobs for external schedulers.

    \b
    Server side:  appjobs serve | appjobs worker | appjobs admin ...
    Client side:  appjobs run | check | templates | status | info | cancel | jobs | ping | restart | log

    \b
    Exit codes:
      0  ok; run: the job finished (F, or W without --strict-warnings)
      1  the job failed (A, U), or the operation failed
      2  usage or configuration error, unknown or ambiguous template or job
      3  cancelled (job C or deleted, or this program got a signal)
      4  timeout (--start-timeout, --timeout)
      5  logon or authorization refused
      6  network failure past the retry window
      7  finished with warnings under --strict-warnings
      8  the server broke the protocol (persistent 5xx, unreadable answer)
    """


#: click 8.2+ asks for help, as an error, when a group is called without a command.
_NO_ARGS_IS_HELP: type[click.ClickException] = getattr(
    click.exceptions, "NoArgsIsHelpError", type("_Never", (click.ClickException,), {})
)


def main() -> None:
    """Run the command; every line it prints about an error, click's usage errors too, starts ``appjobs:``.

    Schedulers keep a job's stderr in one log with other programs' output; the
    prefix says whose line it is (and greps well).
    """
    check_arguments(sys.argv[1:])
    try:
        code = cli.main(prog_name="appjobs", standalone_mode=False)
    except _NO_ARGS_IS_HELP as exc:
        exc.show()  # a bare group: its help, as click shows it
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"appjobs: error: {exc.format_message()}", err=True)
        context = getattr(exc, "ctx", None)
        if context is not None:
            click.echo(f"appjobs: see '{context.command_path} --help'", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("appjobs: aborted", err=True)
        sys.exit(1)
    except BrokenPipeError:
        # The reader of stdout went away (`appjobs admin jobs list | head`): end quietly, as click would,
        # pointing stdout at /dev/null so that the flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


def check_arguments(args: list[str]) -> None:
    """Exit 2 when an argument is not valid UTF-8, before it reaches a database or a URL.

    Python hands such bytes over as lone surrogates (``surrogateescape``), which
    no database and no URL can carry; without this check they end in a traceback.
    """
    for number, arg in enumerate(args, 1):
        try:
            arg.encode()
        except UnicodeEncodeError:
            shown = arg.encode(errors="surrogateescape").decode(errors="backslashreplace")
            click.echo(f"appjobs: error: argument {number} ({shown}) is not valid UTF-8", err=True)
            sys.exit(exits.ExitCode.USAGE)
