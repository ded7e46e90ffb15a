"""Communication management in the database: users, systems, arrangements, business users, the audit log.

SAP's model, as the Communication Management apps show it: a *communication
system* is the scheduler's host, a *communication user* logs on (password
or client certificate), and a *communication arrangement* of a scenario ties
a system and an inbound user together; without one, the user cannot log on.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

import sqlalchemy as sa

from appjobs import errors, logs, metrics, models
from appjobs.storage import schema
from appjobs.storage.database import Database

_audit_log = logging.getLogger("appjobs.audit")
U, SYS, ARR, BU = schema.comm_user, schema.comm_system, schema.comm_arrangement, schema.business_user
AUDIT, SESSION = schema.audit_log, schema.http_session

# The reads of every logon, built once for the quick reader (one row each, by primary key).
_NAME = sa.bindparam("name")
_CREDENTIALS = sa.select(U.c.password_hash, U.c.credential_version).where(U.c.name == _NAME)
_VERSION = sa.select(U.c.credential_version).where(U.c.name == _NAME)
_LOGON_STATE = sa.select(
    U.c.locked,
    U.c.credential_version,
    sa.exists().where(ARR.c.user_name == U.c.name).label("arranged"),
    sa.exists().where(ARR.c.user_name == U.c.name, ARR.c.scenario == sa.bindparam("any_job")).label("any_job"),
).where(U.c.name == _NAME)


class Credentials(NamedTuple):
    """What a password logon checks, read together so that the version is the one the hash belongs to."""

    password_hash: str | None
    version: int  #: the user's credential version (see :func:`revoke_logons`)


class LogonState(NamedTuple):
    """Whether a user may log on now, and under which credential version."""

    locked: bool
    version: int
    arranged: bool  #: it has at least one communication arrangement
    any_job: bool  #: one of them is of SAP_COM_0326 (every job, not only its own)


def revoke_logons(conn: sa.Connection, name: str) -> None:
    """End every logon of user *name*, in the caller's transaction: its sessions, and what servers cached.

    The credential version moves on; sessions and cached logons carry the
    version they were made under, and every server compares it with the
    stored one before it answers, so none of them is accepted once *conn*
    commits, on any server of the database. The session rows go too.
    """
    conn.execute(U.update().where(U.c.name == name).values(credential_version=U.c.credential_version + 1))
    conn.execute(SESSION.delete().where(SESSION.c.user_name == name))


class UserStore:
    """Communication users: the identities external schedulers log on with."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(
        self,
        name: str,
        password_hash: str | None,
        now: dt.datetime,
        *,
        cert: tuple[str, str] | None = None,
        conn: sa.Connection | None = None,
    ) -> None:
        """Store a new user with a password hash or a certificate (fingerprint, subject).

        :class:`~appjobs.errors.DuplicateUser` when the name or the certificate is taken.
        """
        fingerprint, subject = cert or (None, None)
        row = {"name": name, "password_hash": password_hash, "created_at": now}
        row |= {"cert_fingerprint": fingerprint, "cert_subject": subject}
        try:
            with _transaction(self.db, conn) as tx:
                tx.execute(U.insert().values(row))
        except sa.exc.IntegrityError as exc:
            holder = self.by_certificate(fingerprint) if fingerprint else None
            if holder is not None and holder != name:  # name the user who has it, not the one being added
                message = f"this certificate is already the certificate of communication user {holder}"
                raise errors.DuplicateUser(message) from exc
            raise errors.DuplicateUser(f"communication user {name} already exists") from exc

    def get(self, name: str) -> models.CommUser:
        with self.db.read() as conn:
            row = conn.execute(sa.select(U).where(U.c.name == name)).first()
        if row is None:
            raise errors.UserNotFound(f"communication user {name} doesn't exist")
        return _user(row)

    def list(self) -> list[models.CommUser]:
        with self.db.read() as conn:
            return [_user(r) for r in conn.execute(sa.select(U).order_by(U.c.name))]

    def names(self) -> list[str]:
        with self.db.read() as conn:
            return list(conn.scalars(sa.select(U.c.name).order_by(U.c.name)))

    def password_hash(self, name: str) -> str | None:
        """The stored hash of *name*, or None when there is no such user (or it has none)."""
        found = self.credentials(name)
        return found.password_hash if found else None

    def credentials(self, name: str) -> Credentials | None:
        """The password hash of *name* with its credential version; None for an unknown user."""
        row = self.db.one(_CREDENTIALS, {"name": name})
        return None if row is None else Credentials(*row)

    def credential_version(self, name: str) -> int | None:
        """The credential version of *name*; None for an unknown user."""
        row = self.db.one(_VERSION, {"name": name})
        return None if row is None else row.credential_version

    def by_certificate(self, fingerprint: str) -> str | None:
        """The name of the user whose certificate has *fingerprint*, or None."""
        with self.db.read() as conn:
            return conn.scalar(sa.select(U.c.name).where(U.c.cert_fingerprint == fingerprint))

    def logon_state(self, name: str) -> LogonState | None:
        """Whether *name* is locked, its credential version and arrangements; None for an unknown user."""
        row = self.db.one(_LOGON_STATE, {"name": name, "any_job": models.Scenario.ANY_JOB.value})
        return None if row is None else LogonState(bool(row.locked), row.credential_version, bool(row.arranged),
                                                   bool(row.any_job))  # fmt: skip

    def failed_logons(self, name: str) -> int:
        """Failed logons of *name* since its last successful one (0 for an unknown user)."""
        with self.db.read() as conn:
            return conn.scalar(sa.select(U.c.failed_logons).where(U.c.name == name)) or 0

    def record_failure(self, name: str | None, limit: int, entry: models.AuditEntry) -> bool:
        """Count a failed logon of *name* and audit *entry*, in one transaction. True when this locked the user.

        At *limit* failures in a row the user is locked, and its logons are
        revoked in the same transaction (:func:`revoke_logons`). *name* None
        (a refusal that must not count) and an unknown name run the same
        statements, matching no row: every refusal costs one transaction of
        the same shape, so response times do not tell which users exist.
        """
        with self.db.write() as conn:
            conn.execute(U.update().where(U.c.name == name).values(failed_logons=U.c.failed_logons + 1))
            locked = conn.execute(
                U.update()
                .where(U.c.name == name, U.c.locked.is_(False), U.c.failed_logons >= limit)
                .values(locked=True, locked_at=entry.at)
            )
            if locked.rowcount == 1 and name is not None:
                revoke_logons(conn, name)
            rows = AuditStore.insert(conn, [entry])
        AuditStore.report(rows)
        return locked.rowcount == 1

    def record_success(self, name: str) -> None:
        with self.db.write() as conn:
            conn.execute(U.update().where(U.c.name == name, U.c.failed_logons != 0).values(failed_logons=0))

    def set_locked(self, name: str, locked: bool, now: dt.datetime) -> None:
        """Lock or unlock *name*; locking revokes its logons, unlocking forgets its failed logons.

        An unlock leaves the credential version as it is: the sessions and
        cached logons that the lock revoked stay revoked.
        """
        values = {"locked": True, "locked_at": now} if locked else {"locked": False, "locked_at": None}
        self._update(name, values if locked else values | {"failed_logons": 0}, revoke=locked)

    def set_password(self, name: str, password_hash: str) -> None:
        """Give *name* a new password hash; its logons (sessions, cached verifications) are revoked."""
        self._update(name, {"password_hash": password_hash, "failed_logons": 0}, revoke=True)

    def _update(self, name: str, values: dict[str, object], *, revoke: bool = False) -> None:
        with self.db.write() as conn:
            if conn.execute(U.update().where(U.c.name == name).values(values)).rowcount != 1:
                raise errors.UserNotFound(f"communication user {name} doesn't exist")
            if revoke:
                revoke_logons(conn, name)


