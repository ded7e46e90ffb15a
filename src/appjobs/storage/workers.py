"""Worker registrations: who runs steps, and whether they are still alive."""

from __future__ import annotations

import dataclasses
import datetime as dt

import sqlalchemy as sa

from appjobs.storage import schema
from appjobs.storage.database import Database

W = schema.worker


@dataclasses.dataclass(frozen=True)
class WorkerRecord:
    """A worker as registered: where it runs, and when it last said it was alive."""

    id: str
    hostname: str
    pid: int
    pid_started: float  #: the process's start time, to tell a reused pid apart
    heartbeat_at: dt.datetime
    concurrency: int | None = None  #: steps it runs at once


class WorkerStore:
    """Registers workers and their heartbeats; a heartbeat renews the lease on all their jobs."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def register(self, record: WorkerRecord) -> None:
        with self.db.write() as conn:
            conn.execute(W.insert().values(started_at=record.heartbeat_at, **dataclasses.asdict(record)))

    def heartbeat(self, worker_id: str, now: dt.datetime) -> None:
        with self.db.write() as conn:
            conn.execute(W.update().where(W.c.id == worker_id).values(heartbeat_at=now))

    def unregister(self, worker_id: str) -> None:
        with self.db.write() as conn:
            conn.execute(W.delete().where(W.c.id == worker_id))

    def all(self) -> dict[str, WorkerRecord]:
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(W.c.id, W.c.hostname, W.c.pid, W.c.pid_started, W.c.heartbeat_at, W.c.concurrency)
            ).all()
        return {r.id: WorkerRecord(*r) for r in rows}
