"""Durable storage: the schema, its migrations, and :class:`Store`, which speaks domain verbs.

Only this package executes SQL. SQLite (WAL) is the embedded default;
PostgreSQL (psycopg 3) is for running many server and worker processes.
Dialect differences are confined to :mod:`appjobs.storage.database`.
"""

from __future__ import annotations

from appjobs.storage.database import Database, connect
from appjobs.storage.store import Store

__all__ = ["Database", "Store", "connect"]
