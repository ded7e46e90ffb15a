"""Parameters in SAP's JobParameterValues format, as client records.

JobSchedule and JobScheduleCheck take parameters as a JSON text,
``{"VALUES":[{"STEP_NR":1,"NAME":"P","T_VALUE":[{"SIGN":"I","OPTION":"EQ","LOW":"v","HIGH":""}]}]}``;
JobParamValuesGet and TemplateValuesGet answer the same. Here that text
becomes :class:`ParameterValue` records and back::

    >>> parameter_values({"AREA": "EU"})
    '{"VALUES":[{"NAME":"AREA","T_VALUE":[{"SIGN":"I","OPTION":"EQ","LOW":"EU","HIGH":""}]}]}'
    >>> parameter_values([ParameterValue("PLANTS", (ParameterRow("I", "BT", "1000", "2000"),), step=1)])
    '{"VALUES":[{"STEP_NR":1,"NAME":"PLANTS","T_VALUE":[{"SIGN":"I","OPTION":"BT","LOW":"1000","HIGH":"2000"}]}]}'

A plain ``{NAME: value}`` mapping sets one value per name, in every step that
declares it (what SAP's documentation and the known clients send); records
add select-option rows (SIGN, OPTION, LOW, HIGH) and a step number (SAP's
STEP_NR; None for every step).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any

from appjobs.client._errors import ProtocolError


@dataclasses.dataclass(frozen=True)
class ParameterRow:
    """One row of a parameter's value: SIGN (I include, E exclude), OPTION (EQ, BT, CP, …), LOW, HIGH."""

    sign: str = "I"
    option: str = "EQ"
    low: str = ""
    high: str = ""


@dataclasses.dataclass(frozen=True)
class ParameterValue:
    """A parameter's value: one row for a single value, any number for a select-option."""

    name: str
    rows: tuple[ParameterRow, ...]
    step: int | None = None  #: the step it is for (SAP's STEP_NR); None: every step that declares it

    @classmethod
    def single(cls, name: str, value: str, step: int | None = None) -> ParameterValue:
        """A single value: one row ``I EQ value``."""
        return cls(name, (ParameterRow(low=value),), step)

    @property
    def value(self) -> str:
        """The first row's LOW: the value of a single-value parameter."""
        return self.rows[0].low if self.rows else ""


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """What JobScheduleCheck says of a template and parameters, without scheduling."""

    successful: bool  #: SuccessfulInd: JobSchedule would schedule the job
    changed: bool  #: ChangedInd: the service's parameters differ from those sent (defaults, normalized values)
    parameter_values: str  #: JobParameterValues as the service adjusted it; reusable for JobSchedule
    messages: tuple[str, ...]  #: ErrMessages, one line each (empty when successful)

    @property
    def values(self) -> tuple[ParameterValue, ...]:
        """:attr:`parameter_values` as records (empty when the text is not SAP's format)."""
        try:
            return parse_parameter_values(self.parameter_values)
        except ProtocolError:
            return ()


Parameters = Mapping[str, str] | Sequence[ParameterValue]


def parameter_values(values: Parameters) -> str:
    """JobParameterValues for *values*: a ``{NAME: value}`` mapping or :class:`ParameterValue` records."""
    if isinstance(values, Mapping):
        records: Sequence[ParameterValue] = [ParameterValue.single(n, str(v)) for n, v in values.items()]
    else:
        records = values
    entries = []
    for record in records:
        entry: dict[str, Any] = {} if record.step is None else {"STEP_NR": record.step}
        entry["NAME"] = record.name
        entry["T_VALUE"] = [{"SIGN": r.sign, "OPTION": r.option, "LOW": r.low, "HIGH": r.high} for r in record.rows]
        entries.append(entry)
    return json.dumps({"VALUES": entries}, ensure_ascii=False, separators=(",", ":"))


def parse_parameter_values(text: str) -> tuple[ParameterValue, ...]:
    """The records in a JobParameterValues *text*; :class:`ProtocolError` when it is not SAP's format."""
    if not text.strip():
        return ()
    try:
        return tuple(_record(entry) for entry in json.loads(text)["VALUES"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ProtocolError(f"the parameter values are not SAP's JobParameterValues format: {exc}") from exc


def _record(entry: Mapping[str, Any]) -> ParameterValue:
    step = entry.get("STEP_NR")
    rows = tuple(
        ParameterRow(*(str(row.get(k) or "") for k in ("SIGN", "OPTION", "LOW", "HIGH")))
        for row in entry.get("T_VALUE") or ()
    )
    return ParameterValue(str(entry["NAME"]), rows, int(step) if step not in (None, "", 0, "0") else None)


def struct_values(rows: Sequence[Mapping[str, Any]]) -> tuple[ParameterValue, ...]:
    """JobParamValuesStruct rows (one per SIGN/OPTION/LOW/HIGH) as records, one per step and name."""
    grouped: dict[tuple[int | None, str], list[ParameterRow]] = {}
    for row in rows:
        step = int(row.get("StepNr") or 0) or None
        values = grouped.setdefault((step, str(row["JobParameterName"])), [])
        if row.get("Sign") or row.get("Option") or row.get("Low") or row.get("High"):
            values.append(ParameterRow(*(str(row.get(k) or "") for k in ("Sign", "Option", "Low", "High"))))
    return tuple(ParameterValue(name, tuple(found), step) for (step, name), found in grouped.items())
