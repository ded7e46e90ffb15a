"""Failed logons against a real ``appjobs serve``: its memory under a storm of them, and their timing.

What it shows, next to each other (issue "Hardening", items 2 and 3):

* **Memory.** The RSS of the server process when idle (after one good and one bad logon, so that
  everything a logon imports is loaded), its peak while ``--bad`` bad Basic logons arrive over
  ``--connections`` keep-alive connections at once (half of them for a user that exists, with a wrong
  password, half for users that do not), and its RSS a moment after the storm. Goal: the peak within
  100 MB of the idle RSS.
* **Good clients during the storm.** One client with a session cookie polls JobStatusGet (the poll a
  server answers from its caches) and another sends a general request (the service document, through
  the thread pool) one after the other while the storm lasts: how many were answered, all 200, and
  their slowest answer.
* **Timing.** ``--tries`` logons of an unknown user and as many with a wrong password for a user that
  exists, interleaved on one keep-alive connection after the storm: the two medians and their
  difference. Goal: within 1 ms, so that response times do not tell which user names exist.

The server runs with ``--max-failed-logons`` high enough that the storm does not lock the user (a lock
would change what the wrong-password path does). It listens on loopback only, on a free port, in a
temporary data directory (SQLite) that is removed at the end unless ``--keep``; the script stops the
server and exits by itself.

    .venv/bin/python bench/logon_load.py [--bad N] [--connections N] [--tries N] [--keep]
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import contextlib
import http.client
import itertools
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import psutil
from odata_servers import SERVICE_ROOT, free_port, start, stop, wait_http

USER, PASSWORD = "LOADUSER", "Load-user-password-1"
GOOD, GOOD_PASSWORD = "GOODUSER", "Good-user-password-2"
MB = 1024 * 1024
GENERAL = SERVICE_ROOT + "/?$format=json"  #: the service document: the general way, through the thread pool


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


class Client:
    """One keep-alive HTTP/1.1 connection to the server on loopback."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def request(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, list[tuple[str, str]], bytes]:
        self.conn.request(method, path, headers=headers)
        response = self.conn.getresponse()
        body = response.read()
        return response.status, [(k.lower(), v) for k, v in response.getheaders()], body

    def timed(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, float]:
        started = time.perf_counter()
        status = self.request(method, path, headers)[0]
        return status, time.perf_counter() - started


def admin(data_dir: pathlib.Path, *args: str, stdin: str = "") -> None:
    argv = [sys.executable, "-m", "appjobs", "admin", *args, "--data-dir", str(data_dir)]
    subprocess.run(argv, input=stdin, text=True, check=True, capture_output=True)


def session(port: int) -> tuple[dict[str, str], str]:
    """A session of GOOD: the Cookie header and the path of a poll of a job it scheduled."""
    client = Client(port)
    fetch = {"X-CSRF-Token": "Fetch"} | basic(GOOD, GOOD_PASSWORD)
    status, headers, _ = client.request("HEAD", SERVICE_ROOT + "/", fetch)
    assert status == 200, status
    cookies = {"Cookie": "; ".join(v.split(";")[0] for k, v in headers if k == "set-cookie")}
    token = {"X-CSRF-Token": dict(headers)["x-csrf-token"]}
    params = "JobTemplateName='/APPJOBS/DEMO_ECHO'&$format=json"
    status, _, body = client.request("POST", f"{SERVICE_ROOT}/JobSchedule?{params}", cookies | token)
    assert status == 200, body
    job = json.loads(body)["d"]
    key = f"JobName='{job['JobName']}'&JobRunCount='{job['JobRunCount']}'"
    return cookies, f"{SERVICE_ROOT}/JobStatusGet?{key}&$format=json"


