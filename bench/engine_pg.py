"""PostgreSQL for ``engine_bench.py --postgres``: a fresh database per run, dropped at its end."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator

import psycopg
import sqlalchemy as sa
from psycopg import sql


@contextlib.contextmanager
def fresh_database(server: str) -> Iterator[tuple[str, str]]:
    """A new database on *server* (a libpq URL); yields its SQLAlchemy and libpq URLs, drops it afterwards."""
    name = f"appjobs_bench_{secrets.token_hex(4)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    info = psycopg.conninfo.conninfo_to_dict(server)
    port = int(info.get("port") or 5432)
    url = sa.URL.create("postgresql+psycopg", info.get("user"), info.get("password"), info.get("host"), port, name)
    try:
        yield url.render_as_string(hide_password=False), psycopg.conninfo.make_conninfo(server, dbname=name)
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
