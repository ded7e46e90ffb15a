"""``odata_bench.py --profile``, part 1: the layers of one cookie JobStatusGet, timed in the bench process.

Every layer is called on its own, one call at a time, without a profiler and without HTTP or sockets, over the
bench's data directory (with both servers stopped): the whole ASGI call next to bare Starlette's (async and sync
routes), Starlette's ``Request``, the thread hop (``run_in_threadpool``), the logon from the caches (what lets the
event loop answer a poll itself), ``ODataEndpoint.handle`` inline and inside it the logon (session read), the job
read, OData parsing, serialization and the ``Response``, next to the same two reads in raw ``sqlite3``; then Basic
auth, from the verified-credential cache and, for a cache miss, the argon2id check.

The batches of all layers are interleaved over several rounds and the best batch of each layer is kept
(timeit's rule), so that a noisy moment on the machine does not land on one layer only.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import unquote

from odata_servers import SERVICE_ROOT, USER, Setup, bare_app, basic, status_path


def new_loop() -> asyncio.AbstractEventLoop:
    """The loop uvicorn's ``loop="auto"`` picks: uvloop when installed."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def asgi_scope(port: int, path: str, headers: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """The scope uvicorn builds for GET *path* with *headers*."""
    raw_path, _, query = path.partition("?")
    pairs = [(b"host", f"127.0.0.1:{port}".encode()), (b"user-agent", b"bench")]
    pairs += [(name.lower().encode(), value.encode("latin-1")) for name, value in headers]
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", port),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": "GET",
        "root_path": "",
        "path": unquote(raw_path),
        "raw_path": raw_path.encode(),
        "query_string": query.encode(),
        "headers": pairs,
        "state": {},
    }


async def receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def send(message: dict[str, Any]) -> None:
    return None


class Components:
    """The layers of one cookie JobStatusGet, over the bench's data directory, each callable on its own."""

    def __init__(self, setup: Setup) -> None:
        from appjobs.auth.logon import Authenticator
        from appjobs.auth.sessions import SessionManager, id_hash
        from appjobs.engine import JobService
        from appjobs.models import JobKey
        from appjobs.server.app import create_app
        from appjobs.server.config import ServerSettings
        from appjobs.server.odata import ODataEndpoint
        from appjobs.server.security import Gate
        from appjobs.settings import Paths
        from appjobs.storage import Store

        assert setup.logon is not None
        self.setup = setup
        self.paths = Paths.resolve(str(setup.data_dir))
        self.store = Store.open(self.paths.database_url)
        self.service = JobService(self.store)
        self.gate = Gate(Authenticator(self.store), SessionManager(self.store), ServerSettings())
        self.app = create_app(self.service)  # its own Gate over the same store, as in `appjobs serve`
        self.endpoint = next(r.endpoint for r in self.app.routes if isinstance(r.endpoint, ODataEndpoint))
        self.key = JobKey(*setup.job)
        self.path = status_path(*setup.job)
        self.cookie_headers = (("Cookie", setup.logon.cookie),)
        self.scope = asgi_scope(setup.ours_port, self.path, self.cookie_headers)
        self.session_hash = id_hash(setup.logon.session_id)
        self.incoming = self.make_incoming(self.scope)
        self.basic_incoming = self.make_incoming(
            asgi_scope(setup.ours_port, self.path, (("Authorization", basic(setup.password)),))
        )
        self.job = self.service.status(self.key)
        self.raw = sqlite3.connect(self.paths.data_dir / "appjobs.db", isolation_level=None, check_same_thread=False)

    def make_incoming(self, scope: dict[str, Any]) -> Any:
        """What ``ODataEndpoint.__call__`` does before the thread hop (a copy: src is not changed).

        Only the fields ``Incoming`` declares are passed (``cookies`` is a field in some versions, a property
        computed from the headers in others), so that the bench measures either.
        """
        from starlette.requests import Request

        from appjobs.server.odata import Incoming

        request = Request(scope, receive)
        raw_path = scope.get("raw_path") or scope["path"].encode()
        values = {
            "method": request.method,
            "raw_path": raw_path.decode("latin-1"),
            "query": scope.get("query_string", b""),
            "headers": request.headers,
            "cookies": request.cookies,
            "origin": str(request.base_url).rstrip("/"),
        }
        declared = {field.name for field in dataclasses.fields(Incoming)}
        return Incoming(**{name: value for name, value in values.items() if name in declared})

    def cached_logon(self, incoming: Any) -> object:
        """``Gate.cached_logon`` as the event loop calls it; a miss (the caches expire) refills them first."""
        found = self.gate.cached_logon(incoming.headers, incoming.cookies)
        if found is None:
            self.gate.logon(incoming.headers, incoming.cookies)
            found = self.gate.cached_logon(incoming.headers, incoming.cookies)
        return found

    def odata_parsing(self) -> object:
        """negotiate, parse_target, the query string, $-options and the function's parameters, as handle does."""
        from appjobs.odata import model, query
        from appjobs.server import resources
        from appjobs.server.odata import negotiate, query_pairs
        from appjobs.server.targets import parse_target

        negotiate(self.incoming)
        target = parse_target(self.incoming.raw_path)
        params = query_pairs(self.incoming.query)
        function = model.SERVICE.find_function_import(target.resource)
        assert function is not None
        options = query.parse_query(params, {p.name: p.edm_type for p in function.return_type.properties})
        declared = {p.name for p in function.parameters}
        return options, resources._parameters(function, [(k, v) for k, v in params if k in declared])

    def serialization(self) -> bytes:
        from appjobs.odata import entities, model, payloads

        entity = entities.schedule_status_entity(self.job, include_status=True)
        function = model.SERVICE.find_function_import("JobStatusGet")
        assert function is not None
        return payloads.entry_json(function.entity_set, entity, self.incoming.origin + SERVICE_ROOT + "/")

    def response_object(self) -> object:
        from starlette.responses import Response

        from appjobs.server.odata import SUCCESS_HEADERS

        body = self.serialization()
        headers = SUCCESS_HEADERS | {"content-length": str(len(body))}
        return Response(body, 200, headers, media_type="application/json; charset=utf-8")

    def empty_read(self) -> None:
        with self.store.db.read():
            pass

    def raw_sqlite(self) -> object:
        """Both reads with raw sqlite3, each in its own BEGIN/COMMIT, as appjobs does them."""
        sql = "SELECT user_name, csrf_token, created_at, last_seen_at FROM http_session WHERE id_hash = ?"
        self.raw.execute("BEGIN")
        self.raw.execute(sql, (self.session_hash,)).fetchone()
        self.raw.execute("COMMIT")
        self.raw.execute("BEGIN")
        row = self.raw.execute("SELECT * FROM job WHERE name = ? AND run_count = ?", self.setup.job).fetchone()
        self.raw.execute("COMMIT")
        return row

    def argon2_verify(self) -> bool:
        """What a Basic logon costs when the verified-credential cache misses: the argon2id check."""
        from appjobs.auth import passwords

        stored = self.store.users.password_hash(USER)
        assert stored is not None
        return passwords.verify_password(stored, self.setup.password)

    def close(self) -> None:
        self.raw.close()
        self.store.close()


