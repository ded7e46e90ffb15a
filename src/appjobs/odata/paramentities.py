"""Parameters in SAP's shapes: the results of the parameter function imports, and JobTemplate's JSON properties.

* **JobParameterValues** (JobParamValuesGet, TemplateValuesGet, JobScheduleCheck): the text
  JobSchedule takes, ``{"VALUES":[{"STEP_NR":1,"NAME":"P","T_VALUE":[{"SIGN":"I","OPTION":"EQ",
  "LOW":"v","HIGH":""}]}]}``, one entry per step and parameter (:func:`appjobs.odata.jobparams.format_values`).
* **JobParamValuesStruct** rows (…StructGet): one per SIGN/OPTION/LOW/HIGH row, keyed StepNr and
  JobParameterName as SAP's model has it, so a select-option's rows share a key; a select-option
  without rows gives one row with empty Sign, Option, Low and High.
* **JobTemplateValues** (JobTemplateSet): the template's defaults in the same VALUES format, each
  entry with its declaration added: ``KIND`` (``P`` parameter, ``S`` select-option), ``TYPE`` (``CHAR``,
  ``INT4``, ``DATS``, ``BOOLE``), ``MANDATORY``, ``ALLOWED`` (list; empty: any), ``TEXT``. JobSchedule
  ignores those keys, so the text is also a valid JobParameterValues.
* **JobTemplateSequence** (JobTemplateSet): the steps as a JSON list of objects with the properties of
  SAP's JobTemplateSequence type (``JobSequenceName`` ``0001``…, ``JobSequencePosition``,
  ``JobSequenceText``, ``BasicJobCatalogEntryName``, ``JceText``).
* **TemplateData** (JobTemplateRead): the shape third-party tools parse,
  ``{"templates":[{"text":…,"sequences":[{"basic_jce_name":…,"seq_position":1,"seq_param_val":[{"name":…,
  "label":…,"hidden":false,"value":[{"sign":…,"option":…,"low":…,"high":…}]}]}]}]}``, each parameter
  also with ``kind``, ``type``, ``mandatory`` and ``allowed``.

A template's parameter without a default is delivered too ("the parameters not pre-defined in the
application job template are also delivered"): a parameter with one empty ``I EQ`` row, a
select-option with no rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from appjobs import models, params
from appjobs.odata.jobparams import format_values

SapEntity = dict[str, Any]


def template_values(template: models.Template) -> list[params.Value]:
    """Every parameter of every step of *template* with its default (see the module docstring)."""
    return [
        params.Value(step.number, d.name, _default_rows(d), d.select_option)
        for step in template.steps
        for d in step.declared()
    ]


def _default_rows(declaration: params.Declaration) -> tuple[params.Row, ...]:
    if declaration.default or declaration.select_option:
        return declaration.default
    return (params.Row(),)


def param_values_entity(values: Iterable[params.Value]) -> SapEntity:
    """A JobParamValues entity: the values as JobSchedule's JobParameterValues."""
    return {"ParameterValues": format_values(values)}


def struct_entities(values: Iterable[params.Value]) -> list[SapEntity]:
    """JobParamValuesStruct entities: one per row of each value."""
    result = []
    for value in values:
        for row in value.rows or (params.Row("", "", "", ""),):
            result.append(
                {
                    "StepNr": value.step,
                    "JobParameterName": value.name,
                    "Sign": row.sign,
                    "Option": row.option,
                    "Low": row.low,
                    "High": row.high,
                }
            )
    return result


def check_entity(parameter_values: str, problems: Iterable[str], *, changed: bool) -> SapEntity:
    """A JobScheduleCheck entity; ErrMessages holds one line per problem (empty: it would schedule)."""
    lines = list(problems)
    return {
        "JobParameterValues": parameter_values,
        "SuccessfulInd": not lines,
        "ChangedInd": changed,
        "DynamicProperties": "",
        "ErrMessages": "\n".join(lines),
    }


