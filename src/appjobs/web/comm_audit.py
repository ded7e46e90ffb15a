"""The audit log: logons, lockouts, schedules, cancels and every change, newest first, filtered and paged.

Filters are query parameters (``event``, ``user``, ``outcome``, ``from``,
``to``: times in UTC as a ``datetime-local`` field sends them), so a
filtered view is a link. Pages go back by the id of the last entry shown
(``before``), which costs the same on every page however long the log is.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from appjobs import errors
from appjobs.auth.ui import Role
from appjobs.web.comm_base import store_of
from appjobs.web.rendering import render
from appjobs.web.security import page

PAGE_SIZE = 50
FILTERS = ("event", "user", "outcome", "from", "to")
#: Events the log holds, offered as suggestions in the event filter (it takes any text).
EVENTS = ("logon", "lockout", "schedule", "cancel", "abort", "admin", "ui-logon", "ui-lockout", "ui-logoff")


def _time(value: str, name: str) -> dt.datetime | None:
    """A filter's time (UTC); :class:`~appjobs.errors.InvalidInput` naming the field when it is no time."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise errors.InvalidInput(f"{name}: {value!r} is not a time like 2026-12-06T07:45 (UTC)") from None
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)


@page(Role.ADMINISTRATOR)
def audit_log(request: Request) -> Response:
    """``GET /appjobs/ui/comm/audit``: the entries that match the filters, :data:`PAGE_SIZE` a page."""
    query = request.query_params
    chosen = {name: query.get(name, "").strip() for name in FILTERS}
    before = query.get("before", "")
    try:
        since, until = _time(chosen["from"], "From"), _time(chosen["to"], "To")
        if before and not before.isdigit():
            raise errors.InvalidInput(f"before: {before!r} is not an entry number")
    except errors.InvalidInput as exc:
        return render(request, "comm/audit.html", 400, error=exc.message, entries=[], chosen=chosen, events=EVENTS,
                      older=None, newest=None)  # fmt: skip
    found = store_of(request).audit.search(
        event=chosen["event"] or None, user=chosen["user"].upper() or None, outcome=chosen["outcome"] or None,
        since=since, until=until, before=int(before) if before else None, limit=PAGE_SIZE + 1,
    )  # fmt: skip
    shown = found[:PAGE_SIZE]
    kept = {name: value for name, value in chosen.items() if value}
    older = "?" + urlencode(kept | {"before": shown[-1][0]}) if len(found) > PAGE_SIZE else None
    newest = "?" + urlencode(kept) if before else None
    return render(request, "comm/audit.html", entries=shown, chosen=chosen, events=EVENTS, older=older,
                  newest=newest)  # fmt: skip


routes = [Route("/comm/audit", audit_log, methods=["GET"])]
