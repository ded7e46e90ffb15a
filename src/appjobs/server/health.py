"""``/appjobs/health`` and ``/appjobs/ready``: for load balancers, orchestrators and monitoring.

*Health* says the process is alive and answers HTTP (and reads the
database: a server that cannot is of no use to anybody). *Readiness*
says it can do its work, in three checks, each named in the JSON body:

* ``database``: it answers a query;
* ``migrations``: its schema is the one this code expects (another
  version's server may have migrated it on, or the upgrade is still to run);
* ``workers``: at least one worker is alive and sent a heartbeat within
  the lease (:data:`~appjobs.engine.service.DEFAULT_LEASE`), so a job
  scheduled now will start.

Ready answers 200 ``{"status": "ready", "checks": {…}}``, else 503 with
``"status": "not ready"`` and each failing check's ``"ok": false`` and the
reason in ``"detail"``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from appjobs import __version__, errors
from appjobs.engine import JobService
from appjobs.engine.service import DEFAULT_LEASE

Check = dict[str, Any]


def health(request: Request) -> JSONResponse:
    service: JobService = request.app.state.service
    templates = len(service.store.templates.names())  # a cheap read proves the database answers
    return JSONResponse({"status": "ok", "version": __version__, "templates": templates})


def ready(request: Request) -> JSONResponse:
    checks = readiness(request.app.state.service)
    fine = all(check["ok"] for check in checks.values())
    body = {"status": "ready" if fine else "not ready", "version": __version__, "checks": checks}
    return JSONResponse(body, status_code=200 if fine else 503, headers={"Cache-Control": "no-store"})


def readiness(service: JobService) -> dict[str, Check]:
    """The three checks, each ``{"ok": bool, "detail": str}``; later ones are skipped when the database is down."""
    try:
        revision, head = service.store.db.schema_state()
    except errors.StorageError as exc:
        down = {"ok": False, "detail": f"the database does not answer: {exc}"}
        skipped = {"ok": False, "detail": "not checked: the database does not answer"}
        return {"database": down, "migrations": skipped, "workers": skipped}
    checks: dict[str, Check] = {"database": {"ok": True, "detail": "answers"}}
    if revision == head:
        checks["migrations"] = {"ok": True, "detail": f"schema revision {head}, the current one"}
    else:
        checks["migrations"] = {"ok": False, "detail": f"schema revision {revision}; this server needs {head}"}
    checks["workers"] = _workers(service)
    return checks


def _workers(service: JobService) -> Check:
    now = service.clock()
    fresh = [w for w in service.live_workers() if now - w.heartbeat_at <= dt.timedelta(seconds=DEFAULT_LEASE)]
    if fresh:
        return {"ok": True, "detail": f"{len(fresh)} worker(s) alive, the last heartbeat within {DEFAULT_LEASE:g} s"}
    return {"ok": False, "detail": f"no worker alive with a heartbeat in the last {DEFAULT_LEASE:g} s: jobs would "
                                   "not start; is `appjobs worker` (or serve's own) running?"}  # fmt: skip
