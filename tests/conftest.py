"""Fixtures shared by the whole suite: data directories, stores, and real appjobs processes.

Integration tests run the real thing: ``appjobs worker`` and ``appjobs serve``
as subprocesses on real SQLite files, and on real PostgreSQL databases for the
tests marked ``backends("sqlite", "postgresql")`` (see :mod:`postgres`). Every
process a test starts is killed, with its whole process group, when the test
ends.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import psutil
import pytest
import requests

from appjobs import models
from appjobs.engine import JobService, Waker, templates, wake
from appjobs.settings import Paths
from appjobs.storage import Store

DEMO = pathlib.Path(templates.__file__).parent / "demo.toml"
APPJOBS = [sys.executable, "-m", "appjobs"]


def wait_for(predicate: Callable[[], object], timeout: float = 20.0, interval: float = 0.05) -> object:
    """Poll *predicate* until it returns something truthy; fail the test after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout} s: {predicate}")


def wait_final(service: JobService, key: models.JobKey, timeout: float = 30.0) -> models.Job:
    """Wait until the job has ended and return it."""

    def final() -> models.Job | None:
        job = service.status(key)
        return job if job.status.is_final else None

    return wait_for(final, timeout)  # type: ignore[return-value]


def job_processes(key: models.JobKey) -> list[psutil.Process]:
    """Every live process started for job *key* (found by the environment the worker gives steps)."""
    found = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if proc.status() != psutil.STATUS_ZOMBIE and proc.environ().get("APPJOBS_JOB_NAME") == key.name:
                found.append(proc)
    return found


#: Ports for the servers the tests start: below the kernel's ephemeral range (32768-60999 by
#: default), so that no outgoing connection takes one between free_port() and the server's bind,
#: and a block of its own for each xdist worker, so that two workers never pick the same port.
# APPJOBS_TEST_PORT_BASE moves the blocks, so that two test runs on one machine (two checkouts) do not collide.
PORT_BASE, PORT_BLOCK = int(os.environ.get("APPJOBS_TEST_PORT_BASE", "20000")), 600
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
_next_port = itertools.cycle(range(PORT_BASE + _WORKER * PORT_BLOCK, PORT_BASE + (_WORKER + 1) * PORT_BLOCK))


def gated_template(name: str, gate: pathlib.Path) -> str:
    """TOML of a template whose step writes a line and half of another, waits for *gate* to exist, then ends both."""
    script = f"echo first; printf half; while [ ! -e {gate} ]; do sleep 0.05; done; echo ' done'; echo last"
    return f'[[template]]\nname = "{name}"\ntext = "Gated"\n[[template.step]]\ncommand = "{script}"\n'


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now, from this worker's block."""
    for _ in range(PORT_BLOCK):
        port = next(_next_port)
        with socket.socket() as s, contextlib.suppress(OSError):
            s.bind(("127.0.0.1", port))
            return port
    raise RuntimeError(f"no free port in {PORT_BASE + _WORKER * PORT_BLOCK} + {PORT_BLOCK}")


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: two workers per core, at most 8. The tests mostly wait on servers, steps and timeouts."""
    return min(8, 2 * (os.cpu_count() or 1))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that wait out real minutes go first: xdist hands out whole files in collection order (loadfile),
    so collected last they would run alone at the end; first, their waiting overlaps the rest of the suite."""
    items.sort(key=lambda item: item.get_closest_marker("minutes") is None)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run a test once per database backend its ``backends`` marker names (SQLite alone without one)."""
    marker = metafunc.definition.get_closest_marker("backends")
    if marker is None:
        return
    params = [pytest.param(name, marks=getattr(pytest.mark, name)) for name in marker.args]
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", params, indirect=True)
    if "tenant_backend" in metafunc.fixturenames:  # the module's shared server, one per backend
        metafunc.parametrize("tenant_backend", params, indirect=True, scope="module")


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend of this test: ``sqlite`` (the embedded default) or ``postgresql``."""
    return getattr(request, "param", "sqlite")


