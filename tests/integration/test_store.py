"""The store on a real SQLite file and PostgreSQL database: migrations, timestamps, all-or-nothing writes."""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import os
import pathlib
import sqlite3
import subprocess
import sys
import threading
import uuid

import psycopg
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from conftest import DEMO

from appjobs import errors, models
from appjobs.engine import JobService, templates
from appjobs.settings import Paths
from appjobs.storage import Store, schema
from appjobs.storage import jobsql as q
from appjobs.storage.database import MIGRATIONS, head_revision, sqlite_file
from appjobs.storage.jobs import RunningStep

pytestmark = pytest.mark.backends("sqlite", "postgresql")

TEMPLATE = '[[template]]\nname = "/T/ONE"\ntext = "One"\n[[template.step]]\ncommand = "true"\n'


def test_migrations_create_exactly_the_schema(store: Store) -> None:
    """The Alembic migrations produce the tables the code queries, with nothing missing or extra."""
    with store.db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), schema.metadata)
    assert diff == []


@pytest.mark.backends("sqlite")
def test_database_is_wal_and_durable(store: Store, data_dir: pathlib.Path) -> None:
    """The embedded database runs in WAL mode with synchronous=FULL on every connection."""
    with store.db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    raw = sqlite3.connect(data_dir / "appjobs.db")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert raw.execute("SELECT version_num FROM alembic_version").fetchone() == (head,)


def test_a_database_of_an_older_revision_is_brought_to_the_newest(data_dir: pathlib.Path) -> None:
    """A database left at an older schema (an appjobs before an upgrade) is migrated on open, not taken as current.

    Opening skips alembic when the recorded revision is the newest (see Database.migrate): this is
    the other case, and the newest revision must be the one alembic's scripts end with.
    """
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    scripts = ScriptDirectory.from_config(cfg)
    assert head_revision() == scripts.get_current_head()
    previous = scripts.get_revision(head_revision()).down_revision
    paths = Paths.resolve(str(data_dir))
    paths.create()
    url = paths.database_url
    store = Store.open(url, migrate=False)
    try:
        with store.db.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, previous)
        assert store.db._revision() == previous
    finally:
        store.close()
    store = Store.open(url)
    try:
        assert store.db._revision() == head_revision()
        with store.db.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), schema.metadata) == []
    finally:
        store.close()


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
    with pytest.raises(errors.InvalidInput, match="Parameter NOPE: is not a parameter of this job template"):
        service.schedule("/T/ONE", creator="T", parameters={"NOPE": "1"})
    with pytest.raises(errors.InvalidInput, match="JobText is longer than 120"):
        service.schedule("/T/ONE", creator="T", text="x" * 121)
    with pytest.raises(errors.InvalidInput, match="test mode"):
        service.schedule("/T/ONE", creator="T", test_mode=True)
    everything = service.jobs(dt.datetime(2000, 1, 1, tzinfo=dt.UTC), models.utcnow())
    assert everything == []


def test_restrictions_and_warning_codes_are_stored(service: JobService, store: Store) -> None:
    """A template's business users and a step's warning exit codes survive the database, and reach the job's steps."""
    text = (
        TEMPLATE.replace('text = "One"', 'text = "One"\nbusiness_users = ["CB1", "CB2"]') + "warning_exit_codes = [3]\n"
    )
    (parsed,) = templates.parse(text, source="t", by="T", now=models.utcnow())
    service.import_templates([parsed])
    assert service.template("/T/ONE") == parsed
    assert service.templates() == [parsed]
    store.comm.add_business_user("CB1", "", models.utcnow())
    store.comm.add_business_user("CB3", "", models.utcnow())
    job = service.schedule("/T/ONE", creator="T", job_user="cb1")  # user names are upper-cased, as SAP's
    assert job.job_user == "CB1"
    assert [s.warning_exit_codes for s in service.steps(job.key)] == [(3,)]
    with pytest.raises(errors.NotAuthorized, match="User CB3 has no authorization") as refused:
        service.schedule("/T/ONE", creator="T", job_user="CB3")
    assert refused.value.message_id == "APJ_RT/077"
    with pytest.raises(errors.UserNotFound, match="User NOBODY doesn't exist") as unknown:
        service.schedule("/T/ONE", creator="T", job_user="NOBODY")
    assert unknown.value.message_id == "APJ_RT/083"
    with pytest.raises(errors.NotAuthorized):
        service.schedule("/T/ONE", creator="T")  # no JobUser: the creator T, not allowed either
    assert len(service.jobs(dt.datetime(2000, 1, 1, tzinfo=dt.UTC), models.utcnow())) == 1


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


