"""The quick one-row reads agree with SQLAlchemy's, value for value and type for type."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from postgres import outage

from appjobs import errors, models
from appjobs.engine import JobService
from appjobs.engine import templates as template_files
from appjobs.server.runner import DEMO_TEMPLATES
from appjobs.storage import Store
from appjobs.storage import jobsql as q
from appjobs.storage.sessions import _GET as SESSION_GET
from appjobs.storage.sessions import SessionRow

pytestmark = pytest.mark.backends("sqlite", "postgresql")


@pytest.fixture
def service(store: Store) -> JobService:
    store.templates.add(template_files.load_file(DEMO_TEMPLATES, by="SAP", now=models.utcnow()))
    return JobService(store)


def test_job_row_is_the_same_as_through_sqlalchemy(store: Store, service: JobService) -> None:
    """Every column, timestamps included (aware, UTC), comes back as SQLAlchemy returns it."""
    job = service.schedule("/APPJOBS/DEMO_ECHO", creator="U", text="quick")
    assert store.db.quick is not None
    quick = store.db.one(q.JOB, q.key(job.key))
    with store.db.read() as conn:
        slow = conn.execute(q.JOB, q.key(job.key)).first()
    assert tuple(quick) == tuple(slow)
    assert quick.created_at.tzinfo is not None
    assert quick.created_at.utcoffset().total_seconds() == 0
    assert q.to_job(quick) == store.jobs.get(job.key) == job


def test_missing_row_is_none_and_a_missing_job_is_job_not_found(store: Store) -> None:
    assert store.db.one(q.JOB, q.key(models.JobKey("0" * 32, "AAAAAAAA"))) is None
    with pytest.raises(errors.JobNotFound):
        store.jobs.get(models.JobKey("0" * 32, "AAAAAAAA"))


def test_reads_see_writes_of_other_connections_at_once(store: Store, service: JobService) -> None:
    """Autocommit reads hold no snapshot between calls: a change committed elsewhere is seen by the next read."""
    job = service.schedule("/APPJOBS/DEMO_SLEEP", creator="U")
    assert store.jobs.get(job.key).status is models.JobStatus.SCHEDULED
    service.cancel(job.key, by="U")  # not started: deleted, through SQLAlchemy's connections
    with pytest.raises(errors.JobNotFound):
        store.jobs.get(job.key)


def test_reads_at_the_same_time_get_connections_of_their_own_and_give_them_back(store: Store) -> None:
    """Eight threads reading together never share a connection; afterwards the idle ones serve everybody."""
    now = models.utcnow()
    store.sessions.add(SessionRow("h" * 64, "U", "token", now, now))
    quick = store.db.quick
    assert quick is not None
    found: list[object] = []
    barrier = threading.Barrier(8)

    def read() -> None:
        barrier.wait()
        for _ in range(50):
            found.append(store.db.one(SESSION_GET, {"id_hash": "h" * 64}))

    threads = [threading.Thread(target=read) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [tuple(r) for r in found] == [("U", "token", now, now, 0)] * 400  # type: ignore[arg-type]
    opened = quick.connections
    assert 1 <= opened <= 8
    for _ in range(100):
        store.db.one(SESSION_GET, {"id_hash": "h" * 64})
    assert quick.connections == opened  # one at a time: an idle connection, never a new one


@pytest.mark.backends("postgresql")
def test_a_connection_the_server_ended_is_dropped_and_the_read_reconnects(
    store: Store, service: JobService, postgres_server: str, postgres_database: str
) -> None:
    """The server ends the quick reader's idle connection (a restart does that to all): the read that meets it
    goes on with a new one and succeeds. While the database refuses new connections too, the read fails as
    StorageUnavailable, which the HTTP layer answers 503."""
    job = service.schedule("/APPJOBS/DEMO_ECHO", creator="U")
    assert store.jobs.poll(job.key)[1] == "U"
    quick = store.db.quick
    assert quick is not None
    assert quick.connections == 1
    with store.db.engine.connect() as conn:
        killed = conn.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE '%FROM job%'"
            )
        ).all()
    assert killed == [(True,)]
    assert store.jobs.poll(job.key)[1] == "U"
    assert quick.connections == 1  # the ended one was closed, not kept beside the new one
    with outage(postgres_server, postgres_database), pytest.raises(errors.StorageUnavailable, match="unavailable"):
        store.jobs.poll(job.key)
    assert store.jobs.poll(job.key)[1] == "U"
