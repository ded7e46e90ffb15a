"""The job list of the Application Jobs page: filters and keyset paging, fast on a million jobs.

The list shows the newest jobs first, by planned start (SAP's list sorts by
``JobSchedDateTime`` descending), ties broken by name and run count so that
the order is total. A page is found by **keyset**, never ``OFFSET``: a cursor
holds the last row's ``(scheduled_at, name, run_count)`` and the next page is
the rows before it in that order. Each page then costs the same, the first or
the ten-thousandth, and rows that arrive between two clicks never shift a page.

Which index serves the order:

* no filter: ``ix_job_scheduled`` (migration 0008), walked backwards from the
  cursor; the database reads ``limit + 1`` rows (the one past the page says
  whether there is an older page);
* a creator: ``ix_job_creator_scheduled``;
* statuses: one read per status through ``ix_job_status_scheduled``, each
  already in order, merged here; "Failed" among a million finished jobs is
  then a walk over the failed ones only, not over everything.

Template, job user and text narrow the rows on the way: a walk along the
index until the page is full. A filter that matches almost nothing walks
far; :data:`SCAN_LIMIT` bounds the walk, and the page says the search stopped
(narrow the planned-start window to look further).

No ``COUNT(*)``: counting a million rows on every refresh would cost more
than the page; the page says how many rows it shows.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import heapq
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from appjobs import models
from appjobs.models import JobKey
from appjobs.storage import jobsql as q
from appjobs.storage.database import Database

J, L = q.J, q.L
#: The most rows one page's walk reads when template, job user or text narrow it (see the module's docstring).
SCAN_LIMIT = 200_000
_ERRORS = (models.Severity.ERROR.value, models.Severity.ABORT.value)
_FAILED = (models.JobStatus.ABORTED.value, models.JobStatus.USER_ERROR.value, models.JobStatus.CANCELED.value)


@dataclasses.dataclass(frozen=True)
class JobFilter:
    """What the list's filter bar asks for; empty fields do not narrow."""

    statuses: tuple[str, ...] = ()  #: status letters, any of them
    template: str = ""  #: a template name, exactly
    text: str = ""  #: part of the job text (any case), or a job name
    creator: str = ""
    job_user: str = ""
    planned_from: dt.datetime | None = None  #: planned start at or after (UTC)
    planned_to: dt.datetime | None = None  #: planned start before (UTC)

    @property
    def narrows_on_the_way(self) -> bool:
        """True when a filter no index serves is set: the walk along the order may read far."""
        return bool(self.template or self.text or self.job_user)


@dataclasses.dataclass(frozen=True, order=True)
class Cursor:
    """A position in the list's order: a row's planned start, name and run count."""

    scheduled_at: dt.datetime
    name: str
    run_count: str

    def encode(self) -> str:
        """Opaque to the reader, safe in a URL: ``base64(ISO~NAME~RUNCOUNT)``."""
        text = f"{self.scheduled_at.astimezone(dt.UTC).isoformat()}~{self.name}~{self.run_count}"
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor | None:
        """The cursor *token* encodes; None for anything else (a stale or edited link shows the first page)."""
        try:
            text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            at, name, run_count = text.split("~")
            moment = dt.datetime.fromisoformat(at)
        except ValueError:
            return None
        if moment.tzinfo is None or not models.JOB_NAME_RE.match(name) or not models.RUN_COUNT_RE.match(run_count):
            return None
        return cls(moment.astimezone(dt.UTC), name, run_count)

    @classmethod
    def of(cls, job: models.Job) -> Cursor:
        return cls(job.scheduled_at, job.key.name, job.key.run_count)


@dataclasses.dataclass(frozen=True)
class JobPage:
    """One page of the list, newest first, with the cursors of its neighbours (None: there is none)."""

    jobs: list[models.Job]
    older: Cursor | None  #: the page after this one (older jobs) starts below this
    newer: Cursor | None  #: the page before it (newer jobs) ends above this
    errors: dict[JobKey, str]  #: each failed job's first error line
    #: A filter no index serves is set and the page is the last: the walk may have stopped at :data:`SCAN_LIMIT`.
    scan_stopped: bool = False


