"""The measures of ``million_bench.py`` that need a running ``appjobs serve``: reads, schedules, claims."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
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
#: What JobSchedule and the planned jobs run: one shell step that does nothing, so that the figures are the
#: engine's, not the cost of starting a Python process per job (DEMO_ECHO's callable), which on 2 cores
#: queued the planned jobs behind each other.
NOOP = "/APPJOBS/BENCH_NOOP"
NOOP_TOML = f"""
[[template]]
name = "{NOOP}"
text = "Benchmark: do nothing"

[[template.step]]
text = "No-op"
command = ":"
"""


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
    # No retention while measuring: the big database's 700,000 jobs past 14 days would be a backlog the worker
    # works off batch by batch, a first purge (after an upgrade, say) rather than the steady state being measured.
    # The retention pass is measured on its own, with the servers stopped.
    command = [sys.executable, "-m", "appjobs", "serve", "--data-dir", str(data_dir), "--port", str(port)]
    command += ["--retention-days", os.environ.get("MILLION_RETENTION_DAYS", "0")]
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


def _targets(shape: fill.Shape, key: tuple[str, str]) -> dict[str, str]:
    job = f"JobName='{key[0]}'&JobRunCount='{key[1]}'"
    day, next_day = _odata_time(shape.day), _odata_time(shape.day + dt.timedelta(days=1) - dt.timedelta(seconds=1))
    planned = f"/JobHeaderSet?$top=10&$filter=JobPlannedStartDateTime ge '{shape.now:%Y%m%d%H%M%S}'&$format=json"
    return {
        "JobListGet one day": f"/JobListGet?CreationTimeFrom=datetime'{day}'&CreationTimeTo=datetime'{next_day}'"
        "&$format=json",
        "JobStatusGet": f"/JobStatusGet?{job}&$format=json",
        "JobinfoGet": f"/JobinfoGet?{job}&$format=json",
        "JobHeaderSet planned ge now, $top=10": planned,
        "  ... SAP_COM_0326 user (every job)": planned,
    }


def reads(servers: dict[str, Http], key: tuple[str, str], shape: fill.Shape, count: int) -> dict[str, dict]:
    """Per server: p50 (and p95 for JobListGet) of the reads, each asked *count* times after a warm-up.

    The servers are asked in turn, request by request, so that whatever else the machine does
    (a checkpoint after the fill, another process) falls on both alike.
    """
    targets = _targets(shape, key)
    admins = {label: logon(http.base.removesuffix(ROOT), ADMIN) for label, http in servers.items()}
    times = {label: {name: [] for name in targets} for label in servers}
    figures: dict[str, dict] = {label: {} for label in servers}

    def ask(label: str, name: str) -> requests.Response:
        http = admins[label] if "0326" in name else servers[label]
        response = http.get(servers[label].base + targets[name], timeout=120)
        assert response.status_code == 200, (label, name, response.text[:300])
        return response

    for label in servers:  # warm-up, and how many rows the answers hold
        rows = [len(ask(label, name).json()["d"].get("results", [None])) for name in targets for _ in range(5)]
        figures[label]["  (rows: JobListGet, JobHeaderSet)"] = f"{rows[0]}, {rows[15]}"
    labels = list(servers)
    for turn in range(count):
        for name in targets:
            for label in labels if turn % 2 else reversed(labels):  # each server goes first every other turn
                started = time.perf_counter()
                ask(label, name)
                times[label][name].append((time.perf_counter() - started) * 1000)
    for label, per_target in times.items():
        for name, values in per_target.items():
            values.sort()
            figures[label][f"{name} p50 ms"] = statistics.median(values)
            if name == "JobListGet one day":
                figures[label][f"{name} p95 ms"] = values[int(len(values) * 0.95)]
    return figures


def schedules(servers: dict[str, Http], count: int, block: int = 10) -> dict[str, float]:
    """JobSchedule calls per second per server, one after the other, *block* to one server then *block* to the next.

    Each server's worker runs the jobs meanwhile, as it would in use; a block that follows another server's
    block shares the machine with that server's worker, so the servers take turns going first.
    """
    spent = dict.fromkeys(servers, 0.0)
    for turn in range(max(1, count // block)):
        order = list(servers.items())
        for label, http in order if turn % 2 else reversed(order):  # who follows whose jobs, in turn
            path = f"{http.base}/JobSchedule?JobTemplateName='{NOOP}'&JobText='million bench'&$format=json"
            started = time.perf_counter()
            for _ in range(block):
                response = http.post(path, headers={"X-CSRF-Token": http.token}, timeout=60)
                assert response.status_code in (200, 201), response.text[:300]
            spent[label] += time.perf_counter() - started
    return {label: max(1, count // block) * block / seconds for label, seconds in spent.items()}


def claims(url: str, data_dir: pathlib.Path, count: int) -> float | str:
    """p99 ms from planned start to R of *count* jobs planned 3 to 6 s ahead; a note when the engine cannot plan."""
    store = Store.open_existing(url)
    service = JobService(store, notify=Waker(data_dir / "run"))
    job = fill.schema.job
    try:
        _drain(store)
        start = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3)
        keys = []
        for n in range(count):
            at = start + dt.timedelta(seconds=3 * n / count)
            try:
                planned = service.schedule(NOOP, creator=fill.USER, text="planned", start_at=at)  # type: ignore[call-arg]
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


def _drain(store: Store, patience: float = 120.0) -> None:
    """Wait until the worker has run every job that is due (the schedules' jobs), so that none queues ahead."""
    job = fill.schema.job
    busy = sa.select(sa.func.count()).where(
        sa.or_(job.c.status.in_(("Y", "R")), sa.and_(job.c.status == "S", job.c.scheduled_at <= sa.bindparam("now")))
    )
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        with store.db.read() as conn:
            if not conn.scalar(busy, {"now": dt.datetime.now(dt.UTC)}):
                return
        time.sleep(0.2)
    print("!!! jobs still due or running after 120 s; the planned-start figure includes their queue", flush=True)
