"""The mapping from appjobs' models to SAP's property dicts."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest

from appjobs import models
from appjobs.models import JobKey, JobStatus, StepKind
from appjobs.odata import entities, model, payloads

UTC = dt.UTC
T0 = dt.datetime(2018, 11, 20, 8, 0, tzinfo=UTC)
KEY = JobKey("38EAA71741401EE6BEA162EB5331DF9C", "JtUpUsyH")
BASE = "https://host/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=0002/"


def make_template(**overrides: object) -> models.Template:
    steps = (
        models.TemplateStep(1, StepKind.SHELL, "echo one", "first"),
        models.TemplateStep(2, StepKind.PYTHON, "pkg.mod:run", "second"),
    )
    values: dict[str, object] = {
        "name": "ZNIGHTLY",
        "text": "Nightly load",
        "steps": steps,
        "created_by": "ADMIN",
        "created_at": T0,
        "changed_by": "EDITOR",
        "changed_at": T0 + dt.timedelta(days=1),
    }
    return models.Template(**(values | overrides))  # type: ignore[arg-type]


def make_job(**overrides: object) -> models.Job:
    values: dict[str, object] = {
        "key": KEY,
        "template_name": "ZNIGHTLY",
        "text": "Nightly load",
        "job_user": "CB8980000030",
        "creator": "SCHEDULER",
        "status": JobStatus.RUNNING,
        "created_at": T0,
        "scheduled_at": T0,
        "started_at": T0 + dt.timedelta(seconds=1),
        "step_count": 2,
    }
    return models.Job(**(values | overrides))  # type: ignore[arg-type]


def make_step(number: int, status: JobStatus, **overrides: object) -> models.StepRun:
    values: dict[str, object] = {"kind": StepKind.SHELL, "target": "true", "text": "", "status": status}
    return models.StepRun(KEY, number, **(values | overrides))  # type: ignore[arg-type]


def names(entity_type: model.EntityType) -> list[str]:
    return [p.name for p in entity_type.properties]


def test_template_entity_has_every_jobtemplate_property_in_order() -> None:
    """A template becomes a dict with exactly JobTemplate's 24 properties, in $metadata order."""
    assert list(entities.template_entity(make_template())) == names(model.JOB_TEMPLATE)


def test_template_entity_values() -> None:
    """Template fields map to SAP's names, with the guide's values for what appjobs does not have."""
    entity = entities.template_entity(make_template(supports_test_mode=True))
    assert entity["JobTemplateName"] == "ZNIGHTLY"
    assert entity["JobTemplateVersion"] == "0"
    assert entity["JobTemplateStepCount"] == 2
    assert entity["JobTemplateText"] == entity["Text"] == entity["TextEn"] == "Nightly load"
    assert entity["JobReportName"] == entity["JobCatalogEntryName"] == "ZNIGHTLY"
    assert (entity["JobPeriodicGranularity"], entity["JobPeriodicValue"], entity["JobUserName"]) == ("", "000", "")
    assert (entity["CreationUserName"], entity["CreationDateTime"]) == ("ADMIN", T0)
    assert (entity["LastChangeUserName"], entity["LastChangeDateTime"]) == ("EDITOR", T0 + dt.timedelta(days=1))
    assert entity["SupportsTestModeInd"] is True


def test_template_without_times_gives_nulls() -> None:
    """A template with no recorded creation or change time has null datetimes."""
    entity = entities.template_entity(make_template(created_at=None, changed_at=None))
    assert entity["CreationDateTime"] is None
    assert entity["LastChangeDateTime"] is None


def test_schedule_status_right_after_jobschedule_has_empty_status() -> None:
    """The JobSchedule answer has an empty JobStatus and ReturnCode 0, as the guide's capture shows."""
    entity = entities.schedule_status_entity(make_job(status=JobStatus.SCHEDULED), include_status=False)
    assert entity == {"JobName": KEY.name, "JobRunCount": KEY.run_count, "JobStatus": "", "ReturnCode": 0}
    assert list(entity) == names(model.JOB_SCHEDULE_STATUS)


