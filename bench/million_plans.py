"""The query plans of the reads ``million_bench.py`` measures, on the big database.

Each statement is the one appjobs runs (the module constants of :mod:`appjobs.storage.jobsql`, the
statement :class:`~appjobs.storage.jobpages.JobPages` builds, the one ``JobStore.list`` builds), executed with
``EXPLAIN QUERY PLAN`` (SQLite) or ``EXPLAIN (ANALYZE, BUFFERS)`` (PostgreSQL) put in front of its SQL by a
``before_cursor_execute`` hook, so that the parameters are bound exactly as in the service. Writes run in a
transaction that is rolled back.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import million_fill as fill
import sqlalchemy as sa

from appjobs.storage import Store, jobpages
from appjobs.storage import jobsql as q
from appjobs.storage.jobpages import JobPages

J = q.J


def streamed(pages: JobPages, creator: str | None, since: dt.datetime) -> Any:
    """The statement ``JobPages.stream`` runs for ``$filter=JobPlannedStartDateTime ge since`` (first 10 rows)."""
    where = [("scheduled_at", "ge", since)]
    few = pages.count(creator, where) <= jobpages._FEW
    return pages._select(creator, [], where, matches_first=few).limit(10)


def statements(store: Store, shape: fill.Shape, key: dict[str, object]) -> list[tuple[str, Any, dict[str, Any]]]:
    day, now = shape.day, shape.now
    pages = JobPages(store.db)
    job_list = (
        sa.select(J)
        .where(J.c.created_at >= day, J.c.created_at <= day + dt.timedelta(days=1), J.c.creator == fill.USER)
        .order_by(J.c.created_at, J.c.name)
    )
    doomed = sa.select(J.c.name, J.c.run_count).where(J.c.ended_at < now - dt.timedelta(days=14)).limit(5000)
    purge = J.delete().where(sa.tuple_(J.c.name, J.c.run_count).in_(doomed.scalar_subquery()))
    return [
        ("JobStatusGet: the poll of a cached caller", q.JOB_POLL_FOR, {**key, "caller": fill.USER}),
        ("JobStatusGet: the poll", q.JOB_POLL, key),
        ("JobinfoGet: the job", q.JOB, key),
        ("JobinfoGet, JobListGet: its steps", q.STEPS, key),
        ("JobListGet: the bench user's jobs of one day", job_list, {}),
        ("JobHeaderSet?$top=10 (default order)", pages._select(fill.USER, []).limit(10), {}),
        ("JobHeaderSet?$filter=JobPlannedStartDateTime ge now", streamed(pages, fill.USER, now), {}),
        ("JobHeaderSet (SAP_COM_0326: every job) planned ge now", streamed(pages, None, now), {}),
        ("  ... planned ge 61 days ago (every job matches)", streamed(pages, None, shape.first), {}),
        ("worker: MAKE_DUE_READY", q.MAKE_DUE_READY, {"now": now}),
        ("worker: READY_JOBS", q.READY_JOBS, {"limit": 4}),
        ("retention: one batch of the stand-in purge", purge, {}),
    ]


def explain(url: str, shape: fill.Shape) -> None:
    """Print the plan of every statement above."""
    store = Store.open_existing(url)
    sqlite = store.db.dialect == "sqlite"
    prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN (ANALYZE, BUFFERS) "

    def explained(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> Any:
        return prefix + statement, parameters

    try:
        with store.db.read() as conn:
            row = conn.execute(sa.select(J.c.name, J.c.run_count).where(J.c.creator == fill.USER).limit(1)).one()
        key = q.key(q.JobKey(row.name, row.run_count))
        engine = sa.create_engine(url)
        sa.event.listen(engine, "before_cursor_execute", explained, retval=True)
        for label, statement, params in statements(store, shape, key):
            with engine.connect() as conn:
                rows = conn.execute(statement, params).all()
                conn.rollback()
            print(f"--- {label}")
            for plan in rows:
                print("    " + (" | ".join(str(v) for v in plan[-1:]) if sqlite else str(plan[0])))
        engine.dispose()
    finally:
        store.close()
