"""How the client commands reach a service: URL, identity, TLS, and named profiles.

Every setting comes from a flag, else the environment, else the profile
chosen with ``--profile`` (or ``APPJOBS_PROFILE``) in the profiles file
(``APPJOBS_PROFILES``, default ``~/.config/appjobs/profiles.toml``)::

    [prod]
    url = "https://my123456-api.scmibp.ondemand.com/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=0002"
    user = "JOBSCHEDULERUSER"
    password_file = "/etc/appjobs/prod.password"

    [qa]
    url = "https://my654321-api.scmibp.ondemand.com/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=0002"
    cert = "/etc/appjobs/qa.pem"
    key = "/etc/appjobs/qa.key"

A password is never a command-line argument (any user of the machine could
read it in the process list): it comes from ``APPJOBS_PASSWORD`` or from a
file (``--password-file``, or ``password_file`` in a profile).
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import click

from appjobs import errors

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_PROFILES = "~/.config/appjobs/profiles.toml"
URL_HINT = (
    "a service URL looks like https://my123456-api.scmibp.ondemand.com/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=0002"
    " (on appjobs serve: http://HOST:PORT/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=0002)"
)
PROFILE_KEYS = frozenset({"url", "user", "password_file", "cert", "key", "ca_bundle", "sap_client", "sap_language"})


@dataclasses.dataclass(frozen=True)
class Connection:
    """Everything needed to open a :class:`appjobs.client.Client`."""

    url: str
    user: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)
    cert: str | None = None
    key: str | None = None
    ca_bundle: str | None = None
    sap_client: str | None = None
    sap_language: str | None = None

    def client(self, **options: Any) -> Any:
        """A client for this connection (its type is :class:`appjobs.client.Client`)."""
        from appjobs.client import Client

        _report_retries()
        auth = (self.user, self.password) if self.user and self.password is not None else None
        cert: str | tuple[str, str] | None = (self.cert, self.key) if self.cert and self.key else self.cert
        return Client(
            self.url,
            auth=auth,
            cert=cert,
            ca_bundle=self.ca_bundle,
            sap_client=self.sap_client,
            sap_language=self.sap_language,
            **options,
        )


def connection_options(command: F) -> F:
    """The connection flags every client command takes; they arrive as one ``connection`` argument."""
    flags = [
        click.option("--url", envvar="APPJOBS_URL", help="Service root URL (env APPJOBS_URL)."),
        click.option("--user", envvar="APPJOBS_USER", help="Communication user (env APPJOBS_USER)."),
        click.option(
            "--password-file",
            type=click.Path(dir_okay=False),
            help="File whose first line is the password (else env APPJOBS_PASSWORD).",
        ),
        click.option("--cert", type=click.Path(dir_okay=False), help="Client certificate (PEM) to log on with."),
        click.option("--key", type=click.Path(dir_okay=False), help="Private key of --cert, if not in the same file."),
        click.option("--ca-bundle", type=click.Path(dir_okay=False), help="CA certificates to trust (PEM)."),
        click.option("--sap-client", help="SAP client (sap-client), for on-premise systems."),
        click.option("--sap-language", help="Logon language of messages (sap-language), e.g. EN."),
        click.option("--profile", envvar="APPJOBS_PROFILE", help="Profile in the profiles file (env APPJOBS_PROFILE)."),
    ]
    for flag in reversed(flags):
        command = flag(command)
    return command


#: The parameter names :func:`connection_options` adds to a command.
FLAGS = frozenset({"url", "user", "password_file", "cert", "key", "ca_bundle", "sap_client", "sap_language", "profile"})


def take(flags: dict[str, Any]) -> Connection:
    """The connection from a command's *flags*, with the connection flags taken out of them."""
    return resolve({name: flags.pop(name) for name in list(flags) if name in FLAGS})


def resolve(flags: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Connection:
    """The connection from command-line *flags*, the environment and the profile; a clear error if incomplete."""
    env = os.environ if environ is None else environ
    names = ("url", "user", "password_file", "cert", "key", "ca_bundle", "sap_client", "sap_language")
    profile = load_profile(flags.get("profile"), env)
    settings = {name: flags.get(name) or profile.get(name) for name in names}
    if not settings["url"]:
        raise errors.ConfigurationError(f"no service URL: give --url, APPJOBS_URL or a profile with url; {URL_HINT}")
    check_url(settings["url"])
    password = _password(settings.pop("password_file"), env)
    if settings["user"] and password is None and not settings["cert"]:
        raise errors.ConfigurationError(
            f"no password for {settings['user']}: set APPJOBS_PASSWORD or give --password-file"
        )
    if not settings["user"] and not settings["cert"]:
        raise errors.ConfigurationError("no identity: give --user (with a password) or --cert")
    return Connection(password=password, **settings)


def check_url(url: str) -> None:
    """Refuse, before anything is sent, a URL that cannot be a service root: no http(s) scheme, host or path."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or "://" not in url:
        raise errors.ConfigurationError(f"the service URL {url!r} has no http:// or https:// and host; {URL_HINT}")
    if parts.path.strip("/") == "":
        raise errors.ConfigurationError(f"the service URL {url!r} has no service path; {URL_HINT}")
    if parts.query or parts.fragment:
        raise errors.ConfigurationError(
            f"the service URL {url!r} has a '?' or '#' part; {URL_HINT} (give sap-client with --sap-client)"
        )


def _report_retries() -> None:
    """Show the client's retry notices on stderr as one short ``appjobs:`` line each, as every other message."""
    import logging

    logger = logging.getLogger("appjobs.client")
    if not any(getattr(h, "appjobs_cli", False) for h in logger.handlers):
        handler = logging.StreamHandler()  # sys.stderr, looked up when it writes
        handler.setFormatter(logging.Formatter("appjobs: %(message)s"))
        handler.appjobs_cli = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.setLevel(logging.WARNING)
        logger.propagate = False


def load_profile(name: str | None, environ: Mapping[str, str]) -> dict[str, str]:
    """The settings of profile *name* ({} without a name)."""
    if not name:
        return {}
    import tomllib  # only for a profile: every command starts faster without it

    path = pathlib.Path(environ.get("APPJOBS_PROFILES") or DEFAULT_PROFILES).expanduser()
    try:
        document = tomllib.loads(path.read_text())
    except OSError as exc:
        raise errors.ConfigurationError(f"cannot read the profiles file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise errors.ConfigurationError(f"{path}: not valid TOML: {exc}") from exc
    profile = document.get(name)
    if not isinstance(profile, dict):
        known = ", ".join(sorted(k for k, v in document.items() if isinstance(v, dict))) or "none"
        raise errors.ConfigurationError(f"{path}: no profile [{name}] (profiles: {known})")
    unknown = sorted(set(profile) - PROFILE_KEYS)
    if unknown:
        raise errors.ConfigurationError(f"{path}: [{name}]: unknown setting {unknown[0]!r}")
    return {key: str(value) for key, value in profile.items()}


def _password(password_file: str | None, environ: Mapping[str, str]) -> str | None:
    if password_file:
        try:
            lines = pathlib.Path(password_file).expanduser().read_text().splitlines()
        except OSError as exc:
            raise errors.ConfigurationError(f"cannot read the password file {password_file}: {exc.strerror}") from exc
        if not lines or not lines[0]:
            raise errors.ConfigurationError(f"the password file {password_file} is empty")
        return lines[0]
    return environ.get("APPJOBS_PASSWORD")
