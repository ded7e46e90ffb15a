"""The ASGI application: the composition root of the HTTP side.

``/sap/opu/odata/…`` is SAP's service (:mod:`appjobs.server.odata`);
``/appjobs/health`` is ours, for load balancers and tests.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from appjobs import __version__
from appjobs.auth.logon import Authenticator
from appjobs.auth.sessions import SessionManager
from appjobs.engine import JobService
from appjobs.server.config import ServerSettings
from appjobs.server.odata import ODataEndpoint
from appjobs.server.security import Gate

SERVICE_PATH = "/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=0002/"


def create_app(service: JobService, settings: ServerSettings | None = None) -> Starlette:
    """The appjobs web application over *service*."""
    settings = settings or ServerSettings()
    store = service.store
    gate = Gate(
        Authenticator(store, max_failed=settings.max_failed_logons),
        SessionManager(store, idle_timeout=settings.idle_timeout),
        settings,
    )

    def health(request: Request) -> JSONResponse:
        # A cheap read proves the database answers; load balancers and tests poll this.
        templates = len(service.store.templates.names())
        return JSONResponse({"status": "ok", "version": __version__, "templates": templates})

    odata = ODataEndpoint(service, gate, settings)
    app = Starlette(routes=[Route("/appjobs/health", health), Route("/sap/opu/odata/{rest:path}", odata)])
    app.state.service = service
    return app