class Sampler(threading.Thread):
    """The largest RSS of *pid*, sampled every few milliseconds until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.peak = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.005)


class GoodClient(threading.Thread):
    """A session client sending *path* with its cookie, one request after the other, while the storm lasts."""

    def __init__(self, port: int, cookies: dict[str, str], path: str) -> None:
        super().__init__(daemon=True)
        self.port, self.cookies, self.path = port, cookies, path
        self.times: list[float] = []
        self.statuses: set[int] = set()
        self.done = threading.Event()

    def run(self) -> None:
        client = Client(self.port)
        while not self.done.is_set():
            status, took = client.timed("GET", self.path, self.cookies)
            self.statuses.add(status)
            self.times.append(took)


def storm(port: int, bad: int, connections: int) -> float:
    """*bad* bad Basic logons over *connections* connections at once; returns how long they took."""
    counter = itertools.count()
    local = threading.local()

    def one(_: int) -> int:
        if not hasattr(local, "client"):
            local.client = Client(port)
        n = next(counter)
        user = USER if n % 2 else f"NOSUCHUSER{n}"
        return local.client.request("GET", SERVICE_ROOT + "/", basic(user, f"wrong-{n}"))[0]

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(connections) as pool:
        statuses = set(pool.map(one, range(bad)))
    assert statuses == {401}, statuses
    return time.perf_counter() - started


def timing(port: int, tries: int) -> tuple[list[float], list[float]]:
    """The times (seconds) of *tries* logons of an unknown user and as many wrong passwords, in pairs.

    Each pair is sent back to back, in alternating order, so that a change of the machine's load
    weighs on both kinds alike.
    """
    client = Client(port)
    unknown, wrong = [], []
    for n in range(tries):
        for user, into in ((f"NOBODY{n}", unknown), (USER, wrong))[:: 1 if n % 2 else -1]:
            status, took = client.timed("GET", SERVICE_ROOT + "/", basic(user, f"not-it-{n}"))
            assert status == 401, status
            into.append(took)
    return unknown, wrong


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bad", type=int, default=200, help="bad logons in the storm [200]")
    parser.add_argument("--connections", type=int, default=60, help="connections they come over [60]")
    parser.add_argument("--tries", type=int, default=100, help="logons of each kind timed [100]")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    args = parser.parse_args()

    data_dir = pathlib.Path(tempfile.mkdtemp(prefix="appjobs-logon-load-"))
    proc = None
    try:
        admin(data_dir, "init")  # only serve, worker and admin init create a data directory
        admin(data_dir, "users", "add", USER, "--password-stdin", stdin=PASSWORD + "\n")
        admin(data_dir, "users", "add", GOOD, "--password-stdin", stdin=GOOD_PASSWORD + "\n")
        port = free_port()
        argv = [sys.executable, "-m", "appjobs", "serve", "--data-dir", str(data_dir), "--port", str(port)]
        proc = start([*argv, "--max-failed-logons", "1000000"], data_dir / "serve.log")
        wait_http(port, "/appjobs/health", proc, data_dir / "serve.log")
        server = psutil.Process(proc.pid)
        started_rss = server.memory_info().rss
        cookies, poll = session(port)
        Client(port).request("GET", SERVICE_ROOT + "/", basic(USER, "warm-up"))  # the dummy hash, the failure path
        time.sleep(1)
        idle = server.memory_info().rss

        sampler = Sampler(proc.pid)
        good = {"poll": GoodClient(port, cookies, poll), "general": GoodClient(port, cookies, GENERAL)}
        for thread in (sampler, *good.values()):
            thread.start()
        took = storm(port, args.bad, args.connections)
        for client in good.values():
            client.done.set()
            client.join()
        time.sleep(0.5)
        sampler.done.set()
        sampler.join()
        time.sleep(1)
        after = server.memory_info().rss
        unknown, wrong = timing(port, args.tries)
    finally:
        stop(proc)
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
        else:
            print(f"data directory kept: {data_dir}")

    report(args, started_rss, idle, sampler.peak, after, took, good, unknown, wrong)


def report(args: argparse.Namespace, started: int, idle: int, peak: int, after: int, took: float,
           good: dict[str, GoodClient], unknown_times: list[float], wrong_times: list[float]) -> None:  # fmt: skip
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"machine: {cores} CPUs, Python {sys.version.split()[0]}, loopback, SQLite")
    print(f"server RSS: {started / MB:.0f} MB after start, idle {idle / MB:.0f} MB (after one good and one bad logon)")
    print(
        f"storm: {args.bad} bad Basic logons over {args.connections} connections in {took:.1f} s "
        f"({args.bad / took:.0f}/s): peak RSS {peak / MB:.0f} MB (idle + {(peak - idle) / MB:.0f} MB), "
        f"{after / MB:.0f} MB a second after"
    )
    for kind, client in good.items():
        times = client.times or [float("nan")]
        print(
            f"  good session client during it, {kind:7}: {len(client.times)} answered {sorted(client.statuses)}, "
            f"p50 {statistics.median(times) * 1000:.1f} ms, slowest {max(times) * 1000:.0f} ms"
        )
    unknown, wrong = statistics.median(unknown_times), statistics.median(wrong_times)
    paired = statistics.median(w - u for u, w in zip(unknown_times, wrong_times, strict=True))
    print(
        f"logon medians over {args.tries} tries each: unknown user {unknown * 1000:.2f} ms, "
        f"wrong password {wrong * 1000:.2f} ms, difference {(wrong - unknown) * 1000:+.2f} ms "
        f"(median of the differences within pairs: {paired * 1000:+.2f} ms)"
    )
    memory_ok = peak - idle <= 100 * MB
    timing_ok = abs(wrong - unknown) <= 0.001
    answered = all(c.times and c.statuses == {200} for c in good.values())
    print("goals")
    print(f"  peak RSS within 100 MB of idle                      {'PASS' if memory_ok else 'MISS'}")
    print(f"  good session clients answered (200) during the storm {'PASS' if answered else 'MISS'}")
    print(f"  unknown-user and wrong-password medians within 1 ms  {'PASS' if timing_ok else 'MISS'}")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
