"""A database outage (a PostgreSQL restart or fail-over): the worker waits it out and its steps go on running.

Before, the first failed query ended the worker; the server started another, which
failed too until the database came back, and then aborted every job the first one
had been running, as a crash's orphans. A restart of the database cost every job
that was running, however long it had run.

One test beside them meets a database error that is no outage: a table gone
from under the server, which a page must log and not show.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import pathlib
import signal
import subprocess
from collections.abc import Callable

import psycopg
import pytest
import requests
import sqlalchemy as sa
from conftest import (
    APPJOBS,
    DEMO,
    WORKER_ARGS,
    Processes,
    Server,
    gated_template,
    job_processes,
    wait_final,
    wait_for,
    worker_pids,
)
from postgres import outage
from tenant import Tenant, add_users
from uisite import UI_USERS, Page, error_of

from appjobs import models
from appjobs.auth import users
from appjobs.engine import JobService, recovery, templates
from appjobs.models import JobStatus
from appjobs.settings import Paths
from appjobs.storage import Store
from appjobs.storage.workers import WorkerRecord

pytestmark = pytest.mark.backends("postgresql")


def planned_and_claimed(service: JobService, worker: str, heartbeat: dt.datetime, host: str, pid: int) -> models.JobKey:
    """A job planned for later, so that the real worker leaves it, claimed by a worker that is not there."""
    later = models.utcnow() + dt.timedelta(hours=1)
    key = service.schedule("/APPJOBS/TEST_OUTAGE", creator="TESTER", start_at=later).key
    service.store.workers.register(WorkerRecord(worker, host, pid, 1.0, heartbeat))
    (claimed,) = service.store.jobs.claim(worker, 1, later, [worker])
    assert claimed.key == key
    return key


def test_a_step_that_ends_while_the_database_is_down_is_recorded_when_it_is_back(
    service: JobService,
    store: Store,
    processes: Processes,
    data_dir: pathlib.Path,
    tmp_path: pathlib.Path,
    postgres_server: str,
    postgres_database: str,
) -> None:
    """The step ends during the outage; the worker records it F, with its whole log, once the database is back.

    And the heartbeats the outage made old do not count for a lease after it: a worker on another host
    whose last heartbeat is more than a lease old only because of the outage keeps its step.
    """
    log = tmp_path / "worker.log"
    with log.open("w") as stderr:
        worker = processes.start("worker", "--data-dir", str(data_dir), *WORKER_ARGS, stderr=stderr)
    wait_for(lambda: store.workers.all() or worker.poll() is not None)
    gate = tmp_path / "gate"
    service.import_templates(
        templates.parse(gated_template("/APPJOBS/TEST_OUTAGE", gate), source="t", by="T", now=models.utcnow())
    )
    job = service.schedule("/APPJOBS/TEST_OUTAGE", creator="TESTER")
    wait_for(lambda: [e.text for e in service.log(job.key) if e.source == "stdout"] == ["first"])
    heartbeat = models.utcnow() - dt.timedelta(seconds=27)  # alive now; over the lease after the outage
    elsewhere = planned_and_claimed(service, "ELSEWHERE", heartbeat, "other-host", 1)
    with outage(postgres_server, postgres_database):
        wait_for(lambda: "the worker cannot use the database" in log.read_text() or worker.poll() is not None)
        assert worker.poll() is None, log.read_text()
        gate.touch()  # the step ends while its end cannot be recorded
        wait_for(lambda: not job_processes(job.key))
        wait_for(lambda: models.utcnow() - heartbeat > dt.timedelta(seconds=31))  # the age is what is tested
        assert worker.poll() is None, log.read_text()
    assert wait_final(service, job.key).status is JobStatus.FINISHED, service.log(job.key)
    assert [e.text for e in service.log(job.key) if e.source == "stdout"] == ["first", "half done", "last"]
    wait_for(lambda: "the database is back" in log.read_text())  # said after the turn that recorded the step
    # A worker of this host whose process is gone (its start time is not ours) loses its step at the
    # next recovery: proof that one has run since the outage.
    dead_here = planned_and_claimed(service, "DEAD_HERE", models.utcnow(), recovery.HOSTNAME, os.getpid())
    assert wait_final(service, dead_here).status is JobStatus.ABORTED
    assert service.status(elsewhere).status is JobStatus.RUNNING, service.log(elsewhere)
    fresh = service.schedule("/APPJOBS/TEST_OUTAGE", creator="TESTER")  # and the worker goes on claiming jobs
    assert wait_final(service, fresh.key).status is JobStatus.FINISHED
    assert worker.poll() is None


def test_a_step_claimed_for_a_worker_that_never_started_it_ends_aborted(
    store: Store, processes: Processes, data_dir: pathlib.Path
) -> None:
    """A claim committed while the worker's connection broke (the worker saw only the error) does not stay R.

    The test makes that state directly: it claims a job in the name of a live worker, which has no
    process for it. The worker's recovery finds the step and ends it A, saying that it never ran.
    """
    worker = processes.start("worker", "--data-dir", str(data_dir), *WORKER_ARGS)
    wait_for(lambda: store.workers.all() or worker.poll() is not None)
    (record,) = store.workers.all().values()
    service = JobService(store)
    service.import_file(str(DEMO), by="SAP")
    later = models.utcnow() + dt.timedelta(hours=1)  # not due: the worker does not claim it itself
    job = service.schedule("/APPJOBS/DEMO_SLEEP", creator="TESTER", start_at=later)
    (claimed,) = store.jobs.claim(record.id, 1, later, ["a-token-the-worker-never-saw"])
    assert claimed.key == job.key
    assert wait_final(service, job.key).status is JobStatus.ABORTED  # at its next recovery, within 10 s
    texts = [e.text for e in service.log(job.key)]
    assert any("which never started it" in t for t in texts), texts
    assert worker.poll() is None


def ui_admin_page(data_dir: pathlib.Path, start_server: Callable[..., Server]) -> tuple[Page, Server]:
    """A server on *data_dir* with the test's users and a UI administrator, and a page logged on as that one."""
    add_users(data_dir)
    role, password = UI_USERS["UIADMIN"]
    with contextlib.closing(Store.open_existing(Paths.resolve(str(data_dir)).database_url)) as store:
        users.add_business_user(store, "UIADMIN", "UI administrator", password=password, role=role)
    server = start_server()
    page = Page(server.url)
    assert page.logon("UIADMIN", password).status_code == 200
    return page, server


