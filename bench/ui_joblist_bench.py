"""Benchmark of the Application Jobs list page on a million jobs, next to JobListGet of the same window.

One database (SQLite file, or a fresh PostgreSQL database on ``--server``) filled as ``million_bench.py``
fills its big one (:mod:`million_fill`: ``--jobs`` ended jobs over 60 days, 50 creators, 85% F / 10% A / 5% W,
and ``--series`` active series with a job planned ahead), served by a real ``appjobs serve``. A viewer logs on
through the logon form, as a browser does, and asks over HTTP, in turn, ``--requests`` times each (after five
warm-up requests):

* ``GET /appjobs/ui/jobs``: the first page, no filter (the newest 50 by planned start);
* ``GET /appjobs/ui/jobs/rows``: the same rows alone, what the live refresh asks every two seconds;
* ``GET /appjobs/ui/jobs?status=A&status=W``: failed or with warnings (two index reads, merged);
* ``GET /appjobs/ui/jobs?creator=BENCHUSER``: one creator's jobs;
* ``GET /appjobs/ui/jobs?after=<cursor 30 days back>``: a page deep in the list (keyset: as cheap as the first);
* ``GET /appjobs/ui/jobs?from=H&to=H+1h``: one hour, ten days ago, of planned starts (in the fill a job starts
  when it is created, so this is also its creation window), next to
* ``JobListGet`` of that same hour over OData, as a SAP_COM_0326 user (every job of the hour, like the page)
  and as the bench user (its own);
* ``GET /appjobs/ui/jobs?q=Nightly load 42``: a text search, which no index serves (informative).

It prints p50 and p95 of each, and the goal (issue 12): the list page p50 < 100 ms. ``--explain`` prints the
query plan of the page's statements first. Run by hand (it is not a test)::

    .venv/bin/python bench/ui_joblist_bench.py [--database sqlite|postgresql] [--server URL] [--jobs 1000000]
                                               [--series 10000] [--requests 100] [--explain] [--keep]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import pathlib
import platform
import re
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable

import million_bench as big
import million_fill as fill
import million_serve as serve
import requests
import sqlalchemy as sa

from appjobs.auth import users
from appjobs.storage import Store
from appjobs.storage.uijobs import Cursor, JobFilter, UiJobs

UI = "/appjobs/ui"
VIEWER, VIEWER_PASSWORD = "BENCHVIEWER", "Bench-viewer-password-1"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]*)"')


def ui_logon(base: str) -> requests.Session:
    """A session logged on to the pages as the bench's viewer, through the logon form."""
    http = requests.Session()
    form = http.get(base + UI + "/", timeout=30)
    token = _TOKEN.search(form.text)
    assert token, form.text[:300]
    data = {"username": VIEWER, "password": VIEWER_PASSWORD, "csrf_token": token.group(1)}
    answer = http.post(base + UI + "/logon", data=data, timeout=60)
    assert answer.status_code == 200, answer.text[:300]
    assert answer.url.endswith(UI + "/jobs"), answer.url
    return http


def targets(shape: fill.Shape) -> tuple[dict[str, str], dict[str, str], dt.datetime]:
    """The page requests and the OData ones, by label; and the hour both read."""
    hour = (shape.now - dt.timedelta(days=10)).replace(minute=0, second=0, microsecond=0)
    end = hour + dt.timedelta(hours=1)
    deep = Cursor(shape.now - dt.timedelta(days=30), "F" * 32, "zzzzzzzz").encode()
    window = f"from={hour:%Y-%m-%dT%H:%M}&to={end:%Y-%m-%dT%H:%M}"
    pages = {
        "UI /jobs first page": "/jobs",
        "UI /jobs/rows (live refresh)": "/jobs/rows",
        "UI /jobs?status=A&status=W": "/jobs?status=A&status=W",
        f"UI /jobs?creator={fill.USER}": f"/jobs?creator={fill.USER}",
        "UI /jobs?after=<30 days back>": f"/jobs?after={deep}",
        "UI /jobs planned-start hour": f"/jobs?{window}",
        "UI /jobs?q=Nightly load 42 (no index)": "/jobs?q=Nightly+load+42",
    }
    last = end - dt.timedelta(seconds=1)
    odata = (
        f"/JobListGet?CreationTimeFrom=datetime'{hour:%Y-%m-%dT%H:%M:%S}'"
        f"&CreationTimeTo=datetime'{last:%Y-%m-%dT%H:%M:%S}'&$format=json"
    )
    joblist = {"JobListGet same hour, SAP_COM_0326 (every job)": odata, "JobListGet same hour, bench user": odata}
    return pages, joblist, hour


