"""Options shared by the server-side commands."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from appjobs.settings import Paths
    from appjobs.storage import Store

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


def existing_store(data_dir: str | None) -> tuple[Paths, Store]:
    """The data directory and store of an installation that exists: what every ``admin`` command opens.

    Only ``serve``, ``worker`` and ``admin init`` create a data directory; any
    other command on a path without one exits 2, naming the path it looked in.
    """
    from appjobs.settings import Paths
    from appjobs.storage import Store

    paths = Paths.resolve(data_dir)
    paths.require()
    return paths, Store.open_existing(paths.database_url)
