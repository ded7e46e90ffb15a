"""Job headers and job logs (SAP's JobHeaderSet, 2024): the records, and reading them off the wire.

``Client.header(key, expand=…)`` reads ``JobHeaderSet(JobName='…',JobRunCount='…')``
with the ``$expand`` that *expand* names, and :func:`read_header` turns the
verbose JSON answer into a :class:`JobHeader`::

    >>> header = client.header(key, expand="messages")
    >>> header.status, [s.status for s in header.steps]
    (<JobStatus.FINISHED: 'F'>, [<JobStatus.FINISHED: 'F'>, …])
    >>> client.log(key)[0]
    LogMessage(step_number=1, number=1, type='I', time=datetime(…), text='Job scheduled by …', …)

JobHeader's times are ABAP UTC timestamps in strings (``20260101120000``);
a message's time, which SAP's model has no property for, is read from
``MsgV1`` where appjobs puts it (``20260101120000.1234560``); from a tenant
that puts something else there it is None.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from appjobs.client import _literals as literals
from appjobs.client._errors import JobNotFound, NotFound, OperationNotOffered, ProtocolError
from appjobs.client._models import JobKey, JobStatus
from appjobs.client._records import integer, status, text
from appjobs.client._transport import Transport

#: What ``expand`` may name, and the ``$expand`` path each one reads.
EXPANSIONS = {
    None: None,
    "steps": "JobStepSet",
    "logs": "JobStepSet/JobStepLogInfoSet",
    "messages": "JobStepSet/JobStepLogInfoSet/JobLogMessageSet",
}
_ABAP_TIME = re.compile(r"([0-9]{14})(?:\.([0-9]{1,7}))?")


def missing_header_set() -> OperationNotOffered:
    """The error for a service without JobHeaderSet (tenants before 2024)."""
    message = "this server does not offer JobHeaderSet (SAP added it in 2024); the tenant or appjobs server is older"
    return OperationNotOffered(message, status=404, operation="JobHeaderSet")


@dataclasses.dataclass(frozen=True)
class LogMessage:
    """One message of a step's log: an output line of the step, or a message of the job framework."""

    step_number: int
    number: int  #: 1, 2, … within the step's log (SAP's MsgNumber)
    type: str  #: SAP's message type: I (information), S (success), W (warning), E (error), A (abort)
    time: dt.datetime | None  #: when it was written (UTC), if the service says
    text: str
    source: str = ""  #: appjobs: ``stdout`` (the step's output) or ``engine``; "" from other services
    job_level: bool = False  #: appjobs: a message about the whole job, filed in the log of the step it followed


@dataclasses.dataclass(frozen=True)
class LogSummary:
    """A step's log header (JobStepLogInfo): its handle and how many messages of each type it holds."""

    handle: str
    counts: Mapping[str, int]  #: message type letter -> count
    severity: str  #: the worst type it holds


@dataclasses.dataclass(frozen=True)
class StepDetail:
    """A step of a job (JobStep), with its log when it was read."""

    number: int
    status: JobStatus | None
    text: str
    started_at: dt.datetime | None
    return_code: int | None
    log_count: int
    logs: tuple[LogSummary, ...] | None = None  #: None: not read (``expand="steps"``)
    messages: tuple[LogMessage, ...] | None = None  #: None: not read (``expand`` below "messages")


@dataclasses.dataclass(frozen=True)
class Periodicity:
    """How a periodic job repeats, from JobHeader's Periodic* fields."""

    every: str  #: "15m", "2h", "1d", "1w" or "1mo" (appjobs' notation of PeriodicMinutes … PeriodicMonths)
    time_zone: str  #: SAP's time zone code (TimeZone), e.g. "CET"
    max_iterations: int | None  #: JobEndMaxIterations; None: no limit
    ends_at: dt.datetime | None  #: TaskEndDateTime
    series_created_at: dt.datetime | None  #: JobSeriesCreatedAt, shared by the series' jobs


#: JobHeader's period fields and the unit each one counts.
_PERIOD_FIELDS = (
    ("PeriodicMinutes", "m"),
    ("PeriodicHours", "h"),
    ("PeriodicDays", "d"),
    ("PeriodicWeeks", "w"),
    ("PeriodicMonths", "mo"),
)


def _periodicity(row: Mapping[str, Any]) -> Periodicity | None:
    if row.get("Periodic") is not True:
        return None
    every = next((f"{n}{unit}" for name, unit in _PERIOD_FIELDS if (n := integer(row.get(name)))), "")
    return Periodicity(
        every=every,
        time_zone=text(row.get("TimeZone")),
        max_iterations=integer(row.get("JobEndMaxIterations")) or None,
        ends_at=abap_time(row.get("TaskEndDateTime")),
        series_created_at=abap_time(row.get("JobSeriesCreatedAt")),
    )


@dataclasses.dataclass(frozen=True)
class JobHeader:
    """A job as JobHeaderSet shows it; *steps* is None unless they were expanded."""

    key: JobKey
    text: str
    template_name: str
    template_text: str
    created_by: str
    status: JobStatus | None
    planned_at: dt.datetime | None
    created_at: dt.datetime | None
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    step_count: int | None
    restart_count: int | None
    restarts: JobKey | None  #: the job this one restarts (OrigJobName/OrigJobCount), if any
    restart_mode: str
    steps: tuple[StepDetail, ...] | None = None
    periodic: Periodicity | None = None  #: how the job's series repeats; None for a job of no series

    def messages(self) -> list[LogMessage]:
        """Every message of every step, in step order and, within a step, in the order written."""
        return [message for step in self.steps or () for message in step.messages or ()]


