"""The pages' Starlette application, mounted by the server at ``/appjobs/ui``."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from appjobs.auth.ui import UiAuth
from appjobs.engine import JobService
from appjobs.web import comm, jobs, logon, templates
from appjobs.web.rendering import HERE
from appjobs.web.security import SecurityHeaders


def page_routes() -> list[BaseRoute]:
    """Every page and action, without the static files (the fuzz tests walk these)."""
    return [*logon.routes, *jobs.routes, *templates.routes, *comm.routes]


def create_ui(service: JobService, *, secure_cookies: bool = False, auth: UiAuth | None = None) -> Starlette:
    """The web pages over *service*; *secure_cookies* under TLS (the session cookie gets ``Secure``)."""
    routes = [*page_routes(), Mount("/static", StaticFiles(directory=HERE / "static"), name="static")]
    app = Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)])
    app.state.service = service
    app.state.ui_auth = auth or UiAuth(service.store)
    app.state.secure_cookies = secure_cookies
    app.state.logon_turns = None  # made on the event loop, at the first logon (see appjobs.web.logon)
    return app
