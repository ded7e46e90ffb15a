"""The measures of ``million_bench.py`` that need a running ``appjobs serve``: reads, schedules, claims."""

from __future__ import annotations

import contextlib
import datetime as dt
import pathlib
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator

import million_fill as fill
import requests
import sqlalchemy as sa

from appjobs.engine import JobService, Waker
from appjobs.storage import Store

ROOT = "/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=0002"
PASSWORD = "Bench-password-123"
ADMIN = "BENCHADMIN"  #: a SAP_COM_0326 user: sees every job


class Http(requests.Session):
    base = ""
    token = ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def server(data_dir: pathlib.Path, env: dict[str, str]) -> Iterator[Http]:
    """``appjobs serve`` (with its one worker) on *data_dir*; a session logged on as the bench user with a token."""
    port = _free_port()
    log = (data_dir.parent / f"serve-{data_dir.name}.log").open("w")
    command = [sys.executable, "-m", "appjobs", "serve", "--data-dir", str(data_dir), "--port", str(port)]
    proc = subprocess.Popen(command, stdout=log, stderr=log, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(base + "/appjobs/health", timeout=1).ok:
                    break
            time.sleep(0.05)
        yield logon(base, fill.USER)
    finally:
        proc.terminate()
        proc.wait(60)
        log.close()


def logon(base: str, user: str) -> Http:
    """A session of *user* with its cookie and CSRF token."""
    http = Http()
    fetched = http.head(base + ROOT + "/", auth=(user, PASSWORD), headers={"X-CSRF-Token": "Fetch"}, timeout=30)
    assert fetched.status_code == 200, fetched.text
    http.base, http.token = base + ROOT, fetched.headers["x-csrf-token"]
    return http


def _odata_time(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def reads(http: Http, key: tuple[str, str], shape: fill.Shape, count: int) -> dict[str, object]:
    """p50 (and p95 for JobListGet) of the reads, requested in turn *count* times each after a warm-up."""
    job = f"JobName='{key[0]}'&JobRunCount='{key[1]}'"
    day, next_day = _odata_time(shape.day), _odata_time(shape.day + dt.timedelta(days=1) - dt.timedelta(seconds=1))
    admin = logon(http.base.removesuffix(ROOT), ADMIN)
    planned = f"/JobHeaderSet?$top=10&$filter=JobPlannedStartDateTime ge '{shape.now:%Y%m%d%H%M%S}'&$format=json"
    targets = {
        "JobListGet one day": f"/JobListGet?CreationTimeFrom=datetime'{day}'&CreationTimeTo=datetime'{next_day}'"
        "&$format=json",
        "JobStatusGet": f"/JobStatusGet?{job}&$format=json",
        "JobinfoGet": f"/JobinfoGet?{job}&$format=json",
        "JobHeaderSet planned ge now, $top=10": planned,
        "  ... SAP_COM_0326 user (every job)": planned,
    }
    session = {name: admin if "0326" in name else http for name in targets}
    times: dict[str, list[float]] = {name: [] for name in targets}
    sizes = {}
    for name, path in targets.items():  # warm-up, and what each answer holds
        for _ in range(5):
            response = session[name].get(http.base + path, timeout=120)
            assert response.status_code == 200, (path, response.text[:300])
        results = response.json()["d"]
        sizes[name] = len(results["results"]) if "results" in results else 1
    for _ in range(count):
        for name, path in targets.items():
            started = time.perf_counter()
            response = session[name].get(http.base + path, timeout=120)
            times[name].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (path, response.text[:300])
    figures: dict[str, object] = {}
    for name, values in times.items():
        values.sort()
        figures[f"{name} p50 ms"] = statistics.median(values)
        if name == "JobListGet one day":
            figures[f"{name} p95 ms"] = values[int(len(values) * 0.95)]
    figures["  (rows: JobListGet, JobHeaderSet)"] = f"{sizes['JobListGet one day']}, " + str(
        sizes["JobHeaderSet planned ge now, $top=10"]
    )
    return figures


def schedules(http: Http, count: int) -> float:
    """JobSchedule calls per second, one after the other (the worker runs the jobs meanwhile)."""
    path = f"{http.base}/JobSchedule?JobTemplateName='{fill.TEMPLATE}'&JobText='million bench'&$format=json"
    headers = {"X-CSRF-Token": http.token}
    for _ in range(5):
        assert http.post(path, headers=headers, timeout=60).status_code in (200, 201)
    started = time.perf_counter()
    for _ in range(count):
        response = http.post(path, headers=headers, timeout=60)
        assert response.status_code in (200, 201), response.text[:300]
    return count / (time.perf_counter() - started)


def claims(url: str, data_dir: pathlib.Path, count: int) -> float | str:
    """p99 ms from planned start to R of *count* jobs planned 3 to 6 s ahead; a note when the engine cannot plan."""
    store = Store.open_existing(url)
    service = JobService(store, notify=Waker(data_dir / "run"))
    job = fill.schema.job
    try:
        start = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3)
        keys = []
        for n in range(count):
            at = start + dt.timedelta(seconds=3 * n / count)
            try:
                planned = service.schedule(fill.TEMPLATE, creator=fill.USER, text="planned", start_at=at)  # type: ignore[call-arg]
            except TypeError:
                return "SKIPPED: JobService.schedule takes no start_at yet"
            keys.append((planned.key.name, planned.key.run_count))
        latest = start + dt.timedelta(seconds=3)
        wanted = sa.select(job.c.scheduled_at, job.c.started_at).where(
            sa.tuple_(job.c.name, job.c.run_count).in_(keys), job.c.started_at.is_not(None)
        )
        while True:
            with store.db.read() as conn:
                rows = conn.execute(wanted).all()
            if len(rows) == len(keys) or dt.datetime.now(dt.UTC) > latest + dt.timedelta(seconds=60):
                break
            time.sleep(0.5)
        if len(rows) < len(keys):
            return f"MISS: {len(keys) - len(rows)} of {len(keys)} planned jobs not started 60 s after their time"
        late = sorted((r.started_at - r.scheduled_at).total_seconds() * 1000 for r in rows)
        return late[min(len(late) - 1, int(len(late) * 0.99))]
    finally:
        store.close()
