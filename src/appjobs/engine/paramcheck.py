"""The parameter half of JobSchedule and JobScheduleCheck: from what the caller sent to each step's values.

:func:`assign` takes a template and the caller's entries (parsed JobParameterValues,
or the plain ``{NAME: value}`` of the admin command and older callers) and gives
each step's values, defaults filled in, or every problem. JobSchedule refuses a
job with problems (APJ_RT/032, naming each parameter); JobScheduleCheck lists
them (:class:`CheckResult`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from appjobs import errors, models, params

ParameterInput = Mapping[str, str] | Sequence[params.Entry]
SCHEDULE_FAILED = "APJ_RT/032"  #: "Job couldn't be scheduled.", the message every parameter problem comes under


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """What JobScheduleCheck answers, before it becomes OData: the values and the problems."""

    values: tuple[params.Value, ...]  #: every step's values, defaults filled in and normalized
    #: One line per problem, its SAP message id first (``APJ_RT/032 Parameter REPEAT (step 1): …``);
    #: empty when JobSchedule would schedule.
    problems: tuple[str, ...]
    changed: bool  #: the values differ from what was given (defaults filled in, values normalized)


class ParameterProblems(errors.InvalidInput):
    """Parameter values that JobSchedule cannot take; the message names each parameter."""

    def __init__(self, problems: Sequence[params.Problem]) -> None:
        super().__init__("; ".join(_capital(str(p)) for p in problems))
        self.problems = tuple(problems)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def entries(parameters: ParameterInput | None) -> list[params.Entry]:
    """*parameters* as entries: a mapping is one ``I EQ`` value per name, for every step that declares it."""
    if not parameters:
        return []
    if isinstance(parameters, Mapping):
        return [params.Entry(name, (params.Row(low=str(value)),)) for name, value in parameters.items()]
    return list(parameters)


def assign(template: models.Template, parameters: ParameterInput | None) -> dict[int, dict[str, params.Value]]:
    """Each step's parameter values for a job of *template*; :class:`ParameterProblems` when any is wrong."""
    values, problems = params.resolve(template.declarations(), entries(parameters))
    if problems:
        raise ParameterProblems(problems)
    by_step: dict[int, dict[str, params.Value]] = {}
    for (step, name), value in values.items():
        by_step.setdefault(step, {})[name] = value
    return by_step


def check(template: models.Template, parameters: ParameterInput | None) -> CheckResult:
    """JobScheduleCheck's view: every value, every problem, and whether the values differ from the input."""
    given = entries(parameters)
    declarations = template.declarations()
    values, problems = params.resolve(declarations, given)
    explicit = params.given_rows(declarations, given)
    changed = {key: value.rows for key, value in values.items()} != explicit
    sentences = tuple(f"{SCHEDULE_FAILED} {_capital(str(p))}" for p in problems)
    return CheckResult(tuple(values.values()), sentences, changed and not problems)
