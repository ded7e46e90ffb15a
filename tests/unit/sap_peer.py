"""A scripted SAP tenant on loopback, for testing the client's transport against real HTTP.

:class:`SapPeer` is a threaded ``http.server`` that plays the part of an SAP
Gateway serving BC_EXT_APPJOB_MANAGEMENT, as far as a client notices:

* Basic logon (401 with an HTML page and ``WWW-Authenticate`` otherwise);
* CSRF tokens fetched with ``X-CSRF-Token: Fetch`` on GET or HEAD, bound to a
  session cookie (``SAP_SESSIONID_APJ_100``), checked on POST (403 with
  ``x-csrf-token: Required`` and the text ``CSRF token validation failed``);
* canned answers per resource, built with :mod:`appjobs.odata` so that they
  are exactly what ``appjobs serve`` writes.

Faults are scripted per method and resource and used up in order::

    peer.script("GET", "JobStatusGet", reset(), reply(503), cut_off())

makes the next three GETs of JobStatusGet fail in those three ways; the
fourth gets the canned answer. Every request is recorded in ``peer.seen``,
with the client's source port, so a test can count requests and
connections. It can also act as an HTTP proxy (requests in absolute form)
and serve TLS, with or without requiring a client certificate.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime as dt
import secrets
import socket
import ssl
import struct
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from appjobs import models
from appjobs.odata import entities, metadata, model, payloads

ROOT_PATH = "/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=0002"
USER, PASSWORD = "JOBSCHEDULERUSER", "Welcome-1"
COOKIE = "SAP_SESSIONID_APJ_100"
JSON = "application/json; charset=utf-8"
UTC = dt.UTC

Action = Callable[["_Handler"], None]


@dataclasses.dataclass(frozen=True)
class Seen:
    """One request as the peer received it."""

    method: str
    path: str  #: without the query, and without scheme and host when it came through as a proxy
    query: str  #: raw, still percent-encoded
    headers: Mapping[str, str]  #: names in lower case
    port: int  #: the client's source port: requests on one connection share it
    proxied: bool = False  #: the request line held an absolute URL, as clients send it to a proxy
    certificate: str | None = None  #: the common name in the client's TLS certificate, if it sent one

    @property
    def resource(self) -> str:
        """What follows the service root: ``""`` for the root itself, ``"JobStatusGet"``..."""
        return self.path[len(ROOT_PATH) :].strip("/")

    @property
    def params(self) -> dict[str, str]:
        """The decoded query parameters (percent-decoding only: a ``+`` stays a plus)."""
        return dict(parse_qsl(self.query.replace("+", "%2B"), keep_blank_values=True))


# --- scripted answers ----------------------------------------------------------------------


def reply(status: int = 200, body: bytes = b"", content_type: str = JSON, **headers: str) -> Action:
    """Answer with *status*, *body* and *headers* (underscores in names become dashes)."""

    def act(handler: _Handler) -> None:
        handler.send(status, body, content_type, {k.replace("_", "-"): v for k, v in headers.items()})

    return act


def reset() -> Action:
    """Drop the connection without an answer (an RST, as a crashing proxy or a load balancer does)."""

    def act(handler: _Handler) -> None:
        handler.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.close_connection = True

    return act


def cut_off(missing: int = 50) -> Action:
    """Send the canned answer with a Content-Length *missing* bytes larger than the body, then hang up."""

    def act(handler: _Handler) -> None:
        status, content_type, body = handler.peer.canned(handler.seen)
        handler.send(status, body, content_type, {"content-length": str(len(body) + missing)}, close=True)

    return act


def garbled() -> Action:
    """Send the first half of the canned answer as if it were all of it: cut off without Content-Length help."""

    def act(handler: _Handler) -> None:
        status, content_type, body = handler.peer.canned(handler.seen)
        handler.send(status, body[: len(body) // 2], content_type)

    return act


def login_page() -> Action:
    """A SAML identity provider's auto-posting login form, as a browser would get it."""
    page = (
        b'<!DOCTYPE html><html><head><title>Sign in</title></head><body onload="document.forms[0].submit()">'
        b'<form method="post" action="https://idp.example/saml2/idp/sso">'
        b'<input type="hidden" name="SAMLRequest" value="PHNhbWxwOkF1dGhuUmVxdWVzdD4="/></form></body></html>'
    )
    return reply(200, page, "text/html; charset=utf-8")


