"""The one table from appjobs' models to SAP's property dicts; SAP's names appear only here.

Each function returns plain dicts keyed by the property names of an entity
type in :mod:`appjobs.odata.model`, ready for :mod:`appjobs.odata.payloads`::

    >>> schedule_status_entity(job, include_status=False)      # right after JobSchedule
    {'JobName': '38EAA71741401EE6BEA162EB5331DF9C', 'JobRunCount': 'JtUpUsyH', 'JobStatus': '', 'ReturnCode': 0}
    >>> jobinfo_entities(job, steps)[0]
    {'JobName': '38EA…', 'JobRunCount': 'JtUpUsyH', 'JobStatus': 'R', 'JobSdlDateTime': datetime(…), …,
     'StepCount': 1, 'StepStatus': 'F', 'StepStartDateTime': datetime(…), 'StepAppRC': 0}

Values follow Gateway's habits, because ABAP has no null for text or
numbers: text we do not have is ``""``, a number we do not have is ``0``, and
only a time that has not happened yet is None (``m:null="true"`` / ``null``).

Properties appjobs has no counterpart for, and what they carry:

* JobTemplate.JobReportName, JobCatalogEntryName: the template name. SAP puts the
  ABAP report / catalog entry there; the template *is* our unit of execution,
  its name is ≤ 40 characters, and a step's command line could leak details.
* JobTemplate.JobPeriodicGranularity and JobPeriodicValue: the template's default
  recurrence (TOML ``recurrence = { every = "1d", … }``) as SAP codes it, ``"DA"`` and
  ``"001"``; without one ``""`` and ``"000"``, exactly what the guide's capture shows
  for SAP's templates. JobUserName ``""``, as in that capture.
* JobTemplate.JobTemplateLayerC, JobTemplateHiddenInd, JobCatalogEntryTypeC,
  JobTemplateSequence, JobTemplateValues: ``""``; their codes and formats are not
  publicly known, and an empty value promises nothing.
* JobTemplate.Text, TextEn, JobCatalogEntryText: the template text (a third-party
  client reads ``Text`` when ``JobTemplateText`` is missing).
* JobTemplate.CreationFormattedName / LastChangeFormattedName: the user names; we keep no
  person names.
* Joblist.Report: the template name (as JobReportName); Variant ``""`` (no variants);
  JobLogStatus ``""`` (its letters are unknown).
* JobAppRC: :attr:`models.Job.return_code`; StepAppRC / StepApRC: the step's exit code,
  0 while it has none.
* JobScheduleStatus.ReturnCode and FuncImpReturn.ReturnCode: 0, because failures
  are HTTP 400 error documents, never a non-zero code in a 200 answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from appjobs import models
from appjobs.odata import paramentities

SapEntity = dict[str, Any]

#: JobListGet's string filters and the :meth:`JobStore.list` filter each one maps to.
#: Report and Variant have no counterpart: they are accepted and ignored.
JOBLIST_FILTERS = {"JobName": "name", "JobText": "text", "TemplateName": "template_name", "JobCreator": "creator"}


def template_entity(template: models.Template) -> SapEntity:
    """A JobTemplate (JobTemplateSet) for *template*."""
    granularity, value = periodic_fields(template.recurrence)
    return {
        "JobTemplateName": template.name,
        "JobTemplateVersion": template.version,
        "JobTemplateStepCount": template.step_count,
        "JobPeriodicGranularity": granularity,
        "JobReportName": template.name,
        "JobUserName": "",
        "JobPeriodicValue": value,
        "JobTemplateText": template.text,
        "CreationDateTime": template.created_at,
        "CreationUserName": template.created_by,
        "LastChangeDateTime": template.changed_at,
        "LastChangeUserName": template.changed_by,
        "SupportsTestModeInd": template.supports_test_mode,
        "JobCatalogEntryName": template.name,
        "JobTemplateLayerC": "",
        "JobTemplateHiddenInd": "",
        "JobCatalogEntryTypeC": "",
        "JobTemplateSequence": paramentities.sequence_json(template),
        "JobTemplateValues": paramentities.template_values_json(template),
        "Text": template.text,
        "TextEn": template.text,
        "JobCatalogEntryText": template.text,
        "CreationFormattedName": template.created_by,
        "LastChangeFormattedName": template.changed_by,
    }


def periodic_fields(default: models.DefaultRecurrence | None) -> tuple[str, str]:
    """JobPeriodicGranularity and JobPeriodicValue: ``("DA", "001")`` for every day, ``("", "000")`` for none."""
    if default is None:
        return "", "000"
    recurrence = default.recurrence()
    return recurrence.granularity.value, f"{recurrence.value:03d}"


def schedule_status_entity(job: models.Job, *, include_status: bool) -> SapEntity:
    """A JobScheduleStatus: the answer of JobSchedule (*include_status* False) and JobStatusGet (True).

    Right after JobSchedule a real tenant sends an empty JobStatus (``<d:JobStatus/>``), not ``S``.
    """
    return status_entity(job.key, job.status if include_status else None)


def status_entity(key: models.JobKey, status: models.JobStatus | None) -> SapEntity:
    """A JobScheduleStatus from the key and the status alone (None: empty), all that JobStatusGet answers."""
    return {
        "JobName": key.name,
        "JobRunCount": key.run_count,
        "JobStatus": status.value if status is not None else "",
        "ReturnCode": 0,
    }


def func_imp_return(return_code: int = 0) -> SapEntity:
    """A FuncImpReturn, the answer of JobCancel and JobAbort: ``{"ReturnCode": 0}`` when it worked."""
    return {"ReturnCode": return_code}


def jobinfo_entities(job: models.Job, steps: Sequence[models.StepRun]) -> list[SapEntity]:
    """Jobinfo rows (JobinfoGet): one per step, each repeating the job's own status and times."""
    head = {
        "JobName": job.key.name,
        "JobRunCount": job.key.run_count,
        "JobStatus": job.status.value,
        "JobSdlDateTime": job.scheduled_at,
        "JobStartDateTime": job.started_at,
        "JobEndDateTime": job.ended_at,
        "JobAppRC": job.return_code,
    }
    return [
        head
        | {
            "StepCount": step.number,
            "StepStatus": step.status.value,
            "StepStartDateTime": step.started_at,
            "StepAppRC": _exit_code(step),
        }
        for step in sorted(steps, key=lambda s: s.number)
    ]


