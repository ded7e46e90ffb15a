"""The ASGI application: the composition root of the HTTP side."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from appjobs import __version__
from appjobs.engine import JobService

SERVICE_PATH = "/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=0002/"


def create_app(service: JobService) -> Starlette:
    """The appjobs web application over *service*."""

    def health(request: Request) -> JSONResponse:
        # A cheap read proves the database answers; load balancers and tests poll this.
        templates = len(service.store.templates.names())
        return JSONResponse({"status": "ok", "version": __version__, "templates": templates})

    app = Starlette(routes=[Route("/appjobs/health", health)])
    app.state.service = service
    return app
