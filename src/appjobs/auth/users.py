"""Communication management: users, systems, arrangements and business users, with their rules.

The Python API behind ``appjobs admin users|systems|arrangements|business-users``
(and the web pages to come). Every change is checked here, stored in one
transaction, and written to the audit log.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

from appjobs import errors, models
from appjobs.auth import certificates, passwords, ui
from appjobs.storage import Store

if TYPE_CHECKING:
    import sqlalchemy as sa

USER_NAME_RE = re.compile(r"^[A-Z0-9_.\-]{1,40}$")
SYSTEM_ID_RE = re.compile(r"^[A-Z0-9_.\-]{1,40}$")
ARRANGEMENT_RE = re.compile(r"^[A-Z0-9_.\-]{1,80}$")
HOST_RE = re.compile(r"^[A-Za-z0-9.\-:\[\]]{1,255}$")
MIN_PASSWORD = 8


def _check(pattern: re.Pattern[str], value: str, what: str, rule: str) -> None:
    if not pattern.match(value):
        raise errors.InvalidInput(f"{value!r} is not a valid {what} ({rule})")


ADMIN_SOURCE = "admin"  #: the audit source of the ``appjobs admin`` commands


def ui_source(user: str) -> str:
    """The audit source of a change that UI user *user* made on the web pages."""
    return f"ui:{user}"


def _audit(
    store: Store, detail: str, *, user: str | None = None, now: dt.datetime | None = None, source: str = ADMIN_SOURCE
) -> None:
    entry = models.AuditEntry(now or models.utcnow(), "admin", user, source, "success", detail)
    store.audit.add([entry])


def add_user(
    store: Store,
    name: str,
    password: str | None = None,
    *,
    certificate: str | certificates.CertificateId | None = None,
    arrangement: bool = True,
    source: str = ADMIN_SOURCE,
) -> list[str]:
    """Create communication user *name* with a *password* or a *certificate*; returns what was created.

    *certificate* is a file name (PEM or DER), or a certificate read already
    (:func:`appjobs.auth.certificates.parse`, for an upload).

    Unless *arrangement* is False the user also gets an SAP_COM_0064
    arrangement ``<NAME>_0064`` with the communication system ``<NAME>_SYSTEM``,
    so that one command is enough to let a scheduler in. A system of that id
    that exists already (added with its real host by ``systems add``) is
    used, not refused. User names are upper case, as SAP's: a name given in
    lower case is stored upper-cased.
    """
    name = name.upper()
    _check(USER_NAME_RE, name, "communication user name", "upper-case letters, digits, _ . -; at most 40")
    if (password is None) == (certificate is None):
        raise errors.InvalidInput("a communication user needs a password or a certificate (one of them)")
    if password is not None and len(password) < MIN_PASSWORD:
        raise errors.InvalidInput(f"the password must have at least {MIN_PASSWORD} characters")
    cert = certificates.load(certificate) if isinstance(certificate, str) else certificate
    hashed = passwords.hash_password(password) if password is not None else None
    now = models.utcnow()
    created = [f"communication user {name}"]
    with store.db.write() as conn:
        store.users.add(name, hashed, now, cert=(cert.fingerprint, cert.subject) if cert else None, conn=conn)
        if arrangement:
            created += _arrange(store, conn, name, now)
    _audit(store, "created " + ", ".join(created), user=name, now=now, source=source)
    return created


def _arrange(store: Store, conn: sa.Connection, name: str, now: dt.datetime) -> list[str]:
    """Give user *name* its SAP_COM_0064 arrangement, and its system unless that exists; what was created."""
    system, arranged = f"{name}_SYSTEM"[:40], f"{name}_0064"
    created = []
    if store.comm.has_system(system, conn=conn):
        described = f"communication arrangement {arranged} (SAP_COM_0064, existing system {system})"
    else:
        store.comm.add_system(system, "localhost", now, conn=conn)
        created.append(f"communication system {system}")
        described = f"communication arrangement {arranged} (SAP_COM_0064)"
    scenario = models.Scenario.EXTERNAL_SCHEDULER
    store.comm.add_arrangement(models.Arrangement(arranged, scenario, system, name, now), conn=conn)
    return [*created, described]


def set_locked(store: Store, name: str, locked: bool, *, source: str = ADMIN_SOURCE) -> None:
    """Lock or unlock *name*.

    Locking ends its logons on every server at once: its sessions, and
    passwords that servers verified lately (see :mod:`appjobs.auth.logon`).
    Unlocking forgets its failed logons; what the lock ended stays ended.
    """
    store.users.set_locked(name, locked, models.utcnow())
    _audit(store, "locked" if locked else "unlocked", user=name, source=source)


def reset_password(store: Store, name: str, password: str, *, source: str = ADMIN_SOURCE) -> None:
    """Give *name* a new password; its logons end on every server at once (sessions, verified passwords)."""
    if len(password) < MIN_PASSWORD:
        raise errors.InvalidInput(f"the password must have at least {MIN_PASSWORD} characters")
    store.users.get(name)
    store.users.set_password(name, passwords.hash_password(password))
    _audit(store, "password reset", user=name, source=source)


def add_system(store: Store, system_id: str, host_name: str, *, source: str = ADMIN_SOURCE) -> None:
    system_id = system_id.upper()  # ids are upper case, as SAP's; given in lower case they are upper-cased
    _check(SYSTEM_ID_RE, system_id, "communication system id", "upper-case letters, digits, _ . -; at most 40")
    _check(HOST_RE, host_name, "host name", "letters, digits, . - : [ ]")
    store.comm.add_system(system_id, host_name, models.utcnow())
    _audit(store, f"created communication system {system_id} ({host_name})", source=source)


def add_arrangement(
    store: Store, name: str, scenario: str, system_id: str, user_name: str, *, source: str = ADMIN_SOURCE
) -> models.Arrangement:
    name, system_id, user_name = name.upper(), system_id.upper(), user_name.upper()
    _check(ARRANGEMENT_RE, name, "arrangement name", "upper-case letters, digits, _ . -; at most 80")
    try:
        chosen = models.Scenario(scenario)
    except ValueError:
        known = ", ".join(s.value for s in models.Scenario)
        raise errors.InvalidInput(f"{scenario!r} is not a communication scenario of this service ({known})") from None
    arrangement = models.Arrangement(name, chosen, system_id, user_name, models.utcnow())
    store.comm.add_arrangement(arrangement)
    detail = f"created communication arrangement {name} ({chosen.value}, {system_id})"
    _audit(store, detail, user=user_name, source=source)
    return arrangement


def remove_arrangement(store: Store, name: str, *, source: str = ADMIN_SOURCE) -> None:
    """Remove arrangement *name*; its user's logons end on every server at once (it may have lost its scope)."""
    name = name.upper()
    store.comm.remove_arrangement(name)
    _audit(store, f"removed communication arrangement {name}", source=source)


