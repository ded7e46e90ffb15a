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


class PublicUrl(click.ParamType):
    """Where schedulers reach the server: ``http(s)://host[:port][/path]``, without a query or fragment."""

    name = "URL"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        import urllib.parse

        text = str(value).strip()
        if not text.isprintable() or " " in text:  # control characters, NUL, undecodable bytes from the environment
            self.fail(f"{value!r} holds a space or a character that is not printable", param, ctx)
        parts = urllib.parse.urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            self.fail(f"{value!r} is not an http or https URL with a host and no query", param, ctx)
        try:
            parts.port  # noqa: B018 - it raises for a port that is no number or out of range
        except ValueError as exc:
            self.fail(f"{value!r}: {exc}", param, ctx)
        return parts.geturl().rstrip("/")


def public_url_option(default: str | None, help: str) -> Callable[[F], F]:
    """``--public-url`` (env APPJOBS_PUBLIC_URL), checked: a typo must not reach every arrangement's page."""
    return click.option(
        "--public-url", envvar="APPJOBS_PUBLIC_URL", type=PublicUrl(), default=default, show_default=True, help=help
    )


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
