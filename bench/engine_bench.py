"""Benchmark of the embedded engine: schedule -> R latency and sustained throughput, next to anchors.

What is measured, on a fresh SQLite data directory with a real ``appjobs worker`` subprocess:

* **Latency** -- jobs of a no-op template (one shell step, ``:``) are scheduled one at a time through
  :class:`appjobs.engine.JobService` with a pause between them, so the worker is idle each time. For each job,
  schedule -> R is step 1's ``started_at`` minus the job's ``scheduled_at``, both read back from the database;
  p50, p99 and max are reported (anchor A7: embedded p99 < 100 ms). The engine stamps ``started_at`` when it
  claims the job, just before it starts the step's process, so this is scheduling latency, not process start.
* **Throughput** -- N no-op jobs are scheduled as fast as one process can, and the worker runs them
  ``--concurrency`` at a time. Jobs/s is counted from the first schedule until the last job is final (F or A);
  every job must end F (goal: at least 200 jobs/s).
* **Where the time goes** -- R -> F of a no-op step, how long ``schedule()`` takes in the caller with the worker
  idle and while it drains (waits for SQLite's write lock show here), and CPU per job of this process, the worker
  and the steps. Their sum against the cores gives the CPU-bound ceiling of the machine for this workload.
* **Anchors** (``engine_anchors.py``), measured in the same run on the same disk (anchor A5's method): raw
  :mod:`sqlite3` (no SQLAlchemy) claim and finish transactions on a pre-filled table, WAL mode, with
  ``synchronous=FULL`` (what appjobs uses) and ``synchronous=NORMAL``; and the cost of starting a process, since
  every step is one (``posix_spawn`` of ``/bin/sh -c :`` plus ``waitpid``).

Why: one job is a durable transaction to schedule it, the worker's (three when jobs come one at a time: claim,
step started, step ended; about one under load, when each turn of the worker's loop carries several steps) and a
process, so the anchors bound what the engine can reach on this machine, and the gap shows
what our layers cost.

With ``--postgres SERVER`` (a libpq URL, e.g. ``postgresql://postgres@127.0.0.1:5432/test``) the engine runs
on a fresh PostgreSQL database instead (``engine_pg.py``), and raw psycopg claim and finish transactions on
the same server join the anchors; ``--far-worker`` gives the worker a data directory of its own, as on another
host, so that only PostgreSQL's NOTIFY wakes it.

Run by hand (it is not a test)::

    .venv/bin/python bench/engine_bench.py [--jobs N] [--concurrency C] [--postgres SERVER [--far-worker]]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import os
import pathlib
import platform
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import engine_anchors
import psutil
import sqlalchemy as sa

from appjobs import models
from appjobs.engine import JobService, Waker
from appjobs.engine import templates as template_files
from appjobs.storage import Store, schema

TEMPLATE_NAME = "/APPJOBS/BENCH_NOOP"
TEMPLATE_TOML = f"""
[[template]]
name = "{TEMPLATE_NAME}"
text = "Benchmark: do nothing"

