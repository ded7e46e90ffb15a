"""JobSchedule's JobParameterValues: SAP's JSON of template parameter values, read with care.

The format is ``{"VALUES": [{"STEP_NR": 1, "NAME": "P", "T_VALUE": [{"SIGN": "I",
"OPTION": "EQ", "LOW": "value", "HIGH": ""}]}]}``. appjobs parameters are
single values by name, so each entry's first ``LOW`` is taken and STEP_NR
is not needed: a name means the same parameter in every step::

    >>> parse_parameter_values('{"VALUES":[{"NAME":"MESSAGE","T_VALUE":[{"LOW":"hi"}]}]}')
    {'MESSAGE': 'hi'}

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

from appjobs import errors

MAX_DEPTH = 16
# A JSON string (escapes included) or a bracket: the brackets outside strings give the nesting depth.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_SURROGATE = re.compile("[\ud800-\udfff]")


def parse_parameter_values(raw: str) -> dict[str, str]:
    """Parameter values by name from *raw*, SAP's JobParameterValues; ``{}`` for an empty text."""
    if not raw or raw == "''":
        return {}
    _check_depth(raw)
    try:
        document = json.loads(raw)
        values = {
            str(entry["NAME"]): str((entry.get("T_VALUE") or [{}])[0].get("LOW", "")) for entry in document["VALUES"]
        }
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise errors.InvalidInput(f"JobParameterValues is not valid: {exc.__class__.__name__}: {exc}") from exc
    for name, value in values.items():
        _check_text(name, "name")
        _check_text(value, f"value of {name!r}" if _printable(name) else "value")
    return values


def _check_depth(raw: str) -> None:
    depth = 0
    for token in _TOKENS.finditer(raw):
        char = token[0]
        if char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise errors.InvalidInput(f"JobParameterValues is not valid: nested deeper than {MAX_DEPTH} levels")
        elif char in "]}":
            depth -= 1


def _check_text(text: str, what: str) -> None:
    if "\x00" in text:
        raise errors.InvalidInput(f"JobParameterValues is not valid: a parameter {what} contains a NUL (\\u0000)")
    if _SURROGATE.search(text):
        raise errors.InvalidInput(
            f"JobParameterValues is not valid: a parameter {what} contains a lone surrogate (\\ud800-\\udfff), "
            "which is not a character; send the character itself or its surrogate pair"
        )


def _printable(name: str) -> bool:
    return name.isprintable() and not _SURROGATE.search(name) and len(name) <= 40
