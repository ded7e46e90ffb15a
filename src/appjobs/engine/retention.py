"""Retention in the engine: the worker's background purge, and deleting jobs by hand with an audit entry.

Jobs that ended more than ``retention_days`` ago go, with their steps,
parameters and logs (SAP deletes application jobs after 14 days); audit
entries older than ``audit_retention_days`` go too. Every worker does it, in
the background, every :data:`INTERVAL` seconds. Why a few batches per turn
and not the whole backlog: a turn of the worker also reaps steps, claims
jobs and heartbeats, and a first pass over a database that never purged may
have months to delete. So one turn deletes at most a few batches (each its
own short transaction, see :mod:`appjobs.storage.retention`; how many and how
big depends on the database, see :data:`PACE`) and, when that was not all,
comes back for more a quarter of a second later (:data:`BACKLOG_PAUSE`)
instead of waiting for the next interval. An audit entry (5000 in 5 ms on
SQLite) costs far less than a job.

What goes and what never does is decided by the store: only jobs whose
status is final, never a planned (S), ready (Y) or running (R) one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable

from appjobs import models
from appjobs.models import JobKey
from appjobs.storage import Store
from appjobs.storage.retention import AUDIT_BATCH

logger = logging.getLogger(__name__)

INTERVAL = 60.0  #: seconds between two purges of a worker that found nothing more to delete
#: Seconds between two turns' shares while a backlog lasts. Not every turn: a worker turns on every wake-up,
#: and while schedules arrive that is many times a second. Purging in each of those turns, a worker working off
#: the first purge of a million-job SQLite database cut JobSchedule from 125 to 80 calls/s
#: and raised planned starts' p99 to 0.3 s (bench/million_bench.py with MILLION_RETENTION_DAYS=14). Paced so, it made
#: 186 calls/s (195 with no backlog) and 49 ms, and still deletes 400 jobs a second (1.4 million an hour).
BACKLOG_PAUSE = 0.25
DAY = dt.timedelta(days=1)
#: Per database: jobs per batch, and batches one turn of the worker deletes at most. Why so few on SQLite:
#: one batch holds the only write lock, and a process that lets it go and takes it again at once tends to
#: win it back before a waiting writer wakes. On a million jobs (bench/retention_batch.py) a batch of 100
#: held it 12 ms at p50, 31 ms at p95, a batch of 500 78 and 116 ms; a small write beside back-to-back
#: batches of 500 waited 79 ms at p50 and 300 ms at p99. So a turn takes one batch of 100, and the
#: server's writes go between turns. PostgreSQL locks rows, not the database: more per turn.
PACE = {"sqlite": (100, 1), "postgresql": (500, 4)}


class Retention:
    """The worker's purge: call :meth:`run` every :data:`INTERVAL` seconds, and in the next turn when it says so.

    *days* and *audit_days* of 0 keep everything of their kind.
    """

    def __init__(
        self,
        store: Store,
        *,
        days: float,
        audit_days: float,
        clock: Callable[[], dt.datetime] = models.utcnow,
        batch: int | None = None,
        audit_batch: int = AUDIT_BATCH,
        batches: int | None = None,
    ) -> None:
        self.store = store
        self.days, self.audit_days = days, audit_days
        self.clock = clock
        pace_batch, pace_batches = pace(store)
        self.batch, self.batches = batch or pace_batch, batches or pace_batches
        self.audit_batch = audit_batch

    @property
    def enabled(self) -> bool:
        return self.days > 0 or self.audit_days > 0

    def run(self) -> bool:
        """Delete one turn's share of what is due; True when more is left (come back in the next turn)."""
        now, more = self.clock(), False
        if self.days > 0:
            cutoff = now - self.days * DAY
            deleted = self.store.retention.purge_jobs(cutoff, batch=self.batch, max_batches=self.batches)
            more = deleted == self.batch * self.batches
            if deleted:
                logger.info("retention: deleted %d job(s) that ended before %s", deleted, f"{cutoff:%Y-%m-%d %H:%M}")
        if self.audit_days > 0 and not more:  # the jobs first: they are what fills a database
            cutoff = now - self.audit_days * DAY
            deleted = self.store.retention.purge_audit(cutoff, batch=self.audit_batch, max_batches=self.batches)
            more = deleted == self.audit_batch * self.batches
            if deleted:
                logger.info("retention: deleted %d audit entries from before %s", deleted, f"{cutoff:%Y-%m-%d %H:%M}")
        return more


def pace(store: Store) -> tuple[int, int]:
    """Jobs per batch and batches per turn on *store*'s database (see :data:`PACE`)."""
    return PACE.get(store.db.dialect, PACE["sqlite"])


# --- by hand ----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Purged:
    """What a purge by hand deleted."""

    jobs: int
    audit_entries: int | None  #: None when the audit log was not purged


def delete_job(store: Store, key: JobKey, *, by: str, now: dt.datetime | None = None) -> None:
    """Delete one job that has ended (``appjobs admin jobs delete``), and say so in the audit log.

    A job that has not ended is :class:`~appjobs.errors.JobStateError` (cancel it instead);
    an unknown one :class:`~appjobs.errors.JobNotFound`. Nothing is audited then: nothing changed.
    """
    store.retention.delete_job(key)
    _audit(store, by, now, f"deleted job {key.name} {key.run_count}")


def purge(store: Store, before: dt.datetime, *, by: str, audit: bool = False, now: dt.datetime | None = None) -> Purged:
    """Delete the jobs that ended before *before* and, with *audit*, the audit entries from before it; audited.

    The audit entry of the purge itself is written after it, so a purge never deletes its own record.
    """
    jobs = store.retention.purge_jobs(before, batch=pace(store)[0])  # on SQLite, writers wait one small batch
    entries = store.retention.purge_audit(before) if audit else None
    detail = f"purged {jobs} job(s) that ended before {before.astimezone(dt.UTC).isoformat()}"
    if entries is not None:
        detail += f" and {entries} audit {entry_or_entries(entries)} from before it"
    _audit(store, by, now, detail)
    return Purged(jobs, entries)


def entry_or_entries(count: int) -> str:
    return "entry" if count == 1 else "entries"


def _audit(store: Store, by: str, now: dt.datetime | None, detail: str) -> None:
    store.audit.add([models.AuditEntry(now or models.utcnow(), "admin", by, "admin", "success", detail)])
