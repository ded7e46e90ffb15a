"""The servers of ``odata_bench.py``: starting, stopping and setting them up for the measured runs.

* **Bare Starlette** (the anchor): a trivial JSON route, ``async`` at ``/bare`` and plain ``def`` at
  ``/bare-sync`` (Starlette runs it in its thread pool), on uvicorn with the settings of ``appjobs serve``
  (httptools, one process, ``log_level="warning"``, default event loop), in a subprocess: this module run as
  a script with the port.
* **appjobs serve** on a fresh data directory, with a communication user added through
  ``appjobs admin users add --password-stdin``; it starts its worker process too.

Then the bench logs on the way a scheduler does (``HEAD <root>/`` with ``X-CSRF-Token: Fetch`` and Basic auth,
which returns the ``SAP_SESSIONID_…`` cookie), schedules one ``/APPJOBS/DEMO_ECHO`` job and waits until it has
ended, so that the worker is idle while the server is measured. Each target is checked once before its load:
200, the job's name in the body, and no ``Set-Cookie``.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import http.client
import json
import pathlib
import signal
import socket
import subprocess
import sys
import time
from typing import Any
from urllib.parse import quote, unquote

from odata_load import Target

SERVICE_ROOT = "/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=0002"
USER = "BENCHUSER"
TEMPLATE = "/APPJOBS/DEMO_ECHO"
BARE_BODY = {"d": {"status": "ok", "ReturnCode": 0}}


# --- the bare Starlette anchor (run as a subprocess: this module with PORT) ---------------------------------------


def bare_app() -> Any:
    """Starlette with a trivial JSON route, ``async`` at /bare and plain ``def`` (thread pool) at /bare-sync."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def bare(request: Any) -> JSONResponse:
        return JSONResponse(BARE_BODY)

    def bare_sync(request: Any) -> JSONResponse:
        return JSONResponse(BARE_BODY)

    return Starlette(routes=[Route("/bare", bare), Route("/bare-sync", bare_sync)])


def serve_bare(port: int) -> None:
    """uvicorn as ``appjobs serve`` runs it: httptools, one process, log_level warning, default loop.

    (appjobs passes its own subclass of the httptools protocol; it differs only in how a bad request is answered.)
    """
    import uvicorn

    uvicorn.run(bare_app(), host="127.0.0.1", port=port, log_level="warning", http="httptools")


# --- processes and requests --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request_once(
    port: int, method: str, path: str, headers: dict[str, str] | None = None
) -> tuple[int, list[tuple[str, str]], bytes]:
    """One request on a fresh connection: status, headers and body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        conn.close()


def wait_http(port: int, path: str, proc: subprocess.Popen[bytes], log: pathlib.Path) -> None:
    """Return once GET *path* answers 200; exit with the server's output if it dies or takes 30 s."""
    deadline = time.monotonic() + 30
    while True:
        with contextlib.suppress(OSError):
            if request_once(port, "GET", path)[0] == 200:
                return
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            sys.exit(f"the server on port {port} did not start; its output:\n{log.read_text()}")
        time.sleep(0.1)


