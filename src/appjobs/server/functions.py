"""The function imports of BC_EXT_APPJOB_MANAGEMENT, from OData parameters to engine calls.

Each handler takes the parsed parameters (SAP names, Python values) and
the caller, and returns SAP property dicts for :mod:`appjobs.server.resources`
to serialize. Parameters follow ABAP's habits: a parameter that is absent is
initial (``""``), and trailing blanks do not count, so JobListGet's ``' '``
(the guide's "any") is the same as leaving the filter out.

Scope: a communication user of SAP_COM_0064 sees and acts on the jobs it
created, and on no others: anybody else's job answers APJ_RT/003 exactly
as a job that does not exist. A user with an SAP_COM_0326 arrangement sees
and acts on every job.

Schedules, cancels, aborts and restarts are written to the audit log, with their
outcome, by :func:`call`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from appjobs import errors, models
from appjobs.engine import JobService, restart
from appjobs.models import JobKey
from appjobs.odata import entities, model
from appjobs.server import paramfunctions
from appjobs.server.errors import ScheduleFailed
from appjobs.server.security import Caller

Params = Mapping[str, Any]
Handler = Callable[[JobService, Params, Caller], Any]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_END_OF_TIME = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)


def text(params: Params, name: str) -> str:
    """A string parameter as ABAP sees it: absent is empty, trailing blanks are cut."""
    value = params.get(name)
    return "" if value is None else str(value).rstrip(" ")


def _key(params: Params) -> JobKey:
    return JobKey(text(params, "JobName"), text(params, "JobRunCount"))


AUDITED = {"JobSchedule": "schedule", "JobCancel": "cancel", "JobAbort": "abort", "JobRestart": "restart"}


def call(name: str, service: JobService, params: Params, caller: Caller, source: str | None = None) -> Any:
    """Run function import *name*; a schedule, cancel, abort or restart is audited, whether it succeeds or not."""
    event = AUDITED.get(name)
    if event is None:
        return HANDLERS[name](service, params, caller)
    try:
        result = HANDLERS[name](service, params, caller)
    except errors.AppjobsError as exc:
        # APJ_RT/032 says only "Job couldn't be scheduled."; the log needs the reason it wraps.
        why = f"{exc} {exc.reason}" if isinstance(exc, ScheduleFailed) else str(exc)
        _audit(service, event, caller, source, "failure", f"{_audit_subject(params, result=None)}: {why}")
        raise
    _audit(service, event, caller, source, "success", _audit_subject(params, result))
    return result


def _audit_subject(params: Params, result: Any) -> str:
    if isinstance(result, Mapping) and "JobName" in result and text(params, "JobRestartMode"):
        return (
            f"job {result['JobName']} {result['JobRunCount']} restarting job {text(params, 'JobName')} "
            f"{text(params, 'JobRunCount')} (mode {text(params, 'JobRestartMode')})"
        )
    if isinstance(result, Mapping) and "JobName" in result:
        return f"job {result['JobName']} {result['JobRunCount']} from {text(params, 'JobTemplateName')}"
    if text(params, "JobName"):
        return f"job {text(params, 'JobName')} {text(params, 'JobRunCount')}"
    return f"template {text(params, 'JobTemplateName')}"


def _audit(service: JobService, event: str, caller: Caller, source: str | None, outcome: str, detail: str) -> None:
    entry = models.AuditEntry(models.utcnow(), event, caller.user, source, outcome, detail)
    unit = service.current_unit()
    if unit is not None:  # a $batch changeset: written when it ends, so that a rollback does not erase it
        unit.audit(entry)
    else:
        service.store.audit.add([entry])


def visible_job(service: JobService, key: JobKey, caller: Caller) -> models.Job:
    """The job if *caller* may see it; :class:`~appjobs.errors.JobNotFound` otherwise."""
    job = service.status(key)
    check_scope(job.creator, caller)
    return job


def visible_status(service: JobService, key: JobKey, caller: Caller) -> models.JobStatus:
    """The job's status if *caller* may see the job; :class:`~appjobs.errors.JobNotFound` otherwise."""
    status, creator = service.poll(key)
    check_scope(creator, caller)
    return status


def check_scope(creator: str, caller: Caller) -> None:
    """The scope rule, in one place: SAP_COM_0064 users see their own jobs; SAP_COM_0326 users every job."""
    if creator != caller.user and not caller.sees_all_jobs:
        raise errors.JobNotFound()


