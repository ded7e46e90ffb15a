"""A fault-injecting HTTP proxy on loopback, between ``appjobs run`` and a real ``appjobs serve``.

:class:`FaultProxy` is a threaded ``http.server`` that forwards every request
to the upstream server with :mod:`http.client` (method, path and query,
headers with cookies and Basic auth, body) and copies the answer back
(status, headers with every ``Set-Cookie``, body). Rules make it fail on cue::

    proxy.add("GET", "JobStatusGet", reset(), first=2, times=3)

resets the connection of the 2nd, 3rd and 4th GET whose request target
(path and query) contains ``JobStatusGet``; the others are forwarded. A rule
with ``times=None`` applies to every matching request from *first* on. Rules
are checked in the order they were added: a request gets the fault of the
first rule whose turn it is, and counts towards every rule it matches.
:attr:`FaultProxy.seen` records every request with the fault it got, so a
test can show that the faults really happened.

When the upstream server cannot be reached (it was killed), the proxy resets
the client's connection, as a layer-4 load balancer without a backend does.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import socket
import struct
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT_PATH = "/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=0002"
#: Headers that belong to one connection, not to the message: never copied across the proxy.
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "content-length"}
)
OWN_HEADERS = frozenset({"server", "date"})  #: sent by http.server itself

Fault = Callable[["_Handler", bytes], None]


# --- faults ----------------------------------------------------------------------------------


def reset() -> Fault:
    """Close the connection without an answer (an RST), before the upstream server saw the request."""

    def act(handler: _Handler, body: bytes) -> None:
        handler.reset()

    act.__name__ = "reset"
    return act


def unavailable(retry_after: int | None = None) -> Fault:
    """Answer 503, with ``Retry-After`` when given, as a gateway in front of a busy tenant does."""

    def act(handler: _Handler, body: bytes) -> None:
        headers = [("Retry-After", str(retry_after))] if retry_after is not None else []
        handler.answer(503, [("Content-Type", "text/plain"), *headers], b"Service Unavailable")

    act.__name__ = f"unavailable(retry_after={retry_after})"
    return act


def delay(seconds: float) -> Fault:
    """Forward the request after *seconds* (a slow CSRF fetch: tenants have taken over a minute)."""

    def act(handler: _Handler, body: bytes) -> None:
        time.sleep(seconds)
        handler.relay(body)

    act.__name__ = f"delay({seconds})"
    return act


def truncate() -> Fault:
    """Forward, then send the answer with a Content-Length larger than its body, half the body, and hang up."""

    def act(handler: _Handler, body: bytes) -> None:
        status, headers, answer = handler.forward(body)
        handler.answer(status, headers, answer[: len(answer) // 2], length=len(answer) + 100, close=True)

    act.__name__ = "truncate"
    return act


def garbage() -> Fault:
    """Answer 200 with a JSON content type and a body that is no JSON at all."""

    def act(handler: _Handler, body: bytes) -> None:
        handler.answer(200, [("Content-Type", "application/json")], b'{"d": {"JobName": "garbage \x00\xff')

    act.__name__ = "garbage"
    return act


def html_page() -> Fault:
    """Answer 200 with an HTML page, as a captive portal or a misrouted load balancer does."""

    def act(handler: _Handler, body: bytes) -> None:
        page = b"<!DOCTYPE html><html><head><title>Maintenance</title></head><body>Back soon</body></html>"
        handler.answer(200, [("Content-Type", "text/html")], page)

    act.__name__ = "html_page"
    return act


def drop_response() -> Fault:
    """Forward to the upstream server, which acts on the request, then reset the client: the answer is lost."""

    def act(handler: _Handler, body: bytes) -> None:
        handler.forward(body)
        handler.reset()

    act.__name__ = "drop_response"
    return act


def forward_then_unavailable() -> Fault:
    """Forward to the upstream server, which acts on the request, then answer 503: as a server does
    whose commit reached its database just as the connection to it broke."""

    def act(handler: _Handler, body: bytes) -> None:
        handler.forward(body)
        handler.answer(503, [("Content-Type", "text/plain"), ("Retry-After", "1")], b"Service Unavailable")

    act.__name__ = "forward_then_unavailable"
    return act


def unknown_segment(segment: str) -> Fault:
    """Answer 404 with SAP's error document for *segment*, as a tenant from before SAP added it does."""

    def act(handler: _Handler, body: bytes) -> None:
        message = f"Resource not found for the segment '{segment}'."
        document = (
            '{"error":{"code":"005056A509B11EE1B9A8FEC11C21D78E","message":{"lang":"en","value":"'
            + message
            + '"},"innererror":{"transactionid":"0","errordetails":[]}}}'
        )
        handler.answer(404, [("Content-Type", "application/json")], document.encode())

    act.__name__ = f"unknown_segment({segment})"
    return act