def test_a_page_that_meets_a_database_error_shows_no_sql_and_logs_it(
    data_dir: pathlib.Path, start_server: Callable[..., Server], postgres_server: str, postgres_database: str
) -> None:
    """Not an outage: a table gone from under the server (an administrator's mistake). The page is a 500 that
    says to read the log, which has the error whole; it showed every viewer the failed SQL and our table names."""
    page, server = ui_admin_page(data_dir, start_server)
    with psycopg.connect(sa.make_url(postgres_database).set(drivername="postgresql").render_as_string(False)) as conn:
        conn.execute("ALTER TABLE job RENAME TO job_gone")
        conn.commit()
        broken = page.get("/jobs")
        conn.execute("ALTER TABLE job_gone RENAME TO job")
        conn.commit()
    assert broken.status_code == 500, broken.text
    assert error_of(broken) == "An internal error occurred; the server log says more."
    assert "relation" not in broken.text
    assert "SELECT" not in broken.text
    assert "internal error on GET '/appjobs/ui/jobs'" in server.output()
    assert 'relation "job" does not exist' in server.output()
    assert page.get("/jobs").status_code == 200


def test_the_web_pages_answer_503_while_the_database_is_down(
    data_dir: pathlib.Path, start_server: Callable[..., Server], postgres_server: str, postgres_database: str
) -> None:
    """A logged-on operator's page while the database is down: 503 with the page's error, saying to try again
    and not naming the database; a logon gets the form again with the same; the page works once the database
    is back. (The session look-up and the logon failed outside the pages' error handling: a bare 500.)"""
    page, _ = ui_admin_page(data_dir, start_server)
    with outage(postgres_server, postgres_database):
        down = page.get("/jobs")
        at_logon = Page(page.base).logon("UIADMIN", UI_USERS["UIADMIN"][1])
    assert down.status_code == 503, down.text
    assert error_of(down) == "The database cannot be used now; the same request may succeed later. Try again later."
    assert sa.make_url(postgres_database).database not in down.text
    assert at_logon.status_code == 503, at_logon.text  # a logon: the form again, saying why
    assert error_of(at_logon) == error_of(down)
    assert page.get("/jobs").status_code == 200


