"""Domain values: job templates, jobs, steps, status letters.

Everything here is a frozen dataclass or an enum and does no I/O. Internal
names are Python's (``run_count``); SAP's names (``JobRunCount``) appear only
at the OData edge.

The job state machine, with SAP's letters::

    schedule ──> S ──(due)──> Y ──(worker free)──> R ──> F   all steps finished
                 │            │                     └──> A   a step failed, was cancelled,
                 └────────────┴──(cancel)──> deleted          or its worker died

A job that has not started is *deleted* when cancelled (SAP's semantics); a
running one is aborted and ends ``A``. Steps use the same letters.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import enum
import hashlib
import re
import secrets
import string
from collections.abc import Mapping

from appjobs import params, recurrence

UTC = dt.UTC


def utcnow() -> dt.datetime:
    """The current time, timezone-aware in UTC (every time appjobs stores is UTC)."""
    return dt.datetime.now(UTC)


class JobStatus(enum.StrEnum):
    """Status letters of application jobs and their steps, as real tenants send them.

    Letters are case-sensitive: ``C`` (Canceled) and ``c`` (Canceling) differ,
    as do ``K`` (Skipped) and ``k`` (Skip). appjobs' own engine produces
    S, Y, R, F, W and A, and K for the steps a restarted copy skips
    (:mod:`appjobs.engine.restart`); the client meets the others on SAP tenants.
    """

    SCHEDULED = "S"  #: planned, its start condition not yet met
    READY = "Y"  #: due, waiting for a free worker
    RUNNING = "R"  #: in process
    FINISHED = "F"  #: finished without error
    ABORTED = "A"  #: failed or cancelled ("Aborted")
    CANCELED = "C"  #: cancelled (reported by newer tenants)
    CANCELING = "c"  #: cancellation under way
    RELEASED = "P"  #: released, not yet running (classic background jobs)
    USER_ERROR = "U"  #: ended with a user error
    WARNING = "W"  #: finished with warnings
    DELETED = "D"  #: deleted
    SKIPPED = "K"  #: one run of a periodic chain skipped; a step a restarted copy skips
    SKIP = "k"  #: skip requested
    UNKNOWN = "X"  #: unknown to the tenant

    @property
    def is_final(self) -> bool:
        """True when the job will not change any more."""
        return self in _FINAL

    @property
    def text(self) -> str:
        """The English status text SAP shows for this letter."""
        return _TEXTS[self]


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


class StepKind(enum.StrEnum):
    """How a step runs: a shell command or a Python callable, each in its own process."""

    SHELL = "shell"  #: ``/bin/sh -c COMMAND``, parameters as environment variables
    PYTHON = "python"  #: ``module:function`` called with the parameters as keyword arguments


# --- identifiers -----------------------------------------------------------------

_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
JOB_NAME_RE = re.compile(r"^[0-9A-F]{32}$")
RUN_COUNT_RE = re.compile(r"^[A-Za-z]{8}$")
#: SAP's template names: delivered ones are /NAMESPACE/NAME, customer ones Z + 26 base32 characters.
TEMPLATE_NAME_RE = re.compile(r"^(/[A-Z0-9_]{1,20}/[A-Z0-9_]{1,30}|Z[A-Z2-7]{26})$")
PARAMETER_NAME_RE = re.compile(r"^[A-Z][A-Z0-9_]{0,37}$")


@dataclasses.dataclass(frozen=True, order=True)
class JobKey:
    """What identifies one job: SAP's JobName and JobRunCount."""

    name: str  #: 32 upper-case hex characters, like an SAP GUID
    run_count: str  #: 8 letters; case matters

    @classmethod
    def new(cls) -> JobKey:
        """A fresh random key, shaped like the keys real tenants hand out."""
        letters = string.ascii_letters
        return cls(secrets.token_hex(16).upper(), "".join(secrets.choice(letters) for _ in range(8)))

    def __str__(self) -> str:
        return f"{self.name}/{self.run_count}"


