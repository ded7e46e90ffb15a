"""The audit log of what the Application Jobs pages do: schedule, cancel, restart.

The same events and details as the OData service writes
(:func:`appjobs.server.functions.call`), success or failure, with the UI user
as the actor and the source ``ui:ADDRESS``, so that an entry says it came
from the pages and from where.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from starlette.requests import Request

from appjobs import errors, models
from appjobs.engine import JobService
from appjobs.web.security import session_of

T = TypeVar("T")


def source(request: Request) -> str:
    """``ui:ADDRESS``: the pages, and the reader's address."""
    return f"ui:{request.client.host}" if request.client else "ui"


def audited(request: Request, event: str, subject: str, action: Callable[[], T], done: Callable[[T], str]) -> T:
    """Run *action*; write an audit entry of *event* about *subject*, a failure with its reason or a success.

    *done* turns the action's result into the success's detail (the new job's key, say).
    """
    service = request.app.state.service
    user = session_of(request).user
    try:
        result = action()
    except errors.AppjobsError as exc:
        _write(service, event, user, source(request), "failure", f"{subject}: {exc}")
        raise
    _write(service, event, user, source(request), "success", done(result))
    return result


def _write(service: JobService, event: str, user: str, where: str, outcome: str, detail: str) -> None:
    entry = models.AuditEntry(models.utcnow(), event, user, where, outcome, detail)
    service.store.audit.add([entry])
