"""``appjobs admin users|systems|arrangements|business-users|audit``: communication management.

The commands an IBP administrator finds in the Communication Management
apps, for a local data directory. Each is a thin shell over
:mod:`appjobs.auth.users` (which checks, stores and audits); every listing
also prints ``--json``. Bad input, an unknown name or a duplicate exits 2
and changes nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys

import click

from appjobs import errors, models
from appjobs.cli.options import data_dir_option, echo_json, existing_store, json_option, public_url_option
from appjobs.storage import Store

DEFAULT_PUBLIC_URL = "http://127.0.0.1:8080"


def _store(data_dir: str | None) -> Store:
    return existing_store(data_dir)[1]


def _read_password() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise errors.InvalidInput("no password on standard input")
    return password


def _rows(items: list[object], as_json: bool, line: str) -> None:
    """Print dataclass *items* as JSON, or one formatted *line* each."""
    if as_json:
        echo_json([_plain(item) for item in items])
        return
    for item in items:
        click.echo(line.format(**_plain(item)))


def _plain(item: object) -> dict[str, object]:
    data = dataclasses.asdict(item)  # type: ignore[call-overload]
    return {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in data.items()}


# --- communication users ---------------------------------------------------------------


@click.group("users")
def users_group() -> None:
    """Communication users: the identities external schedulers log on with."""


@users_group.command("add")
@data_dir_option
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--certificate", type=click.Path(dir_okay=False), help="Log on with this client certificate (PEM/DER).")
@click.option("--no-arrangement", is_flag=True, help="Do not create a system and an SAP_COM_0064 arrangement.")
def add_user(
    data_dir: str | None, name: str, password_stdin: bool, certificate: str | None, no_arrangement: bool
) -> None:
    """Add communication user NAME, with a password (from stdin) or a client certificate.

    Unless --no-arrangement, NAME also gets a communication system NAME_SYSTEM
    and an SAP_COM_0064 arrangement NAME_0064, so that it can log on at once.
    """
    from appjobs.auth import users

    if password_stdin == bool(certificate):
        raise click.UsageError("give exactly one of --password-stdin or --certificate")
    password = _read_password() if password_stdin else None
    created = users.add_user(_store(data_dir), name, password, certificate=certificate, arrangement=not no_arrangement)
    for what in created:
        click.echo(f"{what} added")


@users_group.command("list")
@data_dir_option
@json_option
def list_users(data_dir: str | None, as_json: bool) -> None:
    """List the communication users: how they log on, locked or not."""
    found = _store(data_dir).users.list()
    if as_json:
        _rows(found, True, "")
        return
    for u in found:
        logon = "password" if u.has_password else f"certificate {u.cert_subject}"
        click.echo(f"{u.name}\t{logon}\t{'LOCKED' if u.locked else 'active'}\tfailed logons: {u.failed_logons}")


@users_group.command("lock")
@data_dir_option
@click.argument("name")
def lock_user(data_dir: str | None, name: str) -> None:
    """Lock NAME: its logons are refused and its sessions end."""
    from appjobs.auth import users

    users.set_locked(_store(data_dir), name.upper(), True)
    click.echo(f"communication user {name.upper()} locked")


@users_group.command("unlock")
@data_dir_option
@click.argument("name")
def unlock_user(data_dir: str | None, name: str) -> None:
    """Unlock NAME and forget its failed logons."""
    from appjobs.auth import users

    users.set_locked(_store(data_dir), name.upper(), False)
    click.echo(f"communication user {name.upper()} unlocked")


@users_group.command("reset-password")
@data_dir_option
@click.argument("name")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the new password from standard input.")
def reset_password(data_dir: str | None, name: str, password_stdin: bool) -> None:
    """Give NAME a new password (from standard input); its sessions end."""
    from appjobs.auth import users

    users.reset_password(_store(data_dir), name.upper(), _read_password())
    click.echo(f"password of communication user {name.upper()} reset")


# --- communication systems -------------------------------------------------------------


@click.group("systems")
def systems_group() -> None:
    """Communication systems: the hosts external schedulers run on."""


@systems_group.command("add")
@data_dir_option
@click.argument("system_id")
@click.option("--host", "host_name", required=True, help="Host name of the scheduler.")
def add_system(data_dir: str | None, system_id: str, host_name: str) -> None:
    """Add communication system SYSTEM_ID."""
    from appjobs.auth import users

    users.add_system(_store(data_dir), system_id, host_name)
    click.echo(f"communication system {system_id.upper()} added")


@systems_group.command("list")
@data_dir_option
@json_option
def list_systems(data_dir: str | None, as_json: bool) -> None:
    """List the communication systems."""
    _rows(list(_store(data_dir).comm.systems()), as_json, "{id}\t{host_name}")


# --- communication arrangements --------------------------------------------------------

public_url_flag = public_url_option(
    DEFAULT_PUBLIC_URL, "Where schedulers reach the server (env APPJOBS_PUBLIC_URL); shown as the service URL."
)


@click.group("arrangements")
def arrangements_group() -> None:
    """Communication arrangements: scenario + system + inbound user; they show the service URL."""


@arrangements_group.command("add")
@data_dir_option
@click.argument("name")
@click.option("--scenario", type=click.Choice([s.value for s in models.Scenario]), default="SAP_COM_0064")
@click.option("--system", "system_id", required=True, help="Communication system id.")
@click.option("--user", "user_name", required=True, help="Inbound communication user.")
@public_url_flag
def add_arrangement(
    data_dir: str | None, name: str, scenario: str, system_id: str, user_name: str, public_url: str
) -> None:
    """Add communication arrangement NAME and print its service URL."""
    from appjobs.auth import users

    users.add_arrangement(_store(data_dir), name, scenario, system_id, user_name.upper())
    click.echo(f"communication arrangement {name.upper()} added; service URL: {_service_url(public_url)}")


@arrangements_group.command("list")
@data_dir_option
@public_url_flag
@json_option
def list_arrangements(data_dir: str | None, public_url: str, as_json: bool) -> None:
    """List the communication arrangements with their service URL."""
    url = _service_url(public_url)
    found = [_plain(a) | {"service_url": url} for a in _store(data_dir).comm.arrangements()]
    if as_json:
        echo_json(found)
        return
    for a in found:
        click.echo(f"{a['name']}\t{a['scenario']}\t{a['system_id']}\t{a['user_name']}\t{url}")


@arrangements_group.command("remove")
@data_dir_option
@click.argument("name")
def remove_arrangement(data_dir: str | None, name: str) -> None:
    """Remove communication arrangement NAME; a user left without one cannot log on."""
    from appjobs.auth import users

    users.remove_arrangement(_store(data_dir), name)
    click.echo(f"communication arrangement {name.upper()} removed")


def _service_url(public_url: str) -> str:
    from appjobs.server.app import SERVICE_PATH

    return public_url + SERVICE_PATH


# --- business users --------------------------------------------------------------------


@click.group("business-users")
def business_users_group() -> None:
    """Business users: whom a job runs for (its JobUser)."""


ROLES = click.Choice(["administrator", "operator", "viewer"], case_sensitive=False)


@business_users_group.command("add")
@data_dir_option
@click.argument("user_id")
@click.option("--description", default="", help="Who this is (at most 80 characters).")
@click.option("--password-stdin", is_flag=True, help="Read a password for the web pages from standard input.")
@click.option("--role", type=ROLES, help="What the user may do in the web pages (needs --password-stdin).")
def add_business_user(
    data_dir: str | None, user_id: str, description: str, password_stdin: bool, role: str | None
) -> None:
    """Register business user USER_ID, so that jobs can run for it.

    With --password-stdin and --role it may also log on to the web pages at
    /appjobs/ui/: a viewer reads, an operator also acts on jobs and templates,
    an administrator also manages communication and business users.
    """
    from appjobs.auth import users

    if password_stdin != (role is not None):
        raise click.UsageError("--password-stdin and --role go together: a UI user needs both")
    password = _read_password() if password_stdin else None
    users.add_business_user(_store(data_dir), user_id.upper(), description, password=password, role=role)
    click.echo(f"business user {user_id.upper()} added" + (f" (UI role {role.lower()})" if role else ""))


@business_users_group.command("set-logon")
@data_dir_option
@click.argument("user_id")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the new password from standard input.")
@click.option("--role", type=ROLES, required=True, help="What the user may do in the web pages.")
def set_logon(data_dir: str | None, user_id: str, password_stdin: bool, role: str) -> None:
    """Give business user USER_ID a new password and role for the web pages; its UI sessions end."""
    from appjobs.auth import users

    users.set_ui_logon(_store(data_dir), user_id.upper(), _read_password(), role)
    click.echo(f"business user {user_id.upper()}: UI password and role {role.lower()} set")


@business_users_group.command("lock")
@data_dir_option
@click.argument("user_id")
def lock_business_user(data_dir: str | None, user_id: str) -> None:
    """Lock USER_ID out of the web pages; its UI sessions end at once."""
    from appjobs.auth import users

    users.set_ui_locked(_store(data_dir), user_id.upper(), True)
    click.echo(f"business user {user_id.upper()} locked")


@business_users_group.command("unlock")
@data_dir_option
@click.argument("user_id")
def unlock_business_user(data_dir: str | None, user_id: str) -> None:
    """Unlock USER_ID (locked by hand, or after too many wrong passwords at the web pages)."""
    from appjobs.auth import users

    users.set_ui_locked(_store(data_dir), user_id.upper(), False)
    click.echo(f"business user {user_id.upper()} unlocked")


@business_users_group.command("list")
@data_dir_option
@json_option
def list_business_users(data_dir: str | None, as_json: bool) -> None:
    """List the business users."""
    _rows(list(_store(data_dir).comm.business_users()), as_json, "{id}\t{description}")


# --- audit log -------------------------------------------------------------------------


@click.command("audit")
@data_dir_option
@click.option("--since", type=click.DateTime(), help="From this time (UTC) [default: 24 hours ago].")
@json_option
def audit(data_dir: str | None, since: dt.datetime | None, as_json: bool) -> None:
    """Show the audit log: logons, lockouts, schedules, cancels and admin changes."""
    start = since.replace(tzinfo=models.UTC) if since else models.utcnow() - dt.timedelta(days=1)
    found = _store(data_dir).audit.since(start)
    if as_json:
        _rows(list(found), True, "")
        return
    for e in found:
        who = e.user_name or "-"
        click.echo(f"{e.at:%Y-%m-%d %H:%M:%S} {e.event:9} {e.outcome:8} {who:20} {e.source or '-':15} {e.detail}")


COMMANDS = [users_group, systems_group, arrangements_group, business_users_group, audit]