@dataclasses.dataclass(frozen=True)
class Layer:
    label: str
    call: Callable[[], object] | None = None  #: timed inline
    make: Callable[[], Awaitable[object]] | None = None  #: timed as ``await make()`` on an event loop
    number: int = 1000  #: calls per batch


def asgi_layers(c: Components) -> list[Layer]:
    """The whole request next to bare Starlette's, and what runs on the event loop before the handler."""
    from starlette.concurrency import run_in_threadpool

    bare = bare_app()
    bare_scope = asgi_scope(c.setup.bare_port, "/bare", ())
    sync_scope = asgi_scope(c.setup.bare_port, "/bare-sync", ())
    return [
        Layer("full ASGI call, ours (no HTTP, no sockets)", make=lambda: c.app(c.scope, receive, send), number=500),
        Layer("full ASGI call, bare async route", make=lambda: bare(bare_scope, receive, send), number=3000),
        Layer("full ASGI call, bare sync route", make=lambda: bare(sync_scope, receive, send), number=1000),
        Layer(
            "  event loop: Starlette Request -> Incoming (headers, cookies, base_url)",
            lambda: c.make_incoming(c.scope),
            number=5000,
        ),
        Layer(
            "  event loop: Gate.cached_logon by cookie (session + scope caches)",
            lambda: c.cached_logon(c.incoming),
            number=5000,
        ),
        Layer(
            "  thread hop: run_in_threadpool(no-op), one at a time", make=lambda: run_in_threadpool(int), number=2000
        ),
        Layer(
            "  thread hop + ODataEndpoint.handle",
            make=lambda: run_in_threadpool(c.endpoint.handle, c.incoming),
            number=500,
        ),
    ]


