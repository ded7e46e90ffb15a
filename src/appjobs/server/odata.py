"""The ASGI endpoint under ``/sap/opu/odata/``: one request's way through the service.

In order, as SAP Gateway does it:

1. the URL length (414 past 64 KiB) and the response format (``$format``, else ``Accept``);
2. logon: session cookie or Basic credentials (401);
3. a CSRF token fetch opens a session; a modifying request must bring its token (403);
4. the resource the raw path names (404), the method (405), the parameters (400);
5. the engine call and the Atom or JSON answer.

Steps 1 and 4 to 5 are :meth:`ODataEndpoint.answer`, which also answers
each request of a ``$batch`` (:mod:`.batch`): a ``$batch`` POST is the one
request whose body is read (at most 16 MiB, 413 past it, before the logon; see :mod:`.bodies`),
and its requests are logged on and CSRF-checked once, as the batch.

Steps 2 to 5 touch the database and run in a worker thread, off the event
loop: a logon may cost an argon2 check (tens of milliseconds) and a write
may wait for the write lock. One request is answered on the event loop
itself: the poll, a GET of JobStatusGet whose caller the gate knows from its
caches (a session or verified credentials seen in the last seconds). It
costs one primary-key read (which also checks that the caller's logon still
holds), which on SQLite in WAL mode never waits for a writer, and skipping
the thread hop more than doubles the polls a server answers
(``bench/odata_bench.py``). On PostgreSQL, where a read is a network round
trip that must not hold up the loop, the poll takes the thread too, but
still the short way of :mod:`.polls`.

A logon that needs an argon2 check (credentials not verified lately) does
not wait for its turn in the thread pool: the first pass through the pool
stops before the check, the request waits outside for one of the
:data:`~appjobs.auth.passwords.TURNS` password checks, then passes again. A
flood of bad logons thus holds neither the pool's threads (clients with
sessions keep being answered) nor more than a few checks' memory.

A token fetch gets its token and cookies even when a later step fails:
clients fetch with a HEAD on whatever URL they are about to POST to.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Mapping
from urllib.parse import unquote

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from appjobs import errors, logs
from appjobs.auth import passwords
from appjobs.engine import JobService
from appjobs.server import batch, correlation, polls, resources
from appjobs.server.bodies import BodyBudget, read_body
from appjobs.server.config import BATCH_BODIES_BUDGET, MAX_BATCH_BODY, MAX_URL, ServerSettings
from appjobs.server.errors import (
    BASE_HEADERS,
    BatchBodiesBusy,
    PayloadTooLarge,
    ResourceNotFound,
    UriTooLong,
    error_response,
)
from appjobs.server.metrics import HttpMetrics, resource_of
from appjobs.server.protocol import too_long_message
from appjobs.server.security import Caller, Gate, wants_token
from appjobs.server.targets import parse_target

SUCCESS_HEADERS = BASE_HEADERS | {"dataserviceversion": "2.0"}
POLL = "/JobStatusGet"  #: the request answered on the event loop when its caller is known (see above)
#: Headers of a poll's answer, as :func:`_response` writes them for JSON, but content-length (a test holds them equal).
_POLL_HEADERS = [(k.encode(), v.encode()) for k, v in (SUCCESS_HEADERS | {"content-type": resources.JSON}).items()]


@dataclasses.dataclass(frozen=True)
class Incoming:
    """What the thread needs of a request: plain values, no ASGI objects."""

    method: str
    raw_path: str
    query: bytes
    headers: Mapping[str, str]
    origin: str  #: ``scheme://host``
    source: str | None = None  #: the client's address, for the audit log
    certificate: str | None = None  #: SHA-256 fingerprint of a verified client certificate
    body: bytes = b""  #: read for a ``$batch`` only: no other resource takes a body
    request_id: str = ""  #: its ``x-correlationid`` (see :mod:`.correlation`)

    @functools.cached_property
    def cookies(self) -> Mapping[str, str]:
        return cookie_parser(self.headers.get("cookie", ""))

    @functools.cached_property
    def params(self) -> list[tuple[str, str]]:
        """The decoded query string, parsed once (``$format`` is read before the rest)."""
        return query_pairs(self.query)


class ODataEndpoint:
    """The ASGI app that serves BC_EXT_APPJOB_MANAGEMENT."""

    def __init__(
        self, service: JobService, gate: Gate, settings: ServerSettings, *, http_metrics: HttpMetrics | None = None
    ) -> None:
        self.service = service
        self.http_metrics = http_metrics or HttpMetrics()
        self.gate = gate
        self.settings = settings
        self.polls_on_loop = service.store.db.dialect == "sqlite"
        self._turns: anyio.CapacityLimiter | None = None  # made on the event loop, at the first password check
        self._batch_bodies = BodyBudget(BATCH_BODIES_BUDGET)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        began = time.perf_counter()
        raw_path = scope.get("raw_path") or scope["path"].encode()
        headers = Headers(scope=scope)
        request_id = correlation.request_id(headers)
        logs.bind(request_id=request_id)  # this request's task: its log lines and audit entries name it
        incoming = Incoming(
            method=scope["method"],
            raw_path=raw_path.decode("latin-1"),
            query=scope.get("query_string", b""),
            headers=headers,
            origin=origin(scope, headers),
            source=scope["client"][0] if scope.get("client") else None,
            certificate=client_certificate(scope),
            request_id=request_id,
        )
        if incoming.method == "POST" and _names_batch(incoming.raw_path):
            try:
                body = await read_body(receive, headers, MAX_BATCH_BODY, self._batch_bodies)
            except (PayloadTooLarge, BatchBodiesBusy) as exc:
                await self._send(error_response(exc, negotiate(incoming)), incoming, began, scope, receive, send)
                return
            try:  # the body's bytes stay taken from the budget until its answer is sent
                with_body = dataclasses.replace(incoming, body=body)
                await self._send(await self._respond(with_body), with_body, began, scope, receive, send)
            finally:
                self._batch_bodies.give_back(len(body))
            return
        await self._send(await self._respond(incoming), incoming, began, scope, receive, send)

    async def _send(
        self, response: bytes | Response, incoming: Incoming, began: float, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Send *response* with the request's ``x-correlationid``; count the request and its time in the metrics."""
        request_id = (correlation.HEADER_BYTES, incoming.request_id.encode())
        if isinstance(response, bytes):
            # The two messages a Response would send, with headers encoded once per process.
            headers = [*_POLL_HEADERS, (b"content-length", str(len(response)).encode()), request_id]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": response})
            status = 200
        else:
            response.raw_headers.append(request_id)
            await response(scope, receive, send)
            status = response.status_code
        seconds = time.perf_counter() - began
        self.http_metrics.observe(resource_of(incoming.raw_path), incoming.method, status, seconds)

    async def _respond(self, incoming: Incoming) -> bytes | Response:
        """The answer to *incoming*: a poll's JSON body by the short way, else the general way's response."""
        known = self._known_poller(incoming)
        response: bytes | Response | None = None
        if known is not None and self.polls_on_loop:
            response = self._poll(incoming, known)
        elif known is not None:
            response = await run_in_threadpool(self._poll, incoming, known)
        if response is None:
            response = await self._general(incoming)
        return response

    async def _general(self, incoming: Incoming) -> Response:
        """The general way, in the thread pool; a password check waits for its turn outside the pool."""
        response = await run_in_threadpool(self.handle, incoming, verify=False)
        if response is None:  # the logon needs argon2
            if self._turns is None:
                self._turns = anyio.CapacityLimiter(passwords.TURNS)
            response = await anyio.to_thread.run_sync(functools.partial(self.handle, incoming), limiter=self._turns)
        assert response is not None  # with verify, handle always answers
        return response

    def _poll(self, incoming: Incoming, known: Caller) -> bytes | Response | None:
        """A known caller's poll: the JSON body by the short way, else the general way's response.

        None when the caller's cached logon no longer holds: its caches are
        dropped, and the request must take the general way, logging on anew.
        """
        body = self._quick_poll(incoming, known)
        if body is polls.STALE:
            self.gate.forget(known)
            return None
        return body if body is not None else self.handle(incoming, known)

    def _quick_poll(self, incoming: Incoming, caller: Caller) -> bytes | polls.Stale | None:
        """The JSON body of a plain poll by :mod:`.polls`; :data:`~.polls.STALE` when the caller's logon no
        longer holds; None when the general way must answer (for a caller whose logon holds)."""
        try:
            key = polls.poll_key(incoming.params, negotiate(incoming))
        except errors.InvalidInput:
            key = None
        if key is None:  # more than a plain poll: checking the logon takes a read of its own
            return None if self.gate.is_current(caller) else polls.STALE
        return polls.answer(self.service, incoming.raw_path, incoming.origin, key, caller)

    def _known_poller(self, incoming: Incoming) -> Caller | None:
        """The caller of a JobStatusGet poll that the gate knows without the database, else None."""
        if incoming.method != "GET" or not incoming.raw_path.endswith(POLL):
            return None
        if wants_token(incoming.method, incoming.headers):
            return None  # a token fetch may open a session: a write
        return self.gate.cached_logon(incoming.headers, incoming.cookies, certificate=incoming.certificate)

    def handle(self, incoming: Incoming, known: Caller | None = None, *, verify: bool = True) -> Response | None:
        """The response to *incoming*, errors included; *known* is its caller when the gate knew it already.

        Without *verify*, None when the logon needs an argon2 check: call again
        with *verify* (in one of the password-check turns).
        """
        fmt = negotiate(incoming)
        caller: Caller | None = known
        try:
            _check_length(incoming)
            caller = caller or self.gate.logon(
                incoming.headers, incoming.cookies, certificate=incoming.certificate, source=incoming.source,
                verify=verify,
            )  # fmt: skip
            if caller is None:
                return None
            logs.bind(user=caller.user)
            if wants_token(incoming.method, incoming.headers):
                caller = self.gate.fetch_token(caller)
            self.gate.check_token(incoming.method, caller, csrf_token(incoming.headers))
        except Exception as exc:  # every failure becomes an SAP error document, in one place
            response = error_response(exc, fmt, realm=self.settings.realm)
        else:
            response = self.answer(incoming, caller)
        if caller is not None and caller.session is not None and wants_token(incoming.method, incoming.headers):
            response.headers["x-csrf-token"] = caller.session.csrf_token
            if caller.opened:
                response.raw_headers.extend(self.gate.cookie_headers(caller.session))
        return response

    def answer(self, incoming: Incoming, caller: Caller, *, in_batch: bool = False) -> Response:
        """The response to a request whose logon and CSRF check are done, errors included.

        The one way every request is served, whether it came alone or as a
        request of a ``$batch`` (*in_batch*, see :mod:`.batch`): the URL's
        length, the resource, the method, the parameters, the engine call.
        """
        fmt = negotiate(incoming)
        try:
            _check_length(incoming)
            return self._serve(incoming, caller, fmt, in_batch)
        except Exception as exc:  # every failure becomes an SAP error document, in one place
            return error_response(exc, fmt, realm=self.settings.realm)

    def _serve(self, incoming: Incoming, caller: Caller, fmt: str, in_batch: bool) -> Response:
        target = parse_target(incoming.raw_path)
        if target.resource == batch.BATCH:
            if in_batch:
                batch.refuse_nested()
            return batch.serve(self.answer, self.service, incoming, caller, target, fmt)
        call = resources.Call(
            method=incoming.method,
            target=target,
            params=incoming.params,
            base_url=incoming.origin + target.root,
            fmt=fmt,
            caller=caller,
            source=incoming.source,
        )
        return _response(resources.dispatch(self.service, call), incoming.method)


