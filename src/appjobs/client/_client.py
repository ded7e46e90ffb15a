"""The client: SAP's function imports as Python methods with typed results."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import TypeVar
from urllib.parse import urljoin, urlsplit

import requests

from appjobs.client import _batch as batch
from appjobs.client import _headers as headers
from appjobs.client import _literals as literals
from appjobs.client import _records as records
from appjobs.client import _restart
from appjobs.client._config import Retry, Timeouts
from appjobs.client._errors import (
    AmbiguousTemplate,
    OutcomeUnknown,
    ProtocolError,
    ScheduleOutcomeUnknown,
    ServiceError,
    TemplateNotFound,
    service_error,
)
from appjobs.client._headers import JobHeader, LogMessage
from appjobs.client._models import JobInfo, JobKey, JobState, JobSummary, RestartMode, Template
from appjobs.client._paramcalls import ParameterCalls
from appjobs.client._params import Parameters
from appjobs.client._parsing import read_rows
from appjobs.client._transport import Answer, Transport, new_session

T = TypeVar("T")
ANY = " "  #: JobListGet's "any value" for a text filter, as the IBP guide writes it
MAX_PAGES = 100  #: server-driven pages of one entity-set read followed at most
JSON_FORMAT = ("$format", "json")


class Client(ParameterCalls):
    """A client for one External Job Scheduling service: an SAP tenant's, or ``appjobs serve``.

    *service_url* is the service root from the communication arrangement
    (scenario SAP_COM_0064), e.g.
    ``https://my123456-api.scmibp.ondemand.com/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=0002``::

        with Client(url, auth=("JOBSCHEDULERUSER", password)) as client:
            template = client.find_template("Nightly planning run")
            job = client.schedule(template.name, "Nightly planning run, started by cron")
            while not (state := client.status(job.key)).status.is_final:
                time.sleep(30)

    Log on with *auth* (user, password) or a client certificate *cert*: a
    ``(certificate file, key file)`` pair or one PEM file holding both. *ca_bundle*
    is a PEM file of the CA certificates to trust instead of the system's.
    *sap_client* and *sap_language* go to the tenant with every request (the
    language of its messages). With *trust_env* (the default) proxies come from
    ``HTTPS_PROXY``/``NO_PROXY``. Nothing is sent until the first call.

    A client holds one HTTP session (keep-alive connections, session cookies,
    the CSRF token); use it from one thread at a time, and close it when done.
    """

    def __init__(
        self,
        service_url: str,
        *,
        auth: tuple[str, str] | None = None,
        cert: str | tuple[str, str] | None = None,
        ca_bundle: str | None = None,
        sap_client: str | None = None,
        sap_language: str | None = None,
        timeouts: Timeouts | None = None,
        retry: Retry | None = None,
        trust_env: bool = True,
    ) -> None:
        _check_service_url(service_url)
        session = new_session(
            auth=auth,
            cert=cert,
            ca_bundle=ca_bundle,
            sap_client=sap_client,
            sap_language=sap_language,
            trust_env=trust_env,
        )
        self._transport = Transport(service_url, session, timeouts=timeouts or Timeouts(), retry=retry or Retry())

    def __repr__(self) -> str:
        return f"Client({self.service_url!r})"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the session's connections."""
        self._transport.session.close()

    @property
    def service_url(self) -> str:
        """The service root, without a trailing slash."""
        return self._transport.root

    @property
    def session(self) -> requests.Session:
        """The HTTP session, with a CSRF token and its cookies, for other OData clients.

        The first access fetches a token (one HEAD), so that POSTs sent
        through the session pass the CSRF check::

            service = pyodata.Client(client.service_url, client.session)
        """
        if self._transport.token is None:
            self._transport.fetch_token()
        return self._transport.session

    def fetch_csrf_token(self) -> str:
        """Fetch a new CSRF token now (HEAD on the service root, GET if that brings none) and return it.

        There is rarely a need: the client fetches one before its first POST
        and again when the service refuses it. It is a cheap way to check URL
        and credentials, though.
        """
        return self._transport.fetch_token()

    # --- templates ---------------------------------------------------------------------

    def templates(self, filter: str | None = None) -> list[Template]:
        """The job templates the communication user may schedule (JobTemplateSet).

        *filter* is an OData ``$filter`` expression, e.g.
        ``"JobTemplateText eq 'Nightly load'"``; literals in it must already be
        OData literals (quotes doubled). Server-driven pages are followed.
        """
        pairs = [JSON_FORMAT] + ([("$filter", filter)] if filter else [])
        url = self._transport.url("JobTemplateSet", literals.query(pairs))
        found: list[Template] = []
        for _ in range(MAX_PAGES):
            rows, next_url = self._transport.get(url, _page_reader(records.template))
            found += rows
            if next_url is None:
                return found
            url = self._own_url(next_url)
        raise ProtocolError(f"JobTemplateSet: more than {MAX_PAGES} pages; the service keeps sending a next link")

    def find_template(self, text: str) -> Template:
        """The one template whose JobTemplateText is exactly *text* (case-sensitive).

        The guide's way to find a template by the name people see, since its
        JobTemplateName is generated. :class:`TemplateNotFound` when no template
        has the text, :class:`AmbiguousTemplate` (listing their names) when
        several do.
        """
        candidates = self.templates(f"JobTemplateText eq {literals.string(text)}")
        matches = [template for template in candidates if template.text == text]
        if not matches:
            raise TemplateNotFound(
                f"No job template has the text {text!r}. Is it shared with the communication user? "
                "Templates saved in the Application Jobs app must be shared to be visible through the API"
            )
        if len(matches) > 1:
            names = [template.name for template in matches]
            raise AmbiguousTemplate(
                f"{len(matches)} job templates have the text {text!r}: {', '.join(names)}; schedule one by its name",
                names=names,
            )
        return matches[0]

    # --- jobs --------------------------------------------------------------------------

    def schedule(
        self,
        template_name: str,
        text: str,
        *,
        job_user: str | None = None,
        test_mode: bool = False,
        parameters: Parameters | None = None,
    ) -> JobState:
        """Start a job from the template *template_name* at once (JobSchedule); its key is in the result.

        *text* names the job in the tenant's job list; make it unique per run
        and the job can be found again if the answer gets lost. *job_user* is the
        business user the job runs for (by default the tenant's choice, usually
        the communication user). *parameters* override the template's values:
        ``{NAME: value}``, one value per name in every step, or
        :class:`ParameterValue` records (select-option rows, a step number).

        JobSchedule is never sent twice. If it may have reached the service but
        its answer did not come back, :class:`ScheduleOutcomeUnknown` says so,
        with what :meth:`find_jobs` needs to look for the job.
        """
        query = batch.Schedule(template_name, text, job_user, test_mode, parameters).query()
        url = self._transport.url("JobSchedule", query)
        try:
            return self._transport.post(url, _entity_reader(records.job_state), operation="JobSchedule")
        except OutcomeUnknown as lost:
            raise ScheduleOutcomeUnknown(
                f"{lost}. The job may exist: look for it with find_jobs({text!r}, created_from=...) before "
                "scheduling it again",
                sent_at=lost.sent_at,
                template_name=template_name,
                job_text=text,
                status=lost.status,
            ) from lost

    def status(self, job: JobKey) -> JobState:
        """The status of *job* (JobStatusGet). :class:`JobNotFound` when the tenant does not know it."""
        url = self._transport.url("JobStatusGet", literals.query([*_key_pairs(job), JSON_FORMAT]))
        return self._transport.get(url, _entity_reader(records.job_state))

    def info(self, job: JobKey) -> JobInfo:
        """*job* with its times and its steps (JobinfoGet, IBP 1711 HFC08 and later)."""
        url = self._transport.url("JobinfoGet", literals.query([*_key_pairs(job), JSON_FORMAT]))
        return self._transport.get(url, lambda answer: records.job_info(job, read_rows(answer.body).rows))

    def jobs(
        self,
        created_from: dt.datetime,
        created_to: dt.datetime | None = None,
        *,
        name: str | None = None,
        text: str | None = None,
        template_name: str | None = None,
        creator: str | None = None,
    ) -> list[JobSummary]:
        """The jobs created between *created_from* and *created_to* (JobListGet, IBP 1808 and later).

        Times are UTC (a naive datetime is taken to be UTC); *created_to*
        defaults to a day from now, which leaves room for a tenant clock that
        runs ahead. The other arguments narrow the list as the tenant's
        filters do; left out, they match any job. A communication user with
        only SAP_COM_0064 sees the jobs it scheduled itself.
        """
        until = created_to or dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
        pairs = [  # all of them, in the order of the IBP guide's example
            ("JobName", literals.string(name or ANY)),
            ("CreationTimeFrom", literals.datetime_(created_from)),
            ("CreationTimeTo", literals.datetime_(until)),
            ("JobCreator", literals.string(creator or ANY)),
            ("JobText", literals.string(text or ANY)),
            ("Report", literals.string(ANY)),
            ("TemplateName", literals.string(template_name or ANY)),
            ("Variant", literals.string(ANY)),
            JSON_FORMAT,
        ]
        url = self._transport.url("JobListGet", literals.query(pairs))
        return self._transport.get(url, lambda answer: [records.job_summary(r) for r in read_rows(answer.body).rows])

    def find_jobs(
        self, text: str, *, created_from: dt.datetime, created_to: dt.datetime | None = None
    ) -> list[JobSummary]:
        """The jobs whose text is exactly *text*, created in the window.

        This is how to find a job whose JobSchedule answer was lost
        (:class:`ScheduleOutcomeUnknown`), when each run's text is unique.
        """
        return [job for job in self.jobs(created_from, created_to, text=text) if job.text == text]

    def cancel(self, job: JobKey) -> None:
        """Cancel *job* (JobCancel): a job that has not started is deleted, a running one is stopped.

        A running job may seem cancelled while parts of it still run in the
        tenant's other layers (IBP guide): watch its status until it is final.
        """
        self._job_action("JobCancel", job)

    def abort(self, job: JobKey) -> None:
        """Abort the running *job* (JobAbort). :class:`JobStateError` (APJ_RT/040) when it is not running."""
        self._job_action("JobAbort", job)

    def restart(self, job: JobKey, mode: RestartMode | str = RestartMode.FROM_FAILED) -> JobKey:
        """Restart the failed *job* as a copy (JobRestart, SAP 2023); the copy's key.

        *mode* is :attr:`RestartMode.FROM_FAILED` (``"E"``: the failed step and
        those after it run again) or :attr:`RestartMode.AFTER_FAILED` (``"A"``:
        only the steps after it). Watch the copy as any job. :class:`RestartRefused`
        for a job that did not fail (APJ_RT/081) or mode A after its last step
        (APJ_RT/082); :class:`OperationNotOffered` from a service without JobRestart.
        """
        return _restart.restart(self._transport, job, mode)

    def _job_action(self, operation: str, job: JobKey) -> None:
        url = self._transport.url(operation, literals.query([*_key_pairs(job), JSON_FORMAT]))
        code = self._transport.post(url, _entity_reader(records.return_code), operation=operation)
        if code:
            # Failures normally come as HTTP 400; a non-zero ReturnCode in a 200 is read as the
            # number of the APJ_RT message, as SAP's 2023 documentation of the operations suggests.
            raise service_error(f"{operation} answered ReturnCode {code}", status=200, code=f"APJ_RT/{code:03d}")

    # --- job headers and logs (JobHeaderSet, SAP 2024) ------------------------------------

    def header(self, job: JobKey, expand: str | None = None) -> JobHeader:
        """The job as JobHeaderSet shows it; *expand* adds ``"steps"``, their ``"logs"``, or their ``"messages"``.

        :class:`JobNotFound` for a job that does not exist or that the caller may not see;
        :class:`OperationNotOffered` when the service has no JobHeaderSet (tenants before 2024).
        """
        return headers.fetch_header(self._transport, job, expand)

    def log(self, job: JobKey) -> list[LogMessage]:
        """Every message of every step of *job*, in order: step number, type, time and text of each."""
        return self.header(job, expand="messages").messages()

    # --- $batch (appjobs.client._batch) ----------------------------------------------------

    def schedule_many(self, schedules: Sequence[batch.Schedule]) -> list[JobState]:
        """Schedule several jobs in one ``$batch`` changeset: all of them, or none. Their states, in order.

        :class:`BatchRefused` (with SAP's code and the failing one's ``index``)
        when one cannot be scheduled: then no job of them exists.
        :class:`BatchNotSupported` when the service has no ``$batch``. Like
        :meth:`schedule`, never sent twice: :class:`OutcomeUnknown` when the
        answer was lost, and then all of the jobs exist or none (look one up
        with :meth:`find_jobs`).
        """
        return batch.schedule_many(self._transport, schedules)

    def statuses(self, jobs: Sequence[JobKey]) -> list[JobState | ServiceError]:
        """The status of each of *jobs* in one ``$batch`` request; an error in the place of a job without one."""
        return batch.statuses(self._transport, jobs)

    def _own_url(self, link: str) -> str:
        """The absolute URL of a next *link*, if it is on the service's own host: the credentials go nowhere else."""
        url = urljoin(self.service_url + "/", link)
        if _origin(url) != _origin(self.service_url):
            raise ProtocolError(f"the service sent a next link outside its host: {url}")
        return url


def _check_service_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"the service URL must be an http(s) URL with a host, not {url!r}; it looks like "
            "https://my123456-api.scmibp.ondemand.com/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=0002"
        )
    if parts.query or parts.fragment:
        raise ValueError(
            "the service URL must end with the service root (…/BC_EXT_APPJOB_MANAGEMENT;v=0002), without '?' or '#'; "
            "pass sap-client as sap_client="
        )


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


def _key_pairs(job: JobKey) -> list[tuple[str, str]]:
    return [("JobName", literals.string(job.name)), ("JobRunCount", literals.string(job.run_count))]


def _entity_reader(convert: Callable[[records.Row], T]) -> Callable[[Answer], T]:
    """A reader for answers that hold exactly one entity (the result of a function import)."""

    def read(answer: Answer) -> T:
        rows = read_rows(answer.body).rows
        if len(rows) != 1:
            raise ProtocolError(f"expected one entity in the answer, got {len(rows)}")
        return convert(rows[0])

    return read


def _page_reader(convert: Callable[[records.Row], T]) -> Callable[[Answer], tuple[list[T], str | None]]:
    def read(answer: Answer) -> tuple[list[T], str | None]:
        page = read_rows(answer.body)
        return [convert(row) for row in page.rows], page.next_url

    return read
