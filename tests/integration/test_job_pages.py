"""JobHeaderSet's reads on a real database: the same pages whichever plan finds them, and the plans a million needs.

A filter that few jobs meet is found through its column's index and then sorted; one that most jobs
meet walks the order's index instead (see :meth:`appjobs.storage.jobpages.JobPages._select`). Both
ways must give the same jobs in the same order, nulls included. The plans themselves are checked
where they do not depend on the table's size: SQLite plans without statistics, and PostgreSQL is
told that a sequential scan costs too much to be worth it on a table of a few rows.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from appjobs import models
from appjobs.storage import Store, jobpages
from appjobs.storage import jobsql as q
from appjobs.storage.jobpages import JobPages

pytestmark = pytest.mark.backends("sqlite", "postgresql")

T0 = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
CREATORS = ("ALICE", "BOB")


def _fill(store: Store, count: int = 60) -> None:
    """Jobs with created_at ties, planned starts before and after T0 + 30 min, and some never started."""
    rng = random.Random(7)
    rows = []
    for n in range(count):
        created = T0 + dt.timedelta(minutes=n // 3)  # three jobs share each creation time
        planned = created + dt.timedelta(minutes=rng.randrange(0, 60))
        job = models.Job(models.JobKey.new(), "/T/ONE", f"job {n}", CREATORS[n % 2], CREATORS[n % 2],
                         models.JobStatus.FINISHED, created, planned)  # fmt: skip
        started = None if n % 4 == 0 else planned + dt.timedelta(seconds=rng.randrange(0, 5))
        rows.append(q.job_row(job) | {"started_at": started})
    with store.db.write() as conn:
        conn.execute(q.INSERT_JOB.values(started_at=sa.bindparam("started_at", type_=q.schema.Timestamp())), rows)


def _expected(jobs: list[models.Job], order: list[tuple[str, bool]]) -> list[models.JobKey]:
    """The order JobPages promises, computed here: nulls first ascending and last descending, ties by key."""
    ordered = sorted(jobs, key=lambda j: (j.created_at, j.key.name, j.key.run_count))
    for column, descending in reversed(order):
        present = sorted((j for j in ordered if getattr(j, column) is not None), key=lambda j: getattr(j, column),
                         reverse=descending)  # fmt: skip
        missing = [j for j in ordered if getattr(j, column) is None]
        ordered = present + missing if descending else missing + present
    return [j.key for j in ordered]


ORDERS = ([], [("scheduled_at", True)], [("started_at", False)], [("started_at", True), ("text", False)])


@pytest.mark.parametrize("creator", [None, "ALICE"])
@pytest.mark.parametrize("order", ORDERS, ids=["default", "planned desc", "started asc", "started desc, text"])
@pytest.mark.parametrize("few", [0, 10_000], ids=["walk the order", "matches first"])
def test_filtered_stream_gives_the_same_jobs_in_order_either_way(
    store: Store, monkeypatch: pytest.MonkeyPatch, creator: str | None, order: list[tuple[str, bool]], few: int
) -> None:
    _fill(store)
    monkeypatch.setattr(jobpages, "_FEW", few)
    pages, since = JobPages(store.db), T0 + dt.timedelta(minutes=30)
    everything = list(pages.stream(None, []))
    wanted = [j for j in everything if j.scheduled_at >= since and creator in (None, j.creator)]
    assert 0 < len(wanted) < len(everything)
    got = [j.key for j in pages.stream(creator, order, [("scheduled_at", "ge", since)])]
    assert got == _expected(wanted, order)


def test_default_page_is_the_first_of_the_default_order(store: Store) -> None:
    _fill(store)
    pages = JobPages(store.db)
    everything = _expected(list(pages.stream(None, [])), [])
    assert [j.key for j in pages.page(None, [], 10, 10)] == everything[10:20]
    alice = _expected(list(pages.stream("ALICE", [])), [])
    assert [j.key for j in pages.page("ALICE", [], 0, 5)] == alice[:5]


@contextlib.contextmanager
def _statements(store: Store) -> Iterator[list[tuple[str, object]]]:
    """The SQL (and its parameters) the store sends while the block runs."""
    seen: list[tuple[str, object]] = []

    def hook(conn: object, cursor: object, statement: str, parameters: object, *args: object) -> None:
        seen.append((statement, parameters))

    sa.event.listen(store.db.engine, "before_cursor_execute", hook)
    try:
        yield seen
    finally:
        sa.event.remove(store.db.engine, "before_cursor_execute", hook)


def _plan(store: Store, statement: str, parameters: object) -> str:
    with store.db.engine.connect() as conn:
        if store.db.dialect == "sqlite":
            return "\n".join(row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters))
        conn.exec_driver_sql("ANALYZE job")  # what autovacuum does to a table that has grown
        conn.exec_driver_sql("SET enable_seqscan = off")  # as if the table held a million jobs
        return "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters))


@pytest.mark.parametrize(("creator", "index"), [(None, "ix_job_scheduled"), ("ALICE", "ix_job_creator_scheduled")])
def test_a_planned_start_filter_few_jobs_meet_is_read_through_its_index(
    store: Store, creator: str | None, index: str
) -> None:
    _fill(store)
    with _statements(store) as seen:
        found = list(JobPages(store.db).stream(creator, [], [("scheduled_at", "ge", T0 + dt.timedelta(minutes=50))]))
    assert found
    plan = _plan(store, *seen[-1])
    assert index in plan, plan


def test_the_default_page_walks_the_creators_index_in_order(store: Store) -> None:
    """``JobHeaderSet?$top=10``: the index hands over the first jobs; no sort of all the creator's jobs."""
    _fill(store)
    with _statements(store) as seen:
        assert len(JobPages(store.db).page("ALICE", [], 0, 10)) == 10
    plan = _plan(store, *seen[-1])
    assert "ix_job_creator_created" in plan, plan
    if store.db.dialect == "postgresql":
        assert "Presorted Key: created_at" in plan, plan  # only the ties of one created_at are sorted