def user_template_name(text: str) -> str:
    """The stable generated name of a user-created template: ``Z`` + 26 base32 characters.

    SAP derives these from a GUID; appjobs derives them from the template
    text, so importing the same template twice yields the same name.

        >>> user_template_name("Nightly load")
        'Z...'  # always the same 27 characters for this text
    """
    digest = hashlib.sha256(text.encode("utf-8")).digest()[:16]
    return "Z" + base64.b32encode(digest).decode("ascii").rstrip("=")[:26]


# --- templates ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DefaultRecurrence:
    """A template's default recurrence (TOML ``recurrence = { every = "1d", at = "02:00", timezone = "…" }``)."""

    every: str  #: "15m", "2h", "1d", "1w" or "1mo" (see :meth:`appjobs.recurrence.Recurrence.parse`)
    at: str = ""  #: local "HH:MM" of the starts; "": the time it is scheduled
    timezone: str = "UTC"  #: IANA name

    def recurrence(self) -> recurrence.Recurrence:
        return recurrence.Recurrence.parse(self.every, self.timezone)


@dataclasses.dataclass(frozen=True)
class TemplateStep:
    """One step of a job template."""

    number: int  #: 1-based position in the chain
    kind: StepKind
    target: str  #: the shell command, or ``module:function``
    text: str = ""
    parameters: Mapping[str, str] = dataclasses.field(default_factory=dict)  #: name -> default
    warning_exit_codes: tuple[int, ...] = ()  #: exit codes that mean "finished with warnings" (W), not failed
    pass_env: tuple[str, ...] = ()  #: variables of the worker's environment the step may see (beyond the allow-list)
    #: What the step declares about its parameters; empty: each of *parameters* is a string with its default.
    declarations: tuple[params.Declaration, ...] = ()

    def declared(self) -> tuple[params.Declaration, ...]:
        """The step's parameter declarations, also for a step built from ``parameters`` (name -> default) alone."""
        if self.declarations:
            return self.declarations
        return tuple(params.declaration_from_default(n, v) for n, v in self.parameters.items())


@dataclasses.dataclass(frozen=True)
class Template:
    """A job template: what a job runs, as one step or a chain of steps."""

    name: str
    text: str
    steps: tuple[TemplateStep, ...]
    version: str = "0"
    supports_test_mode: bool = False
    created_by: str = "SAP"
    created_at: dt.datetime | None = None
    changed_by: str = "SAP"
    changed_at: dt.datetime | None = None
    business_users: tuple[str, ...] = ()  #: the only JobUsers it may run for; empty: any
    recurrence: DefaultRecurrence | None = None  #: how ``--default-recurrence`` schedules it; None: not periodic

    @property
    def step_count(self) -> int:
        return len(self.steps)

    def declarations(self) -> dict[int, tuple[params.Declaration, ...]]:
        """Each step's parameter declarations, by step number (steps without parameters too)."""
        return {step.number: step.declared() for step in self.steps}


# --- jobs --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Job:
    """One application job: a template scheduled for a business user."""

    key: JobKey
    template_name: str
    text: str
    job_user: str  #: the business user the job runs for (SAP's JobUser)
    creator: str  #: the communication user that scheduled it
    status: JobStatus
    created_at: dt.datetime
    scheduled_at: dt.datetime
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    step_count: int = 1
    test_mode: bool = False
    return_code: int = 0
    cancel_requested_by: str | None = None
    restart_of: JobKey | None = None  #: the job this one restarts, if any
    restart_mode: str | None = None
    series_id: str | None = None  #: the periodic series the job belongs to, if any
    series_index: int | None = None  #: which start of its series it is (0: the first)


