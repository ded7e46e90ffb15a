"""``/appjobs/metrics``: the Prometheus text format, for alerting on failing jobs, a growing queue, lost workers.

Three sources make one answer:

* what the processes counted (:mod:`appjobs.metrics`: jobs that ended, start
  delays, step times, logon failures, lockouts, database errors, dropped
  output), from the files every process of this host writes under
  ``run/metrics`` of the data directory, added up by ``prometheus_client``'s
  ``MultiProcessCollector``;
* HTTP requests and their latency, counted by this server in its own memory
  (:class:`HttpMetrics`): a counter in a dict costs far less per request
  than a value in a shared file, and the poll's speed must not suffer;
* what the database knows at the moment of the scrape (jobs by status and
  template, open sessions, each worker's heartbeat and busy and free slots,
  :mod:`appjobs.storage.gauges`): the same on every server of one database.

Who may read it: a client with ``Authorization: Bearer <token>`` when the
server has a token (``APPJOBS_METRICS_TOKEN`` or ``--metrics-token-file``);
anybody when it has none and listens on a loopback address only; else no
one here. A UI administrator reads the same text at ``/appjobs/ui/metrics``.
"""

from __future__ import annotations

import bisect
import collections
import datetime as dt
import hmac
import pathlib
import shutil
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from appjobs import errors, metrics
from appjobs.engine import JobService
from appjobs.odata import model
from appjobs.storage import gauges

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: The label values a request's resource may take: anything else is "other", so no client can add series.
RESOURCES = frozenset(
    [s.name for s in model.SERVICE.entity_sets] + [f.name for f in model.SERVICE.function_imports]
    + ["$metadata", "$batch", ""]
)  # fmt: skip


def resource_of(raw_path: str) -> str:
    """The OData resource a request path names (``JobStatusGet``, ``JobHeaderSet``, ``""`` for the root)."""
    _, _, rest = raw_path.partition(";v=0002/")
    name = rest.split("/", 1)[0].split("(", 1)[0]
    return name if name in RESOURCES else "other"


class HttpMetrics(Collector):
    """HTTP requests by resource, method and status, and their latency by resource, in this process's memory.

    :meth:`observe` runs on the event loop only, so plain dicts need no lock.
    """

    def __init__(self) -> None:
        self.requests: collections.Counter[tuple[str, str, str]] = collections.Counter()
        self.buckets: dict[str, list[int]] = {}
        self.sums: collections.Counter[str] = collections.Counter()

    def observe(self, resource: str, method: str, status: int, seconds: float) -> None:
        self.requests[(resource, method, str(status))] += 1
        counts = self.buckets.get(resource)
        if counts is None:
            counts = self.buckets[resource] = [0] * (len(LATENCY_BUCKETS) + 1)
        counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.sums[resource] += seconds

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily("appjobs_http_requests", "HTTP requests answered.",
                                       labels=["resource", "method", "status"])  # fmt: skip
        for labels, count in sorted(self.requests.items()):
            requests.add_metric(list(labels), count)
        yield requests
        latency = HistogramMetricFamily("appjobs_http_request_duration_seconds", "Seconds to answer a request.",
                                        labels=["resource"])  # fmt: skip
        for resource, counts in sorted(self.buckets.items()):
            cumulative, running = [], 0
            for bound, count in zip([*map(str, LATENCY_BUCKETS), "+Inf"], counts, strict=True):
                running += count
                cumulative.append((bound, running))
            latency.add_metric([resource], cumulative, self.sums[resource])
        yield latency


