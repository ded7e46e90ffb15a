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
#: A filter that at most this many jobs meet is read whole and sorted: a few ms even on PostgreSQL.
_FEW = 10_000
#: After the caller's order: the order of a read without ``$orderby``, which also makes pages never overlap.
_TIEBREAK = (("created_at", False), ("name", False), ("run_count", False))


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

    def _conditions(
        self, creator: str | None, where: Sequence[Condition], *, indexed: bool = True
    ) -> list[sa.ColumnElement[bool]]:
        """SQL for the scope and *where*; unless *indexed*, *where* tests ``coalesce(column, column)``.

        That is the column's value, but no index holds it: a hint to the planner that what *where*
        selects is not worth finding by index (see :meth:`_select`).
        """
        conditions = [] if creator is None else [J.c.creator == creator]
        for column, op, value in where:
            tested = J.c[column] if indexed else sa.func.coalesce(J.c[column], J.c[column])
            conditions.append(_OPERATORS[op](tested, value))
        return conditions

    def _select(
        self,
        creator: str | None,
        order: Sequence[tuple[str, bool]],
        where: Sequence[Condition] = (),
        *,
        matches_first: bool = False,
    ) -> sa.Select[tuple[object, ...]]:
        """The jobs of *creator* that meet *where*, in *order*.

        With *matches_first* the database is made to find the matching jobs first (through the index of
        the filter's column) and then sort them, rather than walk the index of the order and test each job
        on the way: the planner expects the matches spread evenly along the order and stops walking early,
        but planned jobs are the newest of a million, and the walk read them all (2 s on PostgreSQL). A
        ``MATERIALIZED`` common table expression is the fence both SQLite and PostgreSQL honour. Without
        it, the columns of *where* are hidden from the indexes: when most jobs match, walking the order
        finds a page at once, where SQLite (which keeps no statistics) would find and sort all of them.
        """
        scope = sa.select(J).where(*self._conditions(creator, where, indexed=matches_first))
        terms = [*order, *_TIEBREAK]
        if not matches_first:
            return scope.order_by(*(self._sort_key(J, column, descending) for column, descending in terms))
        found = scope.cte("matches").prefix_with("MATERIALIZED")
        return sa.select(found).order_by(*(self._sort_key(found, column, descending) for column, descending in terms))

    def _sort_key(self, table: sa.FromClause, column: str, descending: bool) -> sa.ColumnElement[object]:
        """One ``ORDER BY`` term; NULLS FIRST/LAST only on a column that may hold NULL.

        On a NOT NULL column the placement of nulls changes nothing, but PostgreSQL's planner does not
        know that: ``created_at NULLS FIRST`` does not match the ascending ``ix_job_creator_created``
        (whose nulls come last), so ``JobHeaderSet?$top=10`` read and sorted all 20,000 jobs of a
        creator of a 1,000,000-job table (100 ms) where the index hands it the first ten (0.2 ms).
        """
        expression: sa.ColumnElement[object] = table.c[column]
        if column in _TEXT and self.db.dialect == "postgresql":
            expression = expression.collate("C")
        if not J.c[column].nullable:
            return expression.desc() if descending else expression.asc()
        return expression.desc().nulls_last() if descending else expression.asc().nulls_first()

    def page(
        self, creator: str | None, order: Sequence[tuple[str, bool]], skip: int, top: int | None
    ) -> list[models.Job]:
        """Jobs ``skip`` to ``skip + top`` in *order* (column, descending), of *creator* alone unless None."""
        statement = self._select(creator, order).offset(skip)
        if top is not None:
            statement = statement.limit(top)
        with self.db.read() as conn:
            return [q.to_job(row) for row in conn.execute(statement)]

    def count(self, creator: str | None, where: Sequence[Condition] = ()) -> int:
        """How many jobs *creator* has (every job when None) that meet every *where* condition."""
        statement = sa.select(sa.func.count()).select_from(J).where(*self._conditions(creator, where))
        with self.db.read() as conn:
            return int(conn.scalar(statement) or 0)

    def stream(
        self, creator: str | None, order: Sequence[tuple[str, bool]], where: Sequence[Condition] = ()
    ) -> Iterator[models.Job]:
        """Every job of *creator* in *order* that meets every *where* condition, read in batches.

        Stop iterating and the read ends. *where* holds (column, operator, value) with operators
        ``eq``, ``lt``, ``le``, ``gt``, ``ge``. When few jobs meet them (a count through the index of the
        filter's column says so), they are found first and sorted (see :meth:`_select`).
        """
        few = bool(where) and self.count(creator, where) <= _FEW
        statement = self._select(creator, order, where, matches_first=few)
        with self.db.read() as conn:
            result = conn.execution_options(yield_per=_BATCH).execute(statement)
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