def _check_length(incoming: Incoming) -> None:
    if len(incoming.raw_path) + 1 + len(incoming.query) > MAX_URL:
        raise UriTooLong(too_long_message())


def _names_batch(raw_path: str) -> bool:
    """True when *raw_path* names the service's ``$batch``: then, and only then, the request's body is read."""
    try:
        return parse_target(raw_path).resource == batch.BATCH
    except ResourceNotFound:
        return False


def csrf_token(headers: Mapping[str, str]) -> str | None:
    """The request's ``X-CSRF-Token``, without the blanks and tabs around it.

    HTTP says they are not part of a field's value, but httptools keeps the
    trailing ones, and scripts that cut the token out of curl's output leave
    some (a carriage return the parser refuses itself; see :mod:`.protocol`).
    """
    token = headers.get("x-csrf-token")
    return token.strip(" \t") if token else token


def _response(reply: resources.Reply, method: str) -> Response:
    body = b"" if method == "HEAD" else reply.body
    headers = SUCCESS_HEADERS | {"content-length": str(len(reply.body))}
    return Response(body, reply.status, headers, media_type=reply.content_type)


def origin(scope: Scope, headers: Headers) -> str:
    """``scheme://host[:port]`` plus the root path, as the client addressed us (Starlette's ``base_url``, cheaper)."""
    scheme, root_path = scope.get("scheme", "http"), scope.get("root_path", "")
    host = headers.get("host")
    if host:
        return f"{scheme}://{host}{root_path}"
    server = scope.get("server")
    if server is None:
        return root_path
    name, port = server
    default = port == {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{name}{root_path}" if default else f"{scheme}://{name}:{port}{root_path}"


def client_certificate(scope: Scope) -> str | None:
    """The fingerprint of the client certificate the TLS layer verified (ASGI's TLS extension), if any."""
    tls = scope.get("extensions", {}).get("tls") or {}
    return tls.get("appjobs_client_cert_sha256")


def query_pairs(query: bytes) -> list[tuple[str, str]]:
    """The decoded query string. ``+`` is a space, as in every HTML form and in requests' encoding.

    The same pairs as ``urllib.parse.parse_qsl(…, keep_blank_values=True,
    errors="strict")`` (a test holds the two to it), at a third of its cost:
    every poll pays for this.
    """
    try:
        return [_pair(field) for field in query.decode("ascii").split("&") if field]
    except UnicodeDecodeError as exc:
        raise errors.InvalidInput("the query string is not percent-encoded UTF-8") from exc


def _pair(field: str) -> tuple[str, str]:
    name, _, value = field.partition("=")
    return _unquote(name), _unquote(value)


def _unquote(text: str) -> str:
    if "+" in text:
        text = text.replace("+", " ")
    return unquote(text, errors="strict") if "%" in text else text


def negotiate(incoming: Incoming) -> str:
    """``"json"`` or ``"xml"``: ``$format`` when it is valid, else the ``Accept`` header, else XML (SAP's default)."""
    try:
        requested = dict(incoming.params).get("$format")
    except errors.InvalidInput:
        requested = None
    if requested == "json":
        return "json"
    if requested in ("atom", "xml"):
        return "xml"
    return "json" if _prefers_json(incoming.headers.get("accept", "")) else "xml"


def _prefers_json(accept: str) -> bool:
    """True when ``application/json`` comes before any XML type in *accept* (quality values aside)."""
    for item in accept.split(","):
        media = item.split(";")[0].strip().lower()
        if media == "application/json":
            return True
        if media in ("application/atom+xml", "application/xml", "text/xml"):
            return False
    return False
