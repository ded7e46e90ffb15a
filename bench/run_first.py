"""Time to first request of ``appjobs run``, next to the guide's curl line: a part of ``run_bench.py``.

A :class:`Recorder` on loopback notes when each request arrives and answers 401, so that every client stops
at once; the time from spawning a command to the first arrival is its time to first request. The machine's
other load during the spawns is measured too, because start-up time is what a busy machine stretches most:
a figure taken while other processes used a core is not comparable with one taken on a quiet machine.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psutil

ROOT_PATH = "/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=0002"
TEMPLATE = "/APPJOBS/DEMO_SLEEP"
USER, PASSWORD = "BENCHUSER", "Bench-password-1"
BIN = pathlib.Path(sys.executable).parent
APPJOBS = [str(BIN / "appjobs")] if (BIN / "appjobs").exists() else [sys.executable, "-m", "appjobs"]
CSRF = "X-CSRF-Token: Fetch"
#: The guide's first line: fetch a CSRF token (README, "the guide's flow with curl").
GUIDE_FETCH = (
    'TOKEN=$(curl -s -I -u "$USER:$PASSWORD" -c "$JAR" -H \'X-CSRF-Token: Fetch\' "$ROOT/" '
    "| grep -i '^x-csrf-token' | cut -d' ' -f2 | tr -d '\\r')"
)
#: Cores used by other processes during the spawns above which the figures are called disturbed.
OTHER_LOAD_WARNING = 0.15


@dataclasses.dataclass
class FirstRequests:
    """Milliseconds to first request per command, and the cores other processes used meanwhile."""

    ms: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    other_cores: float = 0.0


class Recorder:
    """A loopback HTTP server that notes when each request arrives and answers 401, so that clients stop.

    With *delay* it holds each answer back that long, so that a client can be watched while it waits.
    """

    def __init__(self, delay: float = 0.0) -> None:
        self.arrivals: list[float] = []
        self.arrived = threading.Condition()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _note(self) -> None:
                with recorder.arrived:
                    recorder.arrivals.append(time.monotonic())
                    recorder.arrived.notify_all()
                time.sleep(delay)
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="SAP NetWeaver Application Server [BEN/100]"')
                self.send_header("Content-Length", "0")
                self.send_header("Connection", "close")
                self.end_headers()

            do_GET = do_HEAD = do_POST = _note

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{ROOT_PATH}"

    def first_after(self, start: float, timeout: float = 30.0) -> float | None:
        """Seconds from *start* until the first request that arrived after it; None if none came."""
        with self.arrived:
            self.arrived.wait_for(lambda: any(t >= start for t in self.arrivals), timeout)
            later = [t for t in self.arrivals if t >= start]
        return min(later) - start if later else None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def first_request_ms(recorder: Recorder, argv: Sequence[str], env: dict[str, str]) -> float:
    """Spawn *argv*, wait for it to end, and return the ms from spawn to the recorder's first request."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = recorder.first_after(start)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return float("inf") if seconds is None else seconds * 1000


def measure_first_request(runs: int, jar: pathlib.Path) -> FirstRequests:
    """``appjobs run``, curl alone and the guide's line, *runs* times each, alternating; one warm-up each."""
    recorder = Recorder()
    try:
        env = {**os.environ, "APPJOBS_URL": recorder.root, "APPJOBS_USER": USER, "APPJOBS_PASSWORD": PASSWORD}
        env |= {"ROOT": recorder.root, "USER": USER, "PASSWORD": PASSWORD, "JAR": str(jar)}
        commands = {
            "appjobs run": [*APPJOBS, "run", TEMPLATE],
            "curl -I (CSRF fetch)": ["curl", "-s", "-I", "-u", f"{USER}:{PASSWORD}", "-H", CSRF, f"{recorder.root}/"],
            "guide's line in bash -c": ["bash", "-c", GUIDE_FETCH],
        }
        found = FirstRequests(ms={name: [] for name in commands})
        before = (machine_busy(), own_cpu(), time.monotonic())
        for attempt in range(runs + 1):
            for name, argv in commands.items():
                elapsed = first_request_ms(recorder, argv, env)
                if attempt:  # the first round warms the page cache
                    found.ms[name].append(elapsed)
        after = (machine_busy(), own_cpu(), time.monotonic())
        busy, own, wall = (end - start for start, end in zip(before, after, strict=True))
        found.other_cores = max(0.0, busy - own) / wall
        return found
    finally:
        recorder.close()


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (not idle, not waiting for I/O)."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0) - getattr(times, "guest", 0.0)


def own_cpu() -> float:
    """CPU seconds of this process, its recorder thread and the commands it spawned and waited for."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
