"""What the database knows that the metrics show at each scrape: jobs by status and template, sessions, workers.

Read at scrape time, not counted by the processes, so that every server of
one database shows the same figures however many hosts run workers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import sqlalchemy as sa

from appjobs.storage import schema
from appjobs.storage.database import Database

J, W = schema.job, schema.worker
_JOBS = sa.select(J.c.status, J.c.template_name, sa.func.count()).group_by(J.c.status, J.c.template_name)
_BUSY = (
    sa.select(J.c.worker_id, sa.func.count())
    .where(J.c.status == "R", J.c.worker_id.is_not(None))
    .group_by(J.c.worker_id)
)


@dataclasses.dataclass(frozen=True)
class WorkerGauge:
    id: str
    hostname: str
    heartbeat_at: dt.datetime
    busy: int  #: its running jobs (each runs one step at a time)
    concurrency: int | None


@dataclasses.dataclass(frozen=True)
class Gauges:
    jobs: dict[tuple[str, str], int]  #: (status letter, template) -> jobs
    sessions: dict[str, int]  #: face (odata, ui) -> sessions seen within the idle timeout
    workers: list[WorkerGauge]


def read(db: Database, *, idle_since: dt.datetime) -> Gauges:
    """The figures, in one read transaction; sessions last seen before *idle_since* count as ended."""
    with db.read() as conn:
        jobs = {(status, template): count for status, template, count in conn.execute(_JOBS)}
        sessions = {
            face: conn.scalar(sa.select(sa.func.count()).select_from(t).where(t.c.last_seen_at >= idle_since)) or 0
            for face, t in (("odata", schema.http_session), ("ui", schema.ui_session))
        }
        busy = dict(conn.execute(_BUSY).all())
        rows = conn.execute(sa.select(W.c.id, W.c.hostname, W.c.heartbeat_at, W.c.concurrency)).all()
    workers = [WorkerGauge(r.id, r.hostname, r.heartbeat_at, busy.get(r.id, 0), r.concurrency) for r in rows]
    return Gauges(jobs, sessions, workers)