def test_appjobs_run_waits_out_an_outage_that_the_server_answers_503(
    service: JobService,
    data_dir: pathlib.Path,
    start_server: Callable[..., Server],
    tmp_path: pathlib.Path,
    postgres_server: str,
    postgres_database: str,
) -> None:
    """What a scheduler sees: 503 with Retry-After while the database is down (not 500, which fails its job),
    an error document that does not name the database, and ``appjobs run`` reporting F once it is back."""
    add_users(data_dir)
    tenant = Tenant(start_server(), data_dir)
    gate = tmp_path / "gate"
    service.import_templates(
        templates.parse(gated_template("/APPJOBS/TEST_OUTAGE", gate), source="t", by="T", now=models.utcnow())
    )
    env = {**os.environ, "APPJOBS_URL": tenant.root, "APPJOBS_USER": tenant.user, "APPJOBS_PASSWORD": tenant.password}
    command = [*APPJOBS, "run", "/APPJOBS/TEST_OUTAGE", "--json", "--poll-interval", "1"]
    stderr_file = tmp_path / "run.err"
    with stderr_file.open("w") as stderr:
        run = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        wait_for(service.store.jobs.running_steps)
        http = tenant.session()
        with outage(postgres_server, postgres_database):
            answer = http.get(tenant.root + "/JobTemplateSet", params={"$format": "json"}, timeout=30)
            logon = requests.get(tenant.root + "/", auth=tenant.auth(), timeout=30)  # no session: a logon
            wait_for(lambda: "HTTP 503" in stderr_file.read_text() or run.poll() is not None)  # a poll met the outage
            gate.touch()
        out, _ = run.communicate(timeout=120)
    finally:
        run.kill()
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "10"
    assert (
        answer.json()["error"]["message"]["value"]
        == "The database cannot be used now; the same request may succeed later. Try again later."
    )
    assert sa.make_url(postgres_database).database not in answer.text
    assert logon.status_code == 503, logon.text  # not 401: the password may well be right
    assert run.returncode == 0, stderr_file.read_text()
    assert json.loads(out.strip().splitlines()[-1])["status"] == "F"


def test_a_worker_started_during_an_outage_waits_for_the_database(
    demo: JobService, start_server: Callable[..., Server], postgres_server: str, postgres_database: str
) -> None:
    """The server restarts a worker that died while the database was down: the new one waits, not exits.

    Exiting made a loop: a new worker every second, each failing at once with a traceback, for as long
    as the outage lasted.
    """
    server = start_server()
    (first,) = worker_pids(server)
    with outage(postgres_server, postgres_database):
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: "waits for it before it starts" in server.output())
        (second,) = worker_pids(server)
        assert second != first
    job = demo.schedule("/APPJOBS/DEMO_ECHO", creator="TESTER")
    assert wait_final(demo, job.key).status is JobStatus.FINISHED
    assert worker_pids(server) == [second]
    assert server.output().count("starting a new one") == 1, server.output()
