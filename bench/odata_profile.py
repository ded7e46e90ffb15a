"""``odata_bench.py --profile``, parts 2 and 3: the same app under the same load, in a thread of the bench process.

``--profile`` runs after the measured runs, against the same data directory with both servers stopped, so that
the profile runs alone beside the load generator. It first times the layers of one request (:mod:`odata_layers`),
then loads ``create_app`` on uvicorn in a thread of this process, with the settings of ``appjobs serve``:

* **without a profiler**: requests/s, CPU per request, the threads that ran ``ODataEndpoint.handle``, how many
  requests were answered on the event loop (a poll whose caller is known from the caches), requests in the thread
  pool at once, pool checkouts and new SQLite connections per request;
* **under cProfile**, one profiler per thread measuring thread CPU time (``time.thread_time``, so that a thread
  waiting for the GIL is not charged for it): selected functions per request with their share, and the top
  functions by own time. The profiler multiplies every figure several times over; the shares are what to read.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import dataclasses
import pathlib
import pstats
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from odata_layers import Components, report_layers, time_layers
from odata_load import Load, Target
from odata_servers import Setup, check_target, free_port


@dataclasses.dataclass
class Counters:
    """What the in-thread server saw: requests, threads, concurrency, pool traffic."""

    handled: int = 0  #: calls of ODataEndpoint.handle, on the event loop or in the thread pool
    pooled: int = 0  #: of which in the thread pool
    active: int = 0
    peak_active: int = 0
    threads: set[int] = dataclasses.field(default_factory=set)  #: pool threads that ran ODataEndpoint.handle
    connects: int = 0
    checkouts: int = 0


class InThreadServer:
    """``create_app`` on uvicorn in a thread of this process (same settings as ``appjobs serve``).

    ``ODataEndpoint.handle`` is wrapped on the instance to count its calls, the pool threads and concurrency,
    and with *profile*, to run each call in the pool under a per-thread cProfile; the event-loop thread has its
    own, which also sees the polls answered on the loop. All of them measure thread CPU time
    (``time.thread_time``), so that waiting for the GIL is not counted as work.
    """

    def __init__(self, components: Components, port: int, *, profile: bool) -> None:
        import sqlalchemy as sa
        import uvicorn

        from appjobs.server.protocol import SapHttpProtocol

        self.counters = Counters()
        self.profile = profile
        self.loop_profile = cProfile.Profile(time.thread_time)
        self.thread_profiles: list[cProfile.Profile] = []
        self._local = threading.local()
        self._loop_thread = 0
        self._lock = threading.Lock()
        self._handle = components.endpoint.handle
        components.endpoint.handle = self._counted_handle  # type: ignore[method-assign]
        engine = components.store.db.engine
        sa.event.listen(engine, "connect", lambda *_: self._count("connects"))
        sa.event.listen(engine, "checkout", lambda *_: self._count("checkouts"))
        config = uvicorn.Config(
            components.app, host="127.0.0.1", port=port, log_level="warning", access_log=False, http=SapHttpProtocol
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, name="in-thread-uvicorn")

    def _count(self, name: str) -> None:
        with self._lock:
            setattr(self.counters, name, getattr(self.counters, name) + 1)

    def _counted_handle(self, *args: Any, **kwargs: Any) -> Any:
        counters, pooled = self.counters, threading.get_ident() != self._loop_thread
        if not pooled:  # on the event loop, whose own profiler is on already
            with self._lock:
                counters.handled += 1
            return self._handle(*args, **kwargs)
        with self._lock:
            counters.threads.add(threading.get_ident())
            counters.active += 1
            counters.peak_active = max(counters.peak_active, counters.active)
        try:
            with self._profiled():
                return self._handle(*args, **kwargs)
        finally:
            with self._lock:
                counters.handled += 1
                counters.pooled += 1
                counters.active -= 1

    @contextlib.contextmanager
    def _profiled(self) -> Iterator[None]:
        if not self.profile:
            yield
            return
        profile = getattr(self._local, "profile", None)
        if profile is None:
            profile = self._local.profile = cProfile.Profile(time.thread_time)
            with self._lock:
                self.thread_profiles.append(profile)
        profile.enable()
        try:
            yield
        finally:
            profile.disable()

    def _run(self) -> None:
        self._loop_thread = threading.get_ident()
        if self.profile:
            self.loop_profile.enable()
        try:
            self.server.run()
        finally:
            if self.profile:
                self.loop_profile.disable()

    def __enter__(self) -> InThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                sys.exit("the in-thread uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)

    def stats(self) -> pstats.Stats:
        stats = pstats.Stats(self.loop_profile)
        for profile in self.thread_profiles:
            stats.add(profile)
        return stats


@dataclasses.dataclass
class InThreadRun:
    """A load run against the in-thread server."""

    counters: Counters
    requests: int  #: answered while the generator recorded (the counters run a little longer)
    seconds: float
    cpu_us: float  #: process CPU per request (this process is the server; the generator is a child)
    stats: pstats.Stats | None = None
    errors: int = 0  #: answers that were not 2xx, and socket errors


def in_thread_run(setup: Setup, load: Load, seconds: int, *, profile: bool) -> InThreadRun:
    """Warm up, then load the in-thread server for *seconds*; counters (reset after the warm-up) and stats."""
    components = Components(setup)
    try:
        with InThreadServer(components, free_port(), profile=profile) as server:
            target = Target("in-thread", server.server.config.port, components.path, components.cookie_headers)
            check_target(target, setup.job[0])
            if not profile:
                load.run(target, load.warmup)
            server.counters = Counters()
            cpu = time.process_time()
            raw = load.run(target, seconds)
            cpu = time.process_time() - cpu
        return InThreadRun(
            server.counters,
            raw["requests"],
            raw["seconds"],
            cpu * 1e6 / max(raw["requests"], 1),
            server.stats() if profile else None,
            raw["bad_status"] + raw["socket_errors"],
        )
    finally:
        components.close()


SQLITE_EXECUTE = "<method 'execute' of 'sqlite3.Cursor' objects>"
SQLITE_QUICK_EXECUTE = "<method 'execute' of 'sqlite3.Connection' objects>"
# Functions whose cumulative CPU the profile reports per request: (label, path suffix, function name).
PROFILED = (
    ("event loop: uvicorn RequestResponseCycle.run_asgi (all of it)", "httptools_impl.py", "run_asgi"),
    ("  uvicorn HttpToolsProtocol.data_received (parse)", "httptools_impl.py", "data_received"),
    ("  uvicorn RequestResponseCycle.send (headers + body)", "httptools_impl.py", "send"),
    ("  Starlette Router.app (routing, middleware)", "starlette/routing.py", "app"),
    ("  ODataEndpoint.__call__ (loop side)", "server/odata.py", "__call__"),
    ("    Starlette Request.cookies", "starlette/requests.py", "cookies"),
    ("    Starlette Request.base_url", "starlette/requests.py", "base_url"),
    ("    Gate.cached_logon (the caches: known caller?)", "server/security.py", "cached_logon"),
    ("    ODataEndpoint._quick_poll (the poll's short way)", "server/odata.py", "_quick_poll"),
    ("      polls.answer", "server/polls.py", "answer"),
    ("    run_in_threadpool (loop side of the hop)", "starlette/concurrency.py", "run_in_threadpool"),
    ("    Response.__call__ (send the answer)", "starlette/responses.py", "__call__"),
    ("ODataEndpoint.handle (all of it: on the loop or in a thread)", "server/odata.py", "handle"),
    ("  negotiate ($format: parses the query string)", "server/odata.py", "negotiate"),
    ("  Gate.logon (callers not known from the caches)", "server/security.py", "logon"),
    ("    SessionManager.find (session read)", "auth/sessions.py", "find"),
    ("  ODataEndpoint._serve", "server/odata.py", "_serve"),
    ("    parse_target", "server/targets.py", "parse_target"),
    ("    query_pairs (parses the query string again)", "server/odata.py", "query_pairs"),
    ("    query.parse_query", "odata/query.py", "parse_query"),
    ("    resources._parameters (OData literals)", "server/resources.py", "_parameters"),
    ("    JobService.status (job read)", "engine/service.py", "status"),
    ("      QuickReader.one (the job read through sqlite3)", "storage/quickread.py", "one"),
    ("    payloads.entry_json", "odata/payloads.py", "entry_json"),
    ("    Starlette Response.__init__", "starlette/responses.py", "__init__"),
    ("SQLAlchemy reads: Database.read (checkout, BEGIN, COMMIT, checkin)", "storage/database.py", "read"),
    ("SQLAlchemy reads: Connection.execute", "sqlalchemy/engine/base.py", "execute"),
    ("SQLAlchemy reads: pool connects (new SQLite connections)", "sqlalchemy/pool/base.py", "__connect"),
    ("SQLAlchemy reads: sqlite3 Cursor.execute (SQLite itself)", "~", SQLITE_EXECUTE),
    ("quick reads: sqlite3 Connection.execute (SQLite itself)", "~", SQLITE_QUICK_EXECUTE),
)  # fmt: skip


def report_in_thread(plain: InThreadRun, profiled: InThreadRun, connections: int) -> None:
    c = plain.counters
    per = max(plain.requests, 1)
    print(f"\nunder load, uvicorn in a thread of this process, no profiler ({connections} connections, cookie target):")
    print(f"  req/s {plain.requests / plain.seconds:,.0f}; server CPU per request {plain.cpu_us:,.0f} us")
    print(
        f"  answered on the event loop (caller known from the caches) {max(0.0, 1 - c.pooled / per):.1%} of requests; "
        f"ODataEndpoint.handle calls per request {c.handled / per:.2f}"
    )
    print(f"  handler threads used {len(c.threads)}; requests in the thread pool at once, peak {c.peak_active}")
    print(
        f"  pool checkouts per request {c.checkouts / per:.2f}; "
        f"new SQLite connections per request {c.connects / per:.3f}"
    )
    report_profile(profiled)
    if plain.errors or profiled.errors:
        print(f"\n!!! WARNING: {plain.errors + profiled.errors} errors or non-2xx answers in the in-thread runs")


def report_profile(run: InThreadRun) -> None:
    assert run.stats is not None
    requests = max(run.requests, 1)
    print(
        f"\ncProfile under the same load: {run.requests} requests in {run.seconds:.1f} s "
        f"({run.requests / run.seconds:,.0f} req/s with the profiler on). Thread CPU per request, cumulative;"
    )
    print("the profiler's own cost is in every figure (calls to time.thread_time), so read the shares, not the sums;")
    print("calls/req counts each resumption of a generator or coroutine as a call:")
    table: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = run.stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in table.values())
    print(f"  {'all profiled CPU, both threads':<66} {total * 1e6 / requests:>9,.0f} us  100.0%")
    for label, suffix, name in PROFILED:
        found = [v for (path, _, func), v in table.items() if func == name and path.endswith(suffix)]
        cumulative = max((v[3] for v in found), default=0.0)
        calls = max((v[1] for v in found), default=0)
        share = cumulative / total if total else 0.0
        print(f"  {label:<66} {cumulative * 1e6 / requests:>9,.0f} us {share:>6.1%}  {calls / requests:5.2f} calls/req")
    print("top 15 functions by own time (tottime):")
    ranked = sorted(table.items(), key=lambda item: item[1][2], reverse=True)[:15]
    for (path, line, func), (_, calls, own, cumulative, _) in ranked:
        where = f"{pathlib.Path(path).parent.name}/{pathlib.Path(path).name}:{line}" if line else path
        print(
            f"  {own * 1e6 / requests:>7,.0f} us own {own / total if total else 0:>6.1%} "
            f"{cumulative * 1e6 / requests:>8,.0f} us cum {calls / requests:>6.1f} calls/req  {func} ({where})"
        )


def profile(setup: Setup, load: Load, args: argparse.Namespace) -> None:
    """Where the time goes: the layers, then the same app under load in this process, plain and profiled."""
    setup.stop()  # the profile runs alone beside the load generator
    print(f"\nprofiling: layers one by one, then 2 x {args.profile_seconds} s of load on an in-thread uvicorn")
    components = Components(setup)
    try:
        costs = time_layers(components, rounds=7)
    finally:
        components.close()
    report_layers(costs, 7)
    plain = in_thread_run(setup, load, args.profile_seconds, profile=False)
    profiled = in_thread_run(setup, load, args.profile_seconds, profile=True)
    report_in_thread(plain, profiled, load.connections)
