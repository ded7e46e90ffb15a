"""A running tenant for the HTTP tests: one ``appjobs serve`` per test module, with two communication users.

Starting a server costs about a second, so tests of the service share one
per module (each job they create is their own; none counts global state).
"""

from __future__ import annotations

import contextlib
import json
import pathlib
import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests
from conftest import APPJOBS, Processes, Server, free_port, wait_for
from postgres import new_database

from appjobs.auth import users
from appjobs.settings import Paths
from appjobs.storage import Store

ROOT_PATH = "/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=0002"
USERS = {"JOBSCHEDULERUSER": "Welcome-to-appjobs-1", "OTHERUSER": "Another-password-22"}
#: Business users a JobUser may name: the guide's example and the ids the tests use.
BUSINESS_USERS = ("CB8980000030", "JOBSCHEDULERUSER")


class Tenant:
    """A server as a scheduler sees it: a service root and the credentials of its users."""

    def __init__(self, server: Server, data_dir: pathlib.Path) -> None:
        self.server = server
        self.data_dir = data_dir
        self.root = server.url + ROOT_PATH
        self.user, self.password = next(iter(USERS.items()))

    def auth(self, user: str | None = None) -> tuple[str, str]:
        user = user or self.user
        return user, USERS[user]

    def session(self, user: str | None = None) -> requests.Session:
        """A requests session logged on as *user* that fetched a CSRF token, as the guide's flow does."""
        http = requests.Session()
        http.auth = self.auth(user)
        fetched = http.head(self.root + "/", headers={"X-CSRF-Token": "Fetch"}, timeout=10)
        assert fetched.status_code == 200, fetched.text
        http.headers["X-CSRF-Token"] = fetched.headers["x-csrf-token"]
        return http

    def schedule(self, http: requests.Session, template: str = "/APPJOBS/DEMO_ECHO", **extra: str) -> dict:
        """Schedule *template* through JobSchedule and return the JSON result (``d``)."""
        params = {"JobTemplateName": f"'{template}'", "JobText": "'appjobs test'", "$format": "json", **extra}
        response = http.post(self.root + "/JobSchedule", params=params, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()["d"]

    def status(self, http: requests.Session, name: str, run_count: str) -> str:
        params = {"JobName": f"'{name}'", "JobRunCount": f"'{run_count}'", "$format": "json"}
        response = http.get(self.root + "/JobStatusGet", params=params, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()["d"]["JobStatus"]

    def wait_status(self, http: requests.Session, job: dict, statuses: str = "FA", timeout: float = 30) -> str:
        """Poll JobStatusGet until the job's status is one of *statuses*."""

        def reached() -> str | None:
            status = self.status(http, job["JobName"], job["JobRunCount"])
            return status if status in set(statuses) else None  # a set: "" is in every string

        return wait_for(reached, timeout, interval=0.1)  # type: ignore[return-value]


def add_users(data_dir: pathlib.Path) -> None:
    """Set up *data_dir* (``admin init``); add :data:`USERS`, with arrangements, and :data:`BUSINESS_USERS`.

    The users are added in this process, through the functions behind ``appjobs admin users add``
    and ``business-users add`` (whose own tests run the commands): four fewer processes per server.
    """
    admin(data_dir, "init")
    store = Store.open_existing(Paths.resolve(str(data_dir)).database_url)
    try:
        for name, password in USERS.items():
            users.add_user(store, name, password, certificate=None, arrangement=True)
        for business_user in BUSINESS_USERS:
            users.add_business_user(store, business_user)
    finally:
        store.close()


def admin(data_dir: pathlib.Path, *args: str, input: str = "") -> subprocess.CompletedProcess[str]:
    """Run ``appjobs admin ARGS`` on *data_dir*; it must succeed."""
    command = [*APPJOBS, "admin", *args, "--data-dir", str(data_dir)]
    done = subprocess.run(command, check=False, input=input, text=True, capture_output=True)
    assert done.returncode == 0, f"{command}: {done.stderr}"
    return done


@pytest.fixture(scope="module")
def tenant_backend(request: pytest.FixtureRequest) -> str:
    """The database backend of the module's tenant: ``sqlite`` unless the module's ``backends`` marker says more."""
    return getattr(request, "param", "sqlite")


@pytest.fixture(scope="module")
def tenant(
    tmp_path_factory: pytest.TempPathFactory, tenant_backend: str, request: pytest.FixtureRequest
) -> Iterator[Tenant]:
    """``appjobs serve`` on a fresh data directory with the demo templates and :data:`USERS`.

    On PostgreSQL the server and the ``appjobs admin`` calls share a database of their own.
    """
    with contextlib.ExitStack() as stack:
        monkeypatch = stack.enter_context(pytest.MonkeyPatch.context())
        if tenant_backend == "postgresql":
            url = stack.enter_context(new_database(request.getfixturevalue("postgres_server")))
            monkeypatch.setenv("APPJOBS_DATABASE_URL", url)
        else:
            monkeypatch.delenv("APPJOBS_DATABASE_URL", raising=False)
        yield from _serve(tmp_path_factory)


def _serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenant]:
    base = tmp_path_factory.mktemp("tenant")
    data_dir = base / "data"
    add_users(data_dir)
    port = free_port()
    log = base / "serve.log"
    processes = Processes()
    with log.open("w") as stderr:
        args = ["serve", "--data-dir", str(data_dir), "--port", str(port), "--grace", "1"]
        proc = processes.start(*args, stderr=stderr)
    server = Server(proc, port, log)
    try:
        wait_for(lambda: server.healthy() or proc.poll() is not None)
        assert proc.poll() is None, f"serve exited: {server.output()}"
        yield Tenant(server, data_dir)
    finally:
        processes.kill_all()
        if sys.exc_info()[0] is not None:
            print(server.output())


def saved_key(state: pathlib.Path) -> dict | None:
    """The content of an ``appjobs run`` state file once it names the job, else None."""
    try:
        saved = json.loads(state.read_text())
    except (OSError, ValueError):
        return None
    return saved if saved.get("run_count") else None


def finish(proc: subprocess.Popen[str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Wait for *proc* (an ``appjobs run`` started with pipes) and return what it printed; kill it after *timeout*."""
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
