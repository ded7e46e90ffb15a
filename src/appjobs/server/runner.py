"""``appjobs serve``: prepare the data directory, start and supervise the workers, serve HTTP.

One process on SQLite by default: uvicorn serves the API in this process and
a worker process (``appjobs worker``) runs the steps. The worker dies with
the server (``PR_SET_PDEATHSIG``); if it dies alone, the server restarts it.

With TLS the server speaks HTTPS with the context that :mod:`appjobs.server.tls`
built (TLS 1.2 at least), and its session cookies are ``Secure``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import logging
import os
import pathlib
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import NamedTuple

import click
import uvicorn
from starlette.applications import Starlette

from appjobs import errors, logs, models
from appjobs.auth import passwords, users
from appjobs.auth.logon import DEFAULT_MAX_FAILED
from appjobs.auth.sessions import DEFAULT_IDLE_TIMEOUT
from appjobs.engine import JobService, Waker, wake
from appjobs.engine import templates as template_files
from appjobs.engine.worker import SAME_STOP
from appjobs.server import listening, slowclients
from appjobs.server import metrics as server_metrics
from appjobs.server.app import SERVICE_PATH, create_app
from appjobs.server.config import ServerSettings
from appjobs.server.protocol import SapHttpProtocol
from appjobs.settings import Paths
from appjobs.storage import Store

logger = logging.getLogger(__name__)

DEMO_TEMPLATES = pathlib.Path(__file__).parent.parent / "engine" / "demo.toml"
DEFAULT_USER = "JOBSCHEDULERUSER"
DEMO_BUSINESS_USER = "CB9980000001"  # shaped like a tenant's business user ids
DEFAULT_UI_USER = "ADMIN"  #: the web pages' first administrator, made with a new installation
RESTART_DELAY = 1.0  # seconds before a worker that died is started again, the first time
RESTART_LONGEST = 30.0  # seconds: the longest pause when workers keep dying
STEADY = 60.0  # seconds a worker has to live for its death to count as a new failure, not the same one


@dataclasses.dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8080
    demo: bool = True
    workers: int = 1
    concurrency: int | None = None
    grace: float = 10.0
    tls: ssl.SSLContext | None = None  #: serve HTTPS with this context (see :func:`appjobs.server.tls.server_context`)
    max_failed_logons: int = DEFAULT_MAX_FAILED
    idle_timeout: dt.timedelta = DEFAULT_IDLE_TIMEOUT
    worker_args: tuple[str, ...] = ()  #: more ``appjobs worker`` options (output cap, drain, process tracking)
    drain_timeout: float = 60.0  #: how long a stop waits for the workers' running jobs (see ``--drain-timeout``)
    header_timeout: float = slowclients.DEFAULT_HEADER_TIMEOUT  #: seconds for a request head to arrive
    limit_concurrency: int = slowclients.DEFAULT_LIMIT_CONCURRENCY  #: open connections before 503
    metrics_token: str | None = None  #: bearer token for /appjobs/metrics (see appjobs.server.metrics)
    public_url: str | None = None  #: where schedulers reach this server; else each page request's own URL

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    def server_settings(self, metrics_dir: pathlib.Path | None = None) -> ServerSettings:
        # A session cookie sent over TLS must never travel in clear text afterwards: hence Secure.
        return ServerSettings(
            idle_timeout=self.idle_timeout,
            secure_cookies=self.tls is not None,
            max_failed_logons=self.max_failed_logons,
            metrics_dir=metrics_dir,
            metrics_token=self.metrics_token,
            metrics_open=listening.is_loopback(self.host),  # without a token, metrics only for this host
            public_url=self.public_url,
        )


class Installation(NamedTuple):
    """An opened data directory, and what its set-up created that must be shown once."""

    store: Store
    password: str | None  #: generated password of :data:`DEFAULT_USER`, when it was created now
    business_user: str | None  #: the demo business user, when it was registered now
    ui_password: str | None = None  #: generated password of :data:`DEFAULT_UI_USER`, when it was created now


def open_installation(paths: Paths, *, demo: bool = False) -> Installation:
    """Open (creating if need be) the data directory and set up what it lacks.

    Without templates it gets the demo templates and the business user
    :data:`DEMO_BUSINESS_USER` for JobUser (when *demo*); without
    communication users it gets one, with a system and an SAP_COM_0064
    arrangement, and a new installation also gets the web pages' first
    administrator, :data:`DEFAULT_UI_USER`; their generated passwords are
    returned, to be shown once.
    """
    paths.create()
    store = Store.open(paths.database_url)
    business_user = password = ui_password = None
    with store.db.setup_turn():  # servers starting together on one new database: only one sets it up
        if demo and not store.templates.names():
            demo_templates = template_files.load_file(DEMO_TEMPLATES, by="SAP", now=models.utcnow())
            store.templates.add(demo_templates)
            if not store.comm.business_user_exists(DEMO_BUSINESS_USER):
                users.add_business_user(store, DEMO_BUSINESS_USER, "Demo business user")
                business_user = DEMO_BUSINESS_USER
        if not store.users.names():
            password = passwords.generate_password()
            users.add_user(store, DEFAULT_USER, password)
            if not store.comm.business_user_exists(DEFAULT_UI_USER):
                ui_password = passwords.generate_password()
                users.add_business_user(
                    store, DEFAULT_UI_USER, "Web pages administrator", password=ui_password, role="administrator"
                )
    return Installation(store, password, business_user, ui_password)


def serve(paths: Paths, options: ServeOptions) -> None:
    """Run the server until SIGINT or SIGTERM.

    The port is taken first (:mod:`appjobs.server.listening`): a busy port
    stops ``serve`` before the data directory is touched or a password shown.
    """
    sockets = listening.bind(options.host, options.port)
    options = dataclasses.replace(options, port=listening.port_of(sockets))
    try:
        store, password, business_user, ui_password = open_installation(paths, demo=options.demo)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    passwords.return_memory_promptly()  # bad logons must not leave their argon2 memory behind
    service = JobService(store, notify=Waker(paths.data_dir / wake.SOCKET_DIR))
    metrics_dir = paths.metrics_dir
    server_metrics.start_directory(metrics_dir)  # before the workers start: they count there too
    supervisor = WorkerSupervisor(paths, options)
    supervisor.start()
    _announce(options, password, business_user, ui_password)
    app = create_app(service, options.server_settings(metrics_dir))
    # Everything loaded so far (SQLAlchemy's metadata, the OData model, the modules) lives as
    # long as the process: keep it out of the garbage collector's full collections, which
    # otherwise walk it every few hundred requests (see bench/odata_bench.py).
    gc.freeze()
    server = _DrainingServer(_uvicorn_config(app, options), supervisor)
    try:
        server.run(sockets=sockets)
    except KeyboardInterrupt:
        pass
    finally:
        supervisor.stop()
        store.close()
        if not server.started:  # also when uvicorn exits on its own (SystemExit) at start
            _lost_password(password, ui_password)
    if not server.started:
        raise errors.AppjobsError("the HTTP server did not start; the messages above say why")


def _uvicorn_config(app: Starlette, options: ServeOptions) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        log_level="warning",
        log_config=None,  # uvicorn's records go to our handler, in our format (JSON too), not its own
        # Off, not just below the level: uvicorn builds each access-log line (percent-encoding the
        # path, which has a ';') before the logger drops it, and that was a tenth of a poll's CPU.
        access_log=False,
        http=slowclients.configured(SapHttpProtocol, options.header_timeout),
        limit_concurrency=slowclients.uvicorn_limit(options.limit_concurrency),
        ssl_context_factory=_context_factory(options.tls),
    )


def _lost_password(password: str | None, ui_password: str | None) -> None:
    """After a failed start, say how to replace a one-time password that was shown for nothing."""
    if password:
        _say(
            f"The password shown above for {DEFAULT_USER} is stored and stays valid; if it is lost, "
            f"`appjobs admin users reset-password {DEFAULT_USER} --password-stdin` sets a new one."
        )
    if ui_password:
        _say(
            f"The web pages' password shown above for {DEFAULT_UI_USER} stays valid too; `appjobs admin "
            f"business-users set-logon {DEFAULT_UI_USER} --password-stdin --role administrator` replaces it."
        )


class _DrainingServer(uvicorn.Server):
    """uvicorn's server, but the first SIGTERM or SIGINT stops the workers before the HTTP side.

    While the workers let their running jobs finish (``--drain-timeout``), the API
    keeps answering, so that schedulers polling those jobs see them end; only
    then does uvicorn stop accepting connections. A second signal, as with
    uvicorn alone, stops at once: the workers abort what still runs.
    """

    def __init__(self, config: uvicorn.Config, supervisor: WorkerSupervisor) -> None:
        super().__init__(config)
        self.supervisor = supervisor
        self._signals = 0

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._signals += 1
        if self._signals == 1 and self.supervisor.procs:
            logger.warning("stopping: the workers finish their running jobs first; the API answers meanwhile")
            threading.Thread(target=self._stop_workers_then_http, name="appjobs-drain", daemon=True).start()
            return
        self.supervisor.interrupt()
        super().handle_exit(sig, frame)

    def _stop_workers_then_http(self) -> None:
        self.supervisor.stop()
        self.should_exit = True


def _context_factory(context: ssl.SSLContext | None) -> Callable[[uvicorn.Config, object], ssl.SSLContext] | None:
    """uvicorn's hook for an SSL context of one's own, giving *context* (None: plain HTTP).

    uvicorn's ``ssl_*`` options cannot raise the minimum TLS version, so we
    build the whole context ourselves and ignore the default factory it offers.
    """
    if context is None:
        return None
    return lambda _config, _default: context


def _say(message: str) -> None:
    """Tell the operator *message* on stderr: a plain line, or a log line when the logs are JSON.

    With ``--log-format json`` every line on stderr must be JSON, or a log
    stack reading it would choke on the one line that matters most.
    """
    if logs.is_json():
        logger.warning(message)
    else:
        click.echo(message, err=True)


def _announce(options: ServeOptions, password: str | None, business_user: str | None, ui_password: str | None) -> None:
    base = f"{options.scheme}://{options.host}:{options.port}"
    _say(f"appjobs serving at {base}{SERVICE_PATH}")
    _say(f"Web pages at {base}/appjobs/ui/")
    if password:
        _say(f"Communication user {DEFAULT_USER}, password (shown once): {password}")
    if ui_password:
        _say(f"Web pages user {DEFAULT_UI_USER} (administrator), password (shown once): {ui_password}")
    if business_user:
        _say(f"Business user for JobUser: {business_user}")


def restart_pause(last: float, *, lived: float) -> float:
    """Seconds before a worker that *lived* seconds is started again, the pause before it having been *last*."""
    if lived >= STEADY:
        return RESTART_DELAY
    return min(max(last * 2, RESTART_DELAY), RESTART_LONGEST)


class WorkerSupervisor:
    """Starts the worker processes and restarts any that die while the server runs."""

    def __init__(self, paths: Paths, options: ServeOptions) -> None:
        self.paths = paths
        self.options = options
        self.procs: list[subprocess.Popen[bytes]] = []
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._first_stop: float | None = None
        self._thread = threading.Thread(target=self._watch, name="appjobs-worker-supervisor", daemon=True)

    def _command(self) -> list[str]:
        cmd = [sys.executable, "-m", "appjobs", "worker", "--data-dir", str(self.paths.data_dir), "--exit-with-parent"]
        cmd += ["--grace", str(self.options.grace), *self.options.worker_args]
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
        """Restart each worker that died, after a pause that doubles while they keep dying young.

        A worker that dies at once dies again (a database that refuses us for a reason waiting cannot
        mend): restarting it every second would fill the log with its tracebacks.
        """
        started = [time.monotonic()] * len(self.procs)
        pauses = [0.0] * len(self.procs)
        due: dict[int, float] = {}  # slot -> when its new worker starts
        while not self._stopping.wait(0.5):
            now = time.monotonic()
            for i, proc in enumerate(self.procs):
                if i in due:
                    if now >= due[i] and not self._stopping.is_set():
                        del due[i]
                        self.procs[i], started[i] = self._spawn(), now
                elif proc.poll() is not None:
                    pauses[i] = restart_pause(pauses[i], lived=now - started[i])
                    due[i] = now + pauses[i]
                    logger.error(
                        "worker pid %d exited with %s; starting a new one in %g s", proc.pid, proc.returncode, pauses[i]
                    )

    def interrupt(self) -> None:
        """A second stop: the workers abort what still runs, now.

        A worker takes a signal within :data:`SAME_STOP` of its first for the same
        stop (Ctrl-C reaches it directly as well), so the second is sent no sooner.
        """
        self._stopping.set()
        since = time.monotonic() - (self._first_stop or time.monotonic())
        threading.Timer(max(SAME_STOP + 0.1 - since, 0.0), self._signal_workers).start()

    def _signal_workers(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        """Ask every worker to stop and wait for them: they let running jobs finish for up to the drain timeout."""
        with self._lock:
            first = not self._stopping.is_set()
            self._stopping.set()
        if first:
            self._first_stop = time.monotonic()
            self._signal_workers()
        deadline = time.monotonic() + self.options.drain_timeout + self.options.grace + 5
        for proc in self.procs:
            try:
                proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
