"""Pages of jobs for JobHeaderSet: scope, order and paging done by the database.

A tenant may hold 100,000 jobs; ``JobHeaderSet?$top=10`` must not read them
all. :class:`JobPages` restricts to one creator (SAP_COM_0064 scope) and sorts
in SQL, and either cuts the page there (``LIMIT``/``OFFSET``, with a
``COUNT(*)`` for ``$inlinecount``) or, when a ``$filter`` must be evaluated
per job in Python, streams the jobs in order so that the caller can stop as
soon as its page is full.

The order is the caller's columns, then ``created_at, name, run_count`` (the
order of a read without ``$orderby``), so that pages never overlap. Nulls
sort first ascending and last descending, as :mod:`appjobs.odata.query` sorts
in memory, and text sorts by code point on PostgreSQL too (``COLLATE "C"``),
as it does in Python and in SQLite.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from appjobs import models
from appjobs.storage import jobsql as q
from appjobs.storage.database import Database

J = q.J
Condition = tuple[str, str, object]
_OPERATORS = {"eq": operator.eq, "lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge}
_TEXT = ("name", "run_count", "text", "template_name", "creator", "status")
_BATCH = 500


def _log_lines(logged_at: sa.ColumnElement[Any]) -> sa.Select[Any]:
    return (
        sa.select(q.L.c.step_number, logged_at, q.L.c.severity, q.L.c.source, q.L.c.text)
        .where(q.L.c.job_name == sa.bindparam("key_name"), q.L.c.run_count == sa.bindparam("key_run_count"))
        .order_by(q.L.c.id)
    )


_LOG_LINES = _log_lines(q.L.c.logged_at)
#: On SQLite the times as stored, UTC text ``YYYY-MM-DD hh:mm:ss.ffffff``: parsing 1,000 of them into datetimes
#: only to format them again cost a fifth of a 1,000-line JobHeaderSet read.
_LOG_LINES_TEXT = _log_lines(sa.type_coerce(q.L.c.logged_at, sa.String).label("logged_at"))
_RESTART_OF = sa.select(J.c.restart_of_name, J.c.restart_of_run_count).where(
    J.c.name == sa.bindparam("key_name"), J.c.run_count == sa.bindparam("key_run_count")
)


class JobPages:
    """Ordered, scoped, paged reads of the job table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _select(
        self, creator: str | None, order: Sequence[tuple[str, bool]], where: Sequence[Condition] = ()
    ) -> sa.Select[tuple[object, ...]]:
        statement = sa.select(J)
        if creator is not None:
            statement = statement.where(J.c.creator == creator)
        for column, op, value in where:
            statement = statement.where(_OPERATORS[op](J.c[column], value))
        clauses = []
        for column, descending in [*order, ("created_at", False), ("name", False), ("run_count", False)]:
            expression: sa.ColumnElement[object] = J.c[column]
            if column in _TEXT and self.db.dialect == "postgresql":
                expression = expression.collate("C")
            clauses.append(expression.desc().nulls_last() if descending else expression.asc().nulls_first())
        return statement.order_by(*clauses)

    def page(
        self, creator: str | None, order: Sequence[tuple[str, bool]], skip: int, top: int | None
    ) -> list[models.Job]:
        """Jobs ``skip`` to ``skip + top`` in *order* (column, descending), of *creator* alone unless None."""
        statement = self._select(creator, order).offset(skip)
        if top is not None:
            statement = statement.limit(top)
        with self.db.read() as conn:
            return [q.to_job(row) for row in conn.execute(statement)]

    def count(self, creator: str | None) -> int:
        """How many jobs *creator* has (every job when None)."""
        statement = sa.select(sa.func.count()).select_from(J)
        if creator is not None:
            statement = statement.where(J.c.creator == creator)
        with self.db.read() as conn:
            return int(conn.scalar(statement) or 0)

    def stream(
        self, creator: str | None, order: Sequence[tuple[str, bool]], where: Sequence[Condition] = ()
    ) -> Iterator[models.Job]:
        """Every job of *creator* in *order* that meets every *where* condition, read in batches.

        Stop iterating and the read ends. *where* holds (column, operator, value) with operators
        ``eq``, ``lt``, ``le``, ``gt``, ``ge``.
        """
        with self.db.read() as conn:
            result = conn.execution_options(yield_per=_BATCH).execute(self._select(creator, order, where))
            for row in result:
                yield q.to_job(row)

    def log_lines(self, key: models.JobKey) -> list[Any]:
        """The job's log in the order it was written, as rows of ``step_number, logged_at, severity, source, text``.

        The rows are plain (severity a letter), not :class:`~appjobs.models.LogEntry` objects: for a log of
        1,000 lines that halves the read. ``logged_at`` is a UTC datetime, or on SQLite the UTC text it is
        stored as (``2026-01-01 12:00:00.123456``), which :mod:`appjobs.odata.jobtree` formats directly.
        """
        statement = _LOG_LINES_TEXT if self.db.dialect == "sqlite" else _LOG_LINES
        with self.db.read() as conn:
            return conn.execute(statement, q.key(key)).all()

    def restart_count(self, job: models.Job) -> int:
        """How many restarts lead to *job*: 0 for an original, 1 for its restart, 2 for a restart of that …"""
        count, origin, seen = 0, job.restart_of, {job.key}
        while origin is not None and origin not in seen:  # a cycle cannot be stored, but must not hang us
            count, seen = count + 1, seen | {origin}
            row = self.db.one(_RESTART_OF, q.key(origin))
            origin = models.JobKey(row.restart_of_name, row.restart_of_run_count) if row and row[0] else None
        return count
