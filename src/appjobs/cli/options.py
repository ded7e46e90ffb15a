"""Options shared by the server-side commands."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

data_dir_option = click.option(
    "--data-dir",
    envvar="APPJOBS_DATA_DIR",
    type=click.Path(file_okay=False),
    default=None,
    help="Data directory (env APPJOBS_DATA_DIR; default ./appjobs-data).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))