def _exit_code(step: models.StepRun | None) -> int:
    return 0 if step is None or step.exit_code is None else step.exit_code


def current_step(steps: Sequence[models.StepRun]) -> models.StepRun | None:
    """The step a job list shows: the one running, else the last one that started, else the first to run.

    The first to run is step 1, but for a restarted copy whose first steps are skipped (K): its first step after them.
    """
    ordered = sorted(steps, key=lambda s: s.number)
    running = [s for s in ordered if s.status is models.JobStatus.RUNNING]
    started = [s for s in ordered if s.started_at is not None]
    if running or started:
        return (running or started)[-1]
    return next((s for s in ordered if s.status is not models.JobStatus.SKIPPED), ordered[0] if ordered else None)


def joblist_entities(
    jobs: Iterable[models.Job], *, steps: Mapping[models.JobKey, Sequence[models.StepRun]] | None = None
) -> list[SapEntity]:
    """Joblist rows (JobListGet), one per job.

    The Step* properties describe :func:`current_step` of each job when *steps*
    maps job keys to their steps; without it they are ``""``, None and 0.
    """
    return [_joblist_entity(job, current_step((steps or {}).get(job.key, ()))) for job in jobs]


def _joblist_entity(job: models.Job, step: models.StepRun | None) -> SapEntity:
    return {
        "JobName": job.key.name,
        "JobRunCount": job.key.run_count,
        "JobText": job.text,
        "TemplateName": job.template_name,
        "JobCreator": job.creator,
        "Report": job.template_name,
        "Variant": "",
        "NrSteps": job.step_count,
        "JobStatus": job.status.value,
        "JobLogStatus": "",
        "JobCreaDateTime": job.created_at,
        "JobSchedDateTime": job.scheduled_at,
        "JobStartDateTime": job.started_at,
        "JobEndDateTime": job.ended_at,
        "JobAppRC": job.return_code,
        "StepStatus": "" if step is None else step.status.value,
        "StepStartDateTime": None if step is None else step.started_at,
        "StepApRC": _exit_code(step),
    }


def status_info_entities() -> list[SapEntity]:
    """JobStatusInfo rows (JobStatusInfoSet): every status letter with its English text.

    Sorted by letter as the tenant's table is (upper case before lower case:
    A, C, D, F, K, P, R, S, U, W, X, Y, c, k).
    """
    return [{"JobStatus": s.value, "JobStatusText": s.text} for s in sorted(models.JobStatus, key=lambda s: s.value)]
