"""Beyond one machine: two servers and two workers on one PostgreSQL database.

Each "host" is a data directory of its own with one ``appjobs serve --workers 0``
and one ``appjobs worker``, so that nothing but the database is shared, as on two
machines behind a load balancer. A scheduler may reach either server with each
request; whatever it does through one, the other must see and act on.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import pathlib
import re
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest
import requests
import sqlalchemy as sa
from conftest import APPJOBS, WORKER_ARGS, Processes, Server, free_port, wait_final, wait_for
from tenant import ROOT_PATH

from appjobs import models
from appjobs.client import Client, JobKey, JobStatus
from appjobs.engine import JobService, templates
from appjobs.settings import Paths
from appjobs.storage import Store, schema

pytestmark = [pytest.mark.backends("postgresql"), pytest.mark.slow]

USER = "JOBSCHEDULERUSER"
HOSTS = ("host-a", "host-b")
#: A job that says which host's worker ran it (each worker has SCALEOUT_HOST in its environment).
WHERE = """
[[template]]
name = "/SCALE/WHERE"
text = "Say where it runs"
pass_env = ["SCALEOUT_HOST"]
[[template.step]]
command = "echo ran on $SCALEOUT_HOST"
"""


@dataclasses.dataclass
class Host:
    """One machine: a server and a worker on a data directory of their own."""

    server: Server
    worker: subprocess.Popen[str]

    @property
    def root(self) -> str:
        return self.server.url + ROOT_PATH


@dataclasses.dataclass
class Cluster:
    hosts: list[Host]
    password: str
    store: Store

    def client(self, index: int) -> Client:
        return Client(self.hosts[index].root, auth=(USER, self.password), trust_env=False)

    def worker_of(self, key: JobKey) -> str | None:
        """The id of the worker running *key* now (None once it has ended)."""
        query = sa.select(schema.job.c.worker_id).where(
            schema.job.c.name == key.name, schema.job.c.run_count == key.run_count
        )
        with self.store.db.read() as conn:
            return conn.scalar(query)

    def ran_on(self, key: JobKey) -> list[str]:
        """The lines of *key*'s log that a run of /SCALE/WHERE wrote."""
        entries = self.store.jobs.log(models.JobKey(key.name, key.run_count))
        return [entry.text for entry in entries if entry.text.startswith("ran on ")]


def start_servers(processes: Processes, tmp_path: pathlib.Path) -> list[Server]:
    """Both servers, started at the same moment on the new database, answering."""
    servers = []
    for name in HOSTS:
        port, log = free_port(), tmp_path / f"{name}-serve.log"
        args = ["serve", "--data-dir", str(tmp_path / name), "--port", str(port), "--workers", "0", "--grace", "1"]
        with log.open("w") as stderr:
            servers.append(Server(processes.start(*args, stdout=stderr, stderr=stderr), port, log))
    for server in servers:
        wait_for(lambda server=server: server.healthy() or server.proc.poll() is not None, timeout=60)
        assert server.proc.poll() is None, f"serve exited: {server.output()}"
    return servers


@pytest.fixture
def cluster(data_dir: pathlib.Path, processes: Processes, tmp_path: pathlib.Path) -> Iterator[Cluster]:
    """Two hosts on the test's PostgreSQL database, with the demo templates and /SCALE/WHERE."""
    servers = start_servers(processes, tmp_path)
    shown = [m[1] for s in servers if (m := re.search(r"password \(shown once\): (\S+)", s.output()))]
    assert len(shown) == 1, "exactly one server creates the communication user: " + " / ".join(
        s.output() for s in servers
    )
    store = Store.open(Paths.resolve(str(data_dir)).database_url, migrate=False)
    try:
        store.templates.add(templates.parse(WHERE, source="test", by="TEST", now=models.utcnow()))
        hosts = []
        for name, server in zip(HOSTS, servers, strict=True):
            env = {**os.environ, "SCALEOUT_HOST": name}
            worker = processes.start("worker", "--data-dir", str(tmp_path / name), *WORKER_ARGS, env=env)
            hosts.append(Host(server, worker))
        wait_for(lambda: len(store.workers.all()) == len(HOSTS), timeout=30)
        yield Cluster(hosts, shown[0], store)
    finally:
        store.close()


