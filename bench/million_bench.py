"""Benchmark of a big database: a million ended jobs and ten thousand active series, next to an empty one.

Two databases in the same run, on the same disk (SQLite files in a temporary data directory, or two fresh
databases on ``--server``, dropped at the end):

* **big**: ``--jobs`` ended jobs and ``--series`` active series (:mod:`million_fill` says what they look like);
* **anchor**: only the rows the reads below touch, the bench user's jobs of the measured day and its series,
  so that both databases give the same answers and only the size of the tables differs.

Against a real ``appjobs serve`` (HTTP, one worker) on each, both up at once and asked in turn, request by
request, each going first every other turn, so that whatever else the machine does falls on both alike
(:mod:`million_serve`):

* JobListGet over one day for the bench user (one of 50 creators: about ``jobs / 60 / 50`` jobs), p50 and p95;
* JobStatusGet and JobinfoGet of one of those jobs, p50;
* ``JobHeaderSet?$filter=JobPlannedStartDateTime ge '<now>'&$top=10``, p50, for the bench user and for a
  SAP_COM_0326 user, who sees every job (the 10,000 planned ones among a million);
* JobSchedule calls per second (``--schedules`` POSTs one after the other in blocks of 10 per server, the
  worker running the jobs, a no-op shell step);
* the worker's claim of planned jobs: ``--planned`` jobs scheduled through ``JobService.schedule(...,
  start_at=...)`` 3 to 6 s ahead, once the worker has nothing else to do; the figure is ``started_at -
  scheduled_at`` from the job rows (skipped with a note while the engine has no ``start_at``);
* with the servers stopped, the database size before and after a retention pass (jobs that ended more than
  14 days ago; ``store.retention.purge_jobs`` where the store has it, else a stand-in DELETE: :func:`retention`).

``--explain`` prints the query plan of each of those reads on the big database (SQLite's EXPLAIN QUERY PLAN,
PostgreSQL's EXPLAIN ANALYZE; :mod:`million_plans`). Run by hand (it is not a test)::

    .venv/bin/python bench/million_bench.py [--database sqlite|postgresql] [--jobs 1000000] [--series 10000]
                                            [--requests 100] [--schedules 200] [--planned 100] [--explain] [--keep]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import os
import pathlib
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import million_fill as fill
import million_plans as plans
import million_serve as serve

from appjobs import models
from appjobs.auth import users
from appjobs.engine import templates as template_files
from appjobs.storage import Store

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/test"


@dataclasses.dataclass
class Database:
    """One of the two databases: its URLs, data directory and environment for ``appjobs``."""

    label: str
    url: str  # SQLAlchemy
    raw: str  # the SQLite file, or the libpq URL
    data_dir: pathlib.Path
    env: dict[str, str]


@contextlib.contextmanager
def database(kind: str, server: str, work: pathlib.Path, label: str) -> Iterator[Database]:
    """A fresh, initialised appjobs database of *kind* with the bench user; dropped afterwards on PostgreSQL."""
    data_dir, env = work / label, dict(os.environ)
    env.pop("APPJOBS_DATABASE_URL", None)
    with contextlib.ExitStack() as stack:
        if kind == "postgresql":
            import engine_pg

            url, raw = stack.enter_context(engine_pg.fresh_database(server))
            env["APPJOBS_DATABASE_URL"] = url
        else:
            url, raw = f"sqlite:///{data_dir / 'appjobs.db'}", str(data_dir / "appjobs.db")
        appjobs = [sys.executable, "-m", "appjobs", "admin", "init", "--data-dir", str(data_dir)]
        subprocess.run(appjobs, check=True, env=env, stdout=subprocess.DEVNULL)
        store = Store.open_existing(url)
        try:
            users.add_user(store, fill.USER, serve.PASSWORD, certificate=None, arrangement=True)
            users.add_user(store, serve.ADMIN, serve.PASSWORD, certificate=None, arrangement=True)
            every_job = models.Arrangement(f"{serve.ADMIN}_0326", models.Scenario.ANY_JOB, f"{serve.ADMIN}_SYSTEM",
                                           serve.ADMIN, models.utcnow())  # fmt: skip
            store.comm.add_arrangement(every_job)  # SAP_COM_0326: sees every job
            store.templates.add(template_files.parse(serve.NOOP_TOML, source="million_bench", by="BENCH",
                                                     now=models.utcnow()))  # fmt: skip
        finally:
            store.close()
        yield Database(label, url, raw, data_dir, env)


# --- retention ---------------------------------------------------------------------------------------------------


def retention(db: Database, now: dt.datetime, batch: int = 5000) -> tuple[int, float, str]:
    """Delete the jobs that ended more than 14 days before *now*; (jobs deleted, seconds, how).

    With the store's ``retention.purge_jobs`` (the retention helper's branch) that, with its own batch size;
    without it a STAND-IN: a plain DELETE of the job rows, *batch* at a time (steps, parameters and logs go
    with them through the foreign keys' ON DELETE CASCADE).
    """
    import sqlalchemy as sa

    store = Store.open_existing(db.url)
    cutoff = now - dt.timedelta(days=14)
    started = time.perf_counter()
    try:
        purge = getattr(getattr(store, "retention", None), "purge_jobs", None)
        if purge is not None:
            return purge(cutoff), time.perf_counter() - started, "store.retention.purge_jobs"
        job = fill.schema.job
        doomed = sa.select(job.c.name, job.c.run_count).where(job.c.ended_at < cutoff).limit(batch)
        delete = job.delete().where(sa.tuple_(job.c.name, job.c.run_count).in_(doomed.scalar_subquery()))
        deleted = 0
        while True:
            with store.db.write() as conn:
                count = conn.execute(delete).rowcount
            deleted += count
            if count < batch:
                return deleted, time.perf_counter() - started, f"STAND-IN DELETE, {batch} a batch"
    finally:
        store.close()


def size(db: Database) -> str:
    """The database's size: SQLite's file (after a WAL checkpoint) and its free pages; PostgreSQL's database."""
    if db.url.startswith("sqlite"):
        with contextlib.closing(sqlite3.connect(db.raw)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            free = conn.execute("PRAGMA freelist_count").fetchone()[0] * conn.execute("PRAGMA page_size").fetchone()[0]
        return f"{os.path.getsize(db.raw) / 2**20:,.1f} MiB file, {free / 2**20:,.1f} MiB of it free pages"
    import psycopg

    with psycopg.connect(db.raw) as conn:
        total = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    return f"{total / 2**20:,.1f} MiB (pg_database_size)"


# --- the run -----------------------------------------------------------------------------------------------------


def measure(dbs: dict[str, Database], shape: fill.Shape, probe: fill.Rows, args: argparse.Namespace) -> dict:
    """Every measure on both databases: the HTTP reads and schedules interleaved, the claims, then retention."""
    key = probe.job[len(probe.job) // 2][:2]  # an ended job of the bench user, of the measured day
    with contextlib.ExitStack() as stack:
        servers = {label: stack.enter_context(serve.server(db.data_dir, db.env)) for label, db in dbs.items()}
        print("serving both; reads and schedules, interleaved", flush=True)
        figures = serve.reads(servers, key, shape, args.requests)
        for label, rate in serve.schedules(servers, args.schedules).items():
            figures[label]["JobSchedule calls/s"] = rate
        for label, db in dbs.items():
            print(f"[{label}] planned jobs", flush=True)
            figures[label]["planned start -> R p99 ms"] = serve.claims(db.url, db.data_dir, args.planned)
    for label, db in dbs.items():
        print(f"[{label}] retention", flush=True)
        before = size(db)
        deleted, seconds, how = retention(db, shape.now)
        figures[label]["size before retention"] = before
        figures[label]["size after retention"] = f"{size(db)}; {deleted:,} jobs deleted in {seconds:.1f} s ({how})"
    return figures


ACCEPTANCE = {
    "JobListGet one day p50 ms": ("< 50 ms", lambda empty, big: big < 50),
    "JobStatusGet p50 ms": ("within 20% of empty", lambda empty, big: big <= empty * 1.2),
    "JobSchedule calls/s": ("within 20% of empty", lambda empty, big: big >= empty * 0.8),
    "planned start -> R p99 ms": ("< 1000 ms", lambda empty, big: big < 1000),
}


def report(empty: dict[str, object], big: dict[str, object]) -> None:
    print(f"\n{'measure':<44} | {'empty DB':>14} | {'big DB':>14} | {'acceptance':<20} | ok?")
    for name, b in big.items():
        a = empty.get(name)
        if isinstance(b, str):
            print(f"{name:<44} | {a}\n{'':<44} | {'':>14} | {b}")
            continue
        rule, check = ACCEPTANCE.get(name, ("", None))
        numbers = isinstance(a, float) and isinstance(b, float)
        ok = "" if check is None or not numbers else ("PASS" if check(a, b) else "MISS")
        shown = [f"{v:14.2f}" if isinstance(v, float) else f"{v!s:>14}" for v in (a, b)]
        print(f"{name:<44} | {shown[0]} | {shown[1]} | {rule:<20} | {ok}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--server", default=DEFAULT_SERVER, help="PostgreSQL server (libpq URL) for the databases")
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=100, help="requests per read measure")
    parser.add_argument("--schedules", type=int, default=200)
    parser.add_argument("--planned", type=int, default=100)
    parser.add_argument("--explain", action="store_true", help="print the query plans on the big database")
    parser.add_argument("--keep", action="store_true", help="keep the SQLite data directories")
    args = parser.parse_args()
    shape = fill.Shape(args.jobs, args.series, dt.datetime.now(dt.UTC))
    work = pathlib.Path(tempfile.mkdtemp(prefix="million-bench-"))
    print(f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}, SQLite "
          f"{sqlite3.sqlite_version}, {args.database}; {args.jobs:,} jobs, {args.series:,} series")  # fmt: skip
    try:
        with (
            database(args.database, args.server, work, "big") as big,
            database(args.database, args.server, work, "empty") as empty,
        ):
            started = time.perf_counter()
            count, probe = fill.fill(big.url, big.raw, shape)
            assert probe is not None
            took = time.perf_counter() - started
            print(f"[big] filled {count:,} jobs in {took:.0f} s ({len(probe.job):,} of them the bench user's "
                  f"on {shape.day:%Y-%m-%d} or planned)", flush=True)  # fmt: skip
            fill.fill(empty.url, empty.raw, shape, probe_only=probe)
            fill.settle(big.url)
            if args.explain:
                plans.explain(big.url, shape)
            figures = measure({"big": big, "empty": empty}, shape, probe, args)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    report(figures["empty"], figures["big"])


if __name__ == "__main__":
    main()
