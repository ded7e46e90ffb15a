"""JobService: what the API and the admin commands ask of the engine.

It validates, writes to the store and wakes the workers; it never runs a
step itself (that is :class:`appjobs.engine.worker.Worker`'s job, in another
process). Every method is safe to call from any process that opens the
same database.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

from appjobs import errors, models, params
from appjobs.engine import paramcheck, recovery
from appjobs.engine import templates as template_files
from appjobs.models import JobKey, JobStatus
from appjobs.storage import Store
from appjobs.storage.workers import WorkerRecord

MAX_TEXT = 120
MAX_USER = 40
DEFAULT_LEASE = 30.0  #: seconds without a heartbeat after which a worker on another host counts as dead


class JobService:
    """Templates and jobs, in the terms of SAP's application-job API.

    *notify* is called after a job was scheduled or a cancel requested, to
    wake the workers; *clock* returns the current UTC time.
    """

    def __init__(
        self,
        store: Store,
        *,
        notify: Callable[[], None] = lambda: None,
        clock: Callable[[], dt.datetime] = models.utcnow,
    ) -> None:
        self.store = store
        self.notify = notify
        self.clock = clock
        self._units = threading.local()  # the unit each thread is in (see unit())

    # --- templates -----------------------------------------------------------------

    def templates(self) -> list[models.Template]:
        return self.store.templates.list()

    def template(self, name: str) -> models.Template:
        return self.store.templates.get(name)

    def import_templates(self, templates: Sequence[models.Template], *, replace: bool = False) -> None:
        """Store *templates* all at once, or none of them."""
        self.store.templates.add(templates, replace=replace)

    def import_file(self, path: str, *, by: str, replace: bool = False) -> list[models.Template]:
        """Load a TOML template file and store its templates; returns them."""
        loaded = template_files.load_file(path, by=by, now=self.clock())
        self.import_templates(loaded, replace=replace)
        return loaded

    # --- jobs ----------------------------------------------------------------------

    def schedule(
        self,
        template_name: str,
        *,
        creator: str,
        text: str = "",
        job_user: str = "",
        test_mode: bool = False,
        parameters: paramcheck.ParameterInput | None = None,
        start_at: dt.datetime | None = None,
        series: models.Series | None = None,
        series_index: int = 0,
    ) -> models.Job:
        """Create a job from a template to start at once, or at *start_at*; it is committed when this returns.

        A planned job (*start_at*, aware) stays S until its time; a time in the
        past is :class:`InvalidInput`. With *series* the job is start
        *series_index* of that new periodic series, stored with it (see
        :func:`appjobs.engine.planning.schedule_series`, which is how to make one).

        *parameters* override the template's defaults: a mapping by name, in every
        step that declares that name, or :class:`~appjobs.params.Entry` values
        (rows, and a step number or none); a wrong one is :class:`InvalidInput`
        naming it (see :mod:`appjobs.engine.paramcheck`). An empty *text* takes
        the template's text.

        *job_user* must be a registered business user (APJ_RT/083 otherwise)
        and, when the template names the business users it may run for, one
        of them (APJ_RT/077). An empty *job_user* runs the job for its
        *creator*, the communication user: our choice where SAP's service
        runs it for the communication user's own business identity.
        """
        template = self.store.templates.get(template_name)
        job_user = self._check_schedule(template, creator, text, job_user.upper(), test_mode)
        values = paramcheck.assign(template, parameters)
        now = self.clock()
        planned = now if start_at is None else _check_start(start_at, now)
        job = models.Job(
            key=JobKey.new(),
            template_name=template.name,
            text=text or template.text,
            job_user=job_user or creator,
            creator=creator,
            status=JobStatus.SCHEDULED,
            created_at=now,
            scheduled_at=planned,
            step_count=template.step_count,
            test_mode=test_mode,
            series_id=series.id if series else None,
            series_index=series_index if series else None,
        )
        steps = [_step_run(job.key, step) for step in template.steps]
        said = f"Job scheduled by {creator} from template {template.name} for {job.job_user}"
        when = "" if start_at is None else f", planned for {planned:%Y-%m-%d %H:%M:%S}Z"
        of = "" if series is None else f", start {series_index + 1} of periodic series {series.id}"
        self.store.jobs.create(job, steps, values, [_log(job.key, now, f"{said}{when}{of}.")], series=series)
        self.wake()
        return job

    def _check_schedule(
        self, template: models.Template, creator: str, text: str, job_user: str, test_mode: bool
    ) -> str:
        """Refuse what SAP's JobSchedule refuses, before anything is stored; the JobUser, upper case."""
        _check_length("JobText", text, MAX_TEXT)
        _check_length("JobUser", job_user, MAX_USER)
        if job_user and not self.store.comm.business_user_exists(job_user):
            raise errors.UserNotFound(f"User {job_user} doesn't exist or is invalid.")
        if template.business_users and (job_user or creator) not in template.business_users:
            raise errors.NotAuthorized(_not_allowed(template, creator, job_user))
        if test_mode and not template.supports_test_mode:
            raise errors.InvalidInput(f"Job template {template.name} doesn't support test mode.")
        return job_user

    def check(
        self,
        template_name: str,
        *,
        creator: str,
        job_user: str = "",
        parameters: paramcheck.ParameterInput | None = None,
    ) -> paramcheck.CheckResult:
        """JobScheduleCheck: what :meth:`schedule` would say of these parameters and this JobUser, storing nothing.

        An unknown template is :class:`~appjobs.errors.TemplateNotFound`; every other
        problem is in the result, one sentence each.
        """
        template = self.store.templates.get(template_name)
        result = paramcheck.check(template, parameters)
        try:
            self._check_schedule(template, creator, "", job_user.upper(), False)
        except (errors.InvalidInput, errors.UserNotFound, errors.NotAuthorized) as exc:
            problem = f"{exc.message_id or paramcheck.SCHEDULE_FAILED} {exc}"
            return paramcheck.CheckResult(result.values, (*result.problems, problem), False)
        return result

    def parameter_values(self, key: JobKey) -> list[params.Value]:
        """The job's parameter values with all their rows (JobParamValuesGet)."""
        self.store.jobs.get(key)
        return self.store.jobs.parameter_values(key)

    def status(self, key: JobKey) -> models.Job:
        """The job; :class:`~appjobs.errors.JobNotFound` (APJ_RT/003) when there is none."""
        return self.store.jobs.get(key)

    def poll(self, key: JobKey) -> tuple[JobStatus, str]:
        """Status and creator of the job; :class:`~appjobs.errors.JobNotFound` when there is none."""
        return self.store.jobs.poll(key)

    def steps(self, key: JobKey) -> list[models.StepRun]:
        self.store.jobs.get(key)
        return self.store.jobs.steps(key)

    def steps_of(self, jobs: Iterable[models.Job]) -> dict[JobKey, list[models.StepRun]]:
        """The steps of *jobs* (which the caller has read, so they exist), by job, in one read per 400 jobs."""
        return self.store.jobs.steps_of(job.key for job in jobs)

    def parameters(self, key: JobKey) -> dict[int, dict[str, str]]:
        return self.store.jobs.parameters(key)

    def log(self, key: JobKey) -> list[models.LogEntry]:
        self.store.jobs.get(key)
        return self.store.jobs.log(key)

    def jobs(
        self,
        created_from: dt.datetime,
        created_to: dt.datetime,
        *,
        creator: str | None = None,
        filters: Mapping[str, str] | None = None,
    ) -> list[models.Job]:
        """Jobs created in the window, oldest first (see :meth:`JobStore.list`)."""
        return self.store.jobs.list(created_from, created_to, creator=creator, filters=filters)

    def live_workers(self, *, lease: float = DEFAULT_LEASE) -> list[WorkerRecord]:
        """The registered workers that are alive: on this host their process exists, elsewhere they
        sent a heartbeat within *lease* seconds (the rule crash recovery applies)."""
        now = self.clock()
        return [r for r in self.store.workers.all().values() if recovery.is_alive(r, now, lease)]

    def cancel(self, key: JobKey, *, by: str, series: bool = True) -> models.CancelOutcome:
        """SAP's JobCancel: delete a job that has not started, abort a running one.

        A job of a periodic series cancels the whole series, as on SAP's side: its
        planned jobs are deleted and its running ones aborted. With *series* false
        (``appjobs admin jobs cancel`` without ``--series``) such a job is
        :class:`InvalidInput` instead, which says so.
        """
        if not series:
            job = self.store.jobs.get(key)
            if job.series_id is not None:
                raise errors.InvalidInput(
                    f"job {key} belongs to the periodic series {job.series_id}: cancelling it deletes every planned "
                    "job of the series and aborts a running one; say --series to do that"
                )
        outcome = self.store.jobs.cancel(key, by, self.clock())
        if not outcome.deleted:
            self.wake()
        return outcome

    def abort(self, key: JobKey, *, by: str) -> models.CancelOutcome:
        """SAP's JobAbort: abort a running job; APJ_RT/040 when it is not running."""
        outcome = self.store.jobs.cancel(key, by, self.clock(), only_running=True)
        self.wake()
        return outcome

    # --- units: several writes, all or none (a $batch changeset) ---------------------

    @contextlib.contextmanager
    def unit(self) -> Iterator[Unit]:
        """Schedules, cancels and aborts made in this thread inside it share one transaction: all or none.

        An exception out of the block rolls everything back: no job of it was
        ever visible, so no worker can have claimed one. The workers are woken
        once, after the commit, never for a rollback. Audit entries handed to
        :meth:`Unit.audit` are written after the unit ends, in a transaction of
        their own, so that a rolled-back attempt is still on record: a success
        that was rolled back is recorded as a failure saying so.
        """
        unit = Unit()
        self._units.current = unit
        try:
            with self.store.db.unit():
                yield unit
        except BaseException:
            self._units.current = None
            self._record(unit, committed=False)
            raise
        self._units.current = None
        self._record(unit, committed=True)
        if unit.woken:
            self.notify()

    def current_unit(self) -> Unit | None:
        """The unit this thread is in, if any."""
        return getattr(self._units, "current", None)

    def wake(self) -> None:
        """Wake the workers now, or at the commit of this thread's unit."""
        unit = self.current_unit()
        if unit is None:
            self.notify()
        else:
            unit.woken = True

    def _record(self, unit: Unit, *, committed: bool) -> None:
        if not unit.entries:
            return
        entries = unit.entries if committed else [_rolled_back(e) for e in unit.entries]
        self.store.audit.add(entries)


