"""A client for SAP's External Job Scheduling service (BC_EXT_APPJOB_MANAGEMENT, scenario SAP_COM_0064).

It talks to SAP tenants (IBP, S/4HANA Cloud, BTP ABAP) and to ``appjobs
serve`` alike, and needs nothing of appjobs' server side::

    from appjobs.client import Client, JobStatus

    with Client(service_url, auth=("JOBSCHEDULERUSER", password)) as client:
        job = client.schedule(client.find_template("Nightly load").name, "Nightly load 2024-06-01")
        print(client.status(job.key).status)

Everything public is importable from here; the modules behind it are private:

* ``_client``: :class:`Client`, one method per function import (``_paramcalls``: the parameter operations;
  ``_restart``: JobRestart's);
* ``_params``: JobParameterValues as records (:class:`ParameterValue`, :class:`ParameterRow`);
* ``_batch``: ``$batch``: :meth:`Client.schedule_many` (one changeset) and :meth:`Client.statuses`;
* ``_transport`` and ``_answers``: the session, CSRF tokens and retries, and what each failure means;
* ``_parsing`` and ``_records``: JSON, Atom and error documents, then SAP names to Python records;
* ``_models``, ``_errors``, ``_config``, ``_literals``: values, exceptions, settings, OData literals.
"""

from __future__ import annotations

from appjobs.client._batch import Schedule
from appjobs.client._client import Client
from appjobs.client._config import Retry, Timeouts
from appjobs.client._errors import (
    AmbiguousTemplate,
    AuthenticationError,
    AuthorizationError,
    BatchNotSupported,
    BatchRefused,
    ClientError,
    CsrfError,
    ErrorDetail,
    JobNotFound,
    JobStateError,
    NotFound,
    OperationNotOffered,
    OutcomeUnknown,
    ProtocolError,
    RestartRefused,
    ScheduleError,
    ScheduleOutcomeUnknown,
    ServiceError,
    ServiceUnavailable,
    TemplateNotFound,
    TransportError,
    UserNotFound,
    WrongHostError,
)
from appjobs.client._headers import JobHeader, LogMessage, LogSummary, Periodicity, StepDetail
from appjobs.client._models import (
    JobInfo,
    JobKey,
    JobState,
    JobStatus,
    JobSummary,
    RestartMode,
    StepInfo,
    Template,
)
from appjobs.client._params import CheckResult, ParameterRow, ParameterValue, parameter_values

__all__ = [
    "AmbiguousTemplate",
    "AuthenticationError",
    "AuthorizationError",
    "BatchNotSupported",
    "BatchRefused",
    "CheckResult",
    "Client",
    "ClientError",
    "CsrfError",
    "ErrorDetail",
    "JobHeader",
    "JobInfo",
    "JobKey",
    "JobNotFound",
    "JobState",
    "JobStateError",
    "JobStatus",
    "JobSummary",
    "LogMessage",
    "LogSummary",
    "NotFound",
    "OperationNotOffered",
    "OutcomeUnknown",
    "ParameterRow",
    "ParameterValue",
    "Periodicity",
    "ProtocolError",
    "RestartMode",
    "RestartRefused",
    "Retry",
    "Schedule",
    "ScheduleError",
    "ScheduleOutcomeUnknown",
    "ServiceError",
    "ServiceUnavailable",
    "StepDetail",
    "StepInfo",
    "Template",
    "TemplateNotFound",
    "Timeouts",
    "TransportError",
    "UserNotFound",
    "WrongHostError",
    "parameter_values",
]

# Reprs and tracebacks say appjobs.client.Client, not appjobs.client._client.Client (as httpx does).
for _name in __all__:
    globals()[_name].__module__ = __name__
del _name
