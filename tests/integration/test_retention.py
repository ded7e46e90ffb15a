"""Retention in the store and the engine, on a real SQLite file and a real PostgreSQL database.

What goes: jobs whose status is final and that ended before the cut-off, with
their steps, parameters and logs; series that ended and have no job left;
audit entries from before the cut-off. What never goes: a job planned (S),
ready (Y) or running (R), however old. The CLI and real worker processes are
in ``test_retention_cli.py``.
"""

from __future__ import annotations

import datetime as dt
import pathlib
import sqlite3
import threading

import pytest
import sqlalchemy as sa
from conftest import wait_for
from retentionsite import (
    DAY,
    add_audit,
    add_job,
    add_series,
    audit_details,
    bulk_ended,
    children,
    exists,
    job_count,
    series_ids,
)

from appjobs import errors
from appjobs.engine.retention import Retention
from appjobs.models import JobStatus
from appjobs.settings import Paths
from appjobs.storage import Store, retention

pytestmark = pytest.mark.backends("sqlite", "postgresql")

NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)
CUTOFF = NOW - 14 * DAY
SECOND = dt.timedelta(seconds=1)
NOT_ENDED = (JobStatus.SCHEDULED, JobStatus.READY, JobStatus.RUNNING)


def test_purge_deletes_exactly_the_ended_jobs_before_the_cut_off(store: Store) -> None:
    """One second before the cut-off goes, one second after (and at it) stays; S, Y and R stay whatever their age."""
    just_before = add_job(store, JobStatus.FINISHED, ended=CUTOFF - SECOND)
    at_cut_off = add_job(store, JobStatus.FINISHED, ended=CUTOFF)
    just_after = add_job(store, JobStatus.FINISHED, ended=CUTOFF + SECOND)
    final = {s: add_job(store, s, ended=CUTOFF - DAY) for s in JobStatus if s.is_final}
    # Even with an ended_at (as a job put back in the queue might keep), the status decides: these have not ended.
    not_ended = {s: add_job(store, s, ended=CUTOFF - 300 * DAY) for s in NOT_ENDED}
    planned = add_job(store, JobStatus.SCHEDULED, created=NOW - 300 * DAY, scheduled=NOW + DAY)
    running = add_job(store, JobStatus.RUNNING, created=NOW - 300 * DAY)
    # Letters SAP uses for jobs on their way (c, P, k, X) are not final either.
    on_their_way = [add_job(store, s, ended=CUTOFF - DAY) for s in JobStatus if not s.is_final and s not in NOT_ENDED]

    assert store.retention.purge_jobs(CUTOFF) == 1 + len(final)

    gone = [just_before, *final.values()]
    kept = [at_cut_off, just_after, *not_ended.values(), planned, running, *on_their_way]
    assert [k for k in gone if exists(store, k)] == []
    assert [k for k in kept if not exists(store, k)] == []
    assert [children(store, k) for k in gone] == [(0, 0, 0)] * len(gone)  # the cascade, on both databases
    assert [children(store, k) for k in kept] == [(1, 1, 1)] * len(kept)
    assert store.retention.purge_jobs(CUTOFF) == 0


