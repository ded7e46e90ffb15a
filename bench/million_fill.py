"""The big database of ``million_bench.py``: a million ended jobs and ten thousand active series, filled fast.

What a tenant that has run appjobs for two months looks like: *jobs* ended jobs spread evenly over the last
60 days of ``created_at``, created by 50 communication users (the bench user is one of them), 85% F, 10% A and
5% W, each with its one step, two log lines and, for one in five, a parameter row; one in ten belongs to a
series. Then *series* active series, each a ``job_series`` row and its next job: status S, planned between an
hour and 30 days ahead, with its step.

Why not through :class:`~appjobs.engine.JobService`: a million schedules at a few hundred a second would take
an hour. The rows go in with the drivers' bulk paths, ``executemany`` on SQLite (journal and sync off for the
fill: a crash only loses the bench's own data) and ``COPY`` on PostgreSQL, in transactions of 50,000 jobs,
with the job and log tables' secondary indexes dropped first and built again at the end (building an index
once is several times cheaper than keeping it up to date through a million random keys).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import random
import sqlite3
import string
from collections.abc import Callable, Iterator, Sequence

import sqlalchemy as sa

from appjobs.storage import schema

USER = "BENCHUSER"
CREATORS = [USER] + [f"BENCHUSER{n:02d}" for n in range(1, 50)]
TEMPLATE = "/APPJOBS/DEMO_ECHO"
DAYS = 60
CHUNK = 50_000
JOB = ("name", "run_count", "template_name", "text", "job_user", "creator", "status", "test_mode", "step_count",
       "created_at", "scheduled_at", "started_at", "ended_at", "return_code", "series_id", "series_index")  # fmt: skip
STEP = ("job_name", "run_count", "number", "kind", "target", "text", "status", "started_at", "ended_at",
        "exit_code", "warning_exit_codes", "pass_env", "pid", "pid_started", "token")  # fmt: skip
LOG = ("job_name", "run_count", "step_number", "logged_at", "severity", "source", "text")
PARAM = ("job_name", "run_count", "step_number", "name", "value", "select_option", "rows")
SERIES = ("id", "template_name", "granularity", "every", "timezone", "anchor", "until", "max_runs",
          "created_at", "created_by", "ended_at")  # fmt: skip
#: The tables whose secondary indexes the fill drops and builds again.
INDEXED = (schema.job, schema.job_log, schema.job_step, schema.job_param, schema.job_series)


@dataclasses.dataclass
class Rows:
    """One chunk of rows per table, as tuples in the column order above."""

    job: list[tuple[object, ...]] = dataclasses.field(default_factory=list)
    job_step: list[tuple[object, ...]] = dataclasses.field(default_factory=list)
    job_log: list[tuple[object, ...]] = dataclasses.field(default_factory=list)
    job_param: list[tuple[object, ...]] = dataclasses.field(default_factory=list)
    job_series: list[tuple[object, ...]] = dataclasses.field(default_factory=list)

    def __len__(self) -> int:
        return len(self.job)


@dataclasses.dataclass
class Shape:
    """What to fill: counts, the clock, and the day whose jobs of the bench user JobListGet reads."""

    jobs: int
    series: int
    now: dt.datetime
    seed: int = 11

    @property
    def first(self) -> dt.datetime:
        return self.now - dt.timedelta(days=DAYS)

    @property
    def day(self) -> dt.datetime:
        """Midnight UTC five days ago: inside the retention period, so its jobs survive the purge."""
        return (self.now - dt.timedelta(days=5)).replace(hour=0, minute=0, second=0, microsecond=0)


Stamp = Callable[[dt.datetime | None], object]


class Generator:
    """The rows of a :class:`Shape`, in chunks; remembers the bench user's jobs of the measured day (the probe)."""

    def __init__(self, shape: Shape, stamp: Stamp) -> None:
        self.shape, self.stamp, self.rng = shape, stamp, random.Random(shape.seed)
        self.probe = Rows()  # the anchor database is filled with these alone
        self.series_ids = [f"{self.rng.getrandbits(128):032X}" for _ in range(shape.series)]

    def key(self) -> tuple[str, str]:
        return f"{self.rng.getrandbits(128):032X}", "".join(self.rng.choices(string.ascii_letters, k=8))

    def series_of(self, n: int) -> tuple[str | None, int | None]:
        """One ended job in ten belongs to a series (its id and the job's index in it)."""
        if n % 10 or not self.series_ids:
            return None, None
        return self.series_ids[n // 10 % len(self.series_ids)], n // 10

    def ended(self) -> Iterator[Rows]:
        rows, span, rng, ts = Rows(), DAYS * 86400.0, self.rng, self.stamp
        day, next_day = self.shape.day, self.shape.day + dt.timedelta(days=1)
        for n in range(self.shape.jobs):
            name, run = self.key()
            creator = CREATORS[rng.randrange(len(CREATORS))]
            created = self.shape.first + dt.timedelta(seconds=rng.random() * span)
            started = created + dt.timedelta(milliseconds=rng.randrange(5, 500))
            ended = started + dt.timedelta(milliseconds=rng.randrange(100, 120_000))
            pick = rng.random()
            status, code = ("F", 0) if pick < 0.85 else ("A", 1) if pick < 0.95 else ("W", 2)
            series = self.series_of(n)
            job = (name, run, TEMPLATE, f"Nightly load {n % 97}", creator, creator, status, False, 1,
                   ts(created), ts(created), ts(started), ts(ended), code, *series)  # fmt: skip
            step = (name, run, 1, "shell", 'echo "$MESSAGE"', "Echo the message", status, ts(started), ts(ended),
                    code, "2" if status == "W" else "", "", rng.randrange(1000, 4_000_000), 0.0, None)  # fmt: skip
            note = f"Job scheduled by {creator} from template {TEMPLATE}."
            logs = [(name, run, None, ts(created), "I", "engine", note),
                    (name, run, 1, ts(ended), "I", "stdout", "Hello from a job of the million")]  # fmt: skip
            param = (name, run, 1, "MESSAGE", f"value {n}", False, None) if n % 5 == 0 else None
            for target in (rows, self.probe) if creator == USER and day <= created < next_day else (rows,):
                target.job.append(job)
                target.job_step.append(step)
                target.job_log.extend(logs)
                if param:
                    target.job_param.append(param)
            if len(rows) == CHUNK:
                yield rows
                rows = Rows()
        if rows:
            yield rows

    def planned(self) -> Iterator[Rows]:
        """The active series: their rows and each one's next job, S and planned ahead."""
        rows, rng, ts, now = Rows(), self.rng, self.stamp, self.shape.now
        for n, series_id in enumerate(self.series_ids):
            creator = CREATORS[n % len(CREATORS)]
            created = self.shape.first + dt.timedelta(seconds=rng.random() * DAYS * 86400.0)
            granularity, every = rng.choice((("HO", 1), ("DA", 1), ("WE", 1), ("MI", 15), ("MO", 1)))
            anchor = created.replace(tzinfo=None, microsecond=0).isoformat()
            name, run = self.key()
            made = now - dt.timedelta(seconds=rng.random() * 86400)  # when the series' current job ran
            planned = now + dt.timedelta(seconds=3600 + rng.random() * 30 * 86400)
            for target in (rows, self.probe) if creator == USER else (rows,):
                target.job_series.append((series_id, TEMPLATE, granularity, every, "Europe/Berlin", anchor, None,
                                          None, ts(created), creator, None))  # fmt: skip
                target.job.append((name, run, TEMPLATE, f"Series {n}", creator, creator, "S", False, 1,
                                   ts(made), ts(planned), None, None, 0, series_id, 1000 + n))  # fmt: skip
                target.job_step.append((name, run, 1, "shell", 'echo "$MESSAGE"', "Echo the message", "S", None,
                                        None, None, "", "", None, None, None))  # fmt: skip
            if len(rows.job_series) == CHUNK:
                yield rows
                rows = Rows()
        if rows.job_series:
            yield rows


# --- the sinks ---------------------------------------------------------------------------------------------------


def sqlite_stamp(value: dt.datetime | None) -> object:
    # As schema.Timestamp stores it on SQLite: naive UTC text, always with microseconds.
    return None if value is None else f"{value:%Y-%m-%d %H:%M:%S.%f}"


def write_sqlite(path: str, chunks: Iterator[Rows]) -> int:
    """Insert every chunk, each in one transaction; returns how many jobs went in."""
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=MEMORY", "synchronous=OFF", "cache_size=-400000", "foreign_keys=OFF"):
        conn.execute(f"PRAGMA {pragma}")
    count = 0
    try:
        for rows in chunks:
            conn.execute("BEGIN")
            for table, columns in _tables():
                values = getattr(rows, table)
                if values:
                    marks = ", ".join("?" * len(columns))
                    conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", values)
            conn.execute("COMMIT")
            count += len(rows)
        conn.execute("PRAGMA journal_mode=WAL")  # what appjobs uses; it sets it again on every connection
    finally:
        conn.close()
    return count


def write_postgresql(conninfo: str, chunks: Iterator[Rows]) -> int:
    """COPY every chunk, each in one transaction; returns how many jobs went in."""
    import psycopg

    count = 0
    with psycopg.connect(conninfo) as conn:
        for rows in chunks:
            with conn.transaction(), conn.cursor() as cursor:
                for table, columns in _tables():
                    values = getattr(rows, table)
                    if values:
                        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                            for row in values:
                                copy.write_row(row)
            count += len(rows)
    return count


def _tables() -> Sequence[tuple[str, Sequence[str]]]:
    # Parents first: the children's foreign keys are checked on PostgreSQL.
    return (("job_series", SERIES), ("job", JOB), ("job_step", STEP), ("job_log", LOG), ("job_param", PARAM))


def secondary_indexes(engine: sa.Engine, create: bool) -> None:
    """Drop (or create) the secondary indexes of the job tables, as schema.py declares them."""
    with engine.begin() as conn:
        for table in INDEXED:
            for index in table.indexes:
                if create:
                    index.create(conn, checkfirst=True)
                else:
                    index.drop(conn, checkfirst=True)


def fill(url: str, raw: str, shape: Shape, *, probe_only: Rows | None = None) -> tuple[int, Rows | None]:
    """Fill the database at SQLAlchemy *url* (*raw*: the sqlite path or libpq URL); returns the jobs and the probe.

    With *probe_only* the database gets those rows alone (the anchor database of the same run).
    """
    engine = sa.create_engine(url)
    sqlite = engine.dialect.name == "sqlite"
    generator = Generator(shape, sqlite_stamp if sqlite else lambda value: value)
    if probe_only is not None:
        chunks: Iterator[Rows] = iter([probe_only])
    else:
        chunks = _chain(generator.ended(), generator.planned())
    try:
        secondary_indexes(engine, create=False)
        engine.dispose()  # SQLite leaves WAL mode for the fill only when no other connection is open
        count = (write_sqlite if sqlite else write_postgresql)(raw, chunks)
        secondary_indexes(engine, create=True)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            # PostgreSQL's autovacuum would analyze the tables soon after such a load; the bench does it at once.
            # SQLite gets no ANALYZE: appjobs never runs one, so its plans are what the planner's defaults give.
            if not sqlite:
                conn.exec_driver_sql("VACUUM ANALYZE")
    finally:
        engine.dispose()
    return count, None if probe_only is not None else generator.probe


def _chain(*parts: Iterator[Rows]) -> Iterator[Rows]:
    for part in parts:
        yield from part


def settle(url: str) -> None:
    """Write the fill out before anything is measured: a PostgreSQL CHECKPOINT, on SQLite the kernel's sync.

    Otherwise the first minutes of the measures share the disk with gigabytes of dirty pages.
    """
    if url.startswith("sqlite"):
        os.sync()
        return
    engine = sa.create_engine(url)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("CHECKPOINT")
    finally:
        engine.dispose()
