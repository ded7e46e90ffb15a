"""The store: one object that hands out the domain-verb stores over one database."""

from __future__ import annotations

import functools

import sqlalchemy as sa

from appjobs import errors
from appjobs.storage.comm import AuditStore, CommStore, UserStore
from appjobs.storage.database import Database, connect
from appjobs.storage.jobs import JobStore
from appjobs.storage.retention import RetentionStore
from appjobs.storage.sessions import SessionStore
from appjobs.storage.templates import TemplateStore
from appjobs.storage.uiusers import UiUserStore
from appjobs.storage.workers import WorkerStore


class Store:
    """Templates, jobs, workers and users of one appjobs installation.

    >>> store = Store.open("sqlite:///appjobs-data/appjobs.db")
    >>> store.jobs.get(key)
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Store:
        """Connect to *url* and, by default, bring its schema up to date."""
        db = connect(url)
        if migrate:
            db.migrate()
        return cls(db)

    @classmethod
    def open_existing(cls, url: str) -> Store:
        """Like :meth:`open`, but only a database that appjobs has set up already (else ConfigurationError).

        For the administration commands, which must never start a new
        installation by mistake; on PostgreSQL "set up" means migrated once
        (``appjobs serve``, ``appjobs worker`` or ``appjobs admin init`` did it).
        """
        db = connect(url)
        try:
            with db.read() as conn:
                found = sa.inspect(conn).has_table("alembic_version")
        except BaseException:
            db.close()
            raise
        if not found:
            db.close()
            raise errors.ConfigurationError(
                f"the database {db.engine.url.render_as_string(hide_password=True)} holds no appjobs installation; "
                "check APPJOBS_DATABASE_URL, or set it up with `appjobs admin init` (or `appjobs serve`)"
            )
        db.migrate()
        return cls(db)

    @functools.cached_property
    def templates(self) -> TemplateStore:
        return TemplateStore(self.db)

    @functools.cached_property
    def jobs(self) -> JobStore:
        return JobStore(self.db)

    @functools.cached_property
    def retention(self) -> RetentionStore:
        return RetentionStore(self.db)

    @functools.cached_property
    def workers(self) -> WorkerStore:
        return WorkerStore(self.db)

    @functools.cached_property
    def users(self) -> UserStore:
        return UserStore(self.db)

    @functools.cached_property
    def comm(self) -> CommStore:
        return CommStore(self.db)

    @functools.cached_property
    def audit(self) -> AuditStore:
        return AuditStore(self.db)

    @functools.cached_property
    def sessions(self) -> SessionStore:
        return SessionStore(self.db)

    @functools.cached_property
    def ui_users(self) -> UiUserStore:
        return UiUserStore(self.db)

    def close(self) -> None:
        self.db.close()