@pytest.fixture
def data_dir(
    tmp_path: pathlib.Path, backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> pathlib.Path:
    """The test's data directory; on PostgreSQL, ``APPJOBS_DATABASE_URL`` names a database of its own.

    The variable is set in this process's environment, so that :class:`Paths` and every appjobs
    process the test starts use the same database, as an installation configured that way would.
    """
    if backend == "postgresql":
        monkeypatch.setenv("APPJOBS_DATABASE_URL", request.getfixturevalue("postgres_database"))
    else:
        monkeypatch.delenv("APPJOBS_DATABASE_URL", raising=False)
    return tmp_path / "data"


@pytest.fixture
def initialised(data_dir: pathlib.Path) -> pathlib.Path:
    """The data directory, set up as ``appjobs admin init`` does (done here in-process, to save a start of Python).

    The ``admin`` commands refuse a data directory that does not exist; only
    ``serve``, ``worker`` and ``admin init`` create one.
    """
    paths = Paths.resolve(str(data_dir))
    paths.create()
    Store.open(paths.database_url).close()
    return data_dir


@pytest.fixture
def store(data_dir: pathlib.Path) -> Iterator[Store]:
    paths = Paths.resolve(str(data_dir))
    paths.create()
    opened = Store.open(paths.database_url)
    yield opened
    opened.close()


@pytest.fixture
def service(store: Store, data_dir: pathlib.Path) -> JobService:
    return JobService(store, notify=Waker(data_dir / wake.SOCKET_DIR))


@pytest.fixture
def demo(service: JobService) -> JobService:
    """The service with the demo templates loaded."""
    service.import_file(str(DEMO), by="SAP")
    return service


class Processes:
    """Starts appjobs subprocesses in their own process groups and kills them all at the end."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[str]] = []

    def start(self, *args: str, **kwargs: object) -> subprocess.Popen[str]:
        proc = subprocess.Popen([*APPJOBS, *args], start_new_session=True, text=True, **kwargs)  # type: ignore[call-overload]
        self.started.append(proc)
        return proc

    def kill_all(self) -> None:
        for proc in self.started:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture
def processes(data_dir: pathlib.Path) -> Iterator[Processes]:
    # After data_dir, so that they end before it: a test's PostgreSQL database outlives its processes.
    procs = Processes()
    yield procs
    procs.kill_all()


WORKER_ARGS = ("--grace", "1", "--concurrency", "2", "--poll-interval", "0.1")


@pytest.fixture
def worker(processes: Processes, data_dir: pathlib.Path, store: Store) -> subprocess.Popen[str]:
    """A real ``appjobs worker`` on the test's data directory, registered and ready."""
    proc = processes.start("worker", "--data-dir", str(data_dir), *WORKER_ARGS)
    wait_for(lambda: store.workers.all() or proc.poll() is not None)
    assert proc.poll() is None, "worker exited at start"
    return proc


class Server:
    """A running ``appjobs serve`` subprocess."""

    def __init__(self, proc: subprocess.Popen[str], port: int, log: pathlib.Path) -> None:
        self.proc = proc
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log

    def output(self) -> str:
        """What the server (and its workers) wrote to stderr so far."""
        return self.log.read_text(errors="replace")

    def healthy(self) -> bool:
        try:
            return requests.get(f"{self.url}/appjobs/health", timeout=1).ok
        except (requests.ConnectionError, requests.Timeout):  # not up yet, or slow to answer on a loaded machine
            return False


def worker_pids(server: Server) -> list[int]:
    """The pids of *server*'s live worker processes, in order (not one just killed, whose zombie waits for serve)."""
    pids = []
    for child in psutil.Process(server.proc.pid).children():
        with contextlib.suppress(psutil.Error):  # a zombie's command line cannot be read either
            if "worker" in child.cmdline() and child.status() != psutil.STATUS_ZOMBIE:
                pids.append(child.pid)
    return sorted(pids)


@pytest.fixture
def start_server(processes: Processes, data_dir: pathlib.Path, tmp_path: pathlib.Path) -> Callable[..., Server]:
    """Start ``appjobs serve`` on the test's data directory and wait until it answers."""
    count = 0

    def start(*extra: str) -> Server:
        nonlocal count
        count += 1
        port = free_port()
        log = tmp_path / f"serve-{count}.log"
        args = ["serve", "--data-dir", str(data_dir), "--port", str(port), "--grace", "1", *extra]
        with log.open("w") as stderr:
            proc = processes.start(*args, stderr=stderr)
        server = Server(proc, port, log)
        wait_for(lambda: server.healthy() or proc.poll() is not None)
        assert proc.poll() is None, f"serve exited: {server.output()}"
        return server

    return start


# Shared fixtures living in their own modules; importing them here makes pytest see them everywhere.
from browsersite import browser  # noqa: E402, F401
from postgres import postgres_database, postgres_server  # noqa: E402, F401
from tenant import tenant, tenant_backend  # noqa: E402, F401
from uisite import ui_tenant  # noqa: E402, F401
