"""The poll, answered the short way: JobStatusGet for a caller the gate already knows.

Schedulers spend most of their requests polling: ``GET …/JobStatusGet?
JobName='…'&JobRunCount='…'&$format=json``, every few seconds per job, from
a client with a live session or cached credentials. The general way through
:mod:`appjobs.server.resources` serves any resource with any query option, and
for this one request most of its work (option parsing, literal grammar,
dispatch) decides nothing. So a poll of exactly that shape is answered here,
on the event loop: two plain key literals, an optional ``$format=json``, one
read, one JSON entry.

It must answer exactly what the general way answers, byte for byte (a test
compares the two), so it reuses the same pieces: :func:`functions.visible_status`
for the scope (the rule itself is written once there), :mod:`appjobs.odata.entities` and :mod:`appjobs.odata.payloads`
for the body. Anything else (another option, Atom, a literal with escapes or
past its MaxLength, a job that is not there or not the caller's, any error)
returns None, and the general way answers, errors included.

The caller comes from the server's caches, so the one read also fetches the
caller's credential version (:meth:`~appjobs.storage.jobs.JobStore.poll_for`):
when it is no longer the version the cached logon holds under (a password
reset, a lock, an arrangement removed, by any process), the answer is
:data:`STALE` and the request must log on anew.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence

from appjobs import errors
from appjobs.engine import JobService
from appjobs.models import JobKey
from appjobs.odata import entities, model, payloads
from appjobs.server import functions
from appjobs.server.security import Caller
from appjobs.server.targets import parse_target

# Only plain keys: letters and digits, within the MaxLength of each parameter (32 and 8).
_JOB_NAME = re.compile(r"'([0-9A-Za-z]{1,32})'")
_RUN_COUNT = re.compile(r"'([0-9A-Za-z]{1,8})'")
_ALLOWED = frozenset({"JobName", "JobRunCount", "$format"})


def poll_key(params: Sequence[tuple[str, str]], fmt: str) -> JobKey | None:
    """The job a plain JSON poll asks for, or None when the request is anything more."""
    if fmt != "json" or len(params) > 3:
        return None
    values = dict(params)
    if len(values) != len(params) or not values.keys() <= _ALLOWED:
        return None
    name = _JOB_NAME.fullmatch(values.get("JobName", ""))
    run_count = _RUN_COUNT.fullmatch(values.get("JobRunCount", ""))
    if name is None or run_count is None:
        return None
    return JobKey(name.group(1), run_count.group(1))


class Stale(enum.Enum):
    """The answer to a caller whose cached logon no longer holds."""

    STALE = "stale"


STALE = Stale.STALE


def answer(service: JobService, raw_path: str, origin: str, key: JobKey, caller: Caller) -> bytes | Stale | None:
    """The JSON body of JobStatusGet for *key*; :data:`STALE`; or None to leave the request to the general way."""
    try:
        found = service.store.jobs.poll_for(key, caller.user)
    except errors.AppjobsError:
        return STALE  # the logon could not be checked: the general way checks it, and answers the error
    if found is None or found[0] != caller.version:
        return STALE
    _, status, creator = found
    try:
        if status is None or creator is None:
            raise errors.JobNotFound()
        functions.check_scope(creator, caller)
        root = parse_target(raw_path).root
    except errors.AppjobsError:
        return None  # e.g. APJ_RT/003: its error document comes from the one place that writes them
    entity = entities.status_entity(key, status)
    return payloads.entry_json(model.JOB_STATUS_GET.entity_set, entity, origin + root)
