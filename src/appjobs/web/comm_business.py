"""Business users: whom jobs run for, and (with a password and a role) who logs on to these pages.

The administrator types a UI user's password (at least 12 characters, as
``business-users add --password-stdin`` takes it); it is never shown
again. Locking a UI user, or giving it a new password or role, ends its
sessions at once.
"""

from __future__ import annotations

import functools

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from appjobs.auth import ui, users
from appjobs.auth.ui import Role
from appjobs.web.comm_base import act, field, source_of, store_of
from appjobs.web.rendering import render
from appjobs.web.security import form_of, page

ROLES = [role.value for role in ui.Role]


def business_users_page(request: Request, status: int = 200, **context: object) -> Response:
    """The business users with their UI logon, and the forms (the typed ids and roles refilled from *context*)."""
    context.setdefault("added", {"user_id": "", "description": "", "role": ""})
    context.setdefault("logon", {"user_id": "", "role": Role.VIEWER.value})
    found = store_of(request).ui_users.list()
    return render(request, "comm/business_users.html", status, business_users=found, roles=ROLES, **context)


@page(Role.ADMINISTRATOR)
def business_user_list(request: Request) -> Response:
    """``GET /appjobs/ui/comm/business-users``."""
    return business_users_page(request)


@page(Role.ADMINISTRATOR)
def add_business_user(request: Request) -> Response:
    """``POST /appjobs/ui/comm/business-users``: ``user_id``, ``description``, optional ``password`` and ``role``."""
    form = form_of(request)
    added = {key: field(form, key) for key in ("user_id", "description", "role")}
    password = form.get("password") or None
    user_id = added["user_id"].upper()

    def add() -> str:
        users.add_business_user(store_of(request), user_id, added["description"], password=password,
                                role=added["role"] or None, source=source_of(request))  # fmt: skip
        return f"Added business user {user_id}" + (f" (UI role {added['role']})." if added["role"] else ".")

    return act(functools.partial(business_users_page, request), add, added=added)


@page(Role.ADMINISTRATOR)
def set_logon(request: Request) -> Response:
    """``POST /appjobs/ui/comm/business-users/logon``: ``user_id``, ``password``, ``role``; its UI sessions end."""
    form = form_of(request)
    logon = {key: field(form, key) for key in ("user_id", "role")}
    password = form.get("password")
    user_id = logon["user_id"].upper()

    def set_it() -> str:
        users.set_ui_logon(store_of(request), user_id, password if isinstance(password, str) else "",
                           logon["role"], source=source_of(request))  # fmt: skip
        return f"Business user {user_id}: UI password and role {logon['role']} set; its sessions have ended."

    return act(functools.partial(business_users_page, request), set_it, logon=logon)


def _set_locked(request: Request, locked: bool) -> Response:
    user_id = request.path_params["user_id"].upper()

    def change() -> str:
        users.set_ui_locked(store_of(request), user_id, locked, source=source_of(request))
        return f"Business user {user_id}: UI logon {'locked; its sessions have ended' if locked else 'unlocked'}."

    return act(functools.partial(business_users_page, request), change)


@page(Role.ADMINISTRATOR)
def lock(request: Request) -> Response:
    """``POST /appjobs/ui/comm/business-users/{user_id}/lock``."""
    return _set_locked(request, True)


@page(Role.ADMINISTRATOR)
def unlock(request: Request) -> Response:
    """``POST /appjobs/ui/comm/business-users/{user_id}/unlock``."""
    return _set_locked(request, False)


routes = [
    Route("/comm/business-users", business_user_list, methods=["GET"]),
    Route("/comm/business-users", add_business_user, methods=["POST"]),
    Route("/comm/business-users/logon", set_logon, methods=["POST"]),
    Route("/comm/business-users/{user_id}/lock", lock, methods=["POST"]),
    Route("/comm/business-users/{user_id}/unlock", unlock, methods=["POST"]),
]
