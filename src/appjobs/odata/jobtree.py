"""A job as SAP's JobHeaderSet shows it: header, steps, one log per step, and the log's messages.

SAP's model reads a job as a tree (``JobHeaderSet(...)?$expand=JobStepSet/
JobStepLogInfoSet/JobLogMessageSet``)::

    JobHeader (JobName, JobRunCount)
     └─ JobStep (…, StepNumber)                     one per step of the job
         └─ JobStepLogInfo (…, LogHandle)            one per step that has a log
             └─ JobLogMessage (…, MsgNumber)         the step's output lines and engine messages, in order

:class:`JobTree` builds these entities (plain dicts of SAP property names,
as :mod:`appjobs.odata.entities` does) from appjobs' models. How appjobs
fills what SAP's model has no place for:

* **Times** of JobHeader, JobStep and JobStepLogInfo are Edm.String(20) in SAP's
  model, holding ABAP UTC timestamps ``YYYYMMDDhhmmss``: they compare as strings
  in ``$filter`` (``JobPlannedStartDateTime ge '20260101000000'``). A time that
  has not come yet is null.
* **A message's time**: JobLogMessage has no time property. appjobs writes it to
  ``MsgV1`` as an ABAP long UTC timestamp, ``YYYYMMDDhhmmss.fffffff``
  (``20260101120000.1234560``); ``MsgV2`` says where the message comes from
  (``stdout``: the step's output, stdout and stderr merged; ``engine``: appjobs'
  own); ``MsgV3`` is ``JOB`` for an engine message about the whole job, else empty.
  ``MsgId`` is ``APPJOBS``, ``MsgNo`` ``000``, ``MsgText`` the line.
* **Job-level messages** (appjobs logs "Job scheduled …", "Job finished." without
  a step) go to the log of the step whose message precedes them, or of step 1
  when none does: "Job scheduled" opens step 1's log, "Job finished." closes the
  last step's. Reading the steps' logs in step order therefore reads the whole
  job log in the order it was written.
* **LogHandle**: 22 upper-case hex characters derived from the job key and the
  step number, so it is the same on every read and every server. LogNumber is
  empty (appjobs has no application-log numbers).
* **MsgNumber**: ``000001``, ``000002``, … within the step's log.
* **Severity** of a log: the worst of its messages (A, then E, W, I, S).
* **JobRestartCount**: how many restarts lead to this job (0 for an original);
  OrigJobName/OrigJobCount: the job it restarts; JobRunRestartMode: E or A.
* JobCreatedByFormattedName and CreaUserLong: the user names (no person names
  are kept); JobHasResults and StepHasResults false; FactoryCalendar and the
  Task*WeekDay/WorkDay fields empty (appjobs has no factory calendars).
* **A job of a periodic series**: Periodic true, the one Periodic<Unit> field of
  its granularity set (``PeriodicDays`` ``001``), JobEndMaxIterations its count
  (0: none), TaskEndDateTime its end date, JobSeriesCreatedAt when the series was
  made (shared by its jobs), TimeZone SAP's code for its zone
  (:func:`sap_time_zone`). Any other job: Periodic false, those fields empty,
  TimeZone ``UTC``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
from collections.abc import Sequence

from appjobs import models, recurrence

SapEntity = dict[str, object]
#: One line of a job log as the tree reads it: (step number or None, logged at, severity letter, source, text).
#: Plain tuples (rows straight from the database), not LogEntry objects: a log may hold thousands of lines.
LogLine = tuple[int | None, dt.datetime | str, str, str, str]

#: Message types from worst to mildest; a log's Severity is the first one it holds.
SEVERITY_ORDER = ("A", "E", "W", "I", "S")
SEVERITY_TEXTS = {"A": "Abort", "E": "Error", "W": "Warning", "I": "Information", "S": "Success"}
JOB_LEVEL = "JOB"
_ISO_TO_ABAP = str.maketrans("", "", "-:T ")


def abap_timestamp(value: dt.datetime | str | None) -> str | None:
    """*value* as an ABAP UTC timestamp ``YYYYMMDDhhmmss`` (None stays None); see :func:`abap_long_timestamp`."""
    if value is None:
        return None
    return abap_long_timestamp(value)[:14]


def abap_long_timestamp(value: dt.datetime | str) -> str:
    """*value* as an ABAP long UTC timestamp ``YYYYMMDDhhmmss.fffffff`` (seven fractional digits).

    *value* is a datetime, or UTC text ``YYYY-MM-DD hh:mm:ss[.ffffff]`` (how SQLite holds a time).
    """
    if isinstance(value, dt.datetime):
        value = (value if value.tzinfo is dt.UTC else value.astimezone(dt.UTC)).isoformat(timespec="microseconds")
    digits = value.translate(_ISO_TO_ABAP)  # 2026-01-01T12:00:00.123456 -> 20260101120000.123456
    return f"{digits[:14]}.{digits[15:21]:0<7}"


def log_handle(key: models.JobKey, step_number: int) -> str:
    """The 22-character LogHandle of a step's log: derived from the job and step, stable across reads."""
    digest = hashlib.sha256(f"{key.name}/{key.run_count}/{step_number}".encode()).hexdigest()
    return digest[:22].upper()


