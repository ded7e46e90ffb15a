"""The parameter function imports: JobScheduleCheck, JobParamValuesGet/StructGet, TemplateValuesGet/StructGet,
JobTemplateRead, and the parameter half of JobSchedule.

JobSchedule and JobScheduleCheck take the parameters as ``JobParameterValues`` or
``JobParameterValuesSimple`` (one of them: both filled is refused, since which should
win is not documented), in SAP's VALUES format (:mod:`appjobs.odata.jobparams`).

**JobScheduleCheck** answers what JobSchedule would say, storing nothing:
``SuccessfulInd`` true when it would schedule; ``JobParameterValues`` every
step's values with the defaults filled in and the values in SAP's forms (the
input unchanged when the check fails); ``ChangedInd`` true when those differ
from what was sent; ``DynamicProperties`` empty; ``ErrMessages`` one line per
problem, its SAP message id first::

    APJ_RT/032 Parameter REPEAT (step 1): value 'many' is not an integer (INT4: -2147483648 to 2147483647)
    APJ_RT/083 User NOBODY doesn't exist or is invalid.

An unknown template is not a check result but APJ_RT/015, as JobSchedule answers.

**JobParamValuesGet** reads JobName and JobCount (SAP's names). SAP's model declares
JobName with MaxLength 14 and JobCount with 32, swapped; the declaration is kept in
``$metadata``, and :data:`appjobs.server.resources.MAX_LENGTH_EXCEPTIONS` lets a real
32-character JobName through. A client that followed the swapped declaration and sent
the run count as JobName and the job name as JobCount is understood too (the two
shapes cannot be confused: 8 letters, 32 hexadecimal characters). Scope as every job
read: anybody else's job is APJ_RT/003.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from appjobs import errors, models, params
from appjobs.engine import JobService
from appjobs.models import JobKey
from appjobs.odata import jobparams, paramentities
from appjobs.server.errors import ScheduleFailed
from appjobs.server.security import Caller

FIELDS = ("JobParameterValues", "JobParameterValuesSimple")
Params = Mapping[str, Any]


def _text(values: Params, name: str) -> str:
    """A string parameter as ABAP sees it (as :func:`appjobs.server.functions.text`, which imports this module)."""
    value = values.get(name)
    return "" if value is None else str(value).rstrip(" ")


def entries_of(values: Params) -> list[params.Entry]:
    """The parameter entries JobSchedule or JobScheduleCheck was sent; InvalidInput naming the field if malformed."""
    given = [(field, _text(values, field)) for field in FIELDS]
    given = [(field, raw) for field, raw in given if raw and raw != "''"]
    if len(given) > 1:
        raise errors.InvalidInput(
            "JobParameterValues and JobParameterValuesSimple are both given; send the parameters in one of them"
        )
    return jobparams.parse_entries(given[0][1], given[0][0]) if given else []


def schedule_parameters(values: Params) -> list[params.Entry]:
    """JobSchedule's parameter entries; :class:`ScheduleFailed` (APJ_RT/032) with the reason when malformed."""
    try:
        return entries_of(values)
    except errors.InvalidInput as exc:
        raise ScheduleFailed(exc) from exc


def job_schedule_check(service: JobService, values: Params, caller: Caller) -> dict[str, Any]:
    """JobScheduleCheck: JobSchedule's checks of template, JobUser and parameters, without scheduling."""
    template = _text(values, "JobTemplateName")
    service.template(template)  # APJ_RT/015 for an unknown template, as JobSchedule answers
    raw = next((_text(values, f) for f in FIELDS if _text(values, f) not in ("", "''")), "")
    try:
        entries = entries_of(values)
    except errors.InvalidInput as exc:
        return paramentities.check_entity(raw, [f"APJ_RT/032 {exc}"], changed=False)
    result = service.check(template, creator=caller.user, job_user=_text(values, "JobUser"), parameters=entries)
    if result.problems:
        return paramentities.check_entity(raw, result.problems, changed=False)
    return paramentities.check_entity(jobparams.format_values(result.values), (), changed=result.changed)


def _job_key(values: Params) -> JobKey:
    """JobParamValuesGet's JobName and JobCount as a key, whichever way round a client sent them."""
    name, count = _text(values, "JobName"), _text(values, "JobCount")
    if models.RUN_COUNT_RE.match(name) and models.JOB_NAME_RE.match(count):
        name, count = count, name  # sent as SAP's swapped declaration suggests
    return JobKey(name, count)


def _visible_values(service: JobService, values: Params, caller: Caller) -> list[params.Value]:
    from appjobs.server import functions  # functions imports this module for its HANDLERS

    key = _job_key(values)
    functions.visible_job(service, key, caller)
    return service.parameter_values(key)


def job_param_values_get(service: JobService, values: Params, caller: Caller) -> dict[str, Any]:
    """JobParamValuesGet: a job's parameters as a JobParameterValues text, reusable for JobSchedule."""
    return paramentities.param_values_entity(_visible_values(service, values, caller))


def job_param_values_struct_get(service: JobService, values: Params, caller: Caller) -> list[dict[str, Any]]:
    """JobParamValuesStructGet: a job's parameters, one row per SIGN/OPTION/LOW/HIGH."""
    return paramentities.struct_entities(_visible_values(service, values, caller))


def _template(service: JobService, values: Params) -> models.Template:
    return service.template(_text(values, "JobTemplateName"))


def template_values_get(service: JobService, values: Params, caller: Caller) -> dict[str, Any]:
    """TemplateValuesGet: every parameter of the template with its default, as a JobParameterValues text."""
    return paramentities.param_values_entity(paramentities.template_values(_template(service, values)))


def template_values_struct_get(service: JobService, values: Params, caller: Caller) -> list[dict[str, Any]]:
    """TemplateValuesStructGet: the same, one row per SIGN/OPTION/LOW/HIGH."""
    return paramentities.struct_entities(paramentities.template_values(_template(service, values)))


def job_template_read(service: JobService, values: Params, caller: Caller) -> dict[str, Any]:
    """JobTemplateRead: the template's steps and parameters as TemplateData JSON."""
    return paramentities.template_data_entity(_template(service, values))