@pytest.mark.parametrize("status", [JobStatus.SCHEDULED, JobStatus.RUNNING, JobStatus.FINISHED, JobStatus.ABORTED])
def test_schedule_status_for_jobstatusget_carries_the_letter(status: JobStatus) -> None:
    """The JobStatusGet answer carries the job's status letter."""
    assert entities.schedule_status_entity(make_job(status=status), include_status=True)["JobStatus"] == status.value


def test_func_imp_return() -> None:
    """JobCancel and JobAbort answer a FuncImpReturn with ReturnCode 0 by default."""
    assert entities.func_imp_return() == {"ReturnCode": 0}
    assert entities.func_imp_return(4) == {"ReturnCode": 4}
    assert list(entities.func_imp_return()) == names(model.FUNC_IMP_RETURN)


def test_jobinfo_has_one_row_per_step_in_step_order() -> None:
    """JobinfoGet rows repeat the job's data and carry each step's number, status, start and exit code."""
    job = make_job(ended_at=None)
    steps = [
        make_step(2, JobStatus.RUNNING, started_at=T0 + dt.timedelta(seconds=5)),
        make_step(1, JobStatus.FINISHED, started_at=T0 + dt.timedelta(seconds=1), exit_code=0),
    ]
    rows = entities.jobinfo_entities(job, steps)
    assert [list(r) for r in rows] == [names(model.JOBINFO)] * 2
    assert [r["StepCount"] for r in rows] == [1, 2]
    assert [r["StepStatus"] for r in rows] == ["F", "R"]
    assert rows[1]["StepStartDateTime"] == T0 + dt.timedelta(seconds=5)
    for row in rows:
        assert (row["JobName"], row["JobRunCount"], row["JobStatus"]) == (KEY.name, KEY.run_count, "R")
        assert (row["JobSdlDateTime"], row["JobStartDateTime"], row["JobEndDateTime"]) == (
            T0,
            T0 + dt.timedelta(seconds=1),
            None,
        )
        assert row["JobAppRC"] == 0


def test_jobinfo_step_without_exit_code_reports_zero() -> None:
    """A step with no exit code (not run, or its process vanished) reports StepAppRC 0, not null."""
    rows = entities.jobinfo_entities(make_job(), [make_step(1, JobStatus.ABORTED, exit_code=None)])
    assert rows[0]["StepAppRC"] == 0
    rows = entities.jobinfo_entities(make_job(), [make_step(1, JobStatus.ABORTED, exit_code=7)])
    assert rows[0]["StepAppRC"] == 7


def test_jobinfo_of_a_job_without_steps_is_empty() -> None:
    """A job whose steps are unknown has no Jobinfo rows."""
    assert entities.jobinfo_entities(make_job(), []) == []


def test_joblist_row_without_step_information() -> None:
    """Without steps a Joblist row fills the job's fields and leaves the Step* fields empty, null and 0."""
    (row,) = entities.joblist_entities([make_job(status=JobStatus.FINISHED, ended_at=T0 + dt.timedelta(minutes=1))])
    assert list(row) == names(model.JOBLIST)
    assert row["JobText"] == "Nightly load"
    assert row["TemplateName"] == row["Report"] == "ZNIGHTLY"
    assert row["JobCreator"] == "SCHEDULER"
    assert (row["Variant"], row["JobLogStatus"]) == ("", "")
    assert (row["NrSteps"], row["JobStatus"]) == (2, "F")
    assert (row["JobCreaDateTime"], row["JobSchedDateTime"]) == (T0, T0)
    assert row["JobEndDateTime"] == T0 + dt.timedelta(minutes=1)
    assert (row["StepStatus"], row["StepStartDateTime"], row["StepApRC"]) == ("", None, 0)