def log_line(entry: models.LogEntry) -> LogLine:
    """*entry* as the tuple a :class:`JobTree` reads."""
    return (entry.step_number, entry.logged_at, entry.severity.value, entry.source, entry.text)


def messages_by_step(log: Sequence[LogLine]) -> dict[int, list[LogLine]]:
    """The log split into the steps' logs; job-level messages join the step before them (step 1 at first)."""
    by_step: dict[int, list[LogLine]] = {}
    current = 1
    for entry in log:
        if entry[0] is not None:
            current = entry[0]
        by_step.setdefault(current, []).append(entry)
    return by_step


def job_header_entity(
    job: models.Job, template_text: str, restart_count: int, series: models.Series | None = None
) -> SapEntity:
    """The JobHeader of *job*, with its periodic series' fields when it belongs to one."""
    origin = job.restart_of
    return {
        "JobName": job.key.name,
        "JobRunCount": job.key.run_count,
        "JobText": job.text,
        "JobTemplateName": job.template_name,
        "JobTemplateText": template_text,
        "JobSeriesCreatedAt": abap_timestamp(series.created_at) if series else "",
        "JobCreatedBy": job.creator,
        "JobStatus": job.status.value,
        "JobPlannedStartDateTime": abap_timestamp(job.scheduled_at),
        "JobCreaDateTime": abap_timestamp(job.created_at),
        "JobStartDateTime": abap_timestamp(job.started_at),
        "JobEndDateTime": abap_timestamp(job.ended_at),
        **periodic_fields(series),
        "JobStepCount": job.step_count,
        "JobCreatedByFormattedName": job.creator,
        **dict.fromkeys(("FactoryCalendar", "StartRestrictionCode", "TaskWeekDay"), ""),
        "TaskWorkDayNo": "",
        "TaskWorkDirCdir": "",
        "TaskUseWorkdaysInd": False,
        "JobHasResults": False,
        "OrigJobName": origin.name if origin else "",
        "OrigJobCount": origin.run_count if origin else "",
        "JobRestartCount": restart_count,
        "JobRunRestartMode": job.restart_mode or "",
    }


#: JobHeader's PeriodicMinutes … PeriodicMonths, by granularity, with their MaxLength (days take 3 digits).
_PERIODIC_FIELDS = {
    recurrence.Granularity.MINUTES: ("PeriodicMinutes", 2),
    recurrence.Granularity.HOURS: ("PeriodicHours", 2),
    recurrence.Granularity.DAYS: ("PeriodicDays", 3),
    recurrence.Granularity.WEEKS: ("PeriodicWeeks", 2),
    recurrence.Granularity.MONTHS: ("PeriodicMonths", 2),
}
#: SAP's time zone codes (table TTZZ, at most 6 characters) for common IANA zones. [I] A zone without a code
#: here shows its IANA name when that fits the 6 characters, else "" (``appjobs admin jobs show`` has it whole).
SAP_TIME_ZONES = {
    "Etc/UTC": "UTC",
    "Europe/Berlin": "CET",
    "Europe/Paris": "CET",
    "Europe/Amsterdam": "CET",
    "Europe/Brussels": "CET",
    "Europe/Vienna": "CET",
    "Europe/Zurich": "CET",
    "Europe/Rome": "CET",
    "Europe/Madrid": "CET",
    "Europe/London": "GMTUK",
    "America/New_York": "EST",
    "America/Chicago": "CST",
    "America/Denver": "MST",
    "America/Los_Angeles": "PST",
    "Asia/Tokyo": "JAPAN",
    "Asia/Kolkata": "INDIA",
    "Asia/Shanghai": "CHINA",
    "Australia/Sydney": "AUSNSW",
}


def sap_time_zone(name: str) -> str:
    """SAP's code for the IANA time zone *name* (see :data:`SAP_TIME_ZONES`)."""
    return SAP_TIME_ZONES.get(name, name if len(name) <= 6 else "")


