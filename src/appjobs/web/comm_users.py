"""Communication users: the list, create (generated password shown once, or a certificate), lock, unlock, reset.

A password is generated here (:func:`~appjobs.web.comm_base.generate_password`)
and shown on the answer to the request that set it, once: it is stored
only as its hash, and the pages are never cached (``Cache-Control:
no-store``). Unless the administrator unticks it, a new user also gets its
communication system and SAP_COM_0064 arrangement, as ``users add`` does,
so it can log on to the OData service at once.
"""

from __future__ import annotations

import functools
from collections import defaultdict

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from appjobs import errors
from appjobs.auth import certificates, users
from appjobs.auth.ui import Role
from appjobs.web.comm_base import act, field, generate_password, service_url, source_of, store_of
from appjobs.web.rendering import render
from appjobs.web.security import MAX_FORM, error_status, form_of, page
from appjobs.web.uploads import uploaded


def users_page(request: Request, status: int = 200, **context: object) -> Response:
    """The communication users with their arrangements, and the create form (refilled from *context*)."""
    store = store_of(request)
    arranged: dict[str, list[str]] = defaultdict(list)
    for arrangement in store.comm.arrangements():
        arranged[arrangement.user_name].append(arrangement.name)
    context.setdefault("name", "")
    context.setdefault("arrangement", True)
    context.setdefault("new_password", None)
    return render(request, "comm/users.html", status, users=store.users.list(), arranged=arranged,
                  service_url=service_url(request), max_kib=MAX_FORM // 1024, **context)  # fmt: skip


@page(Role.ADMINISTRATOR)
def user_list(request: Request) -> Response:
    """``GET /appjobs/ui/comm/users``."""
    return users_page(request)


@page(Role.ADMINISTRATOR)
def create_user(request: Request) -> Response:
    """``POST /appjobs/ui/comm/users``: ``name``, ``certificate`` (a file, optional), ``arrangement`` (checkbox)."""
    form = form_of(request)
    name, arrangement = field(form, "name"), form.get("arrangement") is not None
    try:
        upload = uploaded(form, "certificate")
        cert = certificates.parse(upload[1], upload[0]) if upload else None
        password = None if cert else generate_password()
        created = users.add_user(store_of(request), name, password, certificate=cert, arrangement=arrangement,
                                 source=source_of(request))  # fmt: skip
    except errors.AppjobsError as exc:
        return users_page(request, error_status(exc), error=exc.message, name=name, arrangement=arrangement)
    message = "Added " + ", ".join(created) + "."
    return users_page(request, message=message, new_password=(name.upper(), password) if password else None)


@page(Role.ADMINISTRATOR)
def lock_user(request: Request) -> Response:
    """``POST /appjobs/ui/comm/users/{name}/lock``: its logons end on every server at once."""
    name = request.path_params["name"].upper()
    return act(functools.partial(users_page, request), lambda: _set_locked(request, name, True))


@page(Role.ADMINISTRATOR)
def unlock_user(request: Request) -> Response:
    """``POST /appjobs/ui/comm/users/{name}/unlock``: it may log on again; its failed logons are forgotten."""
    name = request.path_params["name"].upper()
    return act(functools.partial(users_page, request), lambda: _set_locked(request, name, False))


def _set_locked(request: Request, name: str, locked: bool) -> str:
    users.set_locked(store_of(request), name, locked, source=source_of(request))
    return f"Communication user {name} {'locked' if locked else 'unlocked'}."


@page(Role.ADMINISTRATOR)
def reset_password(request: Request) -> Response:
    """``POST /appjobs/ui/comm/users/{name}/reset-password``: a new generated password, shown once."""
    name = request.path_params["name"].upper()
    password = generate_password()
    try:
        users.reset_password(store_of(request), name, password, source=source_of(request))
    except errors.AppjobsError as exc:
        return users_page(request, error_status(exc), error=exc.message)
    message = f"Password of communication user {name} reset; its sessions have ended."
    return users_page(request, message=message, new_password=(name, password))


routes = [
    Route("/comm/users", user_list, methods=["GET"]),
    Route("/comm/users", create_user, methods=["POST"]),
    Route("/comm/users/{name}/lock", lock_user, methods=["POST"]),
    Route("/comm/users/{name}/unlock", unlock_user, methods=["POST"]),
    Route("/comm/users/{name}/reset-password", reset_password, methods=["POST"]),
]