def test_joblist_describes_the_current_step() -> None:
    """With steps, the row describes the running step, else the last started one, else the first one."""
    started = T0 + dt.timedelta(seconds=3)
    running = [make_step(1, JobStatus.FINISHED, started_at=T0), make_step(2, JobStatus.RUNNING, started_at=started)]
    ended = [make_step(1, JobStatus.FINISHED, started_at=T0), make_step(2, JobStatus.ABORTED, started_at=started,
                                                                         exit_code=9)]  # fmt: skip
    waiting = [make_step(2, JobStatus.SCHEDULED), make_step(1, JobStatus.SCHEDULED)]
    for steps, expected in [(running, ("R", started, 0)), (ended, ("A", started, 9)), (waiting, ("S", None, 0))]:
        (row,) = entities.joblist_entities([make_job()], steps={KEY: steps})
        assert (row["StepStatus"], row["StepStartDateTime"], row["StepApRC"]) == expected
    assert entities.current_step(waiting).number == 1
    assert entities.current_step([]) is None
    copy = [make_step(1, JobStatus.SKIPPED), make_step(2, JobStatus.SKIPPED), make_step(3, JobStatus.SCHEDULED)]
    assert entities.current_step(copy).number == 3  # a restarted copy not yet started: its first step to run


def test_status_info_lists_every_letter_sorted_with_texts() -> None:
    """JobStatusInfoSet lists all 14 status letters, upper case first, each with SAP's English text."""
    rows = entities.status_info_entities()
    assert [r["JobStatus"] for r in rows] == list("ACDFKPRSUWXYck")
    texts = {r["JobStatus"]: r["JobStatusText"] for r in rows}
    assert texts["A"] == "Failed"
    assert texts["R"] == "In Process"
    assert texts["c"] == "Canceling"
    assert all(list(r) == names(model.JOB_STATUS_INFO) for r in rows)


def test_joblist_filters_name_real_parameters() -> None:
    """Every JobListGet filter mapped to a store column is a parameter of the function import."""
    parameters = {p.name for p in model.JOB_LIST_GET.parameters}
    assert set(entities.JOBLIST_FILTERS) <= parameters
    assert set(entities.JOBLIST_FILTERS.values()) == {"name", "text", "template_name", "creator"}


def test_entities_serialize_in_both_formats() -> None:
    """Every kind of entity dict goes through the Atom and JSON serializers of its entity set."""
    job = make_job()
    steps = [make_step(1, JobStatus.RUNNING, started_at=T0)]
    cases = [
        (model.JOB_TEMPLATE_SET, [entities.template_entity(make_template())]),
        (model.JOB_SCHEDULE_STATUS_COLLECTION, [entities.schedule_status_entity(job, include_status=True)]),
        (model.FUNC_IMP_RETURN_COLLECTION, [entities.func_imp_return()]),
        (model.JOBINFO_SET, entities.jobinfo_entities(job, steps)),
        (model.JOBLIST_SET, entities.joblist_entities([job], steps={KEY: steps})),
        (model.JOB_STATUS_INFO_SET, entities.status_info_entities()),
    ]
    for entity_set, rows in cases:
        assert b"<entry>" in payloads.feed_atom(entity_set, rows, BASE)
        assert len(json.loads(payloads.feed_json(entity_set, rows, BASE))["d"]["results"]) == len(rows)


def test_template_entity_tracks_the_model() -> None:
    """A new Template field does not go unnoticed: the mapping is reviewed when the dataclass changes."""
    fields = {f.name for f in dataclasses.fields(models.Template)}
    assert fields == {
        "name",
        "text",
        "steps",
        "version",
        "supports_test_mode",
        "business_users",
        "created_by",
        "created_at",
        "changed_by",
        "changed_at",
        "recurrence",  # JobPeriodicGranularity, JobPeriodicValue
    }
