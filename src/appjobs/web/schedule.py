"""Application Jobs: the Schedule page (SAP's "Create" of the Application Jobs app, in one form).

``GET /appjobs/ui/schedule`` offers the templates; choosing one (the *Choose*
button reloads with ``?template=NAME``, no JavaScript needed) shows its
declared parameters with their defaults (:mod:`appjobs.web.schedule_form`),
the job text, the business user the job runs for (the registered business
users, or those the template allows) and when it starts: at once, at a time
in a time zone, or as a periodic series (every 15m, 2h, 1d, 1w or 1mo, ending
after a count of starts or at a time), as ``appjobs admin jobs schedule
--start-at --timezone --every --count --until`` does.
``?copy=NAME/RUNCOUNT`` fills the form from that job (SAP's *Copy*).

``POST /appjobs/ui/schedule`` schedules through :class:`~appjobs.engine.JobService`,
which checks everything JobScheduleCheck checks before it stores anything;
the answer is a redirect to the new job's page, or the form again with what
the reader typed and a message that names the field. The schedule is
audited as the OData service audits JobSchedule, with the UI user as creator.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from appjobs import errors, models, recurrence
from appjobs.auth.ui import Role
from appjobs.engine import JobService, planning
from appjobs.engine import service as engine_service
from appjobs.web import jobaudit, jobpage
from appjobs.web import schedule_form as form
from appjobs.web.rendering import render
from appjobs.web.security import error_status, form_of, page, session_of

EVERY_CHOICES = ("15m", "30m", "1h", "2h", "6h", "12h", "1d", "1w", "1mo")


def _copy_of(service: JobService, copy: str) -> models.Job:
    """The job ``?copy=NAME/RUNCOUNT`` names; JobNotFound when there is none."""
    name, _, run_count = copy.partition("/")
    if not models.JOB_NAME_RE.match(name) or not models.RUN_COUNT_RE.match(run_count):
        raise errors.JobNotFound(f"Job {copy} doesn't exist; nothing to copy.")
    return service.status(models.JobKey(name, run_count))


def _users(service: JobService, template: models.Template | None) -> list[str]:
    """The business users the job may run for: those the template allows, else every registered one."""
    registered = [u.id for u in service.store.comm.business_users()]
    if template is not None and template.business_users:
        return [u for u in registered if u in template.business_users]
    return registered


def _render(request: Request, status: int = 200, *, template_name: str = "", **entered: Any) -> Response:
    """The form for *template_name* (none chosen: the template select alone), showing *entered*."""
    service: JobService = request.app.state.service
    templates = service.templates()
    template = next((t for t in templates if t.name == template_name), None)
    users = _users(service, template)
    me = session_of(request).user
    context = {
        "templates": templates, "picked": template, "chosen": template_name, "users": users,
        "fields": form.fields(template, entered.pop("shown", None)) if template else [],
        "text": "", "job_user": me if me in users else "", "start": form.Start(start_at=""),
        "every_choices": EVERY_CHOICES, "row_help": form.ROW_HELP, "now_local": form.local_now("UTC"),
        "separate_steps": form.separate_steps(template) if template else False,
    }  # fmt: skip
    context.update(entered)
    return render(request, "jobs/schedule.html", status, **context)


@page(Role.OPERATOR)
def schedule_page(request: Request) -> Response:
    """``GET /schedule[?template=NAME | ?copy=NAME/RUNCOUNT]``: the form."""
    service: JobService = request.app.state.service
    args = request.query_params
    if args.get("copy"):
        job = _copy_of(service, args["copy"])
        try:
            template = service.template(job.template_name)
        except errors.TemplateNotFound:
            return _render(request, 404, error=f"Job template {job.template_name} of the copied job doesn't exist.")
        shown = form.copied(template, service.store.jobs.parameter_values(job.key))
        said = f"A copy of job {job.key.name} {job.key.run_count}: change what you need, then Schedule."
        return _render(request, template_name=template.name, shown=shown, text=job.text, job_user=job.job_user,
                       message=said)  # fmt: skip
    name = args.get("template", "")
    if name and not any(t.name == name for t in service.templates()):
        return _render(request, 404, error=f"Job template: {name} doesn't exist.")
    return _render(request, template_name=name)


@page(Role.OPERATOR)
def schedule_job(request: Request) -> Response:
    """``POST /schedule``: schedule the job and show its page, or show the form again with the problem."""
    service: JobService = request.app.state.service
    data = form_of(request)
    name = str(data.get("template", "")).strip()
    text, job_user = str(data.get("text", "")).strip(), str(data.get("job_user", "")).strip()
    start = form.Start.read(data)
    template = next((t for t in service.templates() if t.name == name), None)
    shown = form.sent(template, data) if template else {}
    try:
        if template is None:
            raise errors.TemplateNotFound(f"Job template: {name or '(none chosen)'} doesn't exist; choose one.")
        job = jobaudit.audited(
            request, "schedule", f"template {name}",
            lambda: _schedule(service, template, start, text=text, job_user=job_user,
                              creator=session_of(request).user, shown=shown),
            lambda j: f"job {j.key.name} {j.key.run_count} from {name}",
        )  # fmt: skip
    except errors.AppjobsError as exc:
        return _render(request, error_status(exc), template_name=name if template else "", shown=shown, text=text,
                       job_user=job_user, start=start, error=exc.message)  # fmt: skip
    return RedirectResponse(f"{jobpage.job_url(job.key)}?notice=scheduled", status_code=303)


def _schedule(
    service: JobService, template: models.Template, start: form.Start, *, shown: dict[str, str], **job: str
) -> models.Job:
    """Schedule *template* as the form says; every problem is an AppjobsError whose message names its field."""
    start.check()
    entries = _named("Parameters", lambda: form.entries(template, shown))
    _check_job(service, template, job["text"], job["job_user"])
    if start.choice == "now":
        return _named("Parameters", lambda: service.schedule(template.name, parameters=entries, **job))
    if start.choice == "at":
        at = _named("Start at", lambda: recurrence.parse_start(start.start_at, start.timezone))
        if at < service.clock() - engine_service.START_TOLERANCE:
            raise errors.InvalidInput(f"Start at: {start.start_at} ({start.timezone}) is in the past.")
        return _named("Parameters", lambda: service.schedule(template.name, parameters=entries, start_at=at, **job))
    rule = _named("Every", lambda: recurrence.Recurrence.parse(start.every, start.timezone))
    anchor = _named("Start at", lambda: _anchor(service, start, rule))
    until = _named("Until", lambda: recurrence.parse_start(start.until, rule.timezone)) if start.until else None
    count = int(start.count) if start.count else None
    series = _named("Series", lambda: planning.schedule_series(
        service, template.name, rule=rule, anchor=anchor, until=until, count=count, parameters=entries, **job,
    ))  # fmt: skip
    return series[1]


def _check_job(service: JobService, template: models.Template, text: str, job_user: str) -> None:
    """The checks of JobSchedule on the job's text and user, before the parameters', naming the field."""
    if len(text) > engine_service.MAX_TEXT:
        raise errors.InvalidInput(f"Job text: longer than {engine_service.MAX_TEXT} characters.")
    if job_user and not service.store.comm.business_user_exists(job_user.upper()):
        raise errors.UserNotFound(f"Job user: {job_user} is not a registered business user.")
    if job_user and template.business_users and job_user.upper() not in template.business_users:
        allowed = ", ".join(template.business_users)
        raise errors.NotAuthorized(f"Job user: template {template.name} runs only for {allowed}, not {job_user}.")


def _anchor(service: JobService, start: form.Start, rule: recurrence.Recurrence) -> dt.datetime:
    """The local wall time of a series' first start: the form's, or the next whole second."""
    if start.start_at:
        recurrence.parse_start(start.start_at, rule.timezone)  # refuses what is not a date and time, naming it
        return recurrence.parse_local(start.start_at).replace(microsecond=0)
    local = (service.clock() + dt.timedelta(seconds=1)).astimezone(zoneinfo.ZoneInfo(rule.timezone))
    return local.replace(tzinfo=None, microsecond=0)


def _named(label: str, action: Any) -> Any:
    """*action*'s result; an AppjobsError it raises comes out with *label* (the field) in front of its message."""
    try:
        return action()
    except errors.AppjobsError as exc:
        if exc.message.startswith(label + ":"):
            raise
        kind = next((k for k in _KINDS if isinstance(exc, k)), None)
        if kind is None:
            raise
        raise kind(f"{label}: {exc.message}") from exc


#: The error classes a labelled message keeps, so that the page answers with the same status.
_KINDS = (errors.NotFound, errors.NotAuthorized, errors.Conflict, errors.InvalidInput)


routes = [
    Route("/schedule", schedule_page, methods=["GET"]),
    Route("/schedule", schedule_job, methods=["POST"]),
]