class DatabaseGauges(Collector):
    """The figures the database knows, read at each scrape."""

    def __init__(self, service: JobService, idle_timeout: dt.timedelta) -> None:
        self.service = service
        self.idle_timeout = idle_timeout

    def collect(self) -> Iterator[Metric]:
        found = gauges.read(self.service.store.db, idle_since=self.service.clock() - self.idle_timeout)
        jobs = GaugeMetricFamily("appjobs_jobs", "Jobs in the database, by status letter and template.",
                                 labels=["status", "template"])  # fmt: skip
        for (status, template), count in sorted(found.jobs.items()):
            jobs.add_metric([status, template], count)
        yield jobs
        sessions = GaugeMetricFamily("appjobs_sessions_open", "Logon sessions not idle too long.", labels=["face"])
        for face, count in sorted(found.sessions.items()):
            sessions.add_metric([face], count)
        yield sessions
        yield from _worker_families(found.workers)


def _worker_families(workers: list[gauges.WorkerGauge]) -> Iterator[Metric]:
    heartbeat = GaugeMetricFamily("appjobs_worker_last_heartbeat_timestamp_seconds",
                                  "When each worker last said it was alive (Unix time).",
                                  labels=["worker", "host"])  # fmt: skip
    slots = GaugeMetricFamily("appjobs_worker_slots", "Each worker's step slots, busy and free.",
                              labels=["worker", "host", "state"])  # fmt: skip
    for w in workers:
        heartbeat.add_metric([w.id, w.hostname], w.heartbeat_at.timestamp())
        slots.add_metric([w.id, w.hostname, "busy"], w.busy)
        if w.concurrency is not None:
            slots.add_metric([w.id, w.hostname, "free"], max(w.concurrency - w.busy, 0))
    yield heartbeat
    yield slots


class Exposition:
    """The registry of one server: the processes' files, its HTTP counts, the database's figures."""

    def __init__(self, service: JobService, directory: pathlib.Path | None, idle_timeout: dt.timedelta) -> None:
        self.http = HttpMetrics()
        self.registry = CollectorRegistry(auto_describe=False)
        if directory is not None:  # None: an app made in-process (tests, benches) without worker processes
            MultiProcessCollector(self.registry, path=str(directory))
        self.registry.register(self.http)
        self.registry.register(DatabaseGauges(service, idle_timeout))

    def text(self) -> bytes:
        return generate_latest(self.registry)


def start_directory(directory: pathlib.Path) -> None:
    """Start this host's metrics afresh in *directory* (a new server's counters begin at 0) and count in it."""
    shutil.rmtree(directory, ignore_errors=True)
    metrics.use_directory(directory)


def allowed(request: Request, token: str | None, open_without_token: bool) -> bool:
    """Whether *request* may read the metrics: the bearer *token*, or none needed (loopback, no token)."""
    if token is None:
        return open_without_token
    given = request.headers.get("authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


def endpoint(exposition: Exposition, token: str | None, open_without_token: bool) -> Callable[[Request], Response]:
    """The ``/appjobs/metrics`` route's endpoint."""

    def answer(request: Request) -> Response:
        if not allowed(request, token, open_without_token):
            reason = (
                "the bearer token is missing or wrong"
                if token
                else "this server listens beyond loopback and has no metrics token (APPJOBS_METRICS_TOKEN)"
            )
            return PlainTextResponse(f"metrics: not allowed: {reason}\n", status_code=401,
                                     headers={"WWW-Authenticate": 'Bearer realm="appjobs metrics"'})  # fmt: skip
        return Response(exposition.text(), media_type=CONTENT_TYPE)

    return answer


def serve_host_metrics(directory: pathlib.Path, host: str, port: int) -> None:
    """Serve what this host's processes count (the files in *directory*) at ``http://HOST:PORT/``, in a thread.

    For a host that runs workers but no ``appjobs serve`` (PostgreSQL, more
    hosts): its workers' counts are exposed there. The database's gauges are
    every server's; scrape them from one. No token here: listen on loopback
    (the default) and let a local agent scrape, or put a proxy in front.
    """
    import prometheus_client

    registry = CollectorRegistry(auto_describe=False)
    MultiProcessCollector(registry, path=str(directory))
    try:
        prometheus_client.start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise errors.ConfigurationError(f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}") from exc
