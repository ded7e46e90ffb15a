"""Rendering pages: one Jinja2 environment over ``templates/``, with the filters every page uses.

Autoescaping is on for every template, so a job text or a log line that
holds ``<script>`` is shown, never run. Status letters become SAP's texts
and semantic states (fiori-apps.md §1.3): the text always says the status,
so colour is never the only sign.
"""

from __future__ import annotations

import datetime as dt
import pathlib
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from appjobs import models

PREFIX = "/appjobs/ui"  #: where the pages are served; every link is absolute under it
HERE = pathlib.Path(__file__).parent

#: Fiori's semantic state of each status letter (ObjectStatus ``state``); the CSS colours them.
STATES = {
    "F": "success", "A": "error", "U": "error", "C": "warning", "c": "warning", "W": "warning",
    "R": "information", "S": "information", "Y": "information", "P": "information",
}  # fmt: skip


def status_text(letter: str | None) -> str:
    if not letter:
        return ""
    try:
        return models.JobStatus(letter).text
    except ValueError:
        return letter


def status_state(letter: str | None) -> str:
    return STATES.get(letter or "", "none")


def when(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A UTC time as the pages show it ("" for none); the page says the times are UTC."""
    return "" if value is None else value.astimezone(dt.UTC).strftime(fmt)


def duration(start: dt.datetime | None, end: dt.datetime | None) -> str:
    """How long from *start* to *end* (or now), as ``1 h 02 min``, ``3 min 05 s`` or ``4.2 s``."""
    if start is None:
        return ""
    seconds = ((end or models.utcnow()) - start).total_seconds()
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,  # a name a template misspells is an error in the tests, not a blank
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters.update(status_text=status_text, status_state=status_state, when=when, duration=duration)
environment.globals.update(prefix=PREFIX)


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """*template* rendered with *context*, the session (or None) and its CSRF token.

    An htmx request for a page that has a ``fragment`` block gets only
    that block, when the caller asks with ``fragment=True``.
    """
    session = getattr(request.state, "session", None)
    context.setdefault("message", None)
    context.setdefault("error", None)
    context.update(session=session, csrf_token=session.csrf_token if session else "", path=request.url.path)
    page = environment.get_template(template)
    if context.pop("fragment", False):
        html = "".join(page.blocks["fragment"](page.new_context(context)))
    else:
        html = page.render(context)
    return HTMLResponse(html, status_code=status_code)
