"""The ``appjobs`` command group, and the one place that turns errors into exit codes.

Server-side commands (``serve``, ``worker``, ``admin …``) import the server,
engine and storage only when they run, so that client commands start fast.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from appjobs import __version__, errors

#: Exit codes of the server-side commands.
EXIT_OK = 0
EXIT_FAILURE = 1  # the operation failed (storage, or a job that ended A with --wait)
EXIT_USAGE = 2  # bad input, unknown names, configuration


def exit_code_for(exc: errors.AppjobsError) -> int:
    """The exit code for an appjobs error; documented in the README."""
    if isinstance(exc, errors.InvalidInput | errors.NotFound | errors.Conflict | errors.ConfigurationError):
        return EXIT_USAGE
    return EXIT_FAILURE


#: Commands whose modules load only when used: they pull in the server, engine and storage.
LAZY_COMMANDS = {
    "serve": "appjobs.cli.local:serve",
    "worker": "appjobs.cli.local:worker",
    "admin": "appjobs.cli.admin:admin",
}


class AppjobsGroup(click.Group):
    """A click group that loads heavy commands lazily and maps appjobs errors to exit codes."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS:
            module, _, attr = LAZY_COMMANDS[cmd_name].partition(":")
            command: click.Command = getattr(importlib.import_module(module), attr)
            return command
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except errors.AppjobsError as exc:
            click.echo(f"appjobs: error: {exc}", err=True)
            sys.exit(exit_code_for(exc))


@click.group(cls=AppjobsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="appjobs")
def cli() -> None:
    """appjobs: SAP-compatible application jobs for external schedulers.

    \b
    Server side:  appjobs serve | appjobs worker | appjobs admin ...
    Exit codes:   0 ok, 1 failed, 2 bad input or configuration
    """


def main() -> None:
    cli(prog_name="appjobs")