def job_schedule(service: JobService, params: Params, caller: Caller) -> entities.SapEntity:
    """JobSchedule: start a job from a template at once; the answer's JobStatus is empty, as SAP's."""
    values = paramfunctions.schedule_parameters(params)  # APJ_RT/032 when malformed
    try:
        job = service.schedule(
            text(params, "JobTemplateName"),
            creator=caller.user,
            text=text(params, "JobText"),
            job_user=text(params, "JobUser"),
            test_mode=bool(params.get("TestModeInd")),
            parameters=values,
        )
    except errors.InvalidInput as exc:
        raise ScheduleFailed(exc) from exc
    return entities.schedule_status_entity(job, include_status=False)


def job_status_get(service: JobService, params: Params, caller: Caller) -> entities.SapEntity:
    """JobStatusGet: the status alone, read with the creator (the scope check) and nothing else."""
    key = _key(params)
    return entities.status_entity(key, visible_status(service, key, caller))


def job_cancel(service: JobService, params: Params, caller: Caller) -> entities.SapEntity:
    key = _key(params)
    visible_job(service, key, caller)
    service.cancel(key, by=caller.user)
    return entities.func_imp_return()


def job_abort(service: JobService, params: Params, caller: Caller) -> entities.SapEntity:
    key = _key(params)
    visible_job(service, key, caller)
    service.abort(key, by=caller.user)
    return entities.func_imp_return()


def jobinfo_get(service: JobService, params: Params, caller: Caller) -> list[entities.SapEntity]:
    key = _key(params)
    job = visible_job(service, key, caller)
    return entities.jobinfo_entities(job, service.steps(key))


def job_list_get(service: JobService, params: Params, caller: Caller) -> list[entities.SapEntity]:
    """JobListGet: the caller's jobs created in a time window, narrowed by the filters given."""
    filters = {column: text(params, name) for name, column in entities.JOBLIST_FILTERS.items() if text(params, name)}
    jobs = service.jobs(
        _utc(params.get("CreationTimeFrom")) or _EPOCH,
        _utc(params.get("CreationTimeTo")) or _END_OF_TIME,
        creator=None if caller.sees_all_jobs else caller.user,
        filters=filters,
    )
    return entities.joblist_entities(jobs, steps=service.steps_of(jobs))


# --- JobRestart ------------------------------------------------------------------------------------------------


def job_restart(service: JobService, params: Params, caller: Caller) -> entities.SapEntity:
    """JobRestart: a copy of the caller's failed job, run from (``E``) or after (``A``) its failed step.

    The answer is the copy's key with JobStatus ``R``, as SAP's documentation
    shows it ("start it"): the copy is committed and the workers woken when it
    is sent, though a poll may still see it S or Y for a moment.
    """
    key, mode = _key(params), text(params, "JobRestartMode")
    restart.check_mode(mode)
    visible_job(service, key, caller)
    copy = restart.restart(service, key, mode, by=caller.user)
    return entities.status_entity(copy.key, models.JobStatus.RUNNING)


def _utc(value: object) -> dt.datetime | None:
    """Edm.DateTime literals carry no offset; SAP reads them as UTC."""
    if not isinstance(value, dt.datetime):
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


HANDLERS: dict[str, Handler] = {
    model.JOB_SCHEDULE.name: job_schedule,
    model.JOB_STATUS_GET.name: job_status_get,
    model.JOB_CANCEL.name: job_cancel,
    model.JOB_ABORT.name: job_abort,
    model.JOBINFO_GET.name: jobinfo_get,
    model.JOB_LIST_GET.name: job_list_get,
    # Parameters (appjobs.server.paramfunctions)
    model.JOB_SCHEDULE_CHECK_FI.name: paramfunctions.job_schedule_check,
    model.JOB_PARAM_VALUES_GET.name: paramfunctions.job_param_values_get,
    model.JOB_PARAM_VALUES_STRUCT_GET.name: paramfunctions.job_param_values_struct_get,
    model.TEMPLATE_VALUES_GET.name: paramfunctions.template_values_get,
    model.TEMPLATE_VALUES_STRUCT_GET.name: paramfunctions.template_values_struct_get,
    model.JOB_TEMPLATE_READ.name: paramfunctions.job_template_read,
    # Restart (appjobs.engine.restart)
    model.JOB_RESTART.name: job_restart,
}
