"""Application Jobs: the job list, its filters, keyset paging, and the live rows fragment.

``GET /appjobs/ui/jobs`` is SAP's list report (fiori-apps.md §1.1): a filter
bar (status, template, text, created by, job user, planned-start window),
the jobs newest first by planned start, fifty a page. Paging is by cursor
("Older" and "Newer" links carry the last or first row's position), never by
offset, so the thousandth page costs what the first does on a million jobs
(see :mod:`appjobs.storage.uijobs`).

``GET /appjobs/ui/jobs/rows`` answers the same query with the table's rows
alone: the list's ``tbody`` asks for it every two seconds through htmx, so a
job scheduled over OData appears, and moves to Finished, without a reload.
Without JavaScript the list is a plain page; *Go* reloads it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import urllib.parse

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from appjobs import models
from appjobs.storage.uijobs import SCAN_LIMIT, Cursor, JobFilter, JobPage, UiJobs
from appjobs.web import jobpage, schedule
from appjobs.web.rendering import render
from appjobs.web.security import page

PAGE_SIZE = 50  #: rows a page shows, unless ``?size=`` asks for another number (at most MAX_PAGE_SIZE)
MAX_PAGE_SIZE = 200
#: The statuses the filter offers, in the order a reader scans them; SAP's texts come from the letters.
FILTER_STATUSES = tuple(models.JobStatus(letter) for letter in "SYRFWACU")
_TIME_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d")


@dataclasses.dataclass(frozen=True)
class ListQuery:
    """The list's query string, read and checked: the filter, the cursor, and the problems found."""

    filter: JobFilter
    size: int = PAGE_SIZE
    after: Cursor | None = None
    before: Cursor | None = None
    problems: tuple[str, ...] = ()

    def link(self, **cursor: str) -> str:
        """The query string of this filter with *cursor* (``after=…`` or ``before=…``), for a link."""
        f = self.filter
        fields: list[tuple[str, str]] = [("status", s) for s in f.statuses]
        fields += [(k, v) for k, v in (("template", f.template), ("q", f.text), ("creator", f.creator),
                                       ("job_user", f.job_user)) if v]  # fmt: skip
        fields += [(k, _local(v)) for k, v in (("from", f.planned_from), ("to", f.planned_to)) if v]
        fields += [("size", str(self.size))] if self.size != PAGE_SIZE else []
        fields += list(cursor.items())
        return urllib.parse.urlencode(fields)

    def cursor(self) -> dict[str, str]:
        """This page's own cursor, as :meth:`link` takes it: the live refresh asks for the same page."""
        if self.after is not None:
            return {"after": self.after.encode()}
        return {"before": self.before.encode()} if self.before is not None else {}


def read_query(request: Request) -> ListQuery:
    """The filter and cursor of *request*'s query string; a wrong time names its field in ``problems``."""
    args = request.query_params
    problems: list[str] = []
    known = {s.value for s in FILTER_STATUSES}
    statuses = tuple(dict.fromkeys(s for s in args.getlist("status") if s in known))
    times = {}
    for field, label in (("from", "Planned start from"), ("to", "Planned start to")):
        times[field], problem = _time(args.get(field, ""), label)
        problems += [problem] if problem else []
    wanted = JobFilter(
        statuses=statuses,
        template=args.get("template", "").strip(),
        text=args.get("q", "").strip()[:120],
        creator=args.get("creator", "").strip().upper()[:40],
        job_user=args.get("job_user", "").strip().upper()[:40],
        planned_from=times["from"],
        planned_to=times["to"],
    )
    after = Cursor.decode(args.get("after", "")) if args.get("after") else None
    before = Cursor.decode(args.get("before", "")) if args.get("before") else None
    size = args.get("size", "")
    rows = min(int(size), MAX_PAGE_SIZE) if size.isdigit() and int(size) > 0 else PAGE_SIZE
    return ListQuery(wanted, rows, after, before, tuple(problems))


def _time(text: str, label: str) -> tuple[dt.datetime | None, str | None]:
    """A time of the filter bar (``datetime-local``, UTC) or None; a problem naming *label* when unreadable."""
    text = text.strip()
    if not text:
        return None, None
    for fmt in _TIME_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).replace(tzinfo=dt.UTC), None
        except ValueError:
            continue
    return None, f"{label}: {text!r} is not a date and time (YYYY-MM-DDTHH:MM, UTC)."


def _local(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M")


def find_page(request: Request, query: ListQuery) -> JobPage:
    if query.problems:
        return JobPage([], None, None, {})
    jobs = UiJobs(request.app.state.service.store.db)
    return jobs.page(query.filter, query.size, after=query.after, before=query.before)


@page()
def job_list(request: Request) -> Response:
    """``GET /jobs``: the filter bar and the first (or the cursor's) page of jobs."""
    query = read_query(request)
    found = find_page(request, query)
    service = request.app.state.service
    error = " ".join(query.problems) or None
    notice = jobpage.NOTICES.get(request.query_params.get("notice", ""))
    return render(
        request, "jobs/list.html", 400 if error else 200, query=query, found=found, error=error, message=notice,
        templates=service.templates(), statuses=FILTER_STATUSES, may_act=jobpage.may_act(request),
        scan_limit=SCAN_LIMIT, version=version(found),
    )  # fmt: skip


@page()
def job_rows(request: Request) -> Response:
    """``GET /jobs/rows``: the rows of the same query alone, for the list's live refresh.

    The answer is 204 (htmx leaves the rows as they are) when they are still those of version ``v``: a
    browser then keeps the very same elements, so a reader's selection, focus or click is not lost to a
    swap every two seconds.
    """
    query = read_query(request)
    found = find_page(request, query)
    current = version(found)
    if request.query_params.get("v") == current:
        return Response(status_code=204)
    return render(request, "jobs/list.html", query=query, found=found, version=current, fragment=True)


def version(found: JobPage) -> str:
    """A short fingerprint of what the rows show but their durations: keys, statuses, times, first errors."""
    parts = [f"{j.key}{j.status.value}{j.started_at}{j.ended_at}{found.errors.get(j.key, '')}" for j in found.jobs]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


routes = [
    Route("/jobs", job_list),
    Route("/jobs/rows", job_rows),
    *jobpage.routes,
    *schedule.routes,
]
