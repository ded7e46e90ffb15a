"""``appjobs serve`` and ``appjobs worker``: the processes of the service."""

from __future__ import annotations

import logging
import os
import sys

import click

from appjobs.cli.options import data_dir_option


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
def serve(
    data_dir: str | None, host: str, port: int, no_demo: bool, workers: int, concurrency: int | None, grace: float
) -> None:
    """Run the job server: the API and its workers, on the embedded database by default.

    A fresh data directory gets the demo templates and a communication user
    JOBSCHEDULERUSER whose password is printed once.
    """
    from appjobs.server import runner
    from appjobs.settings import Paths

    _configure_logging()
    options = runner.ServeOptions(host, port, not no_demo, workers, concurrency, grace)
    runner.serve(Paths.resolve(data_dir), options)


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
@click.option("--exit-with-parent", is_flag=True, hidden=True)
def worker(
    data_dir: str | None, concurrency: int | None, grace: float, poll_interval: float, exit_with_parent: bool
) -> None:
    """Run a worker: claim jobs and run their steps (``serve`` starts one for you)."""
    from appjobs.engine import Worker, WorkerOptions, processes
    from appjobs.settings import Paths
    from appjobs.storage import Store

    _configure_logging()
    if exit_with_parent:
        processes.exit_with_parent()
        if str(os.getppid()) != os.environ.get("APPJOBS_SERVER_PID", str(os.getppid())):
            sys.exit(0)  # the server died before we could ask to die with it
    paths = Paths.resolve(data_dir)
    paths.create()
    options = WorkerOptions(grace=grace, poll_interval=poll_interval)
    if concurrency:
        options = WorkerOptions(concurrency=concurrency, grace=grace, poll_interval=poll_interval)
    Worker(Store.open(paths.database_url), data_dir=paths.data_dir, options=options).run()


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    # Alembic narrates every migration check at INFO; only its warnings matter to an operator.
    logging.getLogger("alembic").setLevel(logging.WARNING)
