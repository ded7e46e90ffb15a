"""The ASGI application: the composition root of the HTTP side.

``/sap/opu/odata/…`` is SAP's service (:mod:`appjobs.server.odata`);
``/appjobs/health`` and ``/appjobs/ready`` are ours, for load balancers and
orchestrators (:mod:`appjobs.server.health`), and ``/appjobs/metrics`` for
Prometheus (:mod:`appjobs.server.metrics`); ``/appjobs/ui/``
holds the web pages (:mod:`appjobs.web`).

Requests for the service skip Starlette's router and its two middlewares:
the endpoint answers every error itself, so they would only add work, and
measured per JobStatusGet poll that work was a fifth of the whole request
(27 µs of 114, in-process). The route stays declared, so that the app's
``routes`` still say what it serves.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from appjobs.auth.logon import Authenticator
from appjobs.auth.sessions import SessionManager
from appjobs.auth.ui import UiAuth
from appjobs.engine import JobService
from appjobs.server import health, metrics
from appjobs.server.config import ServerSettings
from appjobs.server.odata import ODataEndpoint
from appjobs.server.security import Gate
from appjobs.web import create_ui

SERVICE_PATH = "/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=0002/"
ODATA_PREFIX = "/sap/opu/odata/"


class AppjobsApp(Starlette):
    """Starlette, with the OData service's requests handed straight to its endpoint."""

    def __init__(self, odata: ODataEndpoint, routes: list[Route | Mount]) -> None:
        super().__init__(routes=routes)
        self.odata = odata

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(ODATA_PREFIX):
            await self.odata(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def create_app(service: JobService, settings: ServerSettings | None = None) -> Starlette:
    """The appjobs web application over *service*."""
    settings = settings or ServerSettings()
    store = service.store
    gate = Gate(
        Authenticator(store, max_failed=settings.max_failed_logons),
        SessionManager(store, idle_timeout=settings.idle_timeout),
        settings,
    )

    exposition = metrics.Exposition(service, settings.metrics_dir, settings.idle_timeout)
    odata = ODataEndpoint(service, gate, settings, http_metrics=exposition.http)
    ui = create_ui(
        service,
        secure_cookies=settings.secure_cookies,
        auth=UiAuth(store, max_failed=settings.max_failed_logons, idle_timeout=settings.idle_timeout),
        metrics_text=exposition.text,
        public_url=settings.public_url,
    )
    routes = [
        Route("/appjobs/health", health.health),
        Route("/appjobs/ready", health.ready),
        Route("/appjobs/metrics", metrics.endpoint(exposition, settings.metrics_token, settings.metrics_open)),
        Mount("/appjobs/ui", app=ui),
        Route(ODATA_PREFIX + "{rest:path}", odata),
    ]
    app = AppjobsApp(odata, routes)
    app.state.service = service
    return app
