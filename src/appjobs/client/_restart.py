"""JobRestart (SAP, 2023): a copy of a failed job, started from or after its failed step.

:meth:`appjobs.client.Client.restart` calls :func:`restart`. It lives here
to keep ``_client`` small, and because its one judgement call is its own: a
service that does not know JobRestart (a tenant older than the 2023 service,
or an ``appjobs serve`` before it) answers 404 "Resource not found for the
segment 'JobRestart'", or 501, and either means :class:`OperationNotOffered`,
not a broken request or a lost answer (a 501 did nothing, so "outcome unknown",
which a POST's 5xx otherwise means, would be wrong).
"""

from __future__ import annotations

from appjobs.client import _literals as literals
from appjobs.client import _records as records
from appjobs.client._errors import NotFound, OperationNotOffered, OutcomeUnknown, ProtocolError, ServiceError
from appjobs.client._models import JobKey, RestartMode
from appjobs.client._parsing import read_rows
from appjobs.client._transport import Answer, Transport

OPERATION = "JobRestart"
NOT_OFFERED = (
    "the service does not offer JobRestart (SAP added it to BC_EXT_APPJOB_MANAGEMENT in 2023; "
    "an older tenant or server lacks it)"
)


def mode_of(mode: RestartMode | str) -> RestartMode:
    """*mode* as a :class:`RestartMode`: the member itself or its letter (``"E"``, ``"A"``); ValueError otherwise."""
    try:
        return RestartMode(mode)
    except ValueError:
        raise ValueError(
            f"the restart mode must be 'E' (from the failed step) or 'A' (after it), not {mode!r}"
        ) from None


def restart(transport: Transport, job: JobKey, mode: RestartMode | str) -> JobKey:
    """POST JobRestart for *job* in *mode* and return the key of the copy (see :meth:`Client.restart`)."""
    pairs = [
        ("JobName", literals.string(job.name)),
        ("JobRunCount", literals.string(job.run_count)),
        ("JobRestartMode", literals.string(mode_of(mode).value)),
        ("$format", "json"),
    ]
    url = transport.url(OPERATION, literals.query(pairs))
    try:
        return transport.post(url, _copy_key, operation=OPERATION)
    except NotFound as exc:
        if exc.status != 404 or (exc.code or "").startswith("APJ_RT/"):
            raise  # APJ_RT/003: the service has JobRestart, but not the job
        raise OperationNotOffered(f"{NOT_OFFERED}: {exc}", operation=OPERATION, status=404) from exc
    except OutcomeUnknown as exc:
        cause = exc.__cause__
        if isinstance(cause, ServiceError) and cause.status == 501:
            raise OperationNotOffered(f"{NOT_OFFERED}: {cause}", operation=OPERATION, status=501) from cause
        raise


def _copy_key(answer: Answer) -> JobKey:
    rows = read_rows(answer.body).rows
    if len(rows) != 1:
        raise ProtocolError(f"expected one entity in the JobRestart answer, got {len(rows)}")
    return records.job_state(rows[0]).key
