"""``appjobs serve`` at its edges: a busy port, slow clients, huge request heads, too many connections.

Real servers, raw sockets: a client that trickles its request head is
closed after ``--header-timeout``, a head past the size limit gets 431, and
a request beyond ``--limit-concurrency`` open connections gets 503, while a
normal client is served throughout.
"""

from __future__ import annotations

import contextlib
import pathlib
import socket
import subprocess
import time
from collections.abc import Callable, Iterator

import requests
from conftest import APPJOBS, Server, wait_for

HEAD_START = b"GET /appjobs/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"


@contextlib.contextmanager
def connection(server: Server) -> Iterator[socket.socket]:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        yield sock


def read_until_closed(sock: socket.socket, trickle: bytes = b"", deadline: float = 30.0) -> bytes:
    """What the server sends until it closes *sock*, sending one byte of *trickle* every 0.1 s meanwhile."""
    received, end, position = b"", time.monotonic() + deadline, 0
    sock.settimeout(0.1)
    while time.monotonic() < end:
        if position < len(trickle):
            with contextlib.suppress(OSError):  # the server may have closed its side already
                sock.sendall(trickle[position : position + 1])
            position += 1
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk
    raise AssertionError(f"the server kept the connection open for {deadline} s; it sent {received!r}")


def test_a_trickled_request_head_is_closed_after_the_header_timeout(start_server: Callable[..., Server]) -> None:
    """Half a head, then one byte every 0.1 s: 408 and closed after --header-timeout, though bytes keep coming."""
    server = start_server("--header-timeout", "1")
    started = time.monotonic()
    with connection(server) as sock:
        sock.sendall(HEAD_START)  # the request line and a header; then a header that never ends
        answer = read_until_closed(sock, trickle=b"X-Slow: " + b"a" * 400)
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), answer
    assert time.monotonic() - started < 400 * 0.1, "closed only when the trickle ended"
    assert requests.get(f"{server.url}/appjobs/health", timeout=10).status_code == 200


def test_a_connection_that_sends_nothing_is_closed(start_server: Callable[..., Server]) -> None:
    """A connection that never sends a byte is closed without an answer after --header-timeout."""
    server = start_server("--header-timeout", "1")
    with connection(server) as sock:
        assert read_until_closed(sock) == b""


def test_keep_alive_clients_are_served_request_after_request(start_server: Callable[..., Server]) -> None:
    """A client that sends whole requests on one connection is answered each time; the timer restarts per request."""
    server = start_server("--header-timeout", "1")
    with requests.Session() as http:
        for _ in range(3):
            response = http.get(f"{server.url}/appjobs/health", timeout=10)
            assert response.status_code == 200
            time.sleep(0.6)  # less than the timeout each time, more than it in all
    with connection(server) as sock:  # and a whole head sent at once, then the body-less request answered
        sock.sendall(HEAD_START + b"\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK\r\n")


def test_a_huge_request_head_gets_431(start_server: Callable[..., Server]) -> None:
    """A head that grows past 256 KiB without ending is refused with 431 and closed."""
    server = start_server()
    with connection(server) as sock:
        sock.sendall(HEAD_START)
        with contextlib.suppress(OSError):  # the server closes while we still send
            for _ in range(40):
                sock.sendall(b"X-Big: " + b"b" * 8192 + b"\r\n")
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"), answer[:200]


def test_connections_beyond_the_limit_are_answered_503(start_server: Callable[..., Server]) -> None:
    """With --limit-concurrency 3, three open connections take the server's room: the next request gets 503."""
    server = start_server("--limit-concurrency", "3")
    health = f"{server.url}/appjobs/health"
    with contextlib.ExitStack() as stack:
        for _ in range(2):
            stack.enter_context(connection(server))
        assert requests.get(health, timeout=10).status_code == 200  # the third connection: still served
        stack.enter_context(connection(server))
        wait_for(lambda: requests.get(health, timeout=10).status_code == 503)
    wait_for(lambda: requests.get(health, timeout=10).status_code == 200)


def test_serve_on_a_busy_port_exits_2_before_setting_anything_up(tmp_path: pathlib.Path) -> None:
    """A port in use: exit 2 with a sentence naming --port; no data directory, no password shown for nothing."""
    data_dir = tmp_path / "data"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [*APPJOBS, "serve", "--data-dir", str(data_dir), "--port", str(port)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert f"port {port} is in use; choose another with --port" in done.stderr
    assert "password" not in done.stderr
    assert "serving at" not in done.stderr
    assert not data_dir.exists()


def test_serve_on_port_0_announces_the_port_it_got(start_server: Callable[..., Server], tmp_path: pathlib.Path) -> None:
    """``--port 0`` lets the system choose, and the announced service URL names the port actually bound."""
    del start_server  # only for the data directory's database, on PostgreSQL
    data_dir = tmp_path / "data"
    log = tmp_path / "serve0.log"
    with log.open("w") as stderr:
        proc = subprocess.Popen(
            [*APPJOBS, "serve", "--data-dir", str(data_dir), "--port", "0", "--workers", "0"],
            stderr=stderr, text=True, start_new_session=True,
        )  # fmt: skip
    try:
        announced = wait_for(lambda: "serving at http://127.0.0.1:" in log.read_text() and log.read_text())
        port = int(str(announced).split("serving at http://127.0.0.1:")[1].split("/")[0])
        assert port != 0
        wait_for(lambda: Server(proc, port, log).healthy())
    finally:
        proc.kill()
        proc.wait()
