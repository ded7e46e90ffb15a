"""From the service's rows (SAP names, wire values) to the client's records (Python names and types).

This is the one place where ``JobRunCount`` becomes ``run_count``::

    >>> job_state({"JobName": "38EA…", "JobRunCount": "JtUpUsyH", "JobStatus": "", "ReturnCode": 0})
    JobState(key=JobKey(name='38EA…', run_count='JtUpUsyH'), status=None, return_code=0)

Values arrive typed from JSON (``0``, ``false``, ``"/Date(1492098664000)/"``)
or as text from Atom (``"0"``, ``"false"``, ``"2015-09-01T15:42:36.0944660"``);
the converters take both. ABAP has no null for text and numbers, so an
absent text is ``""`` and an absent number 0 or None, as the record says.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

from appjobs.client._errors import ProtocolError
from appjobs.client._models import JobInfo, JobKey, JobState, JobStatus, JobSummary, StepInfo, Template

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# "/Date(1492098664000)/", also with an offset in minutes ("/Date(1492098664000+0060)/") that
# does not move the instant: the milliseconds count from 1970 in UTC either way.
_JSON_DATE = re.compile(r"/Date\((-?\d+)(?:[+-]\d{1,4})?\)/")

Row = Mapping[str, Any]


def text(value: Any) -> str:
    """An Edm.String as Python text; None (``null``) is ``""``."""
    return "" if value is None else str(value)


def integer(value: Any) -> int | None:
    """An Edm.Int16/Int32 from JSON (a number, or a string for Int64) or Atom (text); None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):  # a JSON true is not a number, although Python says it is an int
        raise ProtocolError(f"expected a number, got {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ProtocolError(f"expected a number, got {value!r}") from None


def boolean(value: Any) -> bool:
    """An Edm.Boolean from JSON or Atom (``true``/``false``); absent is False."""
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ProtocolError(f"expected true or false, got {value!r}")


def timestamp(value: Any) -> dt.datetime | None:
    """An Edm.DateTime as an aware UTC datetime: ``/Date(ms)/`` from JSON, ISO 8601 text from Atom."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ProtocolError(f"expected a date and time, got {value!r}")
    try:
        match = _JSON_DATE.fullmatch(value)
        if match:
            return _EPOCH + dt.timedelta(milliseconds=int(match.group(1)))
        parsed = dt.datetime.fromisoformat(value)  # Atom; 3.11 reads SAP's seven fraction digits
    except (ValueError, OverflowError):
        raise ProtocolError(f"expected a date and time, got {value!r}") from None
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)


def _required(row: Row, name: str) -> str:
    value = row.get(name)
    if value is None or value == "":
        raise ProtocolError(f"the answer has no {name}")
    return str(value)


def job_key(row: Row) -> JobKey:
    """The JobName and JobRunCount of *row*; :class:`ProtocolError` when either is missing."""
    return JobKey(_required(row, "JobName"), _required(row, "JobRunCount"))


def status(value: Any) -> JobStatus | None:
    return JobStatus.from_letter(text(value))


def template(row: Row) -> Template:
    """A JobTemplate. IBP calls its flag SupportsTestModeInd, newer releases SupportsTestMode."""
    return Template(
        name=_required(row, "JobTemplateName"),
        text=text(row.get("JobTemplateText") or row.get("Text")),
        version=text(row.get("JobTemplateVersion")) or "0",
        step_count=integer(row.get("JobTemplateStepCount")),
        supports_test_mode=boolean(row.get("SupportsTestModeInd", row.get("SupportsTestMode"))),
        report_name=text(row.get("JobReportName")),
        created_at=timestamp(row.get("CreationDateTime")),
        created_by=text(row.get("CreationUserName")),
        changed_at=timestamp(row.get("LastChangeDateTime")),
        changed_by=text(row.get("LastChangeUserName")),
    )


def job_state(row: Row) -> JobState:
    """A JobScheduleStatus (JobSchedule, JobStatusGet)."""
    return JobState(job_key(row), status(row.get("JobStatus")), integer(row.get("ReturnCode")) or 0)


def return_code(row: Row) -> int:
    """The ReturnCode of a FuncImpReturn (JobCancel, JobAbort): 0 when it worked."""
    return integer(row.get("ReturnCode")) or 0


def step(row: Row) -> StepInfo:
    """The step part of a Jobinfo row."""
    number = integer(row.get("StepCount"))
    if number is None:
        raise ProtocolError("a JobinfoGet row has no StepCount")
    return StepInfo(
        number,
        status(row.get("StepStatus")),
        timestamp(row.get("StepStartDateTime")),
        integer(row.get("StepAppRC")) or 0,
    )


def job_info(key: JobKey, rows: Sequence[Row]) -> JobInfo:
    """A job and its steps from Jobinfo rows (one per step, each repeating the job's fields)."""
    if not rows:
        return JobInfo(key, None)
    head = rows[0]
    return JobInfo(
        key=job_key(head),
        status=status(head.get("JobStatus")),
        scheduled_at=timestamp(head.get("JobSdlDateTime")),
        started_at=timestamp(head.get("JobStartDateTime")),
        ended_at=timestamp(head.get("JobEndDateTime")),
        return_code=integer(head.get("JobAppRC")) or 0,
        steps=tuple(sorted((step(row) for row in rows), key=lambda s: s.number)),
    )


def job_summary(row: Row) -> JobSummary:
    """A Joblist row (JobListGet). Note SAP's spelling StepApRC, not StepAppRC as in Jobinfo."""
    return JobSummary(
        key=job_key(row),
        status=status(row.get("JobStatus")),
        text=text(row.get("JobText")),
        template_name=text(row.get("TemplateName")),
        creator=text(row.get("JobCreator")),
        created_at=timestamp(row.get("JobCreaDateTime")),
        scheduled_at=timestamp(row.get("JobSchedDateTime")),
        started_at=timestamp(row.get("JobStartDateTime")),
        ended_at=timestamp(row.get("JobEndDateTime")),
        step_count=integer(row.get("NrSteps")),
        return_code=integer(row.get("JobAppRC")) or 0,
        step_status=status(row.get("StepStatus")),
        step_started_at=timestamp(row.get("StepStartDateTime")),
        report=text(row.get("Report")),
        variant=text(row.get("Variant")),
        log_status=text(row.get("JobLogStatus")),
    )
