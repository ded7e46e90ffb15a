"""How long one retention batch holds the database, on a big job table (SQLite and PostgreSQL).

Retention deletes ended jobs in batches, each its own transaction
(:mod:`appjobs.storage.retention`). On SQLite a transaction holds the one
write lock: every claim of the worker and every schedule waits behind it. So
what matters is how long ONE batch's transaction lasts on a big table, for a
few batch sizes, and what the worker's check costs when nothing is due.

The database is filled with N ended jobs (a step, a parameter and two log
lines each, as a one-step job leaves), four fifths of them older than the
cut-off. Then, for each batch size, a number of single-batch purges are timed
(``purge_jobs(cutoff, batch=B, max_batches=1)``: one transaction, the time
from asking for the write lock, uncontended here, to its commit), and at the
end a purge with nothing left to delete. It prints the query plan of the
purge, and on SQLite the file size before and after (freed pages are reused,
not returned: see the docs).

Run by hand (it is not a test)::

    .venv/bin/python bench/retention_batch.py [--jobs N] [--postgres SERVER]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import pathlib
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator

import sqlalchemy as sa

from appjobs import models
from appjobs.models import JobKey, JobStatus
from appjobs.storage import Store, retention
from appjobs.storage import jobsql as q

NOW = dt.datetime(2026, 12, 6, tzinfo=dt.UTC)
CUTOFF = NOW - dt.timedelta(days=14)
SIZES = (100, 500, 2000)
CHUNK = 20_000  # jobs per fill transaction


def fill(store: Store, count: int) -> None:
    """*count* ended jobs spread over 70 days before NOW, with their children, CHUNK per transaction."""
    for start in range(0, count, CHUNK):
        jobs, steps, values, lines = [], [], [], []
        for n in range(start, min(start + CHUNK, count)):
            ended = NOW - dt.timedelta(days=70) * (1 - n / count)  # the last fifth ends after the cut-off
            key = JobKey(secrets.token_hex(16).upper(), "AAAAAAAA")
            job = models.Job(key, "/T/ONE", "bench", "USER", f"U{n % 50}", JobStatus.FINISHED, ended, ended)
            jobs.append(q.job_row(job) | {"started_at": ended, "ended_at": ended})
            steps.append(q.step_row(models.StepRun(key, 1, models.StepKind.SHELL, "true", "", JobStatus.FINISHED)))
            values.append({"job_name": key.name, "run_count": key.run_count, "step_number": 1, "name": "P",
                           "value": "v", "select_option": False, "rows": None})  # fmt: skip
            lines += [q.log_row(models.LogEntry(key, 1, ended, models.Severity.INFO, "stdout", f"line {i} " * 8))
                      for i in range(2)]  # fmt: skip
        with store.db.write() as conn:
            for statement, rows in ((q.INSERT_JOB, jobs), (q.INSERT_STEP, steps), (q.INSERT_PARAM, values)):
                conn.execute(statement, rows)
            conn.execute(q.INSERT_LOG, lines)


def plan(store: Store) -> list[str]:
    """The query plan of one batch's DELETE: the statement SQLAlchemy sends, with EXPLAIN in front (not run)."""
    explain = "EXPLAIN QUERY PLAN " if store.db.dialect == "sqlite" else "EXPLAIN "

    def prefix(conn: object, cursor: object, statement: str, params: object, *rest: object) -> tuple[str, object]:
        return explain + statement, params

    with store.db.engine.connect() as conn:
        sa.event.listen(conn, "before_cursor_execute", prefix, retval=True)
        rows = conn.execute(retention.PURGE_JOBS, {"before": CUTOFF, "limit": 500}).all()
        conn.rollback()
    return [str(r[-1]) for r in rows]


def timed_batches(store: Store, size: int, count: int) -> list[float]:
    """Seconds each of *count* single-batch purges of *size* jobs took."""
    took = []
    for _ in range(count):
        start = time.perf_counter()
        deleted = store.retention.purge_jobs(CUTOFF, batch=size, max_batches=1)
        took.append(time.perf_counter() - start)
        if deleted < size:
            break
    return took


