"""UI users and their sessions in the database: business users who log on to the web pages.

A business user is the JobUser a job runs for; given a password and a role
(``appjobs admin business-users add ID --password-stdin --role …``) it may
also log on to the pages under ``/appjobs/ui/``. Lockout and the credential
version work as for communication users (:mod:`appjobs.storage.comm`): every
change that must end a user's logons moves the version on and deletes its
sessions in the same transaction.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import NamedTuple

import sqlalchemy as sa

from appjobs import errors, models
from appjobs.storage import schema
from appjobs.storage.comm import AuditStore
from appjobs.storage.database import Database

BU, S = schema.business_user, schema.ui_session

# One read per page request: the session with its user's current state.
_SESSION = (
    sa.select(
        S.c.user_id,
        S.c.csrf_token,
        S.c.last_seen_at,
        S.c.credential_version.label("session_version"),
        BU.c.role,
        BU.c.locked,
        BU.c.credential_version,
    )
    .join(BU, BU.c.id == S.c.user_id)
    .where(S.c.id_hash == sa.bindparam("id_hash"))
)
_CREDENTIALS = sa.select(BU.c.password_hash, BU.c.role, BU.c.locked, BU.c.credential_version).where(
    BU.c.id == sa.bindparam("id")
)


class UiCredentials(NamedTuple):
    """What a UI logon checks, read together."""

    password_hash: str | None
    role: str | None
    locked: bool
    version: int


class UiSessionState(NamedTuple):
    """A stored UI session and the state of its user now."""

    user_id: str
    csrf_token: str
    last_seen_at: dt.datetime
    session_version: int
    role: str | None
    locked: bool
    version: int  #: the user's current credential version


@dataclasses.dataclass(frozen=True)
class UiUser:
    """A business user as the UI pages list it."""

    id: str
    description: str
    role: str | None
    locked: bool
    failed_logons: int


def revoke_ui_logons(conn: sa.Connection, user_id: str) -> None:
    """End every UI session of *user_id* in the caller's transaction (as :func:`.comm.revoke_logons` does)."""
    conn.execute(BU.update().where(BU.c.id == user_id).values(credential_version=BU.c.credential_version + 1))
    conn.execute(S.delete().where(S.c.user_id == user_id))


class UiUserStore:
    """Passwords, roles, lockout and sessions of UI users."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def credentials(self, user_id: str) -> UiCredentials | None:
        row = self.db.one(_CREDENTIALS, {"id": user_id})
        return None if row is None else UiCredentials(row[0], row[1], bool(row[2]), row[3])

    def list(self) -> list[UiUser]:
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(BU.c.id, BU.c.description, BU.c.role, BU.c.locked, BU.c.failed_logons).order_by(BU.c.id)
            ).all()
        return [UiUser(r.id, r.description, r.role, bool(r.locked), r.failed_logons) for r in rows]

    def set_logon(self, user_id: str, password_hash: str, role: str) -> None:
        """Give *user_id* a password and a role; its UI sessions end."""
        self._update(user_id, {"password_hash": password_hash, "role": role, "failed_logons": 0}, revoke=True)

    def set_role(self, user_id: str, role: str) -> None:
        self._update(user_id, {"role": role}, revoke=True)

    def set_locked(self, user_id: str, locked: bool, now: dt.datetime) -> None:
        """Lock (ending its sessions) or unlock (forgetting its failed logons) *user_id*."""
        if locked:
            self._update(user_id, {"locked": True, "locked_at": now}, revoke=True)
        else:
            self._update(user_id, {"locked": False, "locked_at": None, "failed_logons": 0})

    def record_failure(self, user_id: str | None, limit: int, entry: models.AuditEntry) -> bool:
        """Count a failed logon and audit *entry* in one transaction; True when this locked the user.

        The same statements run for an unknown user (matching no row), so
        response times do not tell which users exist.
        """
        with self.db.write() as conn:
            conn.execute(BU.update().where(BU.c.id == user_id).values(failed_logons=BU.c.failed_logons + 1))
            locked = conn.execute(
                BU.update()
                .where(BU.c.id == user_id, BU.c.locked.is_(False), BU.c.failed_logons >= limit)
                .values(locked=True, locked_at=entry.at)
            )
            if locked.rowcount == 1 and user_id is not None:
                revoke_ui_logons(conn, user_id)
            rows = AuditStore.insert(conn, [entry])
        AuditStore.report(rows)
        return locked.rowcount == 1

    def record_success(self, user_id: str) -> None:
        with self.db.write() as conn:
            conn.execute(BU.update().where(BU.c.id == user_id, BU.c.failed_logons != 0).values(failed_logons=0))

    def add_session(self, id_hash: str, user_id: str, csrf_token: str, now: dt.datetime, version: int) -> None:
        with self.db.write() as conn:
            conn.execute(S.delete().where(S.c.last_seen_at < now - dt.timedelta(days=1)))  # long-dead ones
            row = {"id_hash": id_hash, "user_id": user_id, "csrf_token": csrf_token, "credential_version": version}
            conn.execute(S.insert().values(row | {"created_at": now, "last_seen_at": now}))

    def session(self, id_hash: str) -> UiSessionState | None:
        row = self.db.one(_SESSION, {"id_hash": id_hash})
        return None if row is None else UiSessionState(row[0], row[1], row[2], row[3], row[4], bool(row[5]), row[6])

    def touch_session(self, id_hash: str, now: dt.datetime) -> None:
        with self.db.write() as conn:
            conn.execute(S.update().where(S.c.id_hash == id_hash).values(last_seen_at=now))

    def end_session(self, id_hash: str) -> None:
        with self.db.write() as conn:
            conn.execute(S.delete().where(S.c.id_hash == id_hash))

    def _update(self, user_id: str, values: dict[str, object], *, revoke: bool = False) -> None:
        with self.db.write() as conn:
            if conn.execute(BU.update().where(BU.c.id == user_id).values(values)).rowcount != 1:
                raise errors.NotFound(f"business user {user_id} doesn't exist")
            if revoke:
                revoke_ui_logons(conn, user_id)