def redirect(location: str) -> Action:
    return reply(302, b"", "text/html", location=location)


# --- the peer --------------------------------------------------------------------------------


class SapPeer:
    """A scripted tenant. Use as a context manager, or call :meth:`start` and :meth:`stop`."""

    def __init__(self, *, tls: ssl.SSLContext | None = None, check_auth: bool = True) -> None:
        self.tls = tls
        self.check_auth = check_auth
        self.seen: list[Seen] = []
        self.sessions: dict[str, str] = {}  #: session id -> CSRF token
        self.answers: dict[str, tuple[int, str, bytes]] = default_answers()
        self._scripts: dict[tuple[str, str], deque[Action]] = defaultdict(deque)
        self.connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def __enter__(self) -> SapPeer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> SapPeer:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.peer = self  # type: ignore[attr-defined]
        server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        if self.tls is not None:
            server.socket = self.tls.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening and hang up every open connection, as a tenant that goes away does."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for connection in self.connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    @property
    def root(self) -> str:
        """The service URL a client is given."""
        scheme = "https" if self.tls else "http"
        host = "localhost" if self.tls else "127.0.0.1"  # the name in the test certificate
        return f"{scheme}://{host}:{self.port}{ROOT_PATH}"

    def script(self, method: str, resource: str, *actions: Action) -> None:
        """Answer the next requests for *resource* (``""`` is the service root) with *actions*, in order."""
        with self._lock:
            self._scripts[(method, resource)].extend(actions)

    def answer(self, resource: str, body: bytes, status: int = 200, content_type: str = JSON) -> None:
        """Make *body* the canned answer for *resource* from now on."""
        self.answers[resource] = (status, content_type, body)

    def expire_sessions(self) -> None:
        """Forget every session, as a tenant does when its security sessions time out."""
        self.sessions.clear()

    def requests_for(self, resource: str, method: str | None = None) -> list[Seen]:
        return [s for s in self.seen if s.resource == resource and (method is None or s.method == method)]

    def next_action(self, seen: Seen) -> Action | None:
        with self._lock:
            self.seen.append(seen)
            queue = self._scripts.get((seen.method, seen.resource))
            return queue.popleft() if queue else None

    def canned(self, seen: Seen) -> tuple[int, str, bytes]:
        return self.answers.get(seen.resource, (404, JSON, _not_found(seen.resource)))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Gateway
    server: ThreadingHTTPServer
    seen: Seen

    @property
    def peer(self) -> SapPeer:
        return self.server.peer  # type: ignore[attr-defined]

    def setup(self) -> None:
        super().setup()
        self.peer.connections.append(self.request)

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: the test output is for the tests

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self._handle()

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        port, proxied = self.client_address[1], bool(parts.scheme)
        self.seen = Seen(self.command, parts.path, parts.query, headers, port, proxied, _common_name(self.request))
        action = self.peer.next_action(self.seen)
        (action or as_tenant)(self)

    def send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: Mapping[str, str] | None = None,
        *,
        close: bool = False,
    ) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        extra = {"content-length": str(len(body))} | {k.lower(): v for k, v in (headers or {}).items()}
        for name, value in extra.items():
            self.send_header(name, value)
        if close:
            self.send_header("connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def as_tenant(handler: _Handler) -> None:
    """What an SAP tenant does: logon, CSRF fetch and check, then the canned answer."""
    peer, seen = handler.peer, handler.seen
    if peer.check_auth and not _basic_ok(seen.headers.get("authorization", "")):
        page = b"<html><head><title>Logon failed</title></head><body>Logon failed</body></html>"
        realm = 'Basic realm="SAP NetWeaver Application Server [APJ/100]"'
        return handler.send(401, page, "text/html; charset=utf-8", {"www-authenticate": realm})
    session_id = _cookie(seen.headers.get("cookie", ""))
    extra: dict[str, str] = {}
    if seen.method in ("GET", "HEAD") and seen.headers.get("x-csrf-token", "").lower() == "fetch":
        if session_id not in peer.sessions:
            session_id = secrets.token_urlsafe(32)
            peer.sessions[session_id] = base64.urlsafe_b64encode(secrets.token_bytes(16)).decode()
            extra["set-cookie"] = f"{COOKIE}={session_id}; path=/; HttpOnly"
        extra["x-csrf-token"] = peer.sessions[session_id]
    if seen.method == "POST" and peer.sessions.get(session_id) != seen.headers.get("x-csrf-token"):
        body = b"CSRF token validation failed"
        return handler.send(403, body, "text/plain; charset=utf-8", {"x-csrf-token": "Required"})
    status, content_type, body = peer.canned(seen)
    return handler.send(status, body, content_type, extra)


def _common_name(connection: socket.socket) -> str | None:
    certificate = connection.getpeercert() if isinstance(connection, ssl.SSLSocket) else None
    names = [value for rdn in (certificate or {}).get("subject", ()) for key, value in rdn if key == "commonName"]
    return names[0] if names else None


def _basic_ok(header: str) -> bool:
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    return header == expected


def _cookie(header: str) -> str:
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return value
    return ""


def _not_found(resource: str) -> bytes:
    return payloads.error_document(
        "005056A509B11EE1B9A8FEC11C21D78E", f"Resource not found for the segment '{resource}'.", fmt="json"
    )


# --- canned answers, as appjobs' service side writes them ---------------------------------

BASE = "https://tenant.example" + ROOT_PATH + "/"
KEY = models.JobKey("38EAA71741401EE6BEA162EB5331DF9C", "JtUpUsyH")
CREATED = dt.datetime(2024, 6, 1, 8, 0, 0, tzinfo=UTC)
TEMPLATE = models.Template(
    "Z7ILD5WNNRAPORG5WWHFQFM5O6I",
    "Nightly load",
    (models.TemplateStep(1, models.StepKind.SHELL, "true"),),
    created_at=CREATED,
    changed_at=CREATED,
)
JOB = models.Job(
    KEY,
    TEMPLATE.name,
    "Nightly load, run 1",
    job_user="CB9980000001",
    creator=USER,
    status=models.JobStatus.RUNNING,
    created_at=CREATED,
    scheduled_at=CREATED,
    started_at=CREATED + dt.timedelta(seconds=2),
)
STEP = models.StepRun(KEY, 1, models.StepKind.SHELL, "true", "", models.JobStatus.RUNNING, started_at=JOB.started_at)


def default_answers() -> dict[str, tuple[int, str, bytes]]:
    """The answers of a tenant with one template and one running job, in verbose JSON."""
    status_set, returns = model.JOB_SCHEDULE_STATUS_COLLECTION, model.FUNC_IMP_RETURN_COLLECTION
    bodies = {
        "": b'{"d":{"EntitySets":["JobTemplateSet"]}}',
        "JobTemplateSet": payloads.feed_json(model.JOB_TEMPLATE_SET, [entities.template_entity(TEMPLATE)], BASE),
        "JobSchedule": payloads.entry_json(
            status_set, entities.schedule_status_entity(JOB, include_status=False), BASE
        ),
        "JobStatusGet": payloads.entry_json(
            status_set, entities.schedule_status_entity(JOB, include_status=True), BASE
        ),
        "JobinfoGet": payloads.feed_json(model.JOBINFO_SET, entities.jobinfo_entities(JOB, [STEP]), BASE),
        "JobListGet": payloads.feed_json(
            model.JOBLIST_SET, entities.joblist_entities([JOB], steps={KEY: [STEP]}), BASE
        ),
        "JobCancel": payloads.entry_json(returns, entities.func_imp_return(), BASE),
        "JobAbort": payloads.entry_json(returns, entities.func_imp_return(), BASE),
    }
    answers = {name: (200, JSON, body) for name, body in bodies.items()}
    answers["$metadata"] = (200, "application/xml", metadata.metadata_document())
    return answers
