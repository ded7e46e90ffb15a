"""JobHeaderSet: the collection, and the tree of one job (steps, logs, messages) its entity and navigations read.

Scope is the function imports' (:func:`appjobs.server.functions.check_scope`):
an SAP_COM_0064 user sees only the jobs it created, an SAP_COM_0326 user
every job. The collection pushes the scope, the order and the paging into
SQL (:class:`~appjobs.storage.jobpages.JobPages`) whenever it can:

* no ``$filter``, ``$orderby`` on columns only: one ``LIMIT``/``OFFSET``
  read (and a ``COUNT(*)`` for ``$inlinecount``), whatever the table holds;
* a ``$filter``: what of it SQL can decide (:func:`sql_conditions`: text
  equalities, time comparisons) narrows the read; the jobs stream in SQL
  order and the whole filter is evaluated here, and the read stops once the
  page is full (it reads on to the end only for ``$inlinecount``);
* an ``$orderby`` on a property without a column (JobTemplateText,
  JobRestartCount, the constant ones): every job of the scope is read and
  sorted here, the one case that costs as much as the table.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable

from appjobs import errors, models
from appjobs.engine import JobService
from appjobs.odata import jobtree, query
from appjobs.odata.filter import And, Compare, Literal, Node, Property
from appjobs.server import functions
from appjobs.server.security import Caller
from appjobs.storage.jobpages import JobPages

#: JobHeader properties and the job column each one sorts by in SQL.
ORDER_COLUMNS = {
    "JobName": "name",
    "JobRunCount": "run_count",
    "JobText": "text",
    "JobTemplateName": "template_name",
    "JobCreatedBy": "creator",
    "JobStatus": "status",
    "JobStepCount": "step_count",
    "JobPlannedStartDateTime": "scheduled_at",
    "JobCreaDateTime": "created_at",
    "JobStartDateTime": "started_at",
    "JobEndDateTime": "ended_at",
}


class _TemplateTexts(dict[str, str]):
    """Template texts looked up once per request ("" for a template that is gone)."""

    def __init__(self, service: JobService) -> None:
        super().__init__()
        self.service = service

    def __missing__(self, name: str) -> str:
        try:
            text = self.service.template(name).text
        except errors.AppjobsError:
            text = ""
        self[name] = text
        return text


class _SeriesOf(dict[str | None, models.Series | None]):
    """The periodic series of jobs, each read once per request (None for a job of no series, or one gone)."""

    def __init__(self, service: JobService) -> None:
        super().__init__({None: None})
        self.service = service

    def __missing__(self, series_id: str) -> models.Series | None:
        try:
            found: models.Series | None = self.service.store.jobs.series(series_id)
        except errors.JobNotFound:
            found = None
        self[series_id] = found
        return found


def load_tree(service: JobService, key: models.JobKey, caller: Caller, *, steps: bool, log: bool) -> jobtree.JobTree:
    """The job *key* as *caller* may see it, with its steps and log if asked; JobNotFound otherwise."""
    job = functions.visible_job(service, key, caller)
    texts = _TemplateTexts(service)
    pages = JobPages(service.store.db)
    restarts = pages.restart_count(job)
    step_runs = service.store.jobs.steps(key) if steps or log else []
    entries = pages.log_lines(key) if log else None
    series = _SeriesOf(service)[job.series_id]
    return jobtree.JobTree(job, texts[job.template_name], restarts, step_runs, entries, series)


def fill(service: JobService, tree: jobtree.JobTree) -> None:
    """Read the steps and the log of a tree :func:`header_page` built with its header alone."""
    tree.steps = service.store.jobs.steps(tree.job.key)
    tree.log = JobPages(service.store.db).log_lines(tree.job.key)


def header_page(
    service: JobService, caller: Caller, options: query.QueryOptions
) -> tuple[list[jobtree.JobTree], int | None]:
    """The trees (header only) of the page *options* select, and the count for ``$inlinecount`` (else None)."""
    pages = JobPages(service.store.db)
    creator = None if caller.sees_all_jobs else caller.user
    texts, series = _TemplateTexts(service), _SeriesOf(service)

    def tree(job: models.Job) -> jobtree.JobTree:
        return jobtree.JobTree(job, texts[job.template_name], pages.restart_count(job), [], None, series[job.series_id])

    order = _sql_order(options.orderby)
    if order is None:  # sorted by what only the entity knows: read the whole scope
        trees = [tree(job) for job in pages.stream(creator, [])]
        page, count = query.apply(options, [_Headed(t) for t in trees])
        return [h.tree for h in page], count if options.inlinecount else None  # type: ignore[attr-defined]
    if options.filter is None:
        jobs = pages.page(creator, order, options.skip, options.top)
        return [tree(job) for job in jobs], pages.count(creator) if options.inlinecount else None
    jobs = pages.stream(creator, order, sql_conditions(options.filter))
    matches = (t for t in map(tree, jobs) if query.matches(options.filter, t.header()))
    if options.inlinecount:
        found = list(matches)
        end = None if options.top is None else options.skip + options.top
        return found[options.skip : end], len(found)
    end = None if options.top is None else options.skip + options.top
    return list(itertools.islice(matches, options.skip, end)), None


class _Headed(dict):  # type: ignore[type-arg]
    """A header entity that remembers its tree, for sorting in memory."""

    def __init__(self, tree: jobtree.JobTree) -> None:
        super().__init__(tree.header())
        self.tree = tree


_TIMES = {"JobPlannedStartDateTime", "JobCreaDateTime", "JobStartDateTime", "JobEndDateTime"}
_EXACT = {"JobName", "JobRunCount", "JobText", "JobTemplateName", "JobCreatedBy", "JobStatus"}
_FLIPPED = {"eq": "eq", "lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}
_SECOND = dt.timedelta(seconds=1)


def sql_conditions(node: Node) -> list[tuple[str, str, object]]:
    """Conditions on job columns that *node* implies, for SQL to narrow the stream (Python still checks *node*).

    Taken from the top-level ``and`` chain: a text property ``eq`` a string, and a time compared with a
    whole ABAP timestamp (``JobPlannedStartDateTime ge '20260101000000'``). The times are strings cut to the
    second, so ``ts gt L`` holds exactly when the time is at or after L plus one second, ``ts le L`` when it
    is before L plus one second; a null time meets no comparison, in SQL as in OData.
    """
    conditions: list[tuple[str, str, object]] = []
    for part in node.operands if isinstance(node, And) else (node,):
        if not isinstance(part, Compare) or part.op not in _FLIPPED:
            continue
        op, left, right = part.op, part.left, part.right
        if isinstance(left, Literal):
            op, left, right = _FLIPPED[op], right, left
        if not isinstance(left, Property) or not isinstance(right, Literal):
            continue
        if left.name in _EXACT and op == "eq" and isinstance(right.value, str):
            conditions.append((ORDER_COLUMNS[left.name], "eq", right.value))
        elif left.name in _TIMES and (moment := _abap_time(right.value)) is not None:
            column = ORDER_COLUMNS[left.name]
            if op in ("ge", "lt"):
                conditions.append((column, op, moment))
            elif op in ("gt", "le"):
                conditions.append((column, "ge" if op == "gt" else "lt", moment + _SECOND))
            else:
                conditions += [(column, "ge", moment), (column, "lt", moment + _SECOND)]
    return conditions


def _abap_time(value: object) -> dt.datetime | None:
    if not isinstance(value, str) or len(value) != 14 or not value.isascii() or not value.isdigit():
        return None
    try:
        return dt.datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def _sql_order(orderby: Iterable[query.OrderBy]) -> list[tuple[str, bool]] | None:
    order = []
    for item in orderby:
        column = ORDER_COLUMNS.get(item.property)
        if column is None:
            return None
        order.append((column, item.descending))
    return order