def final_status(client: Client, key: JobKey, timeout: float = 60) -> JobStatus:
    """Poll *key* through *client* (over HTTP) until its status is final."""

    def final() -> JobStatus | None:
        status = client.status(key).status
        return status if status is not None and status.is_final else None

    return wait_for(final, timeout=timeout, interval=0.1)  # type: ignore[return-value]


def test_jobs_scheduled_through_either_server_run_once_on_either_worker(cluster: Cluster) -> None:
    """Jobs scheduled through both servers all finish, each run exactly once, on both hosts' workers."""
    clients = [cluster.client(0), cluster.client(1)]
    keys = [clients[i % 2].schedule("/SCALE/WHERE", f"scale-out {i}").key for i in range(20)]
    for i, key in enumerate(keys):
        assert final_status(clients[(i + 1) % 2], key) is JobStatus.FINISHED  # polled through the other server
    ran = {key: cluster.ran_on(key) for key in keys}
    assert all(len(lines) == 1 for lines in ran.values()), ran
    assert {lines[0] for lines in ran.values()} == {f"ran on {host}" for host in HOSTS}
    assert all(len(clients[0].info(key).steps) == 1 for key in keys)
    listed = {job.key for job in clients[1].jobs(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10))}
    assert set(keys) <= listed


def test_a_session_opened_on_one_server_is_honoured_by_the_other(cluster: Cluster) -> None:
    """Log on and fetch a CSRF token at server A; server B accepts the cookie and token without Basic."""
    first, second = (host.root for host in cluster.hosts)
    http = requests.Session()
    http.trust_env = False
    fetched = http.head(f"{first}/", auth=(USER, cluster.password), headers={"X-CSRF-Token": "Fetch"})
    assert fetched.status_code == 200
    token = fetched.headers["x-csrf-token"]
    assert any(cookie.name.startswith("SAP_SESSIONID_") for cookie in http.cookies)
    scheduled = http.post(
        f"{second}/JobSchedule",
        params={"JobTemplateName": "'/APPJOBS/DEMO_ECHO'", "JobText": "'session'", "$format": "json"},
        headers={"X-CSRF-Token": token, "Accept": "application/json"},
    )
    assert scheduled.status_code == 200, scheduled.text
    job = scheduled.json()["d"]
    key = JobKey(job["JobName"], job["JobRunCount"])
    assert final_status(cluster.client(0), key) is JobStatus.FINISHED


def test_failed_logons_through_both_servers_add_up_to_the_lockout(cluster: Cluster) -> None:
    """Five wrong passwords, alternating between the servers, lock the user; then the right one fails on both."""
    roots = [host.root for host in cluster.hosts]
    for attempt in range(5):
        answer = requests.head(f"{roots[attempt % 2]}/", auth=(USER, "Wrong-password-1"))
        assert answer.status_code == 401
    for root in roots:
        assert requests.head(f"{root}/", auth=(USER, cluster.password)).status_code == 401
    [user] = cluster.store.users.list()
    assert (user.locked, user.failed_logons) == (True, 5)


def test_a_lock_ends_the_users_logons_on_both_servers_at_once(cluster: Cluster, tmp_path: pathlib.Path) -> None:
    """A session and verified passwords cached on both hosts: all refused once ``users lock`` has returned.

    And ``users unlock`` lets the password in again on both, but not the session the lock ended.
    """
    session, basic = requests.Session(), requests.Session()  # a session cookie alone; Basic alone
    session.trust_env = basic.trust_env = False
    basic.auth = (USER, cluster.password)
    fetched = session.head(f"{cluster.hosts[0].root}/", auth=basic.auth, headers={"X-CSRF-Token": "Fetch"})
    assert fetched.status_code == 200
    key = cluster.client(0).schedule("/APPJOBS/DEMO_ECHO", "lock across").key
    query = f"JobName='{key.name}'&JobRunCount='{key.run_count}'&$format=json"

    def answers(client: requests.Session) -> list[int]:
        """On each host, the status of a general request, then of a poll (answered from the caches if they can)."""
        urls = [f"{h.root}/{function}?{query}" for h in cluster.hosts for function in ("JobinfoGet", "JobStatusGet")]
        return [client.get(url, timeout=10).status_code for url in urls]

    assert (answers(session), answers(basic)) == ([200] * 4, [200] * 4)

    subprocess.run([*APPJOBS, "admin", "users", "lock", USER, "--data-dir", str(tmp_path / HOSTS[1])], check=True)
    assert (answers(session), answers(basic)) == ([401] * 4, [401] * 4)

    subprocess.run([*APPJOBS, "admin", "users", "unlock", USER, "--data-dir", str(tmp_path / HOSTS[0])], check=True)
    assert (answers(session), answers(basic)) == ([401] * 4, [200] * 4)