def add_business_user(
    store: Store,
    user_id: str,
    description: str = "",
    *,
    password: str | None = None,
    role: str | None = None,
    source: str = ADMIN_SOURCE,
) -> None:
    """Register business user *user_id*; with *password* and *role* it may also log on to the web pages."""
    _check(models.BUSINESS_USER_RE, user_id, "business user id", "upper-case letters, digits, _ . - @; at most 40")
    if len(description) > 80:
        raise errors.InvalidInput("the description is longer than 80 characters")
    if (password is None) != (role is None):
        raise errors.InvalidInput("a UI user needs both a password and a role")
    chosen = ui.parse_role(role) if role is not None else None
    if password is not None:
        ui.check_password(password)
    hashed = passwords.hash_password(password) if password is not None else None
    role_value = chosen.value if chosen else None
    store.comm.add_business_user(user_id, description, models.utcnow(), password_hash=hashed, role=role_value)
    _audit(store, f"created business user {user_id}" + (f" (UI role {chosen.value})" if chosen else ""), source=source)


def set_ui_logon(store: Store, user_id: str, password: str, role: str, *, source: str = ADMIN_SOURCE) -> None:
    """Give business user *user_id* a (new) password and role for the web pages; its UI sessions end."""
    chosen = ui.parse_role(role)
    ui.check_password(password)
    store.ui_users.set_logon(user_id, passwords.hash_password(password), chosen.value)
    _audit(store, f"business user {user_id}: UI password set, role {chosen.value}", source=source)


def set_ui_locked(store: Store, user_id: str, locked: bool, *, source: str = ADMIN_SOURCE) -> None:
    """Lock (its UI sessions end) or unlock business user *user_id*'s logon to the web pages."""
    store.ui_users.set_locked(user_id, locked, models.utcnow())
    _audit(store, f"business user {user_id}: UI logon " + ("locked" if locked else "unlocked"), source=source)