@dataclasses.dataclass
class Unit:
    """What a :meth:`JobService.unit` keeps until it ends: audit entries, and whether to wake the workers."""

    entries: list[models.AuditEntry] = dataclasses.field(default_factory=list)
    woken: bool = False

    def audit(self, entry: models.AuditEntry) -> None:
        self.entries.append(entry)


def _rolled_back(entry: models.AuditEntry) -> models.AuditEntry:
    if entry.outcome != "success":
        return entry
    detail = f"{entry.detail}: rolled back with its changeset"
    return dataclasses.replace(entry, outcome="failure", detail=detail)


def _step_run(key: JobKey, step: models.TemplateStep) -> models.StepRun:
    """A new job's run of a template *step*: scheduled, with the step's warning exit codes."""
    status, codes = JobStatus.SCHEDULED, step.warning_exit_codes
    return models.StepRun(
        key, step.number, step.kind, step.target, step.text, status, warning_exit_codes=codes, pass_env=step.pass_env
    )


def _not_allowed(template: models.Template, creator: str, job_user: str) -> str:
    """APJ_RT/077's message, naming the cause: the JobUser (or its absence), not the communication user's logon."""
    allowed = f"job template {template.name} runs only for the business users {', '.join(template.business_users)}"
    if job_user:
        return f"User {job_user} has no authorization to schedule the job: {allowed}; JobUser {job_user} is not one."
    return (
        f"User {creator} has no authorization to schedule the job: no JobUser was given, so the job would run for "
        f"the communication user {creator}, but {allowed}; give one of them as JobUser."
    )


#: How far in the past a planned start may lie and still count as "now" (a clock a little behind the server's).
START_TOLERANCE = dt.timedelta(seconds=60)


def _check_start(start_at: dt.datetime, now: dt.datetime) -> dt.datetime:
    if start_at.tzinfo is None:
        raise errors.InvalidInput(f"start time {start_at.isoformat()} has no time zone")
    if start_at < now - START_TOLERANCE:
        raise errors.InvalidInput(
            f"start time {start_at.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S}Z is in the past "
            f"(now: {now:%Y-%m-%d %H:%M:%S}Z)"
        )
    return max(start_at.astimezone(dt.UTC), now)


def _check_length(field: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise errors.InvalidInput(f"{field} is longer than {limit} characters")


def _log(key: JobKey, now: dt.datetime, text: str, severity: models.Severity = models.Severity.INFO) -> models.LogEntry:
    return models.LogEntry(key, None, now, severity, "engine", text)