class CommStore:
    """Communication systems, arrangements and business users."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add_system(
        self, system_id: str, host_name: str, now: dt.datetime, *, conn: sa.Connection | None = None
    ) -> None:
        try:
            with _transaction(self.db, conn) as tx:
                tx.execute(SYS.insert().values(id=system_id, host_name=host_name, created_at=now))
        except sa.exc.IntegrityError as exc:
            raise errors.Conflict(f"communication system {system_id} already exists") from exc

    def has_system(self, system_id: str, *, conn: sa.Connection | None = None) -> bool:
        """Whether communication system *system_id* exists (in *conn*'s transaction when given)."""
        with _transaction(self.db, conn) as tx:
            return tx.scalar(sa.select(SYS.c.id).where(SYS.c.id == system_id)) is not None

    def systems(self) -> list[models.CommSystem]:
        with self.db.read() as conn:
            return [
                models.CommSystem(r.id, r.host_name, r.created_at)
                for r in conn.execute(sa.select(SYS).order_by(SYS.c.id))
            ]

    def add_arrangement(self, arrangement: models.Arrangement, *, conn: sa.Connection | None = None) -> None:
        """Store *arrangement*; its system and user must exist."""
        with _transaction(self.db, conn) as tx:
            if not self.has_system(arrangement.system_id, conn=tx):
                raise errors.NotFound(f"communication system {arrangement.system_id} doesn't exist")
            if tx.scalar(sa.select(U.c.name).where(U.c.name == arrangement.user_name)) is None:
                raise errors.UserNotFound(f"communication user {arrangement.user_name} doesn't exist")
            if tx.scalar(sa.select(ARR.c.name).where(ARR.c.name == arrangement.name)) is not None:
                raise errors.Conflict(f"communication arrangement {arrangement.name} already exists")
            tx.execute(ARR.insert().values(_arrangement_row(arrangement)))

    def arrangements(self) -> list[models.Arrangement]:
        with self.db.read() as conn:
            rows = conn.execute(sa.select(ARR).order_by(ARR.c.name)).all()
        return [
            models.Arrangement(r.name, models.Scenario(r.scenario), r.system_id, r.user_name, r.created_at)
            for r in rows
        ]

    def remove_arrangement(self, name: str) -> None:
        """Remove arrangement *name*; its user's logons are revoked (it may have lost its scope, or every logon)."""
        with self.db.write() as conn:
            user = conn.scalar(sa.select(ARR.c.user_name).where(ARR.c.name == name))
            if user is None:
                raise errors.NotFound(f"communication arrangement {name} doesn't exist")
            conn.execute(ARR.delete().where(ARR.c.name == name))
            revoke_logons(conn, user)

    def add_business_user(
        self, user_id: str, description: str, now: dt.datetime, *, password_hash: str | None = None,
        role: str | None = None,
    ) -> None:  # fmt: skip
        """Add business user *user_id*; with *password_hash* and *role* it may log on to the web pages."""
        row = {"id": user_id, "description": description, "created_at": now, "password_hash": password_hash}
        try:
            with self.db.write() as conn:
                conn.execute(BU.insert().values(row | {"role": role}))
        except sa.exc.IntegrityError as exc:
            raise errors.Conflict(f"business user {user_id} already exists") from exc

    def business_users(self) -> list[models.BusinessUser]:
        with self.db.read() as conn:
            rows = conn.execute(sa.select(BU).order_by(BU.c.id)).all()
        return [models.BusinessUser(r.id, r.description, r.created_at) for r in rows]

    def business_user_exists(self, user_id: str) -> bool:
        with self.db.read() as conn:
            return conn.scalar(sa.select(BU.c.id).where(BU.c.id == user_id)) is not None


class AuditStore:
    """The audit log: appended to, read by time."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, entries: Iterable[models.AuditEntry]) -> None:
        entries = list(entries)
        if entries:
            with self.db.write() as conn:
                rows = self.insert(conn, entries)
            self.report(rows)

    @staticmethod
    def insert(conn: sa.Connection, entries: Iterable[models.AuditEntry]) -> list[dict[str, Any]]:
        """Append *entries* in the caller's transaction *conn*; the rows, for :meth:`report` once it commits."""
        # An entry written while a request is served names it, wherever in the code it was made.
        request_id = logs.current("request_id")
        rows = [
            {"at": e.at, "event": e.event, "user_name": e.user_name, "source": e.source, "outcome": e.outcome,
             "detail": e.detail, "request_id": e.request_id or request_id}
            for e in entries
        ]  # fmt: skip
        if rows:
            conn.execute(AUDIT.insert(), rows)
        return rows

    @staticmethod
    def report(rows: Iterable[dict[str, Any]]) -> None:
        """Log and count audit rows that were committed: the log stack sees what the audit log holds.

        Only committed ones: on a full disk nothing is stored, and the log says
        so once a minute (:mod:`.diskfull`), not once per refused request.
        """
        for row in rows:
            _count(row["event"], row["outcome"])
            _audit_log.info(
                "audit %s %s: %s", row["event"], row["outcome"], row["detail"],
                extra={"user": row["user_name"], "request_id": row["request_id"]},
            )  # fmt: skip

    def search(
        self,
        *,
        event: str | None = None,
        user: str | None = None,
        outcome: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        before: int | None = None,
        limit: int = 50,
    ) -> list[tuple[int, models.AuditEntry]]:
        """Entries that match every filter given, newest first, at most *limit*, each with its id.

        *user* matches the user an entry is about and the UI user who made
        a change on the web pages (its source is ``ui:USER``). *since* is
        inclusive, *until* exclusive. *before* pages on: only entries older
        than the one with that id (the last id of the page before), a
        keyset that costs the same on every page, however long the log.
        """
        query = sa.select(AUDIT).order_by(AUDIT.c.id.desc()).limit(limit)
        conditions = [
            AUDIT.c.event == event if event else None,
            sa.or_(AUDIT.c.user_name == user, AUDIT.c.source == f"ui:{user}") if user else None,
            AUDIT.c.outcome == outcome if outcome else None,
            AUDIT.c.at >= since if since else None,
            AUDIT.c.at < until if until else None,
            AUDIT.c.id < before if before is not None else None,
        ]
        query = query.where(*(c for c in conditions if c is not None))
        with self.db.read() as conn:
            return [
                (r.id, models.AuditEntry(r.at, r.event, r.user_name, r.source, r.outcome, r.detail, r.request_id))
                for r in conn.execute(query)
            ]

    def since(self, at: dt.datetime) -> list[models.AuditEntry]:
        query = sa.select(AUDIT).where(AUDIT.c.at >= at).order_by(AUDIT.c.id)
        with self.db.read() as conn:
            return [
                models.AuditEntry(r.at, r.event, r.user_name, r.source, r.outcome, r.detail, r.request_id)
                for r in conn.execute(query)
            ]


_FACES = {"logon": "odata", "lockout": "odata", "ui-logon": "ui", "ui-lockout": "ui"}


def _count(event: str, outcome: str) -> None:
    """Logon failures and lockouts, by face, in the metrics: the audit log is where every one of them is written."""
    face = _FACES.get(event)
    if face is None or outcome != "failure":
        return
    if event.endswith("lockout"):
        metrics.locked_out(face)
    else:
        metrics.logon_failed(face)


def _arrangement_row(a: models.Arrangement) -> dict[str, object]:
    return {"name": a.name, "scenario": a.scenario.value, "system_id": a.system_id, "user_name": a.user_name,
            "created_at": a.created_at}  # fmt: skip


def _user(r: sa.Row) -> models.CommUser:
    return models.CommUser(
        name=r.name,
        created_at=r.created_at,
        has_password=r.password_hash is not None,
        cert_fingerprint=r.cert_fingerprint,
        cert_subject=r.cert_subject,
        locked=r.locked,
        failed_logons=r.failed_logons,
    )


@contextlib.contextmanager
def _transaction(db: Database, conn: sa.Connection | None) -> Iterator[sa.Connection]:
    """The caller's transaction *conn* if it has one (to group several writes), else a new one."""
    if conn is not None:
        yield conn
        return
    with db.write() as own:
        yield own
