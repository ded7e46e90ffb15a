"""What the client returns: status letters, job keys, templates, job states and job lists.

All frozen dataclasses and one enum, with Python names. SAP's names
(``JobRunCount``) stop at :mod:`appjobs.client._records`, which builds these
from the service's answers::

    >>> state = client.status(JobKey("38EAA71741401EE6BEA162EB5331DF9C", "JtUpUsyH"))
    >>> state.status, state.status.is_final
    (<JobStatus.FINISHED: 'F'>, True)

Times are timezone-aware datetimes in UTC, or None when the tenant has none
(a job that has not started has no start time).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import logging

logger = logging.getLogger(__name__)


class JobStatus(enum.StrEnum):
    """Status letters of application jobs and their steps, every one seen on real tenants.

    Letters are case-sensitive: ``C`` (Canceled) and ``c`` (Canceling) differ,
    as do ``K`` (Skipped) and ``k`` (Skip). The IBP guide documents only S, Y,
    R, A and F; newer tenants also report the others.
    """

    SCHEDULED = "S"  #: planned, its start condition not yet met
    READY = "Y"  #: due, waiting for a free work process
    RUNNING = "R"  #: in process
    FINISHED = "F"  #: finished without error
    ABORTED = "A"  #: failed, or cancelled while running ("Aborted")
    CANCELED = "C"  #: cancelled
    CANCELING = "c"  #: cancellation under way: not over yet
    RELEASED = "P"  #: released, not yet running
    USER_ERROR = "U"  #: ended with a user error
    WARNING = "W"  #: finished with warnings
    DELETED = "D"  #: deleted
    SKIPPED = "K"  #: this run of a periodic chain was skipped; a step a restart skipped
    SKIP = "k"  #: a skip is requested: not over yet
    UNKNOWN = "X"  #: the tenant does not know: keep asking

    @property
    def is_final(self) -> bool:
        """True when the job will not change any more: F, A, C, U, W, D and K."""
        return self in _FINAL

    @property
    def text(self) -> str:
        """The English status text SAP shows for this letter (``JobStatusInfoSet``)."""
        return _TEXTS[self]

    @classmethod
    def from_letter(cls, letter: str | None) -> JobStatus | None:
        """The status for *letter*; None for an empty one, UNKNOWN for one no tenant has sent yet.

        JobSchedule answers with an empty JobStatus: the job has no status yet.
        A letter outside the list is logged and read as UNKNOWN, which is not
        final, so that a waiting caller keeps asking instead of giving up.
        """
        if not letter or not letter.strip():
            return None
        try:
            return cls(letter.strip())
        except ValueError:
            logger.warning("unknown job status letter %r, read as X (unknown)", letter)
            return cls.UNKNOWN


_FINAL = frozenset(
    {
        JobStatus.FINISHED,
        JobStatus.ABORTED,
        JobStatus.CANCELED,
        JobStatus.USER_ERROR,
        JobStatus.WARNING,
        JobStatus.DELETED,
        JobStatus.SKIPPED,
    }
)
_TEXTS = {
    JobStatus.SCHEDULED: "Scheduled",
    JobStatus.READY: "Ready",
    JobStatus.RUNNING: "In Process",
    JobStatus.FINISHED: "Finished",
    JobStatus.ABORTED: "Failed",
    JobStatus.CANCELED: "Canceled",
    JobStatus.CANCELING: "Canceling",
    JobStatus.RELEASED: "Released",
    JobStatus.USER_ERROR: "User Error",
    JobStatus.WARNING: "Finished with Warning",
    JobStatus.DELETED: "Deleted",
    JobStatus.SKIPPED: "Skipped",
    JobStatus.SKIP: "Skip",
    JobStatus.UNKNOWN: "Unknown",
}


class RestartMode(enum.StrEnum):
    """JobRestart's JobRestartMode: where the restarted copy of a failed job begins."""

    FROM_FAILED = "E"  #: from the failed step: the steps before it are skipped
    AFTER_FAILED = "A"  #: after the failed step: it and the steps before it are skipped


@dataclasses.dataclass(frozen=True, order=True)
class JobKey:
    """What identifies one job: SAP's JobName and JobRunCount. Both are case-sensitive."""

    name: str  #: 32 upper-case hex characters on SAP tenants
    run_count: str  #: 8 characters on SAP tenants

    def __str__(self) -> str:
        return f"{self.name}/{self.run_count}"


@dataclasses.dataclass(frozen=True)
class Template:
    """A job template (JobTemplateSet): what :meth:`Client.schedule` starts, by :attr:`name`."""

    name: str  #: JobTemplateName, e.g. ``/IBP/CREATE_TIME_PERIODS`` or a generated ``Z7ILD5…``
    text: str  #: JobTemplateText, the name people see in the Application Jobs app
    version: str = "0"
    step_count: int | None = None  #: None when the tenant does not say
    supports_test_mode: bool = False
    report_name: str = ""
    created_at: dt.datetime | None = None
    created_by: str = ""
    changed_at: dt.datetime | None = None
    changed_by: str = ""


@dataclasses.dataclass(frozen=True)
class JobState:
    """A JobScheduleStatus: the answer of JobSchedule and of JobStatusGet."""

    key: JobKey
    status: JobStatus | None  #: None right after JobSchedule: tenants send an empty letter then
    return_code: int = 0  #: "not used currently" (IBP guide)


@dataclasses.dataclass(frozen=True)
class StepInfo:
    """One step of a job, from JobinfoGet."""

    number: int  #: StepCount, 1-based
    status: JobStatus | None
    started_at: dt.datetime | None = None
    return_code: int = 0  #: StepAppRC


@dataclasses.dataclass(frozen=True)
class JobInfo:
    """A job with its steps (JobinfoGet, which sends one row per step, each repeating the job's fields)."""

    key: JobKey
    status: JobStatus | None  #: None only when the tenant sent no row at all
    scheduled_at: dt.datetime | None = None
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    return_code: int = 0  #: JobAppRC
    steps: tuple[StepInfo, ...] = ()


@dataclasses.dataclass(frozen=True)
class JobSummary:
    """One job of a job list (JobListGet)."""

    key: JobKey
    status: JobStatus | None
    text: str = ""
    template_name: str = ""
    creator: str = ""  #: the user that scheduled it (JobCreator)
    created_at: dt.datetime | None = None
    scheduled_at: dt.datetime | None = None
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    step_count: int | None = None
    return_code: int = 0
    step_status: JobStatus | None = None  #: of the step the tenant shows for the job (the current one)
    step_started_at: dt.datetime | None = None
    report: str = ""
    variant: str = ""
    log_status: str = ""  #: JobLogStatus; its letters are not documented