def measure(base: str, shape: fill.Shape, count: int) -> dict[str, list[float]]:
    """Each request *count* times, all of them in turn; milliseconds per label."""
    pages, odata, _ = targets(shape)
    ui = ui_logon(base)
    admin, user = serve.logon(base, serve.ADMIN), serve.logon(base, fill.USER)
    asks: dict[str, Callable[[], requests.Response]] = {}
    for label, path in pages.items():
        asks[label] = lambda path=path: ui.get(base + UI + path, timeout=120)
    for label, path in odata.items():
        http = admin if "0326" in label else user
        asks[label] = lambda http=http, path=path: http.get(http.base + path, timeout=120)
    rows: dict[str, int] = {}
    for label, ask in asks.items():  # warm-up, and how many rows each answer holds
        for _ in range(5):
            answer = ask()
            assert answer.status_code == 200, (label, answer.status_code, answer.text[:300])
        text = answer.text
        rows[label] = text.count("<tr data-job=") if label.startswith("UI") else len(answer.json()["d"]["results"])
    times: dict[str, list[float]] = {label: [] for label in asks}
    for _ in range(count):
        for label, ask in asks.items():
            started = time.perf_counter()
            ask()
            times[label].append((time.perf_counter() - started) * 1000)
    return {f"{label} ({rows[label]} rows)": values for label, values in times.items()}


def explain(url: str, shape: fill.Shape) -> None:
    """The plans of the list's statements (SQLite's EXPLAIN QUERY PLAN, PostgreSQL's EXPLAIN ANALYZE)."""
    store = Store.open_existing(url)
    sqlite = store.db.dialect == "sqlite"
    jobs = UiJobs(store.db)
    _, _, hour = targets(shape)
    cases = {
        "first page": (JobFilter(), None),
        "status A": (JobFilter(statuses=("A",)), None),
        "creator": (JobFilter(creator=fill.USER), None),
        "hour": (JobFilter(planned_from=hour, planned_to=hour + dt.timedelta(hours=1)), None),
        "deep cursor": (JobFilter(), Cursor(shape.now - dt.timedelta(days=30), "F" * 32, "zzzzzzzz")),
        "text": (JobFilter(text="Nightly load 42"), None),
    }
    engine = sa.create_engine(url)
    try:
        for label, (wanted, cursor) in cases.items():
            statement = jobs._select(wanted, (wanted.statuses or (None,))[0], cursor, False, 51)
            sql = str(statement.compile(engine, compile_kwargs={"literal_binds": True}))
            with engine.connect() as conn:
                plan = conn.exec_driver_sql(("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ANALYZE ") + sql).all()
            print(f"--- {label}")
            for row in plan:
                print("    " + str(row[-1] if sqlite else row[0]))
    finally:
        engine.dispose()
        store.close()


def report(figures: dict[str, list[float]]) -> None:
    print(f"\n{'request':<62} | {'p50 ms':>8} | {'p95 ms':>8} | goal")
    for label, values in figures.items():
        values.sort()
        p50, p95 = statistics.median(values), values[int(len(values) * 0.95)]
        goal = ("PASS" if p50 < 100 else "MISS") + " (p50 < 100 ms)" if label.startswith("UI /jobs first") else ""
        print(f"{label:<62} | {p50:8.1f} | {p95:8.1f} | {goal}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--server", default=big.DEFAULT_SERVER, help="PostgreSQL server (libpq URL)")
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=100, help="requests per measure")
    parser.add_argument("--explain", action="store_true", help="print the query plans of the list's statements")
    parser.add_argument("--keep", action="store_true", help="keep the SQLite data directory")
    args = parser.parse_args()
    shape = fill.Shape(args.jobs, args.series, dt.datetime.now(dt.UTC))
    work = pathlib.Path(tempfile.mkdtemp(prefix="ui-joblist-bench-"))
    print(f"{platform.node()}: {os.cpu_count()} CPUs, SQLite {sqlite3.sqlite_version}, {args.database}; "
          f"{args.jobs:,} jobs, {args.series:,} series; data in {work}")  # fmt: skip
    try:
        with big.database(args.database, args.server, work, "big") as db:
            store = Store.open_existing(db.url)
            try:
                users.add_business_user(store, VIEWER, "bench viewer", password=VIEWER_PASSWORD, role="viewer")
            finally:
                store.close()
            started = time.perf_counter()
            count, _ = fill.fill(db.url, db.raw, shape)
            print(f"filled {count:,} jobs in {time.perf_counter() - started:.0f} s", flush=True)
            fill.settle(db.url)
            if args.explain:
                explain(db.url, shape)
            with contextlib.ExitStack() as stack:
                http = stack.enter_context(serve.server(db.data_dir, db.env))
                figures = measure(http.base.removesuffix(serve.ROOT), shape, args.requests)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    report(figures)


if __name__ == "__main__":
    main()
