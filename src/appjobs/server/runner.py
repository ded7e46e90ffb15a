"""``appjobs serve``: prepare the data directory, start and supervise the workers, serve HTTP.

One process on SQLite by default: uvicorn serves the API in this process and
a worker process (``appjobs worker``) runs the steps. The worker dies with
the server (``PR_SET_PDEATHSIG``); if it dies alone, the server restarts it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pathlib
import subprocess
import sys
import threading
import time

import click
import uvicorn

from appjobs import errors, models
from appjobs.auth import passwords, users
from appjobs.engine import JobService, Waker, wake
from appjobs.engine import templates as template_files
from appjobs.server.app import SERVICE_PATH, create_app
from appjobs.server.protocol import SapHttpProtocol
from appjobs.settings import Paths
from appjobs.storage import Store

logger = logging.getLogger(__name__)

DEMO_TEMPLATES = pathlib.Path(__file__).parent.parent / "engine" / "demo.toml"
DEFAULT_USER = "JOBSCHEDULERUSER"
RESTART_DELAY = 1.0  # seconds before a worker that died is started again


@dataclasses.dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8080
    demo: bool = True
    workers: int = 1
    concurrency: int | None = None
    grace: float = 10.0


def open_installation(paths: Paths, *, demo: bool = False) -> tuple[Store, str | None]:
    """Open (creating if need be) the data directory and set up what it lacks.

    Without templates it gets the demo templates (when *demo*); without
    communication users it gets one whose generated password is returned,
    to be shown once.
    """
    paths.create()
    store = Store.open(paths.database_url)
    if demo and not store.templates.names():
        demo_templates = template_files.load_file(DEMO_TEMPLATES, by="SAP", now=models.utcnow())
        store.templates.add(demo_templates)
    password = None
    if not store.users.names():
        password = passwords.generate_password()
        users.add_user(store, DEFAULT_USER, password)
    return store, password


def serve(paths: Paths, options: ServeOptions) -> None:
    """Run the server until SIGINT or SIGTERM."""
    store, password = open_installation(paths, demo=options.demo)
    service = JobService(store, notify=Waker(paths.data_dir / wake.SOCKET_DIR))
    supervisor = WorkerSupervisor(paths, options)
    supervisor.start()
    _announce(options, password)
    try:
        uvicorn.run(
            create_app(service),
            host=options.host,
            port=options.port,
            log_level="warning",
            http=SapHttpProtocol,
        )
    finally:
        supervisor.stop()
        store.close()


def _announce(options: ServeOptions, password: str | None) -> None:
    click.echo(f"appjobs serving at http://{options.host}:{options.port}{SERVICE_PATH}", err=True)
    if password:
        click.echo(f"Communication user {DEFAULT_USER}, password (shown once): {password}", err=True)


class WorkerSupervisor:
    """Starts the worker processes and restarts any that die while the server runs."""

    def __init__(self, paths: Paths, options: ServeOptions) -> None:
        self.paths = paths
        self.options = options
        self.procs: list[subprocess.Popen[bytes]] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="appjobs-worker-supervisor", daemon=True)

    def _command(self) -> list[str]:
        cmd = [sys.executable, "-m", "appjobs", "worker", "--data-dir", str(self.paths.data_dir), "--exit-with-parent"]
        cmd += ["--grace", str(self.options.grace)]
        if self.options.concurrency:
            cmd += ["--concurrency", str(self.options.concurrency)]
        return cmd

    def start(self) -> None:
        if self.options.workers < 0:
            raise errors.ConfigurationError("--workers must be 0 or more")
        self.procs = [self._spawn() for _ in range(self.options.workers)]
        self._thread.start()

    def _spawn(self) -> subprocess.Popen[bytes]:
        # The worker checks this pid to close the race where we die before it asks to die with us.
        env = {**os.environ, "APPJOBS_SERVER_PID": str(os.getpid())}
        return subprocess.Popen(self._command(), env=env)

    def _watch(self) -> None:
        while not self._stopping.wait(0.5):
            for i, proc in enumerate(self.procs):
                if proc.poll() is not None and not self._stopping.is_set():
                    logger.error("worker pid %d exited with %s; starting a new one", proc.pid, proc.returncode)
                    time.sleep(RESTART_DELAY)
                    self.procs[i] = self._spawn()

    def stop(self) -> None:
        """Ask every worker to stop (they abort running steps) and wait for them."""
        self._stopping.set()
        for proc in self.procs:
            proc.terminate()
        deadline = time.monotonic() + self.options.grace + 5
        for proc in self.procs:
            try:
                proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
