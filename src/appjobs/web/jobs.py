"""Application Jobs: the job list (placeholder, being built)."""

from __future__ import annotations

import datetime as dt

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from appjobs import models
from appjobs.web.rendering import render
from appjobs.web.security import page


@page()
def job_list(request: Request) -> Response:
    now = models.utcnow()
    jobs = request.app.state.service.jobs(now - dt.timedelta(days=1), now)
    return render(request, "jobs/list.html", jobs=list(reversed(jobs))[:50])


routes = [Route("/jobs", job_list)]
