"""JobSchedule's JobParameterValues (and JobParameterValuesSimple): SAP's JSON of parameter values, read with care.

The format is ``{"VALUES": [{"STEP_NR": 1, "NAME": "P", "T_VALUE": [{"SIGN": "I",
"OPTION": "EQ", "LOW": "value", "HIGH": ""}]}]}``. :func:`parse_entries` reads
every entry: its name, its step (``STEP_NR``: a number, or a text of digits;
absent, ``0`` or empty means every step that declares the name) and its rows
(``T_VALUE``; a row's missing SIGN is ``I``, a missing OPTION ``EQ``, or
``BT`` when it has a HIGH). Keys it does not know are ignored, so the
declarations JobTemplateValues adds (``KIND``, ``TYPE``, …) do no harm.
:func:`format_values` writes the same format back: what JobParamValuesGet,
TemplateValuesGet and JobScheduleCheck answer, reusable for JobSchedule::

    >>> parse_entries('{"VALUES":[{"NAME":"MESSAGE","T_VALUE":[{"LOW":"hi"}]}]}')
    [Entry(name='MESSAGE', rows=(Row(sign='I', option='', low='hi', high=''),), step=None)]

(:func:`parse_parameter_values` is the older reading: each name's first LOW.)

The text comes from anybody who may log on, so what JSON itself allows but
nothing downstream can hold is refused here, with a reason, as
:class:`~appjobs.errors.InvalidInput` (JobSchedule answers APJ_RT/032):

- nesting deeper than :data:`MAX_DEPTH` (SAP's own format needs 4; Python's
  parser would run out of stack at about a thousand);
- a NUL (``\\u0000``), which PostgreSQL cannot store in text;
- a lone surrogate (``\\ud800``), which is not a character and has no UTF-8
  form, so neither database, nor a step's environment, can take it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from appjobs import errors, params

MAX_DEPTH = 16
# A JSON string (escapes included) or a bracket: the brackets outside strings give the nesting depth.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_SURROGATE = re.compile("[\ud800-\udfff]")


def parse_parameter_values(raw: str) -> dict[str, str]:
    """Parameter values by name from *raw*, SAP's JobParameterValues; ``{}`` for an empty text."""
    return {entry.name: (entry.rows[0].low if entry.rows else "") for entry in parse_entries(raw)}


def parse_entries(raw: str, field: str = "JobParameterValues") -> list[params.Entry]:
    """The entries of *raw*; :class:`~appjobs.errors.InvalidInput` naming *field* when it is not SAP's format."""
    if not raw or raw == "''":
        return []
    _check_depth(raw, field)
    try:
        document = json.loads(raw)
        values = document["VALUES"]
        if not isinstance(values, list):
            raise TypeError("VALUES must be a list")
        entries = [_entry(entry) for entry in values]
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise errors.InvalidInput(f"{field} is not valid: {exc.__class__.__name__}: {exc}") from exc
    for entry in entries:
        _check_text(entry.name, "name", field)
        what = f"value of {entry.name!r}" if _printable(entry.name) else "value"
        for row in entry.rows:
            for text in (row.sign, row.option, row.low, row.high):
                _check_text(text, what, field)
    return entries


def _entry(entry: Any) -> params.Entry:
    if not isinstance(entry, dict):
        raise TypeError("each entry of VALUES must be an object with NAME and T_VALUE")
    name = entry["NAME"]
    if not isinstance(name, str):
        raise TypeError(f"NAME must be a string, not {type(name).__name__}")
    rows = entry.get("T_VALUE") or []
    if not isinstance(rows, list):
        raise TypeError(f"T_VALUE of {name[:40]!r} must be a list of rows")
    return params.Entry(name, tuple(_row(row) for row in rows), _step(entry.get("STEP_NR")))


def _step(value: Any) -> int | None:
    """STEP_NR: a positive number or a text of digits; absent, null, 0 or empty: every step."""
    if value is None or (isinstance(value, str | int) and value in ("", 0)):
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"STEP_NR must be a step number, not {value!r:.40}")
    text = str(value).strip()
    if not text.isdecimal() or not text.isascii() or len(text) > 9:
        raise ValueError(f"STEP_NR must be a step number, not {text[:40]!r}")
    return int(text) or None


def _row(row: Any) -> params.Row:
    if not isinstance(row, dict):
        raise TypeError("each row of T_VALUE must be an object with SIGN, OPTION, LOW, HIGH")
    texts = {key: _text(row.get(key, ""), key) for key in ("SIGN", "OPTION", "LOW", "HIGH")}
    return params.Row(texts["SIGN"] or "I", texts["OPTION"], texts["LOW"], texts["HIGH"])


def _text(value: Any, key: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TypeError(f"{key} must be a string, not {type(value).__name__}")
    return str(value)


def format_values(values: Iterable[params.Value]) -> str:
    """SAP's JobParameterValues for *values*: one entry per step and name, compact JSON."""
    entries = [
        {"STEP_NR": value.step, "NAME": value.name, "T_VALUE": [row.to_sap() for row in value.rows]} for value in values
    ]
    return json.dumps({"VALUES": entries}, ensure_ascii=False, separators=(",", ":"))


def _check_depth(raw: str, field: str = "JobParameterValues") -> None:
    depth = 0
    for token in _TOKENS.finditer(raw):
        char = token[0]
        if char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise errors.InvalidInput(f"{field} is not valid: nested deeper than {MAX_DEPTH} levels")
        elif char in "]}":
            depth -= 1


def _check_text(text: str, what: str, field: str = "JobParameterValues") -> None:
    if "\x00" in text:
        raise errors.InvalidInput(f"{field} is not valid: a parameter {what} contains a NUL (\\u0000)")
    if _SURROGATE.search(text):
        raise errors.InvalidInput(
            f"{field} is not valid: a parameter {what} contains a lone surrogate (\\ud800-\\udfff), "
            "which is not a character; send the character itself or its surrogate pair"
        )


def _printable(name: str) -> bool:
    return name.isprintable() and not _SURROGATE.search(name) and len(name) <= 40