# --- the proxy -------------------------------------------------------------------------------


@dataclasses.dataclass
class Rule:
    """Inject *fault* into requests with *method* whose target contains *path*, from match *first* on."""

    method: str
    path: str
    fault: Fault
    first: int = 1
    times: int | None = 1  #: how many matching requests get the fault; None: all from *first* on
    matched: int = 0  #: matching requests seen so far
    applied: int = 0  #: faults injected so far

    def counts(self, method: str, target: str) -> bool:
        """Count the request if it is one this rule watches; True if it is, and its turn for the fault has come."""
        if method != self.method or self.path not in target:
            return False
        self.matched += 1
        return self.matched >= self.first and (self.times is None or self.matched < self.first + self.times)


@dataclasses.dataclass(frozen=True)
class Seen:
    """One request as the proxy got it, and what it did with it."""

    method: str
    target: str  #: path and query, as sent
    fault: str | None  #: the fault's name, "upstream down", or None when forwarded untouched
    at: float  #: time.monotonic() when the request had arrived


class FaultProxy:
    """A proxy in front of ``127.0.0.1:upstream_port``. Use as a context manager."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.rules: list[Rule] = []
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def __enter__(self) -> FaultProxy:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.proxy = self  # type: ignore[attr-defined]
        server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def root(self) -> str:
        """The service URL to give ``appjobs run``."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}{ROOT_PATH}"

    def add(self, method: str, path: str, fault: Fault, *, first: int = 1, times: int | None = 1) -> Rule:
        rule = Rule(method, path, fault, first, times)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        """Forward everything from now on."""
        with self._lock:
            self.rules.clear()

    def fault_for(self, method: str, target: str) -> Fault | None:
        """The fault of the first rule whose turn it is; every rule counts the request all the same."""
        chosen: Rule | None = None
        with self._lock:
            for rule in self.rules:
                if rule.counts(method, target) and chosen is None:
                    chosen = rule
            if chosen is not None:
                chosen.applied += 1
        return None if chosen is None else chosen.fault

    def record(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)

    def count(self, method: str, path: str, fault: str | None = None) -> int:
        """Requests with *method* for *path* seen so far; only those that got *fault*, when given."""
        with self._lock:
            return sum(1 for s in self.seen if s.method == method and path in s.target and fault in (None, s.fault))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive towards the client, as a real gateway
    server: ThreadingHTTPServer

    @property
    def proxy(self) -> FaultProxy:
        return self.server.proxy  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        arrived = time.monotonic()
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        fault = self.proxy.fault_for(self.command, self.path)
        name = getattr(fault, "__name__", None)
        try:
            (fault or _Handler.relay)(self, body)
        except OSError:  # the upstream server is down: hang up, as a load balancer without a backend does
            name = name or "upstream down"
            self.reset()
        self.proxy.record(Seen(self.command, self.path, name, arrived))

    def forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        """Send the request to the upstream server; its status, headers and whole body."""
        upstream = http.client.HTTPConnection("127.0.0.1", self.proxy.upstream_port, timeout=60)
        try:
            upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in HOP_BY_HOP:
                    upstream.putheader(name, value)
            upstream.putheader("Content-Length", str(len(body)))
            upstream.endheaders(body)
            response = upstream.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            upstream.close()

    def relay(self, body: bytes) -> None:
        """Forward the request and copy the answer back untouched."""
        status, headers, answer = self.forward(body)
        self.answer(status, headers, answer)

    def answer(
        self,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes,
        *,
        length: int | None = None,
        close: bool = False,
    ) -> None:
        """Send *status*, *headers* and *body*; with *length*, claim that Content-Length instead of the body's."""
        if length is None:  # a HEAD has no body but tells the length the GET would have
            given = next((value for name, value in headers if name.lower() == "content-length"), "0")
            length = int(given) if self.command == "HEAD" else len(body)
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in HOP_BY_HOP | OWN_HEADERS:
                self.send_header(name, value)
        self.send_header("Content-Length", str(length))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        if close:
            with contextlib.suppress(OSError):
                self.request.shutdown(socket.SHUT_RDWR)

    def reset(self) -> None:
        """Hang up with an RST, without an answer."""
        with contextlib.suppress(OSError):
            self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