@dataclasses.dataclass(frozen=True)
class Series:
    """A periodic series: a template scheduled to start again and again (see :mod:`appjobs.recurrence`).

    Its starts are ``recurrence.start(anchor, n)`` for n = 0, 1, …, while n < *max_runs*
    and the start is not after *until*. Exactly one job of an active series is planned
    (status S) at a time; it is created when the one before it becomes due.
    """

    id: str  #: 32 upper-case hex characters
    template_name: str
    recurrence: recurrence.Recurrence
    anchor: dt.datetime  #: naive: the local wall time of start 0 in ``recurrence.timezone``
    created_at: dt.datetime  #: SAP's JobSeriesCreatedAt, shared by the series' jobs
    created_by: str
    until: dt.datetime | None = None  #: no start after this (UTC)
    max_runs: int | None = None  #: at most this many starts
    ended_at: dt.datetime | None = None  #: cancelled, or its last job planned

    def is_last(self, n: int) -> bool:
        """True when start *n* is the last one the series may have (by count; *until* needs the time)."""
        return self.max_runs is not None and n + 1 >= self.max_runs


@dataclasses.dataclass(frozen=True)
class StepRun:
    """One step of a job, with its own status and times."""

    key: JobKey
    number: int
    kind: StepKind
    target: str
    text: str
    status: JobStatus
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    exit_code: int | None = None
    warning_exit_codes: tuple[int, ...] = ()  #: copied from the template step when the job was scheduled
    pass_env: tuple[str, ...] = ()  #: copied from the template step when the job was scheduled


class Severity(enum.StrEnum):
    """Severity of a job log message, with SAP's message type letters."""

    INFO = "I"
    SUCCESS = "S"
    WARNING = "W"
    ERROR = "E"
    ABORT = "A"


@dataclasses.dataclass(frozen=True)
class LogEntry:
    """One line of a job's log: step output or a message of the engine."""

    key: JobKey
    step_number: int | None  #: None for messages about the whole job
    logged_at: dt.datetime
    severity: Severity
    source: str  #: ``engine``, ``stdout`` (stdout and stderr of the step, merged)
    text: str


@dataclasses.dataclass(frozen=True)
class CancelOutcome:
    """What a cancel request did: deleted a job that had not started, or is stopping a running one."""

    key: JobKey
    deleted: bool  #: True when the job had not started and is gone
    status: JobStatus  #: the job's status after the request


# --- communication management ------------------------------------------------------


#: A business user's id (the JobUser), upper case as SAP's user names are.
BUSINESS_USER_RE = re.compile(r"^[A-Z0-9_.\-@]{1,40}$")


class Scenario(enum.StrEnum):
    """Communication scenarios of the External Job Scheduling service."""

    EXTERNAL_SCHEDULER = "SAP_COM_0064"  #: a communication user sees and acts on the jobs it created
    ANY_JOB = "SAP_COM_0326"  #: ... and on every job, of any user


@dataclasses.dataclass(frozen=True)
class CommUser:
    """A communication user: password (an argon2id hash) or client certificate, maybe locked."""

    name: str
    created_at: dt.datetime
    has_password: bool = False
    cert_fingerprint: str | None = None  #: SHA-256 of the certificate's DER bytes, hex
    cert_subject: str | None = None
    locked: bool = False
    failed_logons: int = 0


@dataclasses.dataclass(frozen=True)
class CommSystem:
    """A communication system: the host an external scheduler runs on."""

    id: str
    host_name: str
    created_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class Arrangement:
    """A communication arrangement: scenario + system + inbound user."""

    name: str
    scenario: Scenario
    system_id: str
    user_name: str
    created_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class BusinessUser:
    """A business user: the JobUser a job runs for."""

    id: str
    description: str
    created_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class AuditEntry:
    """One line of the audit log; it never holds a password, a token or a cookie value."""

    at: dt.datetime
    event: str  #: logon, lockout, schedule, cancel, abort, admin
    user_name: str | None
    source: str | None  #: client address, or "admin" for local commands
    outcome: str  #: success or failure
    detail: str = ""
    request_id: str | None = None  #: the HTTP request it was written for (its ``x-correlationid``), if any
