"""HTTP sessions in the database, so that every server process sees every session.

A row is keyed by a hash of the session id (the cookie value), never the id
itself. Sessions are read on every request that carries a cookie, and
written only when one is opened, when its idle clock must move on (see
:class:`appjobs.auth.sessions.SessionManager`) and when it ends.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import sqlalchemy as sa

from appjobs.storage import schema
from appjobs.storage.database import Database

T = schema.http_session
_GET = sa.select(T.c.user_name, T.c.csrf_token, T.c.created_at, T.c.last_seen_at, T.c.credential_version).where(
    T.c.id_hash == sa.bindparam("id_hash")
)


@dataclasses.dataclass(frozen=True)
class SessionRow:
    """One stored session."""

    id_hash: str
    user_name: str
    csrf_token: str
    created_at: dt.datetime
    last_seen_at: dt.datetime
    credential_version: int = 0  #: the user's credential version when the session was opened


class SessionStore:
    """Reads and writes HTTP sessions."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, row: SessionRow) -> None:
        with self.db.write() as conn:
            conn.execute(T.insert().values(dataclasses.asdict(row)))

    def get(self, id_hash: str) -> SessionRow | None:
        found = self.db.one(_GET, {"id_hash": id_hash})
        return None if found is None else SessionRow(id_hash, *found)

    def touch(self, id_hash: str, now: dt.datetime) -> None:
        with self.db.write() as conn:
            conn.execute(T.update().where(T.c.id_hash == id_hash).values(last_seen_at=now))

    def delete(self, id_hash: str) -> None:
        with self.db.write() as conn:
            conn.execute(T.delete().where(T.c.id_hash == id_hash))

    def delete_user(self, user_name: str) -> int:
        """End every session of *user_name*; returns how many.

        (A lock or a password reset does more: :func:`appjobs.storage.comm.revoke_logons`.)
        """
        with self.db.write() as conn:
            return conn.execute(T.delete().where(T.c.user_name == user_name)).rowcount

    def delete_idle(self, before: dt.datetime) -> int:
        """Forget sessions last seen before *before*; returns how many."""
        with self.db.write() as conn:
            return conn.execute(T.delete().where(T.c.last_seen_at < before)).rowcount
