"""The parameter operations of the client: JobScheduleCheck, JobParamValuesGet and TemplateValuesGet.

SAP added these to the service in 2024 and 2025; an older tenant answers 404
("Resource not found for the segment …") for a function import it does not
have. The methods here turn that into :class:`OperationNotOffered`, which names
the operation, instead of a bare NotFound.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from appjobs.client import _literals as literals
from appjobs.client import _records as records
from appjobs.client._errors import NotFound, OperationNotOffered, OutcomeUnknown, ProtocolError, ServiceUnavailable
from appjobs.client._models import JobKey
from appjobs.client._params import CheckResult, Parameters, ParameterValue, parameter_values, parse_parameter_values
from appjobs.client._parsing import read_rows
from appjobs.client._transport import Answer, Transport

T = TypeVar("T")
JSON_FORMAT = ("$format", "json")
#: When SAP added each operation, for the message that says a tenant does not have it.
ADDED = {
    "JobScheduleCheck": "SAP added it in 2024",
    "JobParamValuesGet": "SAP added it in 2024",
    "JobParamValuesStructGet": "SAP added it in 2024",
    "TemplateValuesGet": "SAP added it in 2025",
}


class ParameterCalls:
    """The parameter operations; :class:`~appjobs.client.Client` has them as methods."""

    _transport: Transport

    def check(
        self, template_name: str, parameters: Parameters | None = None, *, job_user: str | None = None
    ) -> CheckResult:
        """What JobSchedule would say of *parameters* for *template_name*, scheduling nothing (JobScheduleCheck).

        *parameters* as for :meth:`Client.schedule`. The result says whether the job
        would be scheduled, the messages when not, and the parameters as the
        service would take them (defaults filled in). :class:`OperationNotOffered`
        when the service is older than the operation; :class:`TemplateNotFound`
        for an unknown template.
        """
        pairs = [("JobTemplateName", literals.string(template_name))]
        if job_user:
            pairs.append(("JobUser", literals.string(job_user)))
        if parameters:
            pairs.append(("JobParameterValues", literals.string(parameter_values(parameters))))
        url = self._transport.url("JobScheduleCheck", literals.query([*pairs, JSON_FORMAT]))
        return self._supported(
            "JobScheduleCheck", lambda: self._transport.post(url, _check, operation="JobScheduleCheck")
        )

    def job_parameters(self, job: JobKey) -> tuple[ParameterValue, ...]:
        """The parameters *job* was scheduled with, for each step (JobParamValuesGet).

        :func:`appjobs.client.parameter_values` of the result schedules a job with the same parameters.
        """
        pairs = [("JobName", literals.string(job.name)), ("JobCount", literals.string(job.run_count)), JSON_FORMAT]
        url = self._transport.url("JobParamValuesGet", literals.query(pairs))
        return self._supported("JobParamValuesGet", lambda: self._transport.get(url, _values("ParameterValues")))

    def template_parameters(self, template_name: str) -> tuple[ParameterValue, ...]:
        """Every parameter of the template's steps with its default, those without one too (TemplateValuesGet)."""
        pairs = [("JobTemplateName", literals.string(template_name)), JSON_FORMAT]
        url = self._transport.url("TemplateValuesGet", literals.query(pairs))
        return self._supported("TemplateValuesGet", lambda: self._transport.get(url, _values("ParameterValues")))

    def _supported(self, operation: str, call: Callable[[], T]) -> T:
        """*call*'s result; :class:`OperationNotOffered` when the service does not have *operation*."""
        try:
            return call()
        except (NotFound, ServiceUnavailable, OutcomeUnknown) as exc:
            # 404: SAP Gateway's answer for an unknown function import (APJ_RT messages come as 400);
            # 501: a server that declares the operation but does not implement it (appjobs before 2026-12).
            if exc.status not in (404, 501):
                raise
            raise OperationNotOffered(
                f"the service at {self._transport.root} does not offer {operation} ({ADDED[operation]}); "
                f"it answered HTTP {exc.status}: {exc}",
                status=exc.status,
                operation=operation,
            ) from exc


def _entity(answer: Answer) -> records.Row:
    rows = read_rows(answer.body).rows
    if len(rows) != 1:
        raise ProtocolError(f"expected one entity in the answer, got {len(rows)}")
    return rows[0]


def _check(answer: Answer) -> CheckResult:
    row = _entity(answer)
    messages = records.text(row.get("ErrMessages"))
    return CheckResult(
        successful=records.boolean(row.get("SuccessfulInd")),
        changed=records.boolean(row.get("ChangedInd")),
        parameter_values=records.text(row.get("JobParameterValues")),
        messages=tuple(line for line in messages.splitlines() if line.strip()),
    )


def _values(field: str) -> Callable[[Answer], tuple[ParameterValue, ...]]:
    return lambda answer: parse_parameter_values(records.text(_entity(answer).get(field)))