def periodic_fields(series: models.Series | None) -> SapEntity:
    """JobHeader's periodic fields: SAP's empty values for a job of no series."""
    fields: SapEntity = {
        "Periodic": series is not None,
        **dict.fromkeys((name for name, _ in _PERIODIC_FIELDS.values()), ""),
        "JobEndMaxIterations": 0,
        "TaskEndDateTime": "",
        "TimeZone": "UTC",
    }
    if series is None:
        return fields
    rec = series.recurrence
    name, width = _PERIODIC_FIELDS[rec.granularity]
    fields[name] = f"{rec.value:0{width}d}"
    fields["JobEndMaxIterations"] = series.max_runs or 0
    fields["TaskEndDateTime"] = abap_timestamp(series.until) if series.until else ""
    fields["TimeZone"] = sap_time_zone(rec.timezone)
    return fields


@dataclasses.dataclass
class JobTree:
    """One job with what its JobHeaderSet entities need; *log* None when the caller did not need it read.

    *log* holds :data:`LogLine` tuples in the order they were written (see :func:`log_line`).
    """

    job: models.Job
    template_text: str
    restart_count: int
    steps: Sequence[models.StepRun]
    log: Sequence[LogLine] | None = None
    series: models.Series | None = None  #: the periodic series of the job, if it belongs to one

    def header(self) -> SapEntity:
        return job_header_entity(self.job, self.template_text, self.restart_count, self.series)

    @functools.cached_property
    def _logs(self) -> dict[int, list[LogLine]]:
        return messages_by_step(self.log or ())

    def step_entities(self) -> list[SapEntity]:
        """The JobStep entities, in step order."""
        return [self._step(step) for step in sorted(self.steps, key=lambda s: s.number)]

    def _step(self, step: models.StepRun) -> SapEntity:
        return {
            "JobName": self.job.key.name,
            "JobRunCount": self.job.key.run_count,
            "StepNumber": step.number,
            "JobCatalogEntryName": self.job.template_name,
            "JobCatalogEntryText": step.text,
            "StepStartDateTime": abap_timestamp(step.started_at),
            "StepStatus": step.status.value,
            "StepAppRC": 0 if step.exit_code is None else step.exit_code,
            "StepHasResults": False,
            "NrOfLogs": 1 if self._logs.get(step.number) else 0,
        }

    def log_info_entities(self, step_number: int) -> list[SapEntity]:
        """The step's JobStepLogInfo: one when the step has a log, none otherwise."""
        entries = self._logs.get(step_number)
        if not entries:
            return []
        counts = dict.fromkeys(SEVERITY_ORDER, 0)
        for entry in entries:
            counts[entry[2]] += 1
        worst = next(letter for letter in SEVERITY_ORDER if counts[letter])
        return [
            {
                "JobName": self.job.key.name,
                "JobRunCount": self.job.key.run_count,
                "StepNumber": step_number,
                "LogHandle": log_handle(self.job.key, step_number),
                "LogNumber": "",
                "MsgCntAll": len(entries),
                **{f"MsgCnt{letter}": counts[letter] for letter in ("A", "E", "W", "I", "S")},
                "CreaDateTime": abap_timestamp(entries[0][1]),
                "CreaUser": self.job.job_user,
                "CreaUserLong": self.job.job_user,
                "Severity": worst,
                "SeverityText": SEVERITY_TEXTS[worst],
            }
        ]

    def message_entities(self, step_number: int) -> list[SapEntity]:
        """The messages of the step's log, in the order they were written."""
        key, handle = self.job.key, log_handle(self.job.key, step_number)
        # Lines written together share their time: format each time once (a 1,000-line log is read in one go).
        stamps: dict[dt.datetime | str, str] = {}
        messages = []
        for index, (number, logged_at, severity, source, text) in enumerate(self._logs.get(step_number, ()), start=1):
            stamp = stamps.get(logged_at)
            if stamp is None:
                stamp = stamps[logged_at] = abap_long_timestamp(logged_at)
            messages.append(
                {
                    "JobName": key.name,
                    "JobRunCount": key.run_count,
                    "StepNumber": step_number,
                    "LogHandle": handle,
                    "MsgNumber": f"{index:06d}",
                    "MsgType": severity,
                    "MsgId": "APPJOBS",
                    "MsgNo": "000",
                    "MsgV1": stamp,
                    "MsgV2": source,
                    "MsgV3": JOB_LEVEL if number is None else "",
                    "MsgV4": "",
                    "MsgText": text,
                }
            )
        return messages