def test_cancel_through_the_other_server_stops_the_running_job(cluster: Cluster) -> None:
    """A running DEMO_SLEEP scheduled through A is cancelled through B and ends A, its process gone."""
    key = cluster.client(0).schedule("/APPJOBS/DEMO_SLEEP", "cancel across").key
    wait_for(lambda: cluster.client(1).status(key).status is JobStatus.RUNNING, timeout=30)
    cluster.client(1).cancel(key)
    assert final_status(cluster.client(0), key, timeout=30) is JobStatus.ABORTED


def test_the_job_of_a_killed_worker_is_ended_by_the_other(cluster: Cluster) -> None:
    """kill -9 of the worker running a job: the other worker's recovery ends the job A; new jobs still run."""
    client = cluster.client(0)
    key = client.schedule("/APPJOBS/DEMO_SLEEP", "orphan").key
    wait_for(lambda: cluster.worker_of(key) is not None and client.status(key).status is JobStatus.RUNNING)
    by_pid = {record.pid: wid for wid, record in cluster.store.workers.all().items()}
    victim = next(h for h in cluster.hosts if by_pid.get(h.worker.pid) == cluster.worker_of(key))
    victim.worker.send_signal(signal.SIGKILL)
    victim.worker.wait()
    assert final_status(client, key, timeout=60) is JobStatus.ABORTED
    after = client.schedule("/APPJOBS/DEMO_ECHO", "after the crash").key
    assert final_status(client, after) is JobStatus.FINISHED


# --- wake-ups across hosts -------------------------------------------------------------------------------------


@pytest.fixture
def remote_worker(data_dir: pathlib.Path, processes: Processes, tmp_path: pathlib.Path, store: Store) -> int:
    """A worker on "another host" (a data directory of its own) that polls only once a minute; its pid."""
    args = ["worker", "--data-dir", str(tmp_path / "far"), "--grace", "1", "--poll-interval", "60"]
    proc = processes.start(*args)
    wait_for(lambda: store.workers.all() or proc.poll() is not None)
    assert proc.poll() is None, "worker exited at start"
    time.sleep(0.5)  # past its first turn, which claims without waiting; from now on only a wake-up is quick
    return proc.pid


def test_a_job_wakes_a_worker_on_another_host(demo: JobService, remote_worker: int) -> None:
    """The worker shares no socket with this process, yet runs the job at once: it heard the NOTIFY."""
    key = demo.schedule("/APPJOBS/DEMO_ECHO", creator="TESTER").key
    assert wait_final(demo, key, timeout=20).status is models.JobStatus.FINISHED  # its next poll is 60 s away


def test_a_worker_listens_again_after_losing_its_connection(demo: JobService, store: Store, remote_worker: int) -> None:
    """The LISTEN connection killed by the server: the worker reconnects at its next heartbeat and hears again."""
    (first,) = listeners(store)
    with store.db.engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    wait_for(lambda: listeners(store) and first not in listeners(store), timeout=20)  # heartbeats come every 5 s
    key = demo.schedule("/APPJOBS/DEMO_ECHO", creator="TESTER").key
    deadline = time.monotonic() + 20  # its next poll is 60 s away
    while not (job := demo.status(key)).status.is_final and time.monotonic() < deadline:
        time.sleep(0.05)
    # Said in full when it fails: it failed twice in CI under load and never on a quiet machine.
    assert job.status is models.JobStatus.FINISHED, (job, demo.log(key), listeners(store), store.workers.all())


def listeners(store: Store) -> list[int]:
    """The server pids of the connections that LISTEN on this test's database.

    Only those whose LISTEN has finished (idle after it): one still running it would miss a NOTIFY sent now.
    """
    query = (
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%' "
        "AND state = 'idle'"
    )
    with store.db.engine.connect() as conn:
        return list(conn.scalars(sa.text(query)))
