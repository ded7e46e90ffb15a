"""Application Jobs: one job's page (SAP's object page) and what an operator does with the job.

``GET /appjobs/ui/jobs/NAME/RUNCOUNT`` shows the header (text, template,
status, planned start, start, end, creator, job user, its periodic series and
the job it restarts), the steps with status, times and return code, each
step's parameters, and the log. While the job is not final, the part below
the title asks for ``…/live`` every two seconds (htmx) and is replaced by the
answer; the answer for a final job has no trigger, so the polling stops.

Operators and administrators also see the actions, each a plain form that
POSTs (and works without JavaScript):

* **Cancel** (``…/cancel``): SAP's JobCancel, as ``JobService.cancel`` does
  it: a job that has not started is deleted, a running one aborted; a job of
  a periodic series cancels the whole series, and the button says so.
* **Restart from / after the failed step** (``…/restart``, ``mode`` ``from``
  or ``after``): SAP's JobRestart (:mod:`appjobs.engine.restart`), shown only
  when the job may be restarted; the answer is the new copy's page.
* **Copy**: a link to the Schedule page filled in from this job.

Each action is audited as the OData service audits it (:mod:`appjobs.web.jobaudit`).
"""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from appjobs import errors, models
from appjobs.auth.ui import Role
from appjobs.engine import JobService, restart
from appjobs.models import JobKey
from appjobs.web import jobaudit
from appjobs.web.rendering import PREFIX, render
from appjobs.web.security import form_of, page, session_of

#: Restart modes of the form, and SAP's JobRestartMode letters.
MODES = {"from": "E", "after": "A"}
#: What a redirect after an action tells the reader (fixed texts: the query string only picks one).
NOTICES = {
    "deleted": "The job had not started and was deleted.",
    "series-deleted": "The periodic series was cancelled: its planned job was deleted.",
    "cancel-requested": "Cancel requested: the job is being stopped and will end Failed.",
    "series-cancel-requested": "The periodic series was cancelled: its running job is being stopped.",
    "restarted": "This job is the restarted copy of a failed job.",
    "scheduled": "The job was scheduled.",
}


def may_act(request: Request) -> bool:
    """Whether the reader's role may act on jobs (operator or administrator): the buttons show only then."""
    return session_of(request).role.may(Role.OPERATOR)


def job_key(request: Request) -> JobKey:
    """The job the path names; 404 for a name or run count that cannot be one."""
    name, run_count = request.path_params["name"], request.path_params["run_count"]
    if not models.JOB_NAME_RE.match(name) or not models.RUN_COUNT_RE.match(run_count):
        raise errors.JobNotFound(f"Job {name} {run_count} doesn't exist.")
    return JobKey(name, run_count)


def job_url(key: JobKey) -> str:
    return f"{PREFIX}/jobs/{key.name}/{key.run_count}"


def details(service: JobService, key: JobKey) -> dict[str, Any]:
    """Everything the job page shows; :class:`~appjobs.errors.JobNotFound` when there is no such job."""
    job = service.status(key)
    steps = service.store.jobs.steps(key)
    values: dict[int, list[Any]] = {}
    for value in service.store.jobs.parameter_values(key):
        values.setdefault(value.step, []).append(value)
    failed = restart.failed_step(steps) if job.status in restart.RESTARTABLE else None
    log = service.store.jobs.log(key)
    seen = [job.status.value, job.cancel_requested_by or "", *(f"{s.status.value}{s.exit_code}" for s in steps)]
    return {
        "version": hashlib.sha256(f"{seen}{len(log)}".encode()).hexdigest()[:16],
        "job": job,
        "steps": steps,
        "values": values,
        "log": log,
        "template_text": _template_text(service, job.template_name),
        "series": _series(service, job),
        "failed_step": failed,
        "may_restart_after": failed is not None and failed < job.step_count,
    }


def _template_text(service: JobService, name: str) -> str:
    try:
        return service.template(name).text
    except errors.TemplateNotFound:
        return ""


def _series(service: JobService, job: models.Job) -> dict[str, Any] | None:
    if job.series_id is None:
        return None
    series = service.store.jobs.series(job.series_id)
    following = service.store.jobs.next_of_series(series.id)
    if series.max_runs:
        end = f"after {series.max_runs} starts"
    else:
        end = f"until {series.until:%Y-%m-%d %H:%M:%S} UTC" if series.until else "no end"
    return {"series": series, "end": end, "next": following}


@page()
def job_page(request: Request) -> Response:
    """``GET /jobs/NAME/RUNCOUNT``: the job's object page."""
    key = job_key(request)
    notice = NOTICES.get(request.query_params.get("notice", ""))
    context = details(request.app.state.service, key)
    return render(request, "jobs/job.html", message=notice, may_act=may_act(request), **context)


@page()
def job_live(request: Request) -> Response:
    """``GET /jobs/NAME/RUNCOUNT/live``: the page below its title, for the live refresh.

    204 (htmx changes nothing) while the job is as it was at version ``v``: the reader's scroll position in
    the log, a selection or a button about to be pressed survive the polling.
    """
    context = details(request.app.state.service, job_key(request))
    if request.query_params.get("v") == context["version"]:
        return Response(status_code=204)
    return render(request, "jobs/job.html", may_act=may_act(request), fragment=True, **context)


@page(Role.OPERATOR)
def cancel(request: Request) -> Response:
    """``POST …/cancel``: SAP's JobCancel; a job of a periodic series cancels its series."""
    key, service = job_key(request), request.app.state.service
    job, by = service.status(key), session_of(request).user  # read first: a deleted job cannot say its series
    outcome = jobaudit.audited(
        request, "cancel", f"job {key.name} {key.run_count}",
        lambda: service.cancel(key, by=by, series=True), lambda _: f"job {key.name} {key.run_count}",
    )  # fmt: skip
    series = "series-" if job.series_id else ""
    if outcome.deleted:
        return RedirectResponse(f"{PREFIX}/jobs?notice={series}deleted", status_code=303)
    return RedirectResponse(f"{job_url(key)}?notice={series}cancel-requested", status_code=303)


@page(Role.OPERATOR)
def restart_job(request: Request) -> Response:
    """``POST …/restart`` with ``mode`` ``from`` or ``after``: SAP's JobRestart; the answer is the copy's page."""
    key, service = job_key(request), request.app.state.service
    mode = MODES.get(str(form_of(request).get("mode", "")))
    if mode is None:
        raise errors.InvalidInput("Restart needs the mode 'from' (the failed step) or 'after' (the failed step).")
    by = session_of(request).user
    copy = jobaudit.audited(
        request, "restart", f"job {key.name} {key.run_count}",
        lambda: restart.restart(service, key, mode, by=by),
        lambda c: f"job {c.key.name} {c.key.run_count} restarting job {key.name} {key.run_count} (mode {mode})",
    )  # fmt: skip
    return RedirectResponse(f"{job_url(copy.key)}?notice=restarted", status_code=303)


routes = [
    Route("/jobs/{name}/{run_count}", job_page),
    Route("/jobs/{name}/{run_count}/live", job_live),
    Route("/jobs/{name}/{run_count}/cancel", cancel, methods=["POST"]),
    Route("/jobs/{name}/{run_count}/restart", restart_job, methods=["POST"]),
]