def abap_time(value: Any) -> dt.datetime | None:
    """An ABAP UTC timestamp (``YYYYMMDDhhmmss``, optionally ``.fffffff``) as a datetime; None when it is not one."""
    match = _ABAP_TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None or match.group(1) == "0" * 14:
        return None
    try:
        moment = dt.datetime.strptime(match.group(1), "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)
    except ValueError:
        return None
    fraction = match.group(2) or ""
    return moment.replace(microsecond=int((fraction + "000000")[:6]))


def fetch_header(transport: Transport, job: JobKey, expand: str | None) -> JobHeader:
    """GET ``JobHeaderSet(…)`` with the ``$expand`` *expand* names (see :data:`EXPANSIONS`).

    A 404 is a job that does not exist (or that the caller may not see), unless
    the service has no JobHeaderSet at all: then :class:`OperationNotOffered`.
    One more request (``JobHeaderSet?$top=0``) tells the two apart.
    """
    if expand not in EXPANSIONS:
        raise ValueError(f"expand must be one of {', '.join(repr(e) for e in EXPANSIONS)}, not {expand!r}")
    pairs = [("$format", "json")] + ([("$expand", EXPANSIONS[expand])] if EXPANSIONS[expand] else [])
    predicate = f"JobName={literals.string(job.name)},JobRunCount={literals.string(job.run_count)}"
    path = "JobHeaderSet(" + quote(predicate, safe="'=,") + ")"
    url = transport.url(path, literals.query(pairs))
    try:
        return transport.get(url, lambda answer: read_header(answer.body))
    except NotFound as exc:
        check_header_set(transport)
        raise JobNotFound(str(exc), status=exc.status, code=exc.code, details=exc.details) from exc


def check_header_set(transport: Transport) -> None:
    """:class:`OperationNotOffered` unless the service has JobHeaderSet (tenants before 2024 have not)."""
    try:
        transport.get(transport.url("JobHeaderSet", literals.query([("$top", "0"), ("$format", "json")])), bool)
    except NotFound:
        raise missing_header_set() from None


def read_header(body: bytes) -> JobHeader:
    """The :class:`JobHeader` in a verbose JSON answer of ``JobHeaderSet(…)``, with what it expands."""
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise ProtocolError(f"the JSON answer cannot be read ({exc}); was it cut off?") from exc
    row = document.get("d") if isinstance(document, dict) else None
    if not isinstance(row, dict) or not row.get("JobName"):
        raise ProtocolError("the answer holds no JobHeader")
    steps = _expanded(row, "JobStepSet")
    return JobHeader(
        key=JobKey(text(row.get("JobName")), text(row.get("JobRunCount"))),
        text=text(row.get("JobText")),
        template_name=text(row.get("JobTemplateName")),
        template_text=text(row.get("JobTemplateText")),
        created_by=text(row.get("JobCreatedBy")),
        status=status(row.get("JobStatus")),
        planned_at=abap_time(row.get("JobPlannedStartDateTime")),
        created_at=abap_time(row.get("JobCreaDateTime")),
        started_at=abap_time(row.get("JobStartDateTime")),
        ended_at=abap_time(row.get("JobEndDateTime")),
        step_count=integer(row.get("JobStepCount")),
        restart_count=integer(row.get("JobRestartCount")),
        restarts=JobKey(row["OrigJobName"], text(row.get("OrigJobCount"))) if row.get("OrigJobName") else None,
        restart_mode=text(row.get("JobRunRestartMode")),
        steps=None if steps is None else tuple(_step(item) for item in steps),
        periodic=_periodicity(row),
    )


def _expanded(row: Mapping[str, Any], name: str) -> Sequence[Mapping[str, Any]] | None:
    """The entities of navigation *name* if the answer expanded it, None if it is deferred or absent."""
    value = row.get(name)
    if not isinstance(value, dict) or "results" not in value:
        return None
    results = value["results"]
    if not isinstance(results, list) or not all(isinstance(item, dict) for item in results):
        raise ProtocolError(f"the expanded {name} is not a list of entities")
    return results


def _step(row: Mapping[str, Any]) -> StepDetail:
    number = integer(row.get("StepNumber"))
    if number is None:
        raise ProtocolError("a JobStep has no StepNumber")
    infos = _expanded(row, "JobStepLogInfoSet")
    logs = None if infos is None else tuple(_log_summary(info) for info in infos)
    messages = None
    if infos is not None and all(_expanded(info, "JobLogMessageSet") is not None for info in infos):
        messages = tuple(_message(number, item) for info in infos for item in _expanded(info, "JobLogMessageSet") or ())
    return StepDetail(
        number=number,
        status=status(row.get("StepStatus")),
        text=text(row.get("JobCatalogEntryText")),
        started_at=abap_time(row.get("StepStartDateTime")),
        return_code=integer(row.get("StepAppRC")),
        log_count=integer(row.get("NrOfLogs")) or 0,
        logs=logs,
        messages=messages,
    )


def _log_summary(row: Mapping[str, Any]) -> LogSummary:
    counts = {letter: integer(row.get(f"MsgCnt{letter}")) or 0 for letter in "AEWIS"}
    return LogSummary(text(row.get("LogHandle")), counts, text(row.get("Severity")))


def _message(step_number: int, row: Mapping[str, Any]) -> LogMessage:
    return LogMessage(
        step_number=step_number,
        number=integer(row.get("MsgNumber")) or 0,
        type=text(row.get("MsgType")),
        time=abap_time(row.get("MsgV1")),
        text=text(row.get("MsgText")),
        source=text(row.get("MsgV2")) if row.get("MsgId") == "APPJOBS" else "",
        job_level=row.get("MsgId") == "APPJOBS" and row.get("MsgV3") == "JOB",
    )
