"""The client reads what appjobs' service side writes: every payload of appjobs.odata, in JSON and in Atom.

Tests may import the service side; the client may not. Feeding the client
the bytes :mod:`appjobs.odata` produces proves that both ends agree on the
wire format without a server in between.
"""

from __future__ import annotations

import datetime as dt

import pytest

from appjobs import models
from appjobs.client import JobKey, JobStatus
from appjobs.client._parsing import read_error, read_rows
from appjobs.client._records import job_info, job_summary, return_code, template
from appjobs.odata import entities, errordocs, model, payloads

UTC = dt.UTC
JOB_NAME = "38EAA71741401EE6BEA162EB5331DF9C"


def one(body: bytes) -> dict[str, object]:
    (row,) = read_rows(body).rows
    return row


KEY = models.JobKey(JOB_NAME, "JtUpUsyH")
T0 = dt.datetime(2024, 6, 1, 8, 0, 0, 123000, tzinfo=UTC)
JOB = models.Job(
    KEY,
    "/APPJOBS/DEMO",
    "O'Brien's load & more",
    job_user="CB1",
    creator="JOBSCHEDULERUSER",
    status=models.JobStatus.ABORTED,
    created_at=T0,
    scheduled_at=T0,
    started_at=T0 + dt.timedelta(seconds=1),
    ended_at=T0 + dt.timedelta(seconds=9),
    step_count=2,
    return_code=3,
)
STEPS = [
    models.StepRun(KEY, 2, models.StepKind.SHELL, "false", "", models.JobStatus.ABORTED, T0, exit_code=3),
    models.StepRun(KEY, 1, models.StepKind.SHELL, "true", "", models.JobStatus.FINISHED, T0, exit_code=0),
]


def feed(entity_set: model.EntitySet, rows: list[dict[str, object]], fmt: str) -> bytes:
    if fmt == "json":
        return payloads.feed_json(entity_set, rows, "https://h/root/")
    return payloads.feed_atom(entity_set, rows, "https://h/root/")


@pytest.mark.parametrize("fmt", ["json", "atom"])
def test_job_info_from_the_service_side(fmt: str) -> None:
    """JobinfoGet as appjobs writes it: job times from the first row, steps in order, step return codes."""
    info = job_info(
        JobKey(KEY.name, KEY.run_count),
        read_rows(feed(model.JOBINFO_SET, entities.jobinfo_entities(JOB, STEPS), fmt)).rows,
    )
    # These times have Precision 0: Atom carries whole seconds, JSON's /Date(ms)/ milliseconds.
    assert (info.status, info.scheduled_at, info.ended_at, info.return_code) == (
        JobStatus.ABORTED,
        T0.replace(microsecond=0) if fmt == "atom" else T0,
        JOB.ended_at.replace(microsecond=0) if fmt == "atom" else JOB.ended_at,  # type: ignore[union-attr]
        3,
    )
    assert [(s.number, s.status, s.return_code) for s in info.steps] == [
        (1, JobStatus.FINISHED, 0),
        (2, JobStatus.ABORTED, 3),
    ]


@pytest.mark.parametrize("fmt", ["json", "atom"])
def test_job_list_from_the_service_side(fmt: str) -> None:
    """JobListGet as appjobs writes it, including SAP's spelling StepApRC and a text with quotes."""
    rows = entities.joblist_entities([JOB], steps={KEY: STEPS})
    (summary,) = (job_summary(row) for row in read_rows(feed(model.JOBLIST_SET, rows, fmt)).rows)
    assert (summary.text, summary.creator, summary.template_name, summary.step_count) == (
        "O'Brien's load & more",
        "JOBSCHEDULERUSER",
        "/APPJOBS/DEMO",
        2,
    )
    assert (summary.status, summary.step_status, summary.return_code) == (JobStatus.ABORTED, JobStatus.ABORTED, 3)


@pytest.mark.parametrize("fmt", ["json", "atom"])
def test_templates_and_returns_from_the_service_side(fmt: str) -> None:
    """A template with test mode, and the FuncImpReturn of JobCancel."""
    made = models.Template("Z" + "A" * 26, "Ünïcödé <&> text", (), supports_test_mode=True, created_at=T0)
    (parsed,) = (
        template(row) for row in read_rows(feed(model.JOB_TEMPLATE_SET, [entities.template_entity(made)], fmt)).rows
    )
    assert (parsed.name, parsed.text, parsed.supports_test_mode, parsed.created_at, parsed.step_count) == (
        made.name,
        made.text,
        True,
        T0,
        0,
    )
    entry = payloads.entry_json if fmt == "json" else payloads.entry_atom
    assert return_code(one(entry(model.FUNC_IMP_RETURN_COLLECTION, entities.func_imp_return(4), "https://h/"))) == 4


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_error_documents_from_the_service_side(fmt: str) -> None:
    """errordocs.error_document in both formats: code, message, details, transaction id."""
    detail = errordocs.ErrorDetail("APJ_RT/015", "Job template Z doesn't exist.")
    body = errordocs.error_document(
        "APJ_RT/032", "Job couldn't be scheduled.", fmt=fmt, details=[detail], transaction="F" * 32
    )
    error = read_error(body)
    assert error is not None
    assert (error.code, error.message, error.transaction_id) == ("APJ_RT/032", "Job couldn't be scheduled.", "F" * 32)
    assert [(d.code, d.message, d.severity) for d in error.details] == [
        ("APJ_RT/015", "Job template Z doesn't exist.", "error")
    ]


def test_null_properties_in_atom_and_json() -> None:
    """``m:null="true"`` and JSON null read as None, then as "no time" and 0 in the record."""
    rows = entities.jobinfo_entities(JOB, STEPS)
    rows = [row | {"JobEndDateTime": None, "JobAppRC": None} for row in rows]
    for fmt in ("json", "atom"):
        info = job_info(JobKey(KEY.name, KEY.run_count), read_rows(feed(model.JOBINFO_SET, rows, fmt)).rows)
        assert (info.ended_at, info.return_code) == (None, 0)