[[template.step]]
text = "No-op"
command = ":"
"""
LATENCY_TEXT = "BENCH latency"
THROUGHPUT_TEXT = "BENCH throughput"
FINAL = (models.JobStatus.FINISHED.value, models.JobStatus.ABORTED.value)
GOAL_P99_MS = 100.0
GOAL_JOBS_PER_S = 200.0
ANCHOR_ROWS = 3000
SPAWNS = 500


@dataclasses.dataclass
class Results:
    """Every figure the final table prints."""

    latency_ms: dict[str, float] = dataclasses.field(default_factory=dict)
    run_ms: dict[str, float] = dataclasses.field(default_factory=dict)
    schedule_call_ms: dict[str, float] = dataclasses.field(default_factory=dict)  #: worker idle
    busy_call_ms: dict[str, float] = dataclasses.field(default_factory=dict)  #: while the worker drains
    jobs_per_s: float = 0.0
    schedule_per_s: float = 0.0
    cpu_ms_per_job: dict[str, float] = dataclasses.field(default_factory=dict)
    ended: dict[str, int] = dataclasses.field(default_factory=dict)
    anchors: dict[str, float] = dataclasses.field(default_factory=dict)


# --- set-up --------------------------------------------------------------------------------------------------


def open_store(url: str) -> Store:
    """The fresh database at *url*, holding the no-op template."""
    store = Store.open(url)
    loaded = template_files.parse(TEMPLATE_TOML, source="engine_bench", by="BENCH", now=models.utcnow())
    store.templates.add(loaded)
    return store


def start_worker(
    data_dir: pathlib.Path, concurrency: int, store: Store, url: str, tracking: str = "auto"
) -> subprocess.Popen[bytes]:
    """Start ``appjobs worker`` on the database at *url* and return once it has registered in the database."""
    data_dir.mkdir(parents=True, exist_ok=True)
    log = (data_dir / "worker.log").open("wb")
    argv = [sys.executable, "-m", "appjobs", "worker", "--data-dir", str(data_dir), "--concurrency", str(concurrency)]
    argv += ["--process-tracking", tracking]
    env = {**os.environ, "APPJOBS_DATABASE_URL": url}
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
    log.close()
    deadline = time.monotonic() + 30
    while not any(w.pid == proc.pid for w in store.workers.all().values()):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_worker(proc)
            sys.exit(f"the worker did not start; its output:\n{(data_dir / 'worker.log').read_text()}")
        time.sleep(0.05)
    return proc


def stop_worker(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, wait for the worker to exit; SIGKILL only if it hangs."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        print("!!! the worker did not stop within 30 s of SIGTERM; killing it", file=sys.stderr)
        proc.kill()
        proc.wait()


# --- our engine ----------------------------------------------------------------------------------------------


def unfinished(store: Store, text: str) -> int:
    """How many jobs with *text* are not final yet."""
    j = schema.job
    query = sa.select(sa.func.count()).where(j.c.text == text, j.c.status.not_in(FINAL))
    with store.db.read() as conn:
        return int(conn.scalar(query) or 0)


def ended_counts(store: Store, text: str) -> dict[str, int]:
    """Jobs with *text* per status letter."""
    j = schema.job
    query = sa.select(j.c.status, sa.func.count()).where(j.c.text == text).group_by(j.c.status)
    with store.db.read() as conn:
        return {status: int(count) for status, count in conn.execute(query)}


def wait_final(store: Store, text: str, timeout: float) -> float:
    """Poll until every job with *text* is final; the monotonic time it was seen, or inf on timeout."""
    deadline = time.monotonic() + timeout
    while unfinished(store, text):
        if time.monotonic() > deadline:
            return float("inf")
        time.sleep(0.01)
    return time.monotonic()


def percentiles(values: list[float]) -> dict[str, float]:
    """p50, p99 and max of *values* (nearest-rank)."""
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]

    return {"p50": rank(50), "p99": rank(99), "max": ordered[-1]}


def schedule_timed(service: JobService, text: str) -> tuple[models.JobKey, float]:
    """Schedule one no-op job; its key and how long ``schedule()`` took, in ms."""
    start = time.perf_counter()
    key = service.schedule(TEMPLATE_NAME, creator="BENCH", text=text).key
    return key, (time.perf_counter() - start) * 1000


def measure_latency(service: JobService, jobs: int, pause: float, results: Results) -> None:
    """Schedule *jobs* one at a time, *pause* apart; schedule -> R, R -> F and the schedule() call, in ms."""
    keys, calls = [], []
    for _ in range(jobs):
        key, call_ms = schedule_timed(service, LATENCY_TEXT)
        keys.append(key)
        calls.append(call_ms)
        time.sleep(pause)
    if wait_final(service.store, LATENCY_TEXT, 60) == float("inf"):
        print("!!! latency: some jobs did not end within 60 s", file=sys.stderr)
    to_r, r_to_f = [], []
    for key in keys:
        job, step = service.status(key), service.steps(key)[0]
        if step.started_at is None or step.ended_at is None:
            continue
        to_r.append((step.started_at - job.scheduled_at) / dt.timedelta(milliseconds=1))
        r_to_f.append((step.ended_at - step.started_at) / dt.timedelta(milliseconds=1))
    results.latency_ms = percentiles(to_r) if to_r else {"p50": 0.0, "p99": float("inf"), "max": float("inf")}
    results.run_ms = percentiles(r_to_f) if r_to_f else {}
    results.schedule_call_ms = percentiles(calls)
    results.ended.update({f"latency {k}": v for k, v in ended_counts(service.store, LATENCY_TEXT).items()})


def cpu_seconds(worker: psutil.Process) -> tuple[float, float, float]:
    """CPU seconds used so far by this process, the worker, and the steps the worker has reaped."""
    times = worker.cpu_times()
    return time.process_time(), times.user + times.system, times.children_user + times.children_system


def measure_throughput(service: JobService, worker: psutil.Process, jobs: int, results: Results) -> None:
    """Schedule *jobs* as fast as possible; jobs/s from the first schedule until the last job is final."""
    cpu_before, start = cpu_seconds(worker), time.monotonic()
    calls = [schedule_timed(service, THROUGHPUT_TEXT)[1] for _ in range(jobs)]
    scheduled = time.monotonic()
    done = wait_final(service.store, THROUGHPUT_TEXT, 150)
    cpu_after = cpu_seconds(worker)
    results.busy_call_ms = percentiles(calls)
    results.schedule_per_s = jobs / (scheduled - start)
    results.jobs_per_s = jobs / (done - start) if done != float("inf") else 0.0
    names = ("scheduler (this process)", "worker", "steps (/bin/sh)")
    results.cpu_ms_per_job = {n: (b - a) * 1000 / jobs for n, a, b in zip(names, cpu_before, cpu_after, strict=True)}
    results.ended.update({f"throughput {k}": v for k, v in ended_counts(service.store, THROUGHPUT_TEXT).items()})
    if done == float("inf"):
        left = unfinished(service.store, THROUGHPUT_TEXT)
        print(f"!!! throughput: {left} of {jobs} jobs not final after 150 s", file=sys.stderr)


def run_engine(data_dir: pathlib.Path, url: str, args: argparse.Namespace, results: Results) -> None:
    """Both engine measurements against one real worker, which is stopped at the end whatever happens."""
    store = open_store(url)
    service = JobService(store, notify=Waker(data_dir / "run"))
    worker_dir = data_dir / "far" if args.far_worker else data_dir
    worker = start_worker(worker_dir, args.concurrency, store, url, args.process_tracking)
    try:
        print(
            f"worker pid {worker.pid} registered; latency: {args.latency_jobs} jobs, {args.pause * 1000:.0f} ms apart"
        )
        measure_latency(service, args.latency_jobs, args.pause, results)
        print(f"throughput: {args.jobs} jobs, concurrency {args.concurrency}")
        measure_throughput(service, psutil.Process(worker.pid), args.jobs, results)
    finally:
        stop_worker(worker)
        store.close()
    if worker.returncode != 0:
        print(f"!!! the worker exited with {worker.returncode}; see {worker_dir / 'worker.log'}", file=sys.stderr)


# --- anchors -------------------------------------------------------------------------------------------------


def run_anchors(data_dir: pathlib.Path, conninfo: str | None, results: Results) -> None:
    """A5 (raw sqlite3, FULL and NORMAL; raw psycopg on *conninfo*) and the process start cost."""
    if conninfo is not None:
        claim, finish = engine_anchors.raw_pg_anchor(conninfo, ANCHOR_ROWS)
        results.anchors["raw psycopg claim tx/s"] = claim
        results.anchors["raw psycopg finish tx/s"] = finish
    for sync in ("FULL", "NORMAL"):
        claim, finish = engine_anchors.raw_sqlite_anchor(data_dir / f"anchor-{sync.lower()}.db", sync, ANCHOR_ROWS)
        results.anchors[f"raw sqlite3 WAL {sync} claim tx/s"] = claim
        results.anchors[f"raw sqlite3 WAL {sync} finish tx/s"] = finish
    results.anchors["posix_spawn sh -c : + waitpid /s"] = engine_anchors.spawn_anchor(SPAWNS)


# --- report --------------------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def row(name: str, ours: str, goal: str = "", ok: bool | None = None) -> None:
    print(f"{name:<46} {ours:>24}   {goal:<14} {'' if ok is None else verdict(ok)}".rstrip())


def report(args: argparse.Namespace, results: Results) -> None:
    """The compact table: our figures next to the goals (PASS/MISS), where the time goes, and the anchors."""
    lat, jobs_per_s = results.latency_ms, results.jobs_per_s
    print(
        f"\nmachine: {os.cpu_count()} CPUs, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"{platform.system()} {platform.release()}"
    )
    print(
        f"settings: --jobs {args.jobs} --latency-jobs {args.latency_jobs} --concurrency {args.concurrency} "
        f"--pause {args.pause}"
    )
    where = "SQLite (WAL, synchronous=FULL)"
    if args.postgres is not None:
        where = "PostgreSQL " + engine_anchors.server_version(args.postgres)
    print(f"database: {where}" + (", worker on a data directory of its own" if args.far_worker else ""))
    print(f"{'figure':<46} {'ours':>24}   {'goal':<14} verdict")
    print("-" * 96)
    row("schedule -> R p50 / p99 / max (ms)", _triple(lat), "p99 < 100 ms", lat["p99"] < GOAL_P99_MS)
    row("sustained throughput (jobs/s)", f"{jobs_per_s:,.0f}", ">= 200 jobs/s", jobs_per_s >= GOAL_JOBS_PER_S)
    print("where the time goes")
    row("  R -> F of a no-op step p50 / p99 / max (ms)", _triple(results.run_ms))
    row("  schedule() call, worker idle (ms)", _triple(results.schedule_call_ms))
    row("  schedule() call, worker draining (ms)", _triple(results.busy_call_ms))
    row("  schedule rate while the worker drains (/s)", f"{results.schedule_per_s:,.0f}")
    for name, cpu_ms in results.cpu_ms_per_job.items():
        row(f"  CPU per job: {name} (ms)", f"{cpu_ms:.2f}")
    total = sum(results.cpu_ms_per_job.values())
    if total:
        row("  CPU-bound ceiling: cores / CPU per job (/s)", f"{(os.cpu_count() or 1) * 1000 / total:,.0f}")
    row("  jobs per final status", _counts(results.ended))
    print("anchors (same run, same disk)")
    for name, value in results.anchors.items():
        row(f"  {name}", f"{value:,.0f}")
    _warn_unless_all_finished(args, results.ended)


def _warn_unless_all_finished(args: argparse.Namespace, ended: dict[str, int]) -> None:
    expected = {"latency F": args.latency_jobs, "throughput F": args.jobs}
    if ended != expected:
        print(f"\n!!! WARNING: NOT EVERY JOB ENDED F: expected {expected}, got {ended}")
        print("!!! the figures above are not valid; rerun with --keep and read worker.log and the job logs")


def _triple(values: dict[str, float]) -> str:
    if not values:
        return "n/a"
    return f"{values['p50']:.1f} / {values['p99']:.1f} / {values['max']:.1f}"


def _counts(ended: dict[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(ended.items()))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2000, help="jobs in the throughput run (default 2000)")
    parser.add_argument("--latency-jobs", type=int, default=300, help="jobs in the latency run (default 300)")
    parser.add_argument("--concurrency", type=int, default=os.cpu_count() or 1, help="worker concurrency")
    parser.add_argument("--pause", type=float, default=0.02, help="seconds between latency jobs (default 0.02)")
    parser.add_argument("--keep", action="store_true", help="keep the data directory (its path is printed)")
    parser.add_argument("--postgres", metavar="SERVER", help="run on a new database on this PostgreSQL server")
    parser.add_argument(
        "--process-tracking", default="auto", help="the worker's --process-tracking (auto, cgroup2, cgroup1, token)"
    )
    parser.add_argument("--far-worker", action="store_true", help="give the worker a data directory of its own")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    data_dir = pathlib.Path(tempfile.mkdtemp(prefix="appjobs-bench-"))
    print(f"data directory: {data_dir}")
    results = Results()
    try:
        with database(args, data_dir) as (url, conninfo):
            print(f"database: {sa.make_url(url).render_as_string(hide_password=True)}")
            run_engine(data_dir, url, args, results)
            print("anchors: raw sqlite3 FULL and NORMAL, process spawn" + (", raw psycopg" if conninfo else ""))
            run_anchors(data_dir, conninfo, results)
        report(args, results)
    finally:
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)


@contextlib.contextmanager
def database(args: argparse.Namespace, data_dir: pathlib.Path) -> Iterator[tuple[str, str | None]]:
    """The engine's database: SQLite in *data_dir*, or a fresh one on ``--postgres`` (with its libpq URL)."""
    if args.postgres is None:
        yield f"sqlite:///{data_dir}/appjobs.db", None
        return
    import engine_pg  # only here: psycopg is an optional dependency

    with engine_pg.fresh_database(args.postgres) as urls:
        yield urls


if __name__ == "__main__":
    main()