def handler_layers(c: Components) -> list[Layer]:
    """``ODataEndpoint.handle`` (and the poll's short way, where there is one), on the loop and as a thread runs it."""
    known = c.cached_logon(c.incoming)
    quick = getattr(c.endpoint, "_quick_poll", None)  # the poll's short way, in the versions that have it
    label = "  the poll's short way: ODataEndpoint._quick_poll (polls.answer)"
    short = [Layer(label, lambda: quick(c.incoming, known))] if quick else []
    return [
        *short,
        Layer(
            "  ODataEndpoint.handle inline, caller known (the poll on the event loop)",
            lambda: c.endpoint.handle(c.incoming, known),
            number=1000,
        ),
        Layer(
            "  ODataEndpoint.handle called inline (thread side, whole)",
            lambda: c.endpoint.handle(c.incoming),
            number=500,
        ),
    ]


def part_layers(c: Components) -> list[Layer]:
    """The parts of ``ODataEndpoint.handle``, and its reads next to raw sqlite3."""
    from appjobs.storage import jobsql

    with c.store.db.read() as conn:
        job_row = conn.execute(jobsql.JOB, jobsql.key(c.key)).first()
    assert job_row is not None
    return [
        Layer(
            "    logon: Gate.logon by cookie (sha256 + session cache, a read when stale)",
            lambda: c.gate.logon(c.incoming.headers, c.incoming.cookies),
        ),
        Layer(
            "      of which SessionStore.get (the read on a cache miss)", lambda: c.store.sessions.get(c.session_hash)
        ),
        Layer("    job read: JobService.status", lambda: c.service.status(c.key)),
        Layer(
            "      of which the statement: built once (jobsql.JOB), only its bind values per call",
            lambda: jobsql.key(c.key),
        ),
        Layer("      of which row -> models.Job", lambda: jobsql.to_job(job_row), number=5000),
        Layer("    an empty Database.read() transaction (SQLAlchemy; the fast path skips it)", c.empty_read),
        Layer("    OData parsing: negotiate, target, query, $-options, parameters", c.odata_parsing, number=5000),
        Layer("    serialization: entity + entry_json", c.serialization, number=5000),
        Layer("    Starlette Response object", c.response_object, number=5000),
        Layer("  anchor: the same two reads in raw sqlite3 (BEGIN/SELECT/COMMIT x2)", c.raw_sqlite, number=3000),
    ]


def basic_layers(c: Components) -> list[Layer]:
    """Basic auth on every request instead of the cookie: a hit of the verified-credential cache, and a miss."""
    return [
        Layer(
            "Basic instead of the cookie: Gate.cached_logon (verified-credential cache)",
            lambda: c.cached_logon(c.basic_incoming),
            number=5000,
        ),
        Layer("  a cache miss: the argon2id check (passwords.verify_password)", c.argon2_verify, number=3),
    ]


def time_layers(c: Components, rounds: int) -> list[tuple[str, float]]:
    """Microseconds per call of every layer: batches interleaved over *rounds*, the best batch of each layer.

    Interleaving spreads every layer over the same stretch of time, so that a noisy moment on the machine does
    not land on one layer only; the best batch is timeit's rule.
    """
    loop = new_loop()
    todo = asgi_layers(c) + handler_layers(c) + part_layers(c) + basic_layers(c)
    best = {layer.label: float("inf") for layer in todo}
    try:
        for _ in range(rounds):
            for layer in todo:
                best[layer.label] = min(best[layer.label], _batch_us(loop, layer))
    finally:
        loop.close()
    return list(best.items())


def _batch_us(loop: asyncio.AbstractEventLoop, layer: Layer) -> float:
    from starlette.concurrency import run_in_threadpool

    if layer.call is not None:
        call, start = layer.call, time.perf_counter()
        for _ in range(layer.number):
            call()
        return (time.perf_counter() - start) * 1e6 / layer.number
    assert layer.make is not None
    make = layer.make

    async def batch() -> float:
        await run_in_threadpool(int)  # the pool's first thread is started outside the timing
        start = time.perf_counter()
        for _ in range(layer.number):
            await make()
        return (time.perf_counter() - start) * 1e6 / layer.number

    return loop.run_until_complete(batch())


def report_layers(costs: list[tuple[str, float]], rounds: int) -> None:
    print(
        f"\nwhere the time goes, one cookie JobStatusGet layer by layer, in this process: no HTTP, no profiler, "
        f"one call at a time,\nbest of {rounds} interleaved batches; microseconds per call"
    )
    for label, micros in costs:
        print(f"  {label:<72} {micros:>9,.1f}")