def template_values_json(template: models.Template) -> str:
    """JobTemplate's JobTemplateValues: the defaults as JobParameterValues, with the declarations."""
    entries = []
    for step in template.steps:
        for d in step.declared():
            entries.append(
                {
                    "STEP_NR": step.number,
                    "NAME": d.name,
                    "KIND": d.kind,
                    "TYPE": d.type.value,
                    "MANDATORY": d.mandatory,
                    "ALLOWED": list(d.allowed),
                    "TEXT": d.text,
                    "T_VALUE": [row.to_sap() for row in _default_rows(d)],
                }
            )
    return _json({"VALUES": entries})


def sequence_json(template: models.Template) -> str:
    """JobTemplate's JobTemplateSequence: its steps, with the properties of SAP's JobTemplateSequence."""
    return _json([_sequence(template, step) for step in template.steps])


def _sequence(template: models.Template, step: models.TemplateStep) -> SapEntity:
    return {
        "JobSequenceName": sequence_name(step.number),
        "JobSequencePosition": step.number,
        "JobSequenceText": step.text,
        "BasicJobCatalogEntryName": template.name,
        "JceText": template.text,
    }


def sequence_name(step_number: int) -> str:
    """A step's JobSequenceName: its number in four digits, ``0001`` for step 1."""
    return f"{step_number:04d}"


def parameter_name(name: str, step_number: int) -> str:
    """JobTemplateParameter's JobTemplateParameterName: the name, padded to 8, then the step's sequence name.

    SAP's names carry this suffix (``P_TSKID 0001``, ``S_MATNR0001``: an 8-character ABAP name and the
    sequence), which keeps the key (template, version, name) unique when two steps declare one name. A
    name longer than 8 characters is followed by the suffix directly (``PLANTS_AREA0002``); dropping the
    last four characters and the trailing blanks gives back the ``NAME`` of JobTemplateValues and
    JobTemplateRead, whose ``STEP_NR``/``seq_position`` is the suffix's number.
    """
    return name.ljust(8) + sequence_name(step_number)


def sequence_entities(template: models.Template) -> list[SapEntity]:
    """JobTemplateSequence entities (JobTemplateSequenceSet): one per step, as JobTemplateSequence's JSON has them."""
    key = {"JobTemplateName": template.name, "JobTemplateVersion": template.version}
    return [key | _sequence(template, step) for step in template.steps]


def parameter_entities(template: models.Template) -> list[SapEntity]:
    """JobTemplateParameter entities (JobTemplateParameterSet): one per declared parameter of each step.

    Only the mandatory indicator has a counterpart; hidden, read-only, value help and the group are empty.
    """
    return [
        {
            "BasicJobCatalogEntryName": template.name,
            "JobTempParamHasVhInd": "",
            "JobTemplateName": template.name,
            "JobTempParamReadOnlyInd": "",
            "JobTemplateParamGroupName": "",
            "JobSequenceName": sequence_name(step.number),
            "JobTemplateVersion": template.version,
            "JobTemplateParameterName": parameter_name(d.name, step.number),
            "JobTempParamHiddenInd": "",
            "JobTempParamMandatoryInd": "X" if d.mandatory else "",
        }
        for step in template.steps
        for d in step.declared()
    ]


def template_data_entity(template: models.Template) -> SapEntity:
    """JobTemplateRead's JobTemplateParamValueData: TemplateData, JSON in the shape third parties parse."""
    sequences = [
        {
            "basic_jce_name": template.name,
            "seq_position": step.number,
            "seq_text": step.text,
            "seq_param_val": [_param_json(d) for d in step.declared()],
        }
        for step in template.steps
    ]
    document = {"templates": [{"name": template.name, "text": template.text, "sequences": sequences}]}
    return {"TemplateData": _json(document)}


def _param_json(d: params.Declaration) -> dict[str, Any]:
    rows = [{"sign": r.sign, "option": r.option, "low": r.low, "high": r.high} for r in _default_rows(d)]
    return {
        "name": d.name,
        "label": d.text or d.name,
        "hidden": False,
        "kind": d.kind,
        "type": d.type.value,
        "mandatory": d.mandatory,
        "allowed": list(d.allowed),
        "value": rows,
    }


def _json(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))