def writes_beside(store: Store, size: int, count: int) -> list[float]:
    """Seconds each small write of another connection took while *count* batches of *size* were purged.

    The writer stands for the server scheduling jobs: one audit row per transaction, every 10 ms, through
    a Store of its own (its own write lock file descriptor, so it queues for the lock as another process does).
    """
    other, waits, stop = (
        Store.open(str(store.db.engine.url.render_as_string(hide_password=False))),
        [],
        threading.Event(),
    )

    def write() -> None:
        while not stop.is_set():
            start = time.perf_counter()
            other.audit.add([models.AuditEntry(NOW, "admin", None, "bench", "success", "beside a purge")])
            waits.append(time.perf_counter() - start)
            time.sleep(0.01)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        for _ in range(count):
            store.retention.purge_jobs(CUTOFF, batch=size, max_batches=1)
        while count == 0 and len(waits) < 100:  # the anchor: the same writes with no purge beside them
            time.sleep(0.05)
    finally:
        stop.set()
        writer.join()
        other.close()
    return waits


def report(name: str, took: list[float], size: int) -> None:
    ms = sorted(t * 1000 for t in took)
    p95 = ms[int(len(ms) * 0.95) - 1] if len(ms) >= 20 else ms[-1]
    print(f"  batch {size:>5}: {len(ms):>3} batches  p50 {statistics.median(ms):7.1f} ms  p95 {p95:7.1f} ms  "
          f"max {ms[-1]:7.1f} ms  ({statistics.median(ms) * 1000 / size:5.0f} µs/job)  {name}")  # fmt: skip


def sqlite_size(path: pathlib.Path) -> str:
    import sqlite3

    with contextlib.closing(sqlite3.connect(path)) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages, free = raw.execute("PRAGMA page_count").fetchone()[0], raw.execute("PRAGMA freelist_count").fetchone()[0]
    return f"{path.stat().st_size / 2**20:.0f} MiB, {free * 100 / max(pages, 1):.0f}% of its pages free"


@contextlib.contextmanager
def database(postgres: str | None) -> Iterator[tuple[str, pathlib.Path | None]]:
    if postgres is None:
        with tempfile.TemporaryDirectory() as tmp:
            path = pathlib.Path(tmp) / "appjobs.db"
            yield f"sqlite:///{path}", path
        return
    sys.path.insert(0, str(pathlib.Path(__file__).parent.parent / "tests"))
    from postgres import new_database

    with new_database(postgres) as url:
        yield url, None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200_000)
    parser.add_argument("--batches", type=int, default=20, help="timed batches per batch size")
    parser.add_argument("--postgres", metavar="SERVER", help="libpq URL of a server to make a database on")
    args = parser.parse_args()
    with database(args.postgres) as (url, path):
        store = Store.open(url)
        start = time.perf_counter()
        fill(store, args.jobs)
        if store.db.dialect == "postgresql":
            with store.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
        print(f"{store.db.dialect}: {args.jobs} ended jobs filled in {time.perf_counter() - start:.0f} s"
              + (f"; {sqlite_size(path)}" if path else ""))  # fmt: skip
        print("plan of one batch:", *plan(store), sep="\n  ")
        for size in SIZES:
            report("(single purge, nothing else running)", timed_batches(store, size, args.batches), size)
        for size in (0, *SIZES[:2]):
            waits = sorted(writes_beside(store, size, args.batches * 5 if size else 0))
            beside = f"beside batches of {size}" if size else "with no purge beside it"
            print(f"  a small write {beside}: {len(waits)} writes, p50 {statistics.median(waits) * 1000:.1f} ms  "
                  f"p99 {waits[int(len(waits) * 0.99)] * 1000:.1f} ms  max {waits[-1] * 1000:.1f} ms")  # fmt: skip
        start = time.perf_counter()
        rest = store.retention.purge_jobs(CUTOFF)
        print(f"  the rest: {rest} jobs in {time.perf_counter() - start:.1f} s")
        empty = timed_batches(store, 500, 20)
        print(f"  a purge with nothing to delete: p50 {statistics.median(empty) * 1000:.2f} ms")
        if path:
            print(f"after the purge: {sqlite_size(path)}")
        store.close()


if __name__ == "__main__":
    main()
