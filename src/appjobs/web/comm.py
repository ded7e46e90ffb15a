"""Communication Management pages, the administrator's: one module per page, their routes together here.

:mod:`~appjobs.web.comm_users` (communication users),
:mod:`~appjobs.web.comm_systems` (systems and arrangements),
:mod:`~appjobs.web.comm_business` (business users),
:mod:`~appjobs.web.comm_audit` (the audit log); what they share is in
:mod:`~appjobs.web.comm_base`.
"""

from __future__ import annotations

from starlette.routing import Route

from appjobs.web import comm_audit, comm_business, comm_systems, comm_users

routes: list[Route] = [*comm_users.routes, *comm_systems.routes, *comm_business.routes, *comm_audit.routes]
