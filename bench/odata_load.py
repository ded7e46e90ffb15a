"""The load generators of ``odata_bench.py``: what one target is, how it is loaded, and what a run gave.

Every target is loaded with a fixed number of keep-alive connections, each sending its next request when the
previous answer is complete (closed loop): a warm-up run, then a measured run of fixed duration.

* **wrk**, when it is on the ``PATH`` (one thread): a Lua ``done`` hook prints requests, p50, p99 and errors.
* **The Python generator** otherwise, in a separate process (this module run as a script with a JSON spec):
  asyncio (uvloop when installed) with raw HTTP/1.1 connections that parse ``Content-Length``. It takes more
  of the CPU than wrk, which the report shows as the client's cores.

Beside each measured run, :func:`measure` takes the CPU that the server, appjobs' worker, the generator and every
*other* process on the machine used (from ``psutil`` and ``getrusage``): the last means the figures are disturbed.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import pathlib
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any, cast

import psutil

WRK_SCRIPT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("ODATA_BENCH %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
"""


@dataclasses.dataclass(frozen=True)
class Target:
    """One URL to load, with the headers every request carries."""

    label: str
    port: int
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    role: str = ""  #: "bare", "bare-sync", "cookie" or "basic": how the report reads it

    def request_bytes(self) -> bytes:
        lines = [f"GET {self.path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


@dataclasses.dataclass
class Figures:
    """What one measured run of one target gave."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    bad_status: int  #: responses that were not 2xx
    socket_errors: int
    server_cpu_us: float = 0.0  #: CPU of the server process per request
    worker_cpu_us: float = 0.0  #: CPU of appjobs' worker process per request (0 for bare)
    generator_cores: float = 0.0  #: CPU of the load generator, in cores
    other_cores: float = 0.0  #: CPU of every other process on the machine during the run, in cores

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


# --- the Python load generator (run as a subprocess: this module with a JSON spec) ------------------------------


class _Load:
    """State shared by the connections of one generator run."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.recording = False
        self.stopping = False
        self.latencies_ns: list[int] = []
        self.bad_status = 0
        self.socket_errors = 0
        self.open = 0
        self.closed: asyncio.Future[None] = loop.create_future()


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection that sends its request again as soon as each answer is complete."""

    def __init__(self, load: _Load, request: bytes) -> None:
        self.load = load
        self.request = request
        self.buffer = bytearray()
        self.needed: int | None = None  #: bytes of the response under way, once its header is in
        self.status = 0
        self.sent = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not asyncio's classes
        self.load.open += 1
        self._send()

    def _send(self) -> None:
        assert self.transport is not None
        self.sent = time.perf_counter_ns()
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.needed is None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).lower()
            self.status = int(head[9:12])
            at = head.find(b"\r\ncontent-length:")
            if at < 0:
                raise SystemExit("the load generator needs a Content-Length in every response")
            eol = head.find(b"\r\n", at + 2)
            self.needed = end + 4 + int(head[at + 17 : eol if eol >= 0 else len(head)])
        if len(self.buffer) < self.needed:
            return
        self._answered()

    def _answered(self) -> None:
        """One complete answer is in the buffer: record it, then send the next request or close."""
        assert self.needed is not None
        done = time.perf_counter_ns()
        del self.buffer[: self.needed]
        self.needed = None
        if self.load.recording:
            self.load.latencies_ns.append(done - self.sent)
            if not 200 <= self.status < 300:
                self.load.bad_status += 1
        if self.load.stopping:
            assert self.transport is not None
            self.transport.close()
        else:
            self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.load.stopping:
            self.load.socket_errors += 1
        self.load.open -= 1
        if self.load.open == 0 and not self.load.closed.done():
            self.load.closed.set_result(None)


async def _generate(spec: dict[str, Any]) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    load = _Load(loop)
    request = spec["request"].encode("latin-1")
    for _ in range(spec["connections"]):
        await loop.create_connection(lambda: _Connection(load, request), "127.0.0.1", spec["port"])
    load.recording, cpu, start = True, time.process_time(), time.perf_counter()
    await asyncio.sleep(spec["duration"])
    load.recording, load.stopping = False, True
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(load.closed, 30)
    ordered = sorted(load.latencies_ns)
    return {
        "requests": len(ordered),
        "seconds": seconds,
        "p50_ms": _rank(ordered, 50) / 1e6 if ordered else 0.0,
        "p99_ms": _rank(ordered, 99) / 1e6 if ordered else 0.0,
        "bad_status": load.bad_status,
        "socket_errors": load.socket_errors,
        "generator_cores": cpu / seconds,
    }


def _rank(ordered: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of an ordered sequence."""
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def load_gen(spec_json: str) -> None:
    """Run the Python generator for one target and print its figures as JSON."""
    spec = json.loads(spec_json)
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(_generate(spec))
    else:
        result = uvloop.run(_generate(spec))
    print(json.dumps(result))


def python_generator_name() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "Python asyncio generator (one process, raw keep-alive HTTP/1.1)"
    return "Python asyncio+uvloop generator (one process, raw keep-alive HTTP/1.1)"


# --- running a generator against a target ------------------------------------------------------------------------


@dataclasses.dataclass
class Load:
    """How load is generated: the same for every target."""

    generator: str  #: "wrk" or "python"
    connections: int
    warmup: int
    duration: int
    script: pathlib.Path | None = None  #: wrk's Lua script

    def describe(self) -> str:
        if self.generator == "wrk":
            words = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False).stdout.split()
            return f"wrk ({words[1] if len(words) > 1 else '?'}, 1 thread)"
        return python_generator_name()

    def run(self, target: Target, seconds: int) -> dict[str, Any]:
        """One generator run of *seconds* against *target*; its figures."""
        if self.generator == "wrk":
            return self._wrk(target, seconds)
        spec = {
            "port": target.port,
            "request": target.request_bytes().decode("latin-1"),
            "connections": self.connections,
            "duration": seconds,
        }
        argv = [sys.executable, __file__, json.dumps(spec)]
        out = subprocess.run(argv, stdout=subprocess.PIPE, text=True, check=True)  # its errors go to our stderr
        return json.loads(out.stdout.strip().splitlines()[-1])

    def _wrk(self, target: Target, seconds: int) -> dict[str, Any]:
        assert self.script is not None
        argv = ["wrk", "-t1", f"-c{self.connections}", f"-d{seconds}s", "--timeout", "30s", "-s", str(self.script)]
        for name, value in target.headers:
            argv += ["-H", f"{name}: {value}"]
        argv.append(f"http://127.0.0.1:{target.port}{target.path}")
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        line = next((x for x in out.splitlines() if x.startswith("ODATA_BENCH ")), None)
        if line is None:
            sys.exit(f"wrk gave no figures; its output:\n{out}")
        requests, micros, p50, p99, bad, errors = (int(x) for x in line.split()[1:])
        return {
            "requests": requests,
            "seconds": micros / 1e6,
            "p50_ms": p50 / 1000,
            "p99_ms": p99 / 1000,
            "bad_status": bad,
            "socket_errors": errors,
        }


def cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return 0.0
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (not idle, not waiting for I/O)."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0) - getattr(times, "guest", 0.0)


def measure(load: Load, target: Target, server_pid: int, worker_pid: int | None) -> Figures:
    """Warm up, then one measured run; with the CPU the server, its worker, the generator and the rest used."""
    load.run(target, load.warmup)
    before = (cpu_seconds(server_pid), cpu_seconds(worker_pid), children_cpu(), machine_busy(), time.monotonic())
    raw = load.run(target, load.duration)
    after = (cpu_seconds(server_pid), cpu_seconds(worker_pid), children_cpu(), machine_busy(), time.monotonic())
    server, worker, generator, busy, wall = (b - a for a, b in zip(before, after, strict=True))
    figures = Figures(**{k: v for k, v in raw.items() if k != "generator_cores"})
    figures.generator_cores = raw.get("generator_cores") or generator / max(figures.seconds, 1e-9)
    figures.other_cores = max(0.0, busy - server - worker - generator) / wall
    if figures.requests:
        figures.server_cpu_us = server * 1e6 / figures.requests
        figures.worker_cpu_us = worker * 1e6 / figures.requests
    return figures


if __name__ == "__main__":
    load_gen(sys.argv[1])
