"""The store on a real SQLite file: migrations, timestamps, all-or-nothing writes."""

from __future__ import annotations

import datetime as dt
import pathlib
import sqlite3

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from appjobs import errors, models
from appjobs.engine import JobService, templates
from appjobs.storage import Store, schema

TEMPLATE = '[[template]]\nname = "/T/ONE"\ntext = "One"\n[[template.step]]\ncommand = "true"\n'


def test_migrations_create_exactly_the_schema(store: Store) -> None:
    """The Alembic migrations produce the tables the code queries, with nothing missing or extra."""
    with store.db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), schema.metadata)
    assert diff == []


def test_database_is_wal_and_durable(store: Store, data_dir: pathlib.Path) -> None:
    """The embedded database runs in WAL mode with synchronous=FULL on every connection."""
    with store.db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    raw = sqlite3.connect(data_dir / "appjobs.db")
    assert raw.execute("SELECT version_num FROM alembic_version").fetchone() == ("0001",)


def test_migrate_twice_is_harmless(store: Store) -> None:
    """Opening an up-to-date database again changes nothing."""
    store.db.migrate()
    store.db.migrate()
    assert store.templates.list() == []


def test_timestamps_round_trip_in_utc(service: JobService) -> None:
    """Times go in aware and come back aware in UTC, whatever zone they were given in."""
    service.import_templates(templates.parse(TEMPLATE, source="t", by="T", now=models.utcnow()))
    berlin = dt.timezone(dt.timedelta(hours=1))
    service.clock = lambda: dt.datetime(2026, 11, 28, 13, 0, 0, 123456, tzinfo=berlin)
    job = service.schedule("/T/ONE", creator="T")
    stored = service.status(job.key)
    assert stored.created_at == dt.datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=dt.UTC)
    assert stored.created_at.tzinfo == dt.UTC


def test_duplicate_import_changes_nothing(service: JobService) -> None:
    """Importing a file whose template already exists fails and stores none of the file's templates."""
    service.import_templates(templates.parse(TEMPLATE, source="t", by="T", now=models.utcnow()))
    second = TEMPLATE.replace('"One"', '"Changed"') + TEMPLATE.replace("/T/ONE", "/T/TWO")
    with pytest.raises(errors.DuplicateTemplate, match="/T/ONE already exists"):
        service.import_templates(templates.parse(second, source="t", by="T", now=models.utcnow()))
    assert [(t.name, t.text) for t in service.templates()] == [("/T/ONE", "One")]


def test_replace_keeps_creation_and_changes_steps(service: JobService) -> None:
    """--replace updates a template's text and steps but keeps who created it and when."""
    first = templates.parse(TEMPLATE, source="t", by="ALICE", now=models.utcnow())
    service.import_templates(first)
    changed = TEMPLATE.replace('"One"', '"One, changed"') + '[[template.step]]\ncommand = "echo 2"\n'
    service.import_templates(templates.parse(changed, source="t", by="BOB", now=models.utcnow()), replace=True)
    (t,) = service.templates()
    assert (t.text, t.step_count, t.created_by, t.changed_by) == ("One, changed", 2, "ALICE", "BOB")
    assert t.created_at == first[0].created_at


def test_schedule_validates_before_storing(service: JobService) -> None:
    """Unknown templates, parameters, over-long texts and unsupported test mode are refused and store nothing."""
    service.import_templates(templates.parse(TEMPLATE, source="t", by="T", now=models.utcnow()))
    with pytest.raises(errors.TemplateNotFound) as caught:
        service.schedule("/T/MISSING", creator="T")
    assert caught.value.message_id == "APJ_RT/015"
    with pytest.raises(errors.InvalidInput, match="no parameter NOPE"):
        service.schedule("/T/ONE", creator="T", parameters={"NOPE": "1"})
    with pytest.raises(errors.InvalidInput, match="JobText is longer than 120"):
        service.schedule("/T/ONE", creator="T", text="x" * 121)
    with pytest.raises(errors.InvalidInput, match="test mode"):
        service.schedule("/T/ONE", creator="T", test_mode=True)
    everything = service.jobs(dt.datetime(2000, 1, 1, tzinfo=dt.UTC), models.utcnow())
    assert everything == []


def test_job_key_shape() -> None:
    """New keys look like SAP's: 32 upper-case hex characters and 8 letters."""
    keys = {models.JobKey.new() for _ in range(200)}
    assert len(keys) == 200
    for key in keys:
        assert models.JOB_NAME_RE.match(key.name)
        assert models.RUN_COUNT_RE.match(key.run_count)


def test_status_letters_know_whether_they_are_final() -> None:
    """Every SAP letter is distinct (c is not C) and knows whether the job can still change."""
    assert models.JobStatus("c") is models.JobStatus.CANCELING
    assert models.JobStatus("C") is models.JobStatus.CANCELED
    running = {s.value for s in models.JobStatus if not s.is_final}
    assert running == {"S", "Y", "R", "P", "c", "k", "X"}
    assert models.JobStatus.ABORTED.text == "Failed"
