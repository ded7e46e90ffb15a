"""Benchmark of JobHeaderSet: a job's full ``$expand`` with 1,000 log lines, next to JobinfoGet of the same job.

Against a real ``appjobs serve`` subprocess on a fresh SQLite data directory (or ``--postgres SERVER``),
over one keep-alive connection with the session cookie of a token fetch, requests one after the other:

* **JobHeaderSet, full expand**: ``GET JobHeaderSet(JobName='…',JobRunCount='…')?$expand=JobStepSet/
  JobStepLogInfoSet/JobLogMessageSet&$format=json`` of a finished three-step job whose log holds 1,000 lines
  (about 333 per step): header, 3 steps, 3 log headers, 1,000 messages. In Atom too.
* **Anchor, JobinfoGet** of the same job (three rows), in the same run and on the same connection.
* **The collection**, with ``--jobs N`` (default 10,000) more jobs in the table, split between two creators:
  ``JobHeaderSet?$top=10`` (scope, order and paging in SQL), the same with ``$inlinecount=allpages``
  (adds a ``COUNT(*)``), with ``$filter=JobPlannedStartDateTime ge '…'`` (jobs stream in order until the
  page is full) and ordered by JobTemplateText (no column: every job of the scope is read and sorted).

Each target is warmed up, then the targets are requested in turn (interleaved) ``--requests`` times each; the
script prints p50 and p90 per target. Goal (issue 10): the full expand **under 20 ms p50**.

Run by hand (it is not a test)::

    .venv/bin/python bench/header_bench.py [--requests N] [--jobs N] [--keep] [--postgres SERVER]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import pathlib
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import requests

from appjobs import models
from appjobs.auth import users
from appjobs.settings import Paths
from appjobs.storage import Store
from appjobs.storage import jobsql as q

ROOT = "/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=0002"
USER, PASSWORD, OTHER = "BENCHUSER", "Bench-password-123", "OTHERBENCH"
GOAL_MS = 20.0
FULL = "JobStepSet/JobStepLogInfoSet/JobLogMessageSet"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fill(store: Store, lines: int, jobs: int) -> models.JobKey:
    """The benchmark's job (3 steps, *lines* log lines) and *jobs* more, half of them another creator's."""
    now = dt.datetime.now(dt.UTC)
    key = models.JobKey.new()
    job = models.Job(key, "/APPJOBS/DEMO_CHAIN", "bench", USER, USER, models.JobStatus.FINISHED, now, now, step_count=3)
    steps = [
        models.StepRun(key, n, models.StepKind.SHELL, "echo", f"Step {n}", models.JobStatus.FINISHED, now, now, 0)
        for n in (1, 2, 3)
    ]
    log = [
        models.LogEntry(key, 1 + n * 3 // lines, now + dt.timedelta(microseconds=n), models.Severity.INFO, "stdout",
                        f"line {n} of the benchmark's job log, of a plausible length for a line of output")
        for n in range(lines)
    ]  # fmt: skip
    store.jobs.create(job, steps, {}, log)
    rows = []
    for n in range(jobs):
        other = models.JobKey.new()
        at = now - dt.timedelta(seconds=n)
        creator = USER if n % 2 else OTHER
        rows.append(q.job_row(models.Job(other, "/APPJOBS/DEMO_ECHO", f"filler {n}", creator, creator,
                                         models.JobStatus.FINISHED, at, at)))  # fmt: skip
    with store.db.write() as conn:
        for start in range(0, len(rows), 1000):
            conn.execute(q.INSERT_JOB, rows[start : start + 1000])
    return key


@contextlib.contextmanager
def server(data_dir: pathlib.Path, env: dict[str, str]) -> requests.Session:
    port = free_port()
    log = (data_dir.parent / "serve.log").open("w")
    command = [sys.executable, "-m", "appjobs", "serve", "--data-dir", str(data_dir), "--port", str(port)]
    proc = subprocess.Popen(command, stdout=log, stderr=log, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(base + "/appjobs/health", timeout=1).ok:
                    break
            time.sleep(0.05)
        http = requests.Session()
        fetched = http.head(base + ROOT + "/", auth=(USER, PASSWORD), headers={"X-CSRF-Token": "Fetch"}, timeout=10)
        assert fetched.status_code == 200, fetched.text
        http.base = base + ROOT  # type: ignore[attr-defined]
        yield http
    finally:
        proc.terminate()
        proc.wait(30)


def measure(http: requests.Session, targets: dict[str, str], count: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in targets}
    for path in targets.values():  # warm-up
        for _ in range(5):
            assert http.get(http.base + path, timeout=30).status_code == 200, path  # type: ignore[attr-defined]
    for _ in range(count):
        for name, path in targets.items():
            started = time.perf_counter()
            response = http.get(http.base + path, timeout=30)  # type: ignore[attr-defined]
            times[name].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (path, response.text[:300])
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--lines", type=int, default=1000)
    parser.add_argument("--postgres", help="a PostgreSQL URL whose database the bench may use (emptied first)")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="header-bench-"))
    data_dir, env = work / "data", dict(os.environ)
    if args.postgres:
        env["APPJOBS_DATABASE_URL"] = args.postgres
    else:
        env.pop("APPJOBS_DATABASE_URL", None)
    subprocess.run([sys.executable, "-m", "appjobs", "admin", "init", "--data-dir", str(data_dir)], check=True, env=env)
    store = Store.open_existing(args.postgres or Paths.resolve(str(data_dir)).database_url)
    try:
        users.add_user(store, USER, PASSWORD, certificate=None, arrangement=True)
        key = fill(store, args.lines, args.jobs)
    finally:
        store.close()
    job = f"JobName='{key.name}',JobRunCount='{key.run_count}'"
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=args.jobs // 4)).strftime("%Y%m%d%H%M%S")
    targets = {
        "JobHeaderSet full $expand, JSON": f"/JobHeaderSet({job})?$expand={FULL}&$format=json",
        "JobHeaderSet full $expand, Atom": f"/JobHeaderSet({job})?$expand={FULL}",
        "anchor: JobinfoGet, JSON": f"/JobinfoGet?{job.replace(',', '&')}&$format=json",
        f"JobHeaderSet?$top=10 ({args.jobs + 1} jobs)": "/JobHeaderSet?$top=10&$format=json",
        "  ... &$inlinecount=allpages": "/JobHeaderSet?$top=10&$inlinecount=allpages&$format=json",
        "  ... &$filter=JobPlannedStartDateTime ge": f"/JobHeaderSet?$top=10&$filter=JobPlannedStartDateTime ge "
        f"'{since}'&$format=json",
        "  ... &$orderby=JobTemplateText (in memory)": "/JobHeaderSet?$top=10&$orderby=JobTemplateText&$format=json",
    }
    with server(data_dir, env) as http:
        times = measure(http, targets, args.requests)
    database = "PostgreSQL" if args.postgres else "SQLite"
    print(f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}, {database}; ", end="")
    print(f"{args.lines} log lines, {args.requests} requests each")
    for name, values in times.items():
        values.sort()
        p50, p90 = statistics.median(values), values[int(len(values) * 0.9)]
        print(f"  {name:<48} p50 {p50:7.2f} ms   p90 {p90:7.2f} ms")
    p50 = statistics.median(times["JobHeaderSet full $expand, JSON"])
    print(f"goal: full $expand under {GOAL_MS:.0f} ms p50: {'PASS' if p50 < GOAL_MS else 'MISS'} ({p50:.2f} ms)")
    if args.keep:
        print(f"kept {work}")


if __name__ == "__main__":
    main()
