"""``appjobs serve`` and ``appjobs worker``: the processes of the service."""

from __future__ import annotations

import datetime as dt
import os
import ssl
import sys

import click

from appjobs.auth.logon import DEFAULT_MAX_FAILED
from appjobs.auth.sessions import DEFAULT_IDLE_TIMEOUT
from appjobs.cli.options import data_dir_option, public_url_option

_tls_file = click.Path(dir_okay=False)  # read and checked by appjobs.server.tls, which names the option
MIB = 1024 * 1024


def _step_options(command: click.decorators.FC) -> click.decorators.FC:
    """How a worker runs and stops steps, and how long it keeps what ended: the options ``serve`` passes on."""
    options = [
        click.option(
            "--max-step-output",
            default=64,
            show_default=True,
            type=click.IntRange(1),
            metavar="MIB",
            help="MiB of a step's output kept on disk while it runs; more is dropped (the log says how much).",
        ),
        click.option(
            "--drain-timeout",
            default=60.0,
            show_default=True,
            type=click.FloatRange(0),
            help="On SIGTERM/SIGINT, seconds running jobs may go on before they are aborted (0: abort at once).",
        ),
        click.option(
            "--process-tracking",
            type=click.Choice(["auto", "cgroup2", "cgroup1", "token"]),
            default="auto",
            show_default=True,
            help="How a step's processes are found to stop them: a cgroup per step, or the environment token.",
        ),
        click.option("--cgroup-base", metavar="DIR", help="Make step cgroups under DIR [default: the worker's own]."),
        click.option(
            "--retention-days",
            default=14.0,
            show_default=True,
            type=click.FloatRange(0),
            metavar="DAYS",
            help="Delete jobs that ended more than DAYS ago, with their steps and logs (0: keep all).",
        ),
        click.option(
            "--audit-retention-days",
            default=365.0,
            show_default=True,
            type=click.FloatRange(0),
            metavar="DAYS",
            help="Delete audit log entries older than DAYS (0: keep all).",
        ),
        click.option(
            "--log-format",
            type=click.Choice(["text", "json"]),
            default="text",
            show_default=True,
            envvar="APPJOBS_LOG_FORMAT",
            help="Log lines for people (text) or one JSON object per line for a log stack (env APPJOBS_LOG_FORMAT).",
        ),
        click.option(
            "--log-level",
            type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
            default="INFO",
            show_default=True,
            envvar="APPJOBS_LOG_LEVEL",
            help="The least severe log lines written (env APPJOBS_LOG_LEVEL).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.command()
@data_dir_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--no-demo", is_flag=True, help="Do not load the demo templates into a fresh data directory.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(0), help="Worker processes to start.")
@click.option("--concurrency", type=click.IntRange(1), help="Steps each worker runs at once [default: cores].")
@click.option(
    "--grace",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Seconds from SIGTERM to SIGKILL when a step is stopped.",
)
@click.option("--tls-cert", type=_tls_file, help="Serve HTTPS (TLS 1.2+) with this PEM certificate (chain).")
@click.option("--tls-key", type=_tls_file, help="The PEM private key of --tls-cert (unencrypted).")
@click.option(
    "--tls-client-ca", type=_tls_file, help="Accept client certificates signed by this PEM CA for logon (needs TLS)."
)
@click.option(
    "--max-failed-logons",
    default=DEFAULT_MAX_FAILED,
    show_default=True,
    type=click.IntRange(1),
    help="Wrong passwords in a row that lock a communication user.",
)
@click.option(
    "--session-idle",
    default=int(DEFAULT_IDLE_TIMEOUT.total_seconds() // 60),
    show_default=True,
    type=click.IntRange(1),
    metavar="MINUTES",
    help="Minutes without a request after which a logon session ends.",
)
@click.option(
    "--header-timeout",
    default=30.0,
    show_default=True,
    type=click.FloatRange(0.1),
    metavar="SECONDS",
    help="Close a connection whose request head has not arrived in this time (408).",
)
@click.option(
    "--limit-concurrency",
    default=1000,
    show_default=True,
    type=click.IntRange(1),
    metavar="N",
    help="Open connections to serve; a request beyond them is answered 503.",
)
@click.option(
    "--metrics-token-file",
    type=click.File("r"),
    help="Read the bearer token for /appjobs/metrics from this file (or env APPJOBS_METRICS_TOKEN).",
)
@public_url_option(
    None,
    "Where schedulers reach this server, behind a proxy (env APPJOBS_PUBLIC_URL): the "
    "service URL the web pages show [default: the URL of the page's own request].",
)
@_step_options
def serve(
    data_dir: str | None,
    host: str,
    port: int,
    no_demo: bool,
    workers: int,
    concurrency: int | None,
    grace: float,
    tls_cert: str | None,
    tls_key: str | None,
    tls_client_ca: str | None,
    max_failed_logons: int,
    session_idle: int,
    header_timeout: float,
    limit_concurrency: int,
    metrics_token_file: click.utils.LazyFile | None,
    public_url: str | None,
    **step_options: object,
) -> None:
    """Run the job server: the API and its workers, on the embedded database by default.

    A fresh data directory gets the demo templates and a communication user
    JOBSCHEDULERUSER whose password is printed once. With --tls-cert and
    --tls-key it serves HTTPS; with --tls-client-ca as well, communication
    users may log on with a client certificate instead of a password.
    """
    from appjobs.server import runner
    from appjobs.settings import Paths

    tls = _tls_context(tls_cert, tls_key, tls_client_ca)  # before anything starts: a bad file is a usage error
    _configure_logging(step_options)
    options = runner.ServeOptions(
        host=host,
        port=port,
        demo=not no_demo,
        workers=workers,
        concurrency=concurrency,
        grace=grace,
        tls=tls,
        max_failed_logons=max_failed_logons,
        idle_timeout=dt.timedelta(minutes=session_idle),
        worker_args=_worker_args(step_options),
        drain_timeout=float(step_options["drain_timeout"]),  # type: ignore[arg-type]
        header_timeout=header_timeout,
        limit_concurrency=limit_concurrency,
        metrics_token=_metrics_token(metrics_token_file),
        public_url=public_url,
    )
    runner.serve(Paths.resolve(data_dir), options)


def _metrics_token(given: click.utils.LazyFile | None) -> str | None:
    """The metrics token from the file, else from APPJOBS_METRICS_TOKEN; None without either."""
    token = given.read().strip() if given is not None else os.environ.get("APPJOBS_METRICS_TOKEN", "").strip()
    if token and len(token) < 16:
        raise click.BadParameter("the metrics token needs at least 16 characters", param_hint="metrics token")
    return token or None


def _tls_context(cert: str | None, key: str | None, client_ca: str | None) -> ssl.SSLContext | None:
    """The server's SSL context for the --tls-* options, or None without them; usage errors exit 2."""
    from appjobs.server import tls

    if cert is None and key is None:
        if client_ca is not None:
            raise click.UsageError("--tls-client-ca needs --tls-cert and --tls-key: client certificates need TLS")
        return None
    if cert is None or key is None:
        missing, given = ("--tls-key", "--tls-cert") if key is None else ("--tls-cert", "--tls-key")
        raise click.UsageError(f"{given} needs {missing}: give both to serve HTTPS, or neither")
    try:
        return tls.server_context(tls.TlsFiles(cert, key, client_ca))
    except tls.TlsFileError as exc:
        raise click.BadParameter(str(exc), param_hint=f"'{exc.option}'") from exc


@click.command()
@data_dir_option
@click.option("--concurrency", type=click.IntRange(1), help="Steps to run at once [default: cores].")
@click.option(
    "--grace",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Seconds from SIGTERM to SIGKILL when a step is stopped.",
)
@click.option(
    "--poll-interval",
    default=0.5,
    show_default=True,
    type=click.FloatRange(0.01),
    help="Seconds between database polls.",
)
@_step_options
@click.option("--exit-with-parent", is_flag=True, hidden=True)
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    help="Serve this host's metrics on this port (a host without serve).",
)
@click.option("--metrics-host", default="127.0.0.1", show_default=True, help="Address for --metrics-port.")
def worker(
    data_dir: str | None,
    concurrency: int | None,
    grace: float,
    poll_interval: float,
    exit_with_parent: bool,
    metrics_port: int | None,
    metrics_host: str,
    **step_options: object,
) -> None:
    """Run a worker: claim jobs and run their steps (``serve`` starts one for you)."""
    from appjobs.engine import Worker, WorkerOptions, backoff, processes
    from appjobs.engine.worker import PARENT_DIED
    from appjobs.settings import Paths

    _configure_logging(step_options)
    if exit_with_parent:
        processes.exit_with_parent(PARENT_DIED)  # a dead server is a crash: its worker aborts, it does not drain
        if str(os.getppid()) != os.environ.get("APPJOBS_SERVER_PID", str(os.getppid())):
            sys.exit(0)  # the server died before we could ask to die with it
    paths = Paths.resolve(data_dir)
    paths.create()
    from appjobs import metrics

    metrics.use_directory(paths.metrics_dir)  # serve adds up what this worker counts
    if metrics_port is not None:
        from appjobs.server.metrics import serve_host_metrics

        serve_host_metrics(paths.metrics_dir, metrics_host, metrics_port)
    options = WorkerOptions(
        **({"concurrency": concurrency} if concurrency else {}),
        grace=grace,
        poll_interval=poll_interval,
        max_step_output=int(step_options["max_step_output"]) * MIB,  # type: ignore[call-overload]
        drain_timeout=float(step_options["drain_timeout"]),  # type: ignore[arg-type]
        process_tracking=str(step_options["process_tracking"]),
        cgroup_base=step_options["cgroup_base"],  # type: ignore[arg-type]
        retention_days=float(step_options["retention_days"]),  # type: ignore[arg-type]
        audit_retention_days=float(step_options["audit_retention_days"]),  # type: ignore[arg-type]
    )
    Worker(backoff.open_store(paths.database_url), data_dir=paths.data_dir, options=options).run()


def _worker_args(step_options: dict[str, object]) -> tuple[str, ...]:
    """The step options given to ``serve``, as arguments for its ``appjobs worker`` processes."""
    args: list[str] = []
    for name, value in step_options.items():
        if value is not None:
            args += [f"--{name.replace('_', '-')}", str(value)]
    return tuple(args)


def _configure_logging(step_options: dict[str, object]) -> None:
    from appjobs import logs

    logs.configure(str(step_options["log_format"]), str(step_options["log_level"]))