class UiJobs:
    """Pages of the job list."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def page(
        self, wanted: JobFilter, size: int, *, after: Cursor | None = None, before: Cursor | None = None
    ) -> JobPage:
        """The *size* newest jobs that match *wanted*, older than *after*, or the *size* just newer than *before*."""
        backwards = before is not None and after is None
        found = self._read(wanted, size + 1, before if backwards else after, backwards)
        more = len(found) > size
        found = found[:size]
        if backwards:
            found.reverse()
            older = Cursor.of(found[-1]) if found else before
            newer = Cursor.of(found[0]) if more else None
        else:
            older = Cursor.of(found[-1]) if more else None
            newer = Cursor.of(found[0]) if found and after is not None else None
        stopped = wanted.narrows_on_the_way and not more
        return JobPage(found, older, newer, self.first_errors(found), stopped)

    def _read(self, wanted: JobFilter, limit: int, cursor: Cursor | None, backwards: bool) -> list[models.Job]:
        """Up to *limit* matching rows from *cursor* on, newest first (oldest first when *backwards*)."""
        reads = []
        with self.db.read() as conn:
            for status in wanted.statuses or (None,):
                statement = self._select(wanted, status, cursor, backwards, limit)
                found = [q.to_job(r) for r in conn.execute(statement)]
                reads.append(sorted(found, key=_order_key, reverse=not backwards))
        if len(reads) == 1:
            return reads[0]
        return list(heapq.merge(*reads, key=_order_key, reverse=not backwards))[:limit]

    def _select(
        self, wanted: JobFilter, status: str | None, cursor: Cursor | None, backwards: bool, limit: int
    ) -> sa.Select[Any]:
        where = self._indexed(wanted, status)
        if cursor is not None:
            where.append(self._beyond(cursor, backwards))
        if not wanted.narrows_on_the_way:
            return sa.select(J).where(*where).order_by(*self._order(J, backwards)).limit(limit)
        # Walk at most SCAN_LIMIT rows along the index and test the filters no index holds on the way. No ORDER BY
        # outside: it would make the database sort every match of the whole walk before it hands out the first
        # row (0.5 s for a text search on a million jobs); SQLite and PostgreSQL both pass the walk's rows on in
        # its order, so the outer LIMIT stops the walk once the page is full. _read sorts the page again.
        walked = sa.select(J).where(*where).order_by(*self._order(J, backwards)).limit(SCAN_LIMIT).subquery("walked")
        return sa.select(walked).where(*self._unindexed(wanted, walked)).limit(limit)

    def _order(self, table: Any, backwards: bool) -> list[Any]:
        columns = (table.c.scheduled_at, self._text(table.c.name), self._text(table.c.run_count))
        return [column.asc() if backwards else column.desc() for column in columns]

    @staticmethod
    def _indexed(wanted: JobFilter, status: str | None) -> list[sa.ColumnElement[bool]]:
        """The conditions an index serves: status, creator, the planned-start window."""
        where: list[sa.ColumnElement[bool]] = []
        if status is not None:
            where.append(J.c.status == status)
        if wanted.creator:
            where.append(J.c.creator == wanted.creator)
        if wanted.planned_from is not None:
            where.append(J.c.scheduled_at >= wanted.planned_from)
        if wanted.planned_to is not None:
            where.append(J.c.scheduled_at < wanted.planned_to)
        return where

    @staticmethod
    def _unindexed(wanted: JobFilter, table: Any) -> list[sa.ColumnElement[bool]]:
        """The conditions tested on the rows the walk reads: template, job user, text."""
        where: list[sa.ColumnElement[bool]] = []
        if wanted.template:
            where.append(table.c.template_name == wanted.template)
        if wanted.job_user:
            where.append(table.c.job_user == wanted.job_user)
        if wanted.text:
            text = table.c.text.icontains(wanted.text, autoescape=True)
            where.append(sa.or_(text, table.c.name == wanted.text.strip().upper()))
        return where

    def _beyond(self, cursor: Cursor, backwards: bool) -> sa.ColumnElement[bool]:
        """Rows past *cursor* in the walk's direction; the first term alone lets the index seek to it."""
        at, name, run_count = J.c.scheduled_at, self._text(J.c.name), self._text(J.c.run_count)
        if backwards:
            return sa.and_(
                at >= cursor.scheduled_at,
                sa.or_(at > cursor.scheduled_at, name > cursor.name,
                       sa.and_(name == cursor.name, run_count > cursor.run_count)),
            )  # fmt: skip
        return sa.and_(
            at <= cursor.scheduled_at,
            sa.or_(at < cursor.scheduled_at, name < cursor.name,
                   sa.and_(name == cursor.name, run_count < cursor.run_count)),
        )  # fmt: skip

    def _text(self, column: Any) -> Any:
        # Code-point order on PostgreSQL too, as in Python's merge and in SQLite: run counts mix cases.
        return column.collate("C") if self.db.dialect == "postgresql" else column

    def first_errors(self, jobs: Sequence[models.Job]) -> dict[JobKey, str]:
        """The first error line (severity E or A) of each failed job among *jobs*, in one read."""
        failed = [job.key for job in jobs if job.status.value in _FAILED]
        if not failed:
            return {}
        first = (
            sa.select(sa.func.min(L.c.id))
            .where(L.c.job_name.in_([k.name for k in failed]), L.c.severity.in_(_ERRORS))
            .group_by(L.c.job_name, L.c.run_count)
        )
        statement = sa.select(L.c.job_name, L.c.run_count, L.c.text).where(L.c.id.in_(first))
        with self.db.read() as conn:
            rows = conn.execute(statement).all()
        wanted = set(failed)
        found = {JobKey(r.job_name, r.run_count): r.text for r in rows}
        return {key: text for key, text in found.items() if key in wanted}


def _order_key(job: models.Job) -> tuple[dt.datetime, str, str]:
    return job.scheduled_at, job.key.name, job.key.run_count
