"""Communication systems and arrangements: list, add, remove; each arrangement with its service URL.

An arrangement's row also says whether its user is locked, with an Unlock
button: a scheduler that gets 401 after too many wrong passwords is the
usual reason to open this page (fiori-apps.md §5), and SAP sends the
administrator to another app for it.
"""

from __future__ import annotations

import functools

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from appjobs import errors, models
from appjobs.auth import users
from appjobs.auth.ui import Role
from appjobs.web.comm_base import act, field, service_url, source_of, store_of
from appjobs.web.rendering import render
from appjobs.web.security import form_of, page


def systems_page(request: Request, status: int = 200, **context: object) -> Response:
    context.setdefault("system_id", "")
    context.setdefault("host_name", "")
    systems = store_of(request).comm.systems()
    return render(request, "comm/systems.html", status, systems=systems, **context)


@page(Role.ADMINISTRATOR)
def system_list(request: Request) -> Response:
    """``GET /appjobs/ui/comm/systems``."""
    return systems_page(request)


@page(Role.ADMINISTRATOR)
def add_system(request: Request) -> Response:
    """``POST /appjobs/ui/comm/systems``: ``system_id``, ``host_name``; a duplicate id is a 409."""
    form = form_of(request)
    system_id, host_name = field(form, "system_id"), field(form, "host_name")

    def add() -> str:
        users.add_system(store_of(request), system_id, host_name, source=source_of(request))
        return f"Added communication system {system_id.upper()} ({host_name})."

    return act(functools.partial(systems_page, request), add, system_id=system_id, host_name=host_name)


def arrangements_page(request: Request, status: int = 200, **context: object) -> Response:
    """The arrangements, each with its user's lock state, and the add form (refilled from *context*)."""
    store = store_of(request)
    comm_users = {u.name: u for u in store.users.list()}
    context.setdefault("chosen", {"name": "", "scenario": models.Scenario.EXTERNAL_SCHEDULER.value, "system": "",
                                  "user": ""})  # fmt: skip
    return render(request, "comm/arrangements.html", status, arrangements=store.comm.arrangements(),
                  comm_users=comm_users, systems=store.comm.systems(), scenarios=list(models.Scenario),
                  service_url=service_url(request), **context)  # fmt: skip


@page(Role.ADMINISTRATOR)
def arrangement_list(request: Request) -> Response:
    """``GET /appjobs/ui/comm/arrangements``."""
    return arrangements_page(request)


@page(Role.ADMINISTRATOR)
def add_arrangement(request: Request) -> Response:
    """``POST /appjobs/ui/comm/arrangements``: ``name``, ``scenario``, ``system``, ``user``."""
    form = form_of(request)
    chosen = {key: field(form, key) for key in ("name", "scenario", "system", "user")}

    def add() -> str:
        found = users.add_arrangement(store_of(request), chosen["name"], chosen["scenario"], chosen["system"],
                                      chosen["user"], source=source_of(request))  # fmt: skip
        return f"Added communication arrangement {found.name}; service URL: {service_url(request)}"

    return act(functools.partial(arrangements_page, request), add, chosen=chosen)


@page(Role.ADMINISTRATOR)
def remove_arrangement(request: Request) -> Response:
    """``POST /appjobs/ui/comm/arrangements/{name}/remove``: its user's logons end (it may have lost its scope)."""
    name = request.path_params["name"].upper()

    def remove() -> str:
        users.remove_arrangement(store_of(request), name, source=source_of(request))
        return f"Removed communication arrangement {name}."

    return act(functools.partial(arrangements_page, request), remove)


@page(Role.ADMINISTRATOR)
def unlock_user(request: Request) -> Response:
    """``POST /appjobs/ui/comm/arrangements/{name}/unlock-user``: unlock the arrangement's communication user."""
    name = request.path_params["name"].upper()

    def unlock() -> str:
        found = {a.name: a for a in store_of(request).comm.arrangements()}
        if name not in found:
            raise errors.NotFound(f"communication arrangement {name} doesn't exist")
        user = found[name].user_name
        users.set_locked(store_of(request), user, False, source=source_of(request))
        return f"Communication user {user} unlocked."

    return act(functools.partial(arrangements_page, request), unlock)


routes = [
    Route("/comm/systems", system_list, methods=["GET"]),
    Route("/comm/systems", add_system, methods=["POST"]),
    Route("/comm/arrangements", arrangement_list, methods=["GET"]),
    Route("/comm/arrangements", add_arrangement, methods=["POST"]),
    Route("/comm/arrangements/{name}/remove", remove_arrangement, methods=["POST"]),
    Route("/comm/arrangements/{name}/unlock-user", unlock_user, methods=["POST"]),
]
