"""The anchors of ``engine_bench.py``: what the machine and its databases do without appjobs in between.

A5's method: one transaction per claim and per finish on a pre-filled table, with the bare driver (no
SQLAlchemy, no appjobs): :mod:`sqlite3` in WAL mode with ``synchronous=FULL`` (what appjobs uses) and
``NORMAL``, and psycopg on the PostgreSQL server of ``--postgres``. And the cost of starting a process,
since every step is one (``posix_spawn`` of ``/bin/sh -c :`` plus ``waitpid``).
"""

from __future__ import annotations

import os
import pathlib
import sqlite3
import time

from appjobs import models

ANCHOR_SCHEMA = """
CREATE TABLE job (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL, scheduled_at TEXT NOT NULL,
    started_at TEXT, ended_at TEXT, worker_id TEXT
);
CREATE INDEX ix_job_status_scheduled ON job (status, scheduled_at);
"""
CLAIM_SQL = (
    "UPDATE job SET status = 'R', started_at = ?, worker_id = ? WHERE rowid = "
    "(SELECT rowid FROM job WHERE status = 'Y' ORDER BY scheduled_at LIMIT 1) RETURNING rowid"
)
FINISH_SQL = "UPDATE job SET status = 'F', ended_at = ? WHERE rowid = ?"


def raw_sqlite_anchor(path: pathlib.Path, synchronous: str, rows: int) -> tuple[float, float]:
    """Claim tx/s and finish tx/s with raw sqlite3, WAL, *synchronous*: one transaction per state change."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.executescript(ANCHOR_SCHEMA)
    now = models.utcnow().isoformat(" ")
    with conn:  # pre-fill in one transaction: not what is measured
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO job (name, status, scheduled_at) VALUES (?, 'Y', ?)", ((f"J{i:08d}", now) for i in range(rows))
        )
    claimed, start = [], time.perf_counter()
    for _ in range(rows):
        conn.execute("BEGIN IMMEDIATE")
        claimed.append(conn.execute(CLAIM_SQL, (models.utcnow().isoformat(" "), "W1")).fetchone()[0])
        conn.execute("COMMIT")
    claim_s, start = time.perf_counter() - start, time.perf_counter()
    for rowid in claimed:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(FINISH_SQL, (models.utcnow().isoformat(" "), rowid))
        conn.execute("COMMIT")
    finish_s = time.perf_counter() - start
    conn.close()
    return rows / claim_s, rows / finish_s


def spawn_anchor(count: int) -> float:
    """Processes per second: ``posix_spawn`` of ``/bin/sh -c :`` as a session leader, then ``waitpid``."""
    env = dict(os.environ)
    start = time.perf_counter()
    for _ in range(count):
        pid = os.posix_spawn("/bin/sh", ["/bin/sh", "-c", ":"], env, setsid=True)
        os.waitpid(pid, 0)
    return count / (time.perf_counter() - start)


PG_ANCHOR_SCHEMA = """
CREATE TABLE anchor_job (
    id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL, scheduled_at TIMESTAMPTZ NOT NULL,
    started_at TIMESTAMPTZ, ended_at TIMESTAMPTZ, worker_id TEXT
);
CREATE INDEX ix_anchor_job_status_scheduled ON anchor_job (status, scheduled_at);
"""
PG_CLAIM_SQL = (
    "UPDATE anchor_job SET status = 'R', started_at = now(), worker_id = %s WHERE id = "
    "(SELECT id FROM anchor_job WHERE status = 'Y' ORDER BY scheduled_at LIMIT 1 FOR UPDATE SKIP LOCKED) "
    "RETURNING id"
)
PG_FINISH_SQL = "UPDATE anchor_job SET status = 'F', ended_at = now() WHERE id = %s"


def raw_pg_anchor(conninfo: str, rows: int) -> tuple[float, float]:
    """Claim tx/s and finish tx/s with raw psycopg: one committed transaction per state change."""
    import psycopg  # only here: the SQLite anchors need no PostgreSQL driver

    with psycopg.connect(conninfo) as conn:
        conn.execute(PG_ANCHOR_SCHEMA)
        conn.execute(
            "INSERT INTO anchor_job (name, status, scheduled_at) SELECT 'J' || i, 'Y', now() "
            "FROM generate_series(1, %s) AS i",
            (rows,),
        )
        conn.commit()
        claimed, start = [], time.perf_counter()
        for _ in range(rows):
            row = conn.execute(PG_CLAIM_SQL, ("W1",)).fetchone()
            conn.commit()
            claimed.append(row[0] if row else None)
        claim_s, start = time.perf_counter() - start, time.perf_counter()
        for job_id in claimed:
            conn.execute(PG_FINISH_SQL, (job_id,))
            conn.commit()
        finish_s = time.perf_counter() - start
    return rows / claim_s, rows / finish_s


def server_version(server: str) -> str:
    """The version a PostgreSQL server reports."""
    import psycopg

    with psycopg.connect(server) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "unknown"
