"""A template step's ``parameters`` in TOML: the old ``NAME = "default"`` form and full declarations.

Both forms may be mixed in one table (TOML cannot add to an inline table, so
mixing takes a ``[template.step.parameters]`` header)::

    [[template.step]]
    command = 'load --area "$AREA" --from "$FROM"'

    [template.step.parameters]
    AREA = "EU"                           # a string parameter with a default

    [template.step.parameters.FROM]       # a declared one
    type = "date"                         # string (default), integer, date, boolean
    default = 2026-01-01                  # a TOML date, or "20260101"
    mandatory = true                      # JobSchedule refuses a job without a value
    text = "First day to load"

    [template.step.parameters.PLANTS]
    select_option = true                  # SAP's select-option: several SIGN/OPTION/LOW/HIGH rows
    allowed = ["1000", "2000", "3000"]    # the only values LOW and HIGH may take
    default = [{ sign = "I", option = "BT", low = "1000", high = "2000" }]

A select-option's default is a string (one ``I EQ`` row), a list of strings,
or a list of tables with ``sign``, ``option``, ``low``, ``high``. Defaults
are checked like the values JobSchedule gets, and written in SAP's forms
(a date as ``YYYYMMDD``, a boolean as ``X`` or empty). A select-option
``NAME`` also reaches its step as ``NAME_RANGES``, so no other parameter of
the step may be called that.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from appjobs import errors, params
from appjobs.params import Declaration, ParamType, Row

DECLARATION_FIELDS = {"type", "default", "mandatory", "allowed", "text", "select_option"}
ROW_FIELDS = {"sign", "option", "low", "high"}
RANGES_SUFFIX = "_RANGES"


def parse_parameters(values: Any, where: str, check_name: Any) -> tuple[Declaration, ...]:
    """The declarations in a step's ``parameters`` table; *check_name(name, where)* vets each name."""
    if not isinstance(values, dict):
        raise errors.TemplateFileError(f"{where}: field 'parameters' must be a table of NAME = \"default\"")
    declarations = []
    for name, value in values.items():
        check_name(name, f"{where}.parameters")
        if isinstance(value, dict):
            declarations.append(_declaration(name, value, f"{where}.parameters.{name}"))
        elif isinstance(value, bool) or not isinstance(value, str | int | float):
            raise errors.TemplateFileError(
                f"{where}.parameters: {name}: default must be a string or a number, or a table declaring the parameter"
            )
        else:
            if len(str(value)) > params.MAX_VALUE:
                raise errors.TemplateFileError(f"{where}.parameters: {name}: default longer than 255 characters")
            declarations.append(params.declaration_from_default(name, str(value)))
    _check_ranges_names(declarations, where)
    return tuple(declarations)


def _declaration(name: str, table: dict[str, Any], where: str) -> Declaration:
    unknown = sorted(set(table) - DECLARATION_FIELDS)
    if unknown:
        known = ", ".join(sorted(DECLARATION_FIELDS))
        raise errors.TemplateFileError(f"{where}: unknown field {unknown[0]!r} (known: {known})")
    type_name = table.get("type", "string")
    kind = ParamType.parse(type_name) if isinstance(type_name, str) else None
    if kind is None:
        raise errors.TemplateFileError(
            f"{where}: field 'type': {type_name!r} is not a parameter type (string, integer, date, boolean)"
        )
    flags = {field: table.get(field, False) for field in ("mandatory", "select_option")}
    for field, flag in flags.items():
        if not isinstance(flag, bool):
            raise errors.TemplateFileError(f"{where}: field {field!r} must be true or false")
    text = table.get("text", "")
    if not isinstance(text, str) or len(text) > 120:
        raise errors.TemplateFileError(f"{where}: field 'text' must be a string of at most 120 characters")
    draft = Declaration(name, kind, flags["select_option"], (), False, (), text.strip())
    allowed = _allowed(draft, table.get("allowed", []), where)
    draft = Declaration(name, kind, draft.select_option, (), False, allowed, draft.text)
    default = _default(draft, table.get("default"), where)
    return Declaration(name, kind, draft.select_option, default, flags["mandatory"], allowed, draft.text)


def _allowed(draft: Declaration, values: Any, where: str) -> tuple[str, ...]:
    if not isinstance(values, list):
        raise errors.TemplateFileError(f"{where}: field 'allowed' must be a list of values")
    result = []
    for number, value in enumerate(values, 1):
        fixed, why = params.normalize_row(draft, Row(low=_text(value, f"{where}: field 'allowed'[{number}]")))
        if why or not fixed.low:
            reason = why[0] if why else "an empty value cannot be an allowed value"
            raise errors.TemplateFileError(f"{where}: field 'allowed'[{number}]: {reason}")
        result.append(fixed.low)
    return tuple(dict.fromkeys(result))


def _default(draft: Declaration, value: Any, where: str) -> tuple[Row, ...]:
    if value is None:
        return ()
    if isinstance(value, list):
        if not draft.select_option:
            raise errors.TemplateFileError(
                f"{where}: field 'default': a list of rows needs select_option = true; a parameter has one value"
            )
        rows = tuple(_row(item, f"{where}: field 'default'[{n}]") for n, item in enumerate(value, 1))
    else:
        rows = (Row(low=_text(value, f"{where}: field 'default'")),)
    checked, problems = params.check(draft, rows, 1)
    if problems:
        raise errors.TemplateFileError(f"{where}: field 'default': {problems[0].text}")
    return checked


def _row(item: Any, where: str) -> Row:
    if not isinstance(item, dict):
        return Row(low=_text(item, where))
    unknown = sorted(set(item) - ROW_FIELDS)
    if unknown:
        raise errors.TemplateFileError(f"{where}: unknown field {unknown[0]!r} (known: high, low, option, sign)")
    texts = {field: _text(item.get(field, ""), f"{where}.{field}") for field in ROW_FIELDS}
    return Row(texts["sign"] or "I", texts["option"], texts["low"], texts["high"])


def _text(value: Any, where: str) -> str:
    """A TOML value as a parameter value's text: dates as YYYYMMDD, booleans as X or empty."""
    if isinstance(value, bool):
        return "X" if value else ""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.strftime("%Y%m%d")
    if isinstance(value, str | int):
        return str(value)
    raise errors.TemplateFileError(f"{where}: {value!r} is not a value (a string, an integer, a date or a boolean)")


def _check_ranges_names(declarations: list[Declaration], where: str) -> None:
    names = {d.name for d in declarations}
    for declaration in declarations:
        ranges = declaration.name + RANGES_SUFFIX
        if declaration.select_option and ranges in names:
            raise errors.TemplateFileError(
                f"{where}.parameters: {ranges}: the select-option {declaration.name} reaches the step as "
                f"{declaration.name} and {ranges}, so no parameter may be called {ranges}"
            )
