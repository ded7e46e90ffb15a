"""The store: one object that hands out the domain-verb stores over one database."""

from __future__ import annotations

import functools

from appjobs.storage.comm import AuditStore, CommStore, UserStore
from appjobs.storage.database import Database, connect
from appjobs.storage.jobs import JobStore
from appjobs.storage.sessions import SessionStore
from appjobs.storage.templates import TemplateStore
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

    @functools.cached_property
    def templates(self) -> TemplateStore:
        return TemplateStore(self.db)

    @functools.cached_property
    def jobs(self) -> JobStore:
        return JobStore(self.db)

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

    def close(self) -> None:
        self.db.close()