# --- set-up by processes starting together --------------------------------------------------------------------

OPENER = """
import sys
import threading
from appjobs.server.runner import open_installation
from appjobs.settings import Paths
print("ready", flush=True)
sys.stdin.readline()
installation = open_installation(Paths.resolve(sys.argv[1]), demo=True)
print(installation.password is not None, installation.business_user is not None)
"""


def test_servers_starting_together_on_a_new_database_set_it_up_once(data_dir: pathlib.Path) -> None:
    """Four processes opening one new database at once: one migrates and sets it up, the rest find it done."""
    openers = [
        subprocess.Popen(
            [sys.executable, "-c", OPENER, str(data_dir)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    for proc in openers:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
    for proc in openers:  # all four have imported appjobs before any of them opens the database
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    outcomes = [(proc.communicate(timeout=60), proc.returncode) for proc in openers]
    assert [code for _, code in outcomes] == [0, 0, 0, 0], outcomes
    assert sorted(out for (out, _), _ in outcomes) == ["False False\n"] * 3 + ["True True\n"]
    store = Store.open(Paths.resolve(str(data_dir)).database_url, migrate=False)
    try:
        assert len(store.templates.names()) == len(templates.load_file(DEMO, by="SAP", now=models.utcnow()))
        assert store.users.names() == ["JOBSCHEDULERUSER"]
    finally:
        store.close()


# --- writers, claims and batches -------------------------------------------------------------------------------

CLAIMER = """
import sys, uuid
from appjobs import models
from appjobs.storage import Store
store = Store.open(sys.argv[1], migrate=False)
print("ready", flush=True)
sys.stdin.readline()
while work := store.jobs.claim(sys.argv[2], 1, models.utcnow(), [uuid.uuid4().hex]):
    print(*(f"{w.key.name} {w.key.run_count}" for w in work), sep="\\n", flush=True)
"""


@pytest.mark.backends("sqlite")
def test_writers_take_the_lock_file_in_turn(store: Store, data_dir: pathlib.Path) -> None:
    """A write transaction holds the file lock next to the database; a read does not; commit releases it."""
    with (data_dir / "appjobs.db-writelock").open("rb") as other:  # its own open file: flock tells them apart
        with store.db.write(), pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with store.db.read():
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(other, fcntl.LOCK_UN)


def test_each_job_is_claimed_by_exactly_one_of_many_processes(service: JobService, store: Store) -> None:
    """Three processes claiming side by side share out every job, none twice, each marked with its claimer."""
    service.import_templates(templates.parse(TEMPLATE, source="t", by="T", now=models.utcnow()))
    jobs = {service.schedule("/T/ONE", creator="T").key for _ in range(300)}
    url = store.db.engine.url.render_as_string(hide_password=False)
    claimers = {
        f"W{i}": subprocess.Popen(
            [sys.executable, "-c", CLAIMER, url, f"W{i}"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        for i in range(3)
    }
    for proc in claimers.values():
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
    for proc in claimers.values():  # all three are running before any of them claims
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    claimed = {worker: proc.communicate(timeout=60)[0].split("\n")[:-1] for worker, proc in claimers.items()}
    keys = [models.JobKey(*line.split()) for lines in claimed.values() for line in lines]
    assert len(keys) == len(set(keys)), "a job was claimed twice"
    assert set(keys) == jobs
    for worker, lines in claimed.items():
        for line in lines:
            job = service.status(models.JobKey(*line.split()))
            assert (job.status, job.started_at is not None) == (models.JobStatus.RUNNING, True), worker


def test_a_failed_batch_changes_nothing(service: JobService, store: Store) -> None:
    """When a worker turn fails half-way, neither the step it ended nor the job it claimed is changed."""
    service.import_templates(templates.parse(TEMPLATE, source="t", by="T", now=models.utcnow()))
    first, second = (service.schedule("/T/ONE", creator="T").key for _ in range(2))
    now = models.utcnow()
    (work,) = store.jobs.claim("W1", 1, now, [uuid.uuid4().hex])
    assert work.key == first
    claimed: list[models.JobKey] = []

    def failing_turn() -> None:
        with store.jobs.batch() as batch:
            batch.finish_step(first, 1, models.JobStatus.FINISHED, exit_code=0, now=now)
            claimed.extend(w.key for w in batch.claim("W1", 1, now, [uuid.uuid4().hex]))
            raise RuntimeError("the turn fails")

    with pytest.raises(RuntimeError, match="the turn fails"):
        failing_turn()
    assert claimed == [second]
    assert service.status(first).status is models.JobStatus.RUNNING
    assert service.steps(first)[0].status is models.JobStatus.RUNNING
    assert service.status(second).status is models.JobStatus.READY


def test_running_steps_name_their_worker_process_and_token(service: JobService, store: Store) -> None:
    """What crash recovery reads: each step in R with the worker that claimed it, its process and its token."""
    service.import_templates(templates.parse(TEMPLATE, source="t", by="T", now=models.utcnow()))
    key = service.schedule("/T/ONE", creator="T").key
    assert store.jobs.running_steps() == []
    (work,) = store.jobs.claim("W1", 1, models.utcnow(), ["token-1"])
    assert (work.key, work.number, work.token) == (key, 1, "token-1")
    assert store.jobs.running_steps() == [RunningStep(key, 1, "W1", None, None, "token-1")]
    store.jobs.step_spawned(key, 1, 4242, 12.5)
    assert store.jobs.running_steps() == [RunningStep(key, 1, "W1", 4242, 12.5, "token-1")]
    store.jobs.finish_step(key, 1, models.JobStatus.FINISHED, exit_code=0, now=models.utcnow())
    assert store.jobs.running_steps() == []


def test_a_template_replaced_by_another_process_is_used_at_once(service: JobService, store: Store) -> None:
    """schedule() reads the template as stored now, not as this process last saw it."""
    service.import_templates(templates.parse(TEMPLATE, source="t", by="T", now=models.utcnow()))
    assert service.schedule("/T/ONE", creator="T").step_count == 1
    other = Store.open(store.db.engine.url.render_as_string(hide_password=False), migrate=False)
    changed = TEMPLATE + '[[template.step]]\ncommand = "echo 2"\n[template.step.parameters]\nP = "d"\n'
    other.templates.add(templates.parse(changed, source="t", by="T", now=models.utcnow()), replace=True)
    other.close()
    job = service.schedule("/T/ONE", creator="T", parameters={"P": "given"})
    assert job.step_count == 2
    assert service.parameters(job.key) == {2: {"P": "given"}}
    assert service.template("/T/ONE") == service.templates()[0]


# --- opening databases ---------------------------------------------------------------------------------------------


@pytest.mark.backends("sqlite")
def test_reads_are_answered_while_another_process_holds_the_write_lock(
    service: JobService, store: Store, data_dir: pathlib.Path
) -> None:
    """WAL: a reader does not wait for a writer, even one that keeps its write transaction open (the sqlite3 shell)."""
    service.import_templates(templates.parse(TEMPLATE, source="t", by="T", now=models.utcnow()))
    writer = sqlite3.connect(data_dir / "appjobs.db", isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("DELETE FROM template")  # not committed: readers still see the template
        assert [t.name for t in store.templates.list()] == ["/T/ONE"]
        assert set(store.templates.names()) == {"/T/ONE"}
        # A read through Database.read() begins a plain (deferred) transaction, not BEGIN IMMEDIATE,
        # which would wait for the writer's lock (30 s) and then fail.
        assert store.jobs.list(dt.datetime(2000, 1, 1, tzinfo=dt.UTC), models.utcnow()) == []
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_an_up_to_date_database_is_opened_without_alembic(store: Store) -> None:
    """Opening a database at the newest revision does not import alembic: a third of a process's start-up CPU.

    *store* has migrated the database; a new process opens it as every ``appjobs`` command does.
    """
    code = (
        "import sys; from appjobs.storage import Store; "
        f"Store.open({store.db.engine.url.render_as_string(hide_password=False)!r}).close(); "
        "print('alembic' in sys.modules)"
    )
    opened = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert opened.stdout.strip() == "False", opened.stderr


@pytest.mark.parametrize(("number", "raised"), [(errno.ENOSPC, errors.StorageFull), (errno.EACCES, PermissionError)])
def test_an_os_error_in_a_transaction_is_storage_full_only_when_the_disk_is_full(
    store: Store, number: int, raised: type[Exception]
) -> None:
    """ENOSPC on the way (the write lock's file, say) is StorageFull, which the server answers 507; any other
    OSError is itself, so that it is not mistaken for a full disk."""
    with pytest.raises(raised), store.db.write():
        raise OSError(number, os.strerror(number))


def assert_schedules(store: Store) -> None:
    """Import the one-step template into *store*, schedule it, and find the job scheduled."""
    service = JobService(store)
    service.import_templates(templates.parse(TEMPLATE, source="t", by="T", now=models.utcnow()))
    job = service.schedule("/T/ONE", creator="TESTER")
    assert service.status(job.key).status is models.JobStatus.SCHEDULED


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_database_works_in_one_process(
    url: str, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An in-memory SQLite database is migrated, written and read back like a file, and leaves no file behind."""
    monkeypatch.chdir(tmp_path)  # where a relative file (a database, a lock file) would land
    store = Store.open(url)
    try:
        assert_schedules(store)
        assert [t.name for t in store.templates.list()] == ["/T/ONE"]
    finally:
        store.close()
    assert list(tmp_path.iterdir()) == []


def test_a_database_named_by_a_file_uri_is_written_and_read_in_that_file(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLAlchemy hands SQLite a ``file:`` name as a URI; every read, the one-row ones too, goes to that file."""
    monkeypatch.chdir(tmp_path)  # where a file named "file:..." would land if the name were taken as a plain path
    path = tmp_path / "data" / "jobs.db"
    path.parent.mkdir()
    store = Store.open(f"sqlite:///file:{path}?uri=true")
    try:
        service = JobService(store)
        service.import_templates(templates.parse(TEMPLATE, source="t", by="T", now=models.utcnow()))
        job = service.schedule("/T/ONE", creator="TESTER")
        assert store.db.one(q.JOB, q.key(job.key)).name == job.key.name
        assert service.status(job.key).status is models.JobStatus.SCHEDULED
    finally:
        store.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]
    assert {"jobs.db", "jobs.db-writelock"} <= {p.name for p in path.parent.iterdir()}


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("postgresql+psycopg2://admin:s3cret@127.0.0.1/jobs", "postgresql+psycopg2://admin:***@127.0.0.1/jobs"),
        ("oracle+nosuchdriver://admin:s3cret@db.example/jobs", "oracle+nosuchdriver://admin:***@db.example/jobs"),
        ("not a database URL", "<unparsable URL>"),
    ],
    ids=["driver not installed", "unknown driver", "not a URL"],
)
def test_a_database_url_that_cannot_be_opened_exits_2_and_keeps_its_password(
    tmp_path: pathlib.Path, url: str, said: str
) -> None:
    """A wrong APPJOBS_DATABASE_URL is a configuration error (exit 2) that names it, its password hidden."""
    env = {**os.environ, "APPJOBS_DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-m", "appjobs", "admin", "users", "list", "--data-dir", str(tmp_path / "data")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    assert f"appjobs: error: cannot open database {said}: " in done.stderr
    assert "s3cret" not in done.stderr + done.stdout


@pytest.mark.backends("sqlite")
def test_a_lock_file_that_cannot_be_opened_leaves_the_database_working(
    service: JobService, data_dir: pathlib.Path
) -> None:
    """When the file lock cannot be had (its path is taken by a folder), SQLite's own locking orders the writers."""
    (data_dir / "other").mkdir()
    url = f"sqlite:///{data_dir / 'other' / 'jobs.db'}"
    (data_dir / "other" / "jobs.db-writelock").mkdir()
    store = Store.open(url)
    try:
        assert_schedules(store)
    finally:
        store.close()


def test_a_database_file_left_open_to_others_is_made_private_when_opened(tmp_path: pathlib.Path) -> None:
    """A database and its side files that others may read (a copy, an older appjobs) are narrowed to 0600."""
    path = tmp_path / "jobs.db"
    made = sqlite3.connect(path)
    made.execute("PRAGMA journal_mode=WAL")
    made.execute("CREATE TABLE t (x)")  # and left open, so that -wal and -shm exist
    (tmp_path / "jobs.db-journal").write_bytes(b"")
    for name, mode in (("jobs.db", 0o644), ("jobs.db-wal", 0o660), ("jobs.db-shm", 0o606), ("jobs.db-journal", 0o601)):
        (tmp_path / name).chmod(mode)  # any right of the group or of others, however small, is taken away
    try:
        Store.open(f"sqlite:///{path}").close()
        modes = {p.name: oct(p.stat().st_mode & 0o777) for p in tmp_path.iterdir()}  # while -wal and -shm exist
    finally:
        made.close()
    names = ["jobs.db", "jobs.db-wal", "jobs.db-shm", "jobs.db-journal", "jobs.db-writelock"]
    assert modes == dict.fromkeys(names, "0o600")


@pytest.mark.backends("sqlite")
def test_a_write_that_reads_first_waits_for_a_writer_outside_appjobs_and_then_succeeds(
    service: JobService, store: Store, data_dir: pathlib.Path
) -> None:
    """A cancel (it reads the status, then deletes) queues behind the sqlite3 shell's open transaction, then works.

    Taking the write lock at BEGIN is what makes this work: a transaction that read first and only then
    asked for the lock would find its snapshot stale once the other writer commits, and fail.
    """
    service.import_templates(templates.parse(TEMPLATE, source="t", by="T", now=models.utcnow()))
    job, other = (service.schedule("/T/ONE", creator="TESTER") for _ in range(2))
    writer = sqlite3.connect(data_dir / "appjobs.db", isolation_level=None)
    outcomes: list[models.CancelOutcome] = []
    cancelling = threading.Thread(target=lambda: outcomes.append(service.cancel(job.key, by="TESTER")))
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE job SET text = 'changed meanwhile' WHERE name = ?", (other.key.name,))
        cancelling.start()
        cancelling.join(0.5)  # the other writer's transaction lasts this long, whatever the cancel does meanwhile
        assert cancelling.is_alive(), "the cancel did not wait for the write lock"
        writer.execute("COMMIT")
        cancelling.join(30)
    finally:
        writer.close()
    assert [o.deleted for o in outcomes] == [True]
    with pytest.raises(errors.JobNotFound):
        service.status(job.key)
    assert service.status(other.key).text == "changed meanwhile"


@pytest.mark.parametrize("lock_file", [True, False], ids=["lock file", "no lock file"])
def test_closing_a_store_gives_back_its_files_and_only_those(tmp_path: pathlib.Path, lock_file: bool) -> None:
    """A process that opens and closes stores (a test, an embedding program) keeps no file of theirs open, and loses
    none of its own (stdin, stdout), also when the lock file could not be opened (its path is taken by a folder)."""
    if not lock_file:
        (tmp_path / "jobs.db-writelock").mkdir()

    def open_files() -> set[tuple[int, str]]:
        found = set()
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):  # the descriptor listdir itself used is gone by now
                found.add((int(fd), os.readlink(f"/proc/self/fd/{fd}")))
        return found

    before = open_files()
    for _ in range(3):
        store = Store.open(f"sqlite:///{tmp_path / 'jobs.db'}")
        service = JobService(store)
        service.import_templates(templates.parse(TEMPLATE, source="t", by="T", now=models.utcnow()), replace=True)
        job = service.schedule("/T/ONE", creator="TESTER")
        assert service.status(job.key).status is models.JobStatus.SCHEDULED
        store.close()
    assert open_files() == before


def test_a_file_that_is_no_database_is_a_storage_error_that_says_so(tmp_path: pathlib.Path) -> None:
    """The driver's error reaches the caller as a StorageError naming the driver's own words, not as a full disk."""
    path = tmp_path / "jobs.db"
    path.write_bytes(b"this is no SQLite database\n" * 200)
    with pytest.raises(errors.StorageError) as caught:
        Store.open(f"sqlite:///{path}")
    assert not isinstance(caught.value, errors.StorageFull)
    assert str(caught.value) == "database error: DatabaseError: file is not a database"


@pytest.mark.parametrize("spelled", ["sqlite:///{path}", "sqlite:///file:{path}?uri=true"], ids=["path", "file URI"])
def test_a_new_database_is_private_from_the_start_whatever_the_umask(tmp_path: pathlib.Path, spelled: str) -> None:
    """A database that opening creates is 0600 at once, and so are its side files: not only at the next opening.

    Also when the URL names it as a ``file:`` URI, which once got neither the lock file nor 0600.
    """
    old = os.umask(0o022)
    try:
        store = Store.open(spelled.format(path=tmp_path / "jobs.db"))
    finally:
        os.umask(old)
    try:
        with store.db.write() as conn:  # -wal and -shm exist while the store is open
            conn.exec_driver_sql("CREATE TABLE scratch (x)")
        modes = {p.name: oct(p.stat().st_mode & 0o777) for p in tmp_path.iterdir()}
    finally:
        store.close()
    assert modes == dict.fromkeys(["jobs.db", "jobs.db-wal", "jobs.db-shm", "jobs.db-writelock"], "0o600")


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:////data/appjobs.db", "/data/appjobs.db"),
        ("sqlite:///relative.db", "relative.db"),
        ("sqlite:///file:/data/appjobs.db?uri=true", "/data/appjobs.db"),
        ("sqlite:///file:///data/app%20jobs.db?uri=true&cache=shared", "/data/app jobs.db"),
        ("sqlite:///file:relative.db?uri=true", "relative.db"),
        ("sqlite:///file:relative.db", "file:relative.db"),  # without uri=true SQLite takes the name as it is
        ("sqlite:////data/a%23b.db?uri=true", "/data/a#b.db"),  # only a name starting file: is a URI ("#" no fragment)
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("sqlite:///file::memory:?uri=true&cache=shared", None),
        ("sqlite:///file:jobs?mode=memory&uri=true", None),
    ],
)
def test_the_file_of_a_sqlite_url(url: str, path: str | None) -> None:
    """Which file a SQLite URL names: the one whose lock file and modes appjobs takes care of."""
    found = sqlite_file(sa.make_url(url))
    assert (None if found is None else str(found)) == path


LOCK_HOLDER = """
import os, pathlib, sys, time
from appjobs.storage import Store

def wait_for(name):
    while not pathlib.Path(sys.argv[2], name).exists():
        time.sleep(0.02)

store = Store.open(sys.argv[1])
with store.db.write():
    print("writing", flush=True)
    wait_for("go")
print("written", flush=True)
wait_for("close")
store.close()
try:
    os.fstat(0)
    print("kept its lock file open", flush=True)
except OSError:
    print("closed its lock file", flush=True)
"""


@pytest.mark.backends("sqlite")
def test_a_process_started_without_stdin_takes_the_lock_file_in_turn(store: Store, data_dir: pathlib.Path) -> None:
    """Started with stdin closed (`<&-`), a process's lock file is its descriptor 0: it is locked all the same."""
    url = f"sqlite:///{data_dir / 'appjobs.db'}"
    child = subprocess.Popen(
        ["/bin/sh", "-c", 'exec "$@" <&-', "sh", sys.executable, "-c", LOCK_HOLDER, url, str(data_dir)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    try:
        with (data_dir / "appjobs.db-writelock").open("rb") as other:
            assert child.stdout.readline() == "writing\n"
            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
            (data_dir / "go").touch()
            assert child.stdout.readline() == "written\n"
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(other, fcntl.LOCK_UN)
        (data_dir / "close").touch()
        assert child.stdout.readline() == "closed its lock file\n"
        assert child.wait(timeout=30) == 0
    finally:
        child.kill()
        child.wait()
        child.stdout.close()


@pytest.mark.backends("postgresql")
def test_the_first_write_after_the_server_ended_the_pooled_connections_works(service: JobService, store: Store) -> None:
    """PostgreSQL restarted (or an administrator ended the sessions): the next transaction gets a fresh connection."""
    service.import_templates(templates.parse(TEMPLATE, source="t", by="T", now=models.utcnow()))
    assert [t.name for t in store.templates.list()] == ["/T/ONE"]  # a pooled connection now exists
    url = store.db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as admin_conn:
        ended = admin_conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    assert ended
    assert all(ok for (ok,) in ended)
    job = service.schedule("/T/ONE", creator="TESTER")
    assert [t.name for t in store.templates.list()] == ["/T/ONE"]
    assert service.status(job.key).status is models.JobStatus.SCHEDULED
