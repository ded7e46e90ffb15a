"""The pages' Starlette application, mounted by the server at ``/appjobs/ui``."""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from appjobs import errors
from appjobs.auth.ui import Role, UiAuth
from appjobs.engine import JobService
from appjobs.web import comm, jobs, logon, templates
from appjobs.web.rendering import HERE
from appjobs.web.security import SecurityHeaders, page
from appjobs.web.uploads import BodyLimit


def page_routes() -> list[BaseRoute]:
    """Every page and action, without the static files (the fuzz tests walk these)."""
    return [*logon.routes, *jobs.routes, *templates.routes, *comm.routes, Route("/metrics", metrics_text)]


@page(Role.ADMINISTRATOR)
def metrics_text(request: Request) -> Response:
    """``/appjobs/ui/metrics``: the server's Prometheus metrics, for a UI administrator (the session's cookie)."""
    text = request.app.state.metrics_text
    if text is None:
        raise errors.NotFound("this server has no metrics")
    return Response(text(), media_type="text/plain; version=0.0.4; charset=utf-8")


def create_ui(
    service: JobService,
    *,
    secure_cookies: bool = False,
    auth: UiAuth | None = None,
    metrics_text: Callable[[], bytes] | None = None,
    public_url: str | None = None,
) -> Starlette:
    """The web pages over *service*; *secure_cookies* under TLS (the session cookie gets ``Secure``).

    *metrics_text* gives the server's metrics, which administrators read at ``/appjobs/ui/metrics``.
    *public_url* is where schedulers reach the server, for the service URL the pages show; without
    it, each page shows its own request's scheme, host and port.
    """
    routes = [*page_routes(), Mount("/static", StaticFiles(directory=HERE / "static"), name="static")]
    app = Starlette(routes=routes, middleware=[Middleware(SecurityHeaders), Middleware(BodyLimit)])
    app.state.service = service
    app.state.ui_auth = auth or UiAuth(service.store)
    app.state.secure_cookies = secure_cookies
    app.state.metrics_text = metrics_text
    app.state.public_url = public_url
    app.state.logon_turns = None  # made on the event loop, at the first logon (see appjobs.web.logon)
    return app
