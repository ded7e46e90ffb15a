"""Benchmark of ``$batch``: 100 JobStatusGet reads in one batch, next to 100 single requests, on one connection.

Against a real ``appjobs serve`` subprocess on a fresh SQLite data directory, with a session from a token
fetch (the cookie and the CSRF token, as a scheduler has them):

* **single**: 100 ``GET <root>/JobStatusGet?JobName='…'&JobRunCount='…'&$format=json`` one after the other on
  one keep-alive connection (``http.client``), each with the session cookie. These are polls of a known caller,
  which the server answers by its short way (on the event loop, on SQLite): the fastest single request it has.
* **batch**: one ``POST <root>/$batch`` on the same connection holding the same 100 reads as retrieve requests,
  each answered by the general way a request sent alone takes (:mod:`appjobs.server.batch`).

The 100 jobs are distinct (scheduled first, in one ``$batch`` changeset, and waited for until they are final,
so that the worker is idle). Both are measured in the same run, alternately, ``--rounds`` times; the figures
are reads per second of the median round of each. The anchor is the single requests; the goal (issue 10) is
**the batch at least 3x the single requests' throughput**. Client and server share this machine's cores.

Run by hand (it is not a test)::

    .venv/bin/python bench/batch_bench.py [--rounds N] [--reads N] [--keep]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import pathlib
import platform
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import uuid

from odata_servers import (
    SERVICE_ROOT,
    TEMPLATE,
    Logon,
    add_user,
    fetch_token,
    free_port,
    start,
    status_path,
    stop,
    string_literal,
    wait_http,
)

GOAL = 3.0  #: the batch's reads/s over the single requests'


def batch_body(requests: list[tuple[str, str]], changeset: bool = False) -> tuple[str, bytes]:
    """Content-Type and body of a batch of ``(method, relative URL)`` requests; in one changeset if asked."""
    boundary, inner = f"batch_{uuid.uuid4()}", f"changeset_{uuid.uuid4()}"
    parts = [
        f"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n{method} {url} HTTP/1.1\r\n\r\n"
        for method, url in requests
    ]
    if changeset:
        nested = "".join(f"--{inner}\r\n{part}\r\n" for part in parts) + f"--{inner}--"
        parts = [f"Content-Type: multipart/mixed; boundary={inner}\r\n\r\n{nested}"]
    body = "".join(f"--{boundary}\r\n{part}\r\n" for part in parts) + f"--{boundary}--\r\n"
    return f"multipart/mixed; boundary={boundary}", body.encode()


def schedule_jobs(conn: http.client.HTTPConnection, logon: Logon, count: int) -> list[tuple[str, str]]:
    """*count* echo jobs, scheduled in one $batch changeset; their keys."""
    url = f"JobSchedule?JobTemplateName={string_literal(TEMPLATE)}&JobText='bench'&$format=json"
    content_type, body = batch_body([("POST", url)] * count, changeset=True)
    answer = post_batch(conn, logon, content_type, body)
    # Each part's JSON body is one line of the answer.
    found = [json.loads(line)["d"] for line in answer.split(b"\r\n") if line.startswith(b'{"d":')]
    if len(found) != count:
        sys.exit(f"scheduling {count} jobs in one changeset failed: {answer[:500]!r}")
    return [(entity["JobName"], entity["JobRunCount"]) for entity in found]


def post_batch(conn: http.client.HTTPConnection, logon: Logon, content_type: str, body: bytes) -> bytes:
    headers = {"Cookie": logon.cookie, "X-CSRF-Token": logon.token, "Content-Type": content_type}
    conn.request("POST", f"{SERVICE_ROOT}/$batch", body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    if response.status != 202:
        sys.exit(f"$batch failed: {response.status} {data[:500]!r}")
    return data


def wait_final(conn: http.client.HTTPConnection, logon: Logon, key: tuple[str, str]) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        conn.request("GET", status_path(*key), headers={"Cookie": logon.cookie})
        response = conn.getresponse()
        if json.loads(response.read())["d"]["JobStatus"] in ("F", "A"):
            return
        time.sleep(0.2)
    sys.exit("the jobs did not end within 300 s")


def singles(conn: http.client.HTTPConnection, logon: Logon, paths: list[str]) -> float:
    """Seconds for one GET per path, one after the other on *conn*."""
    started = time.perf_counter()
    for path in paths:
        conn.request("GET", path, headers={"Cookie": logon.cookie})
        response = conn.getresponse()
        body = response.read()
        if response.status != 200 or b'"JobStatus"' not in body:
            sys.exit(f"JobStatusGet failed: {response.status} {body[:300]!r}")
    return time.perf_counter() - started


def batched(conn: http.client.HTTPConnection, logon: Logon, content_type: str, body: bytes, reads: int) -> float:
    """Seconds for one $batch of *reads* retrieve requests on *conn*."""
    started = time.perf_counter()
    answer = post_batch(conn, logon, content_type, body)
    elapsed = time.perf_counter() - started
    if answer.count(b"HTTP/1.1 200 OK") != reads:
        sys.exit(f"the batch did not answer {reads} reads with 200: {answer[:500]!r}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=21, help="alternating rounds of each (default 21)")
    parser.add_argument("--reads", type=int, default=100, help="JobStatusGet reads per round (default 100)")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, {platform.platform()}")
    data_dir = pathlib.Path(tempfile.mkdtemp(prefix="appjobs-batch-bench-"))
    password, server = secrets.token_urlsafe(16), None
    try:
        add_user(data_dir, password)
        port, log = free_port(), data_dir / "serve.log"
        server = start(
            [sys.executable, "-m", "appjobs", "serve", "--data-dir", str(data_dir), "--port", str(port)], log
        )
        wait_http(port, "/appjobs/health", server, log)
        logon = fetch_token(port, password)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        keys = schedule_jobs(conn, logon, args.reads)
        wait_final(conn, logon, keys[-1])
        paths = [status_path(*key) for key in keys]
        relative = [("GET", path[len(SERVICE_ROOT) + 1 :]) for path in paths]
        content_type, body = batch_body(relative)
        singles(conn, logon, paths), batched(conn, logon, content_type, body, args.reads)  # warm-up
        single_times, batch_times = [], []
        for _ in range(args.rounds):
            single_times.append(singles(conn, logon, paths))
            batch_times.append(batched(conn, logon, content_type, body, args.reads))
        single_rate = args.reads / statistics.median(single_times)
        batch_rate = args.reads / statistics.median(batch_times)
        ratio = batch_rate / single_rate
        print(f"{args.reads} JobStatusGet reads, one keep-alive connection, median of {args.rounds} rounds:")
        print(
            f"  single requests (anchor): {single_rate:8.0f} reads/s  ({statistics.median(single_times) * 1e3:.1f} ms)"
        )
        print(f"  one $batch:               {batch_rate:8.0f} reads/s  ({statistics.median(batch_times) * 1e3:.1f} ms)")
        print(f"  ratio: {ratio:.2f}x  goal >= {GOAL:.0f}x: {'PASS' if ratio >= GOAL else 'MISS'}")
    finally:
        stop(server)
        if args.keep:
            print(f"kept {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