def start(argv: list[str], log: pathlib.Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM (uvicorn shuts down cleanly, and ``appjobs serve`` stops its worker), SIGKILL if it hangs."""
    if proc is None:
        return
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        print(f"!!! pid {proc.pid} did not stop within 30 s of SIGTERM; killing it", file=sys.stderr)
        proc.kill()
        proc.wait()


# --- the user, the logon and the job -----------------------------------------------------------------------------


def add_user(data_dir: pathlib.Path, password: str) -> None:
    init = [sys.executable, "-m", "appjobs", "admin", "init", "--data-dir", str(data_dir)]
    subprocess.run(init, check=True, capture_output=True)  # the admin commands need a data directory that exists
    argv = [sys.executable, "-m", "appjobs", "admin", "users", "add", USER, "--password-stdin"]
    subprocess.run([*argv, "--data-dir", str(data_dir)], input=f"{password}\n", text=True, check=True)


def basic(password: str) -> str:
    return "Basic " + base64.b64encode(f"{USER}:{password}".encode()).decode()


@dataclasses.dataclass(frozen=True)
class Logon:
    """What a token fetch gave: the cookies (as a ``Cookie`` header), the CSRF token, the session id."""

    cookie: str
    token: str
    session_id: str


def fetch_token(port: int, password: str) -> Logon:
    """``HEAD <root>/`` with ``X-CSRF-Token: Fetch`` and Basic auth, as a scheduler logs on."""
    headers = {"Authorization": basic(password), "X-CSRF-Token": "Fetch"}
    status, answer, _ = request_once(port, "HEAD", SERVICE_ROOT + "/", headers)
    cookies = [value.split(";")[0] for name, value in answer if name.lower() == "set-cookie"]
    token = next((value for name, value in answer if name.lower() == "x-csrf-token"), "")
    session = next((c.split("=", 1)[1] for c in cookies if c.startswith("SAP_SESSIONID_")), "")
    if status != 200 or not token or not session:
        sys.exit(f"token fetch failed: {status} {answer}")
    return Logon("; ".join(cookies), token, unquote(session))


def string_literal(text: str) -> str:
    """An Edm.String literal, percent-encoded for a query string: quoted, inner quotes doubled."""
    return quote("'" + text.replace("'", "''") + "'", safe="'/")


def schedule_job(port: int, logon: Logon) -> tuple[str, str]:
    """Schedule one job of the demo echo template; its JobName and JobRunCount."""
    query = f"JobTemplateName={string_literal(TEMPLATE)}&JobText='bench'&$format=json"
    headers = {"Cookie": logon.cookie, "X-CSRF-Token": logon.token}
    status, _, body = request_once(port, "POST", f"{SERVICE_ROOT}/JobSchedule?{query}", headers)
    if status != 200:
        sys.exit(f"JobSchedule failed: {status} {body[:500]!r}")
    entity = json.loads(body)["d"]
    return entity["JobName"], entity["JobRunCount"]


def status_path(name: str, run_count: str) -> str:
    query = f"JobName={string_literal(name)}&JobRunCount={string_literal(run_count)}&$format=json"
    return f"{SERVICE_ROOT}/JobStatusGet?{query}"


def wait_job_final(port: int, path: str, logon: Logon) -> str:
    """Poll JobStatusGet until the job is F or A, so that the worker is idle while we measure."""
    deadline, status = time.monotonic() + 60, ""
    while time.monotonic() < deadline:
        code, _, body = request_once(port, "GET", path, {"Cookie": logon.cookie})
        if code != 200:
            sys.exit(f"JobStatusGet failed: {code} {body[:500]!r}")
        status = json.loads(body)["d"]["JobStatus"]
        if status in ("F", "A"):
            break
        time.sleep(0.1)
    return status


def check_target(target: Target, expect: str) -> None:
    """One request before the load: it must answer 200 with *expect* in the body, and set no cookie."""
    status, headers, body = request_once(target.port, "GET", target.path, dict(target.headers))
    if status != 200 or expect.encode() not in body:
        sys.exit(f"{target.label}: expected 200 with {expect!r}, got {status} {body[:500]!r}")
    if any(name.lower() == "set-cookie" for name, _ in headers):
        sys.exit(f"{target.label}: the response sets a cookie, so the figure would not be what it claims")


# --- both servers, set up --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Setup:
    """The running servers and what the targets need."""

    data_dir: pathlib.Path
    password: str
    bare: subprocess.Popen[bytes] | None = None
    bare_port: int = 0
    ours: subprocess.Popen[bytes] | None = None
    ours_port: int = 0
    logon: Logon | None = None
    job: tuple[str, str] = ("", "")
    job_status: str = ""

    def stop(self) -> None:
        stop(self.bare)
        stop(self.ours)


def start_servers(setup: Setup) -> None:
    """Start bare Starlette and ``appjobs serve``; log on, schedule a job and wait for it to end."""
    setup.bare_port = free_port()
    bare_log = setup.data_dir / "bare.log"
    setup.bare = start([sys.executable, __file__, str(setup.bare_port)], bare_log)
    wait_http(setup.bare_port, "/bare", setup.bare, bare_log)
    add_user(setup.data_dir, setup.password)
    setup.ours_port = free_port()
    serve_log = setup.data_dir / "serve.log"
    argv = [sys.executable, "-m", "appjobs", "serve", "--data-dir", str(setup.data_dir), "--port", str(setup.ours_port)]
    setup.ours = start(argv, serve_log)
    wait_http(setup.ours_port, "/appjobs/health", setup.ours, serve_log)
    setup.logon = fetch_token(setup.ours_port, setup.password)
    setup.job = schedule_job(setup.ours_port, setup.logon)
    setup.job_status = wait_job_final(setup.ours_port, status_path(*setup.job), setup.logon)


if __name__ == "__main__":
    serve_bare(int(sys.argv[1]))