def test_each_batch_is_its_own_transaction(store: Store) -> None:
    """7 old jobs in batches of 3: three DELETEs of jobs, each committed before the next one starts."""
    bulk_ended(store, 7, CUTOFF - DAY)
    events: list[str] = []
    engine = store.db.engine

    def on_execute(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("DELETE FROM JOB "):
            events.append("delete")

    def on_commit(conn: object) -> None:
        events.append("commit")

    sa.event.listen(engine, "before_cursor_execute", on_execute)
    sa.event.listen(engine, "commit", on_commit)
    try:
        assert store.retention.purge_jobs(CUTOFF, batch=3) == 7
    finally:
        sa.event.remove(engine, "before_cursor_execute", on_execute)
        sa.event.remove(engine, "commit", on_commit)
    deletes = [e for e in events if e == "delete"]
    assert len(deletes) == 3
    assert "delete,delete" not in ",".join(events)


def test_max_batches_leaves_the_rest_for_later(store: Store) -> None:
    bulk_ended(store, 7, CUTOFF - DAY)
    assert store.retention.purge_jobs(CUTOFF, batch=3, max_batches=1) == 3
    assert job_count(store) == 4
    assert store.retention.purge_jobs(CUTOFF, batch=3, max_batches=5) == 4
    assert job_count(store) == 0


def test_bad_arguments_say_what_is_wrong(store: Store) -> None:
    with pytest.raises(errors.InvalidInput, match="batch must be 1 or more"):
        store.retention.purge_jobs(CUTOFF, batch=0)
    with pytest.raises(errors.InvalidInput, match="has no time zone"):
        store.retention.purge_audit(CUTOFF.replace(tzinfo=None))


def test_series_go_once_ended_and_without_jobs(store: Store) -> None:
    """An ended series goes with its last job; an active one, a recent one, or one with a job left stays."""
    emptied = add_series(store, ended=CUTOFF - DAY)
    add_job(store, JobStatus.FINISHED, ended=CUTOFF - DAY, series_id=emptied)
    lonely = add_series(store, ended=CUTOFF - DAY)
    active = add_series(store, ended=None)
    add_job(store, JobStatus.FINISHED, ended=CUTOFF - DAY, series_id=active)
    add_job(store, JobStatus.SCHEDULED, scheduled=NOW + DAY, series_id=active)
    recent = add_series(store, ended=CUTOFF + SECOND)
    with_job = add_series(store, ended=CUTOFF - DAY)
    add_job(store, JobStatus.FINISHED, ended=CUTOFF + DAY, series_id=with_job)

    assert store.retention.purge_jobs(CUTOFF) == 2
    assert series_ids(store) == {active, recent, with_job}
    assert lonely not in series_ids(store)


def test_delete_job_by_hand(store: Store) -> None:
    """An ended job goes with its children; one not ended is refused naming its status; an unknown one is not found."""
    ended = add_job(store, JobStatus.ABORTED, ended=NOW - SECOND)
    store.retention.delete_job(ended)
    assert not exists(store, ended)
    assert children(store, ended) == (0, 0, 0)
    for status in NOT_ENDED:
        key = add_job(store, status)
        with pytest.raises(errors.JobStateError, match=rf"its status is {status.value} \({status.text}\).*cancel it"):
            store.retention.delete_job(key)
        assert exists(store, key)
        assert children(store, key) == (1, 1, 1)
    with pytest.raises(errors.JobNotFound):
        store.retention.delete_job(ended)


def test_purge_audit_deletes_exactly_the_entries_before_the_cut_off(store: Store) -> None:
    add_audit(store, CUTOFF - SECOND, "before")
    add_audit(store, CUTOFF, "at")
    add_audit(store, CUTOFF + SECOND, "after")
    for n in range(5):
        add_audit(store, CUTOFF - DAY * (n + 1), f"old {n}")
    assert store.retention.purge_audit(CUTOFF, batch=2) == 6
    assert audit_details(store) == ["at", "after"]


def test_the_worker_purge_does_a_few_batches_per_turn(store: Store) -> None:
    """With batches of 2, two per turn: 5 old jobs, then 5 old audit entries, each turn saying whether more is left."""
    bulk_ended(store, 5, NOW - 15 * DAY)
    add_job(store, JobStatus.FINISHED, ended=NOW - 13 * DAY)
    add_audit(store, NOW - 31 * DAY, "old")
    add_audit(store, NOW - 29 * DAY, "recent")
    for n in range(4):
        add_audit(store, NOW - (40 + n) * DAY, f"older {n}")
    retention = Retention(store, days=14, audit_days=30, clock=lambda: NOW, batch=2, audit_batch=2, batches=2)
    assert [retention.run(), job_count(store)] == [True, 2]
    assert len(audit_details(store)) == 6  # the jobs first
    assert [retention.run(), job_count(store), audit_details(store)] == [True, 1, ["old", "recent"]]
    assert [retention.run(), job_count(store), audit_details(store)] == [False, 1, ["recent"]]
    assert [retention.run(), job_count(store)] == [False, 1]


def test_zero_days_keep_everything(store: Store) -> None:
    bulk_ended(store, 3, NOW - 1000 * DAY)
    add_audit(store, NOW - 1000 * DAY, "old")
    retention = Retention(store, days=0, audit_days=0, clock=lambda: NOW)
    assert not retention.enabled
    assert retention.run() is False
    assert job_count(store) == 3
    assert audit_details(store) == ["old"]


@pytest.mark.backends("postgresql")
def test_purges_side_by_side_delete_everything_once(store: Store, data_dir: pathlib.Path) -> None:
    """Two processes' purges at once (two engines): every old job is deleted, by exactly one of them.

    Without SKIP LOCKED the second purge waits for rows the first deletes, finds them gone,
    reports a short batch and stops, leaving jobs behind that it should have deleted.
    """
    bulk_ended(store, 3000, CUTOFF - DAY, log_lines=1)
    others = [Store.open(Paths.resolve(str(data_dir)).database_url) for _ in range(3)]
    counts: list[int] = []
    start = threading.Barrier(len(others))

    def purge(other: Store) -> None:
        start.wait()
        counts.append(other.retention.purge_jobs(CUTOFF, batch=50))

    threads = [threading.Thread(target=purge, args=(o,)) for o in others]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for o in others:
            o.close()
    assert job_count(store) == 0
    assert sum(counts) == 3000


@pytest.mark.backends("postgresql")
def test_a_purge_skips_jobs_another_transaction_holds(store: Store, postgres_database: str) -> None:
    """A purge does not wait for rows another purge (or any transaction) has locked: it deletes the others.

    The other transaction holds its lock until the purge is over, so a purge that waited for it would never
    end; the test sees that as the purge's session waiting for a lock, and fails.
    """
    import psycopg

    bulk_ended(store, 120, CUTOFF - 2 * DAY, log_lines=1)
    held = add_job(store, JobStatus.FINISHED, ended=CUTOFF - 3 * DAY)  # the oldest: the first every batch picks
    url = sa.make_url(postgres_database).set(drivername="postgresql").render_as_string(hide_password=False)
    done, result = threading.Event(), []
    with psycopg.connect(url) as locker, psycopg.connect(url, autocommit=True) as watcher:
        locker.execute("SELECT 1 FROM job WHERE name = %s FOR UPDATE", (held.name,))

        def purge() -> None:
            result.append(store.retention.purge_jobs(CUTOFF, batch=50))
            done.set()

        def waiting() -> bool:
            query = (
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            return bool(watcher.execute(query).fetchone()[0])  # type: ignore[index]

        thread = threading.Thread(target=purge)
        thread.start()
        wait_for(lambda: done.is_set() or waiting())
        blocked = not done.is_set()
        locker.rollback()
        thread.join()
    assert not blocked, "the purge waited for a row another transaction held"
    assert result == [120]
    assert exists(store, held)
    assert store.retention.purge_jobs(CUTOFF) == 1


@pytest.mark.backends("sqlite")
def test_sqlite_file_stops_growing_when_purged_and_filled_again(store: Store, data_dir: pathlib.Path) -> None:
    """Fill, purge, fill again: SQLite reuses the freed pages, so the file ends about as big as after the first fill."""
    database = data_dir / "appjobs.db"

    def size() -> int:
        with sqlite3.connect(database) as raw:
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return database.stat().st_size

    bulk_ended(store, 2000, NOW - 30 * DAY, log_lines=3)
    first = size()
    sizes = []
    for _ in range(3):  # a few rounds: a steady state, not one lucky refill
        assert store.retention.purge_jobs(NOW) == 2000
        bulk_ended(store, 2000, NOW - 30 * DAY, log_lines=3)
        sizes.append(size())
    assert max(sizes) <= first * 1.02, (first, sizes)


@pytest.mark.backends("sqlite")
def test_sqlite_walks_the_ended_index_for_a_batch(store: Store) -> None:
    """A batch reads ix_job_ended from the oldest and stops: no sort of every ended job per batch.

    With ``status IN (final letters)`` SQLite (which has no statistics here) picked the status index instead,
    which on a big table matches nearly every row, and sorted them all for each batch.
    """

    def explain(conn: object, cursor: object, statement: str, params: object, *rest: object) -> tuple[str, object]:
        return "EXPLAIN QUERY PLAN " + statement, params

    with store.db.engine.connect() as conn:
        sa.event.listen(conn, "before_cursor_execute", explain, retval=True)
        plan = " | ".join(str(r[-1]) for r in conn.execute(retention.PURGE_JOBS, {"before": NOW, "limit": 500}))
        conn.rollback()
    assert "USING INDEX ix_job_ended (ended_at<?)" in plan
    assert "TEMP B-TREE" not in plan
