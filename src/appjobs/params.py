"""Template parameters as SAP has them: declarations, SIGN/OPTION/LOW/HIGH rows, and checking values.

A template step declares each parameter it takes (:class:`Declaration`): a
*type*, a *default*, whether it is *mandatory*, the *allowed* values, a
*text*, and its kind, SAP's ``KIND`` of a report's selection screen:

- ``P``, a **parameter**: one value (one row ``I EQ value``);
- ``S``, a **select-option**: any number of rows (:class:`Row`), each with a
  SIGN (``I`` include, ``E`` exclude), an OPTION (``EQ NE GT GE LT LE BT NB
  CP NP``), a LOW and, for ``BT``/``NB``, a HIGH.

Values are text on the wire, as SAP's are, in SAP's internal forms: an
integer in digits, a date as ``YYYYMMDD``, a boolean (a checkbox) as ``X``
or empty. :func:`normalize_row` accepts a few friendlier spellings
(``2026-12-06``, ``true``) and turns them into these; that is what
JobScheduleCheck reports as changed (``ChangedInd``).

Everything here is pure: no I/O, no OData, no storage. A problem is a
:class:`Problem`, naming the parameter and the step, so that JobSchedule
(APJ_RT/032) and JobScheduleCheck (``ErrMessages``) say the same.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import re
from collections.abc import Iterable, Mapping, Sequence

MAX_VALUE = 255  #: SAP's limit for a parameter value (LOW and HIGH each)
MAX_ROWS = 1000  #: rows of one select-option; more is refused rather than stored
SIGNS = ("I", "E")
OPTIONS = ("EQ", "NE", "GT", "GE", "LT", "LE", "BT", "NB", "CP", "NP")
PATTERN_OPTIONS = ("CP", "NP")  #: patterns (``*``, ``+``): only for text
INTERVAL_OPTIONS = ("BT", "NB")  #: the only options with a HIGH
_INTEGER = re.compile(r"^\s*[+-]?\d{1,19}\s*$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_TRUE = {"X", "x", "true", "TRUE", "True", "1"}
_FALSE = {"", "false", "FALSE", "False", "0", " "}


class ParamType(enum.StrEnum):
    """A parameter's type; the values are SAP's DDIC names (what JobTemplateValues shows as ``TYPE``)."""

    STRING = "CHAR"  #: any text up to 255 characters
    INTEGER = "INT4"  #: a whole number, in digits
    DATE = "DATS"  #: a date, ``YYYYMMDD``
    BOOLEAN = "BOOLE"  #: a checkbox: ``X`` or empty

    @classmethod
    def parse(cls, name: str) -> ParamType | None:
        """The type called *name* in a template file (``string``, ``integer``, ``date``, ``boolean``, or SAP's)."""
        return _TYPE_NAMES.get(name.lower())


_TYPE_NAMES = {
    "string": ParamType.STRING,
    "char": ParamType.STRING,
    "integer": ParamType.INTEGER,
    "int4": ParamType.INTEGER,
    "date": ParamType.DATE,
    "dats": ParamType.DATE,
    "boolean": ParamType.BOOLEAN,
    "boole": ParamType.BOOLEAN,
}


@dataclasses.dataclass(frozen=True)
class Row:
    """One row of a parameter's value: SAP's SIGN, OPTION, LOW, HIGH (a parameter has one ``I EQ`` row)."""

    sign: str = "I"
    option: str = "EQ"
    low: str = ""
    high: str = ""

    def to_sap(self) -> dict[str, str]:
        return {"SIGN": self.sign, "OPTION": self.option, "LOW": self.low, "HIGH": self.high}


def row_from_sap(row: Mapping[str, str]) -> Row:
    """A row from its SAP form (``SIGN``, ``OPTION``, ``LOW``, ``HIGH``), as :meth:`Row.to_sap` writes it."""
    return Row(row.get("SIGN", "I"), row.get("OPTION", "EQ"), row.get("LOW", ""), row.get("HIGH", ""))


@dataclasses.dataclass(frozen=True)
class Declaration:
    """What a template step declares about one of its parameters."""

    name: str
    type: ParamType = ParamType.STRING
    select_option: bool = False  #: SAP's KIND S (several rows) rather than P (one value)
    default: tuple[Row, ...] = ()  #: a parameter: at most one row
    mandatory: bool = False
    allowed: tuple[str, ...] = ()  #: the only values LOW and HIGH may take; empty: any of the type
    text: str = ""

    @property
    def kind(self) -> str:
        """SAP's KIND: ``S`` for a select-option, ``P`` for a parameter."""
        return "S" if self.select_option else "P"

    @property
    def default_value(self) -> str:
        """The default as one text: the first row's LOW (what the old ``NAME = "default"`` form holds)."""
        return self.default[0].low if self.default else ""


@dataclasses.dataclass(frozen=True)
class Value:
    """The value a job's step gets for one parameter."""

    step: int
    name: str
    rows: tuple[Row, ...]
    select_option: bool = False

    @property
    def first_low(self) -> str:
        """What a step sees as the variable NAME: the (first) LOW, empty when there is no row."""
        return self.rows[0].low if self.rows else ""


@dataclasses.dataclass(frozen=True)
class Entry:
    """One entry of a JobParameterValues text: rows for a name, in one step (STEP_NR) or in every step (None)."""

    name: str
    rows: tuple[Row, ...]
    step: int | None = None


@dataclasses.dataclass(frozen=True)
class Problem:
    """Why a parameter value cannot be taken; *name* and *step* say which (None: not about one step)."""

    name: str
    text: str
    step: int | None = None

    def __str__(self) -> str:
        where = f"parameter {self.name}" + (f" (step {self.step})" if self.step is not None else "")
        return f"{where}: {self.text}"


def declaration_from_default(name: str, default: str) -> Declaration:
    """The old form ``NAME = "default"``: a string parameter with that default."""
    return Declaration(name, default=(Row(low=default),))


def check(declaration: Declaration, rows: Sequence[Row], step: int) -> tuple[tuple[Row, ...], list[Problem]]:
    """*rows* for *declaration*, normalized (see :func:`normalize_row`), and the problems with them."""
    problems: list[Problem] = []

    def problem(text: str) -> None:
        problems.append(Problem(declaration.name, text, step))

    if not declaration.select_option and len(rows) > 1:
        problem(f"takes a single value, not {len(rows)} rows (it is not a select-option)")
    if len(rows) > MAX_ROWS:
        problem(f"has {len(rows)} rows; at most {MAX_ROWS} are taken")
        return tuple(rows), problems
    normalized = []
    for number, row in enumerate(rows, 1):
        fixed, why = normalize_row(declaration, row)
        normalized.append(fixed)
        label = f"row {number}: " if declaration.select_option else ""
        problems.extend(Problem(declaration.name, label + text, step) for text in why)
    if declaration.mandatory and not any(r.low.strip() or r.high.strip() for r in normalized):
        problem("is mandatory and has no value")
    return tuple(normalized), problems


def normalize_row(declaration: Declaration, row: Row) -> tuple[Row, list[str]]:
    """*row* in SAP's forms for the declaration's type, and what is wrong with it (empty when nothing)."""
    why: list[str] = []
    sign, option = row.sign.strip().upper() or "I", row.option.strip().upper() or ("BT" if row.high else "EQ")
    if sign not in SIGNS:
        why.append(f"SIGN {row.sign!r} is not I or E")
    if option not in OPTIONS:
        why.append(f"OPTION {row.option!r} is not one of {' '.join(OPTIONS)}")
    if not declaration.select_option and (sign, option) != ("I", "EQ"):
        why.append(f"takes a single value (SIGN I, OPTION EQ), not {sign} {option}")
    if option in PATTERN_OPTIONS and declaration.type is not ParamType.STRING:
        why.append(f"OPTION {option} (a pattern) is only for text, and this is a {declaration.type.name.lower()}")
    if row.high and option not in INTERVAL_OPTIONS:
        why.append(f"HIGH {row.high!r} is given, but only OPTION BT or NB takes one")
    low, low_why = _typed(declaration, row.low, "value")
    high, high_why = _typed(declaration, row.high, "HIGH value")
    why += low_why + high_why
    if option in INTERVAL_OPTIONS and not high:
        why.append(f"OPTION {option} needs a HIGH value")
    return Row(sign, option, low, high), why


def _typed(declaration: Declaration, value: str, what: str) -> tuple[str, list[str]]:
    """*value* in its type's SAP form, with the reasons it is not valid."""
    if len(value) > MAX_VALUE:
        return value, [f"{what} is longer than {MAX_VALUE} characters"]
    kind, fixed, why = declaration.type, value, []
    if kind is ParamType.INTEGER and value.strip():
        if _INTEGER.match(value) and -(2**31) <= int(value) < 2**31:
            fixed = str(int(value))
        else:
            why.append(f"{what} {value!r} is not an integer (INT4: -2147483648 to 2147483647)")
    elif kind is ParamType.DATE and value.strip():
        fixed = _date(value)
        if fixed is None:
            fixed = value
            why.append(f"{what} {value!r} is not a date (YYYYMMDD, as SAP writes dates; or YYYY-MM-DD)")
    elif kind is ParamType.BOOLEAN:
        if value in _TRUE or value in _FALSE:
            fixed = "X" if value in _TRUE else ""
        else:
            why.append(f"{what} {value!r} is not a checkbox value (X or empty)")
    if fixed and declaration.allowed and fixed not in declaration.allowed:
        why.append(f"{what} {fixed!r} is not allowed (allowed: {', '.join(declaration.allowed)})")
    return fixed, why


def _date(value: str) -> str | None:
    text = value.strip()
    iso = _ISO_DATE.match(text)
    digits = "".join(iso.groups()) if iso else text
    if len(digits) != 8 or not digits.isdigit():
        return None
    try:
        dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None
    return digits


def resolve(
    steps: Mapping[int, Sequence[Declaration]], entries: Iterable[Entry]
) -> tuple[dict[tuple[int, str], Value], list[Problem]]:
    """Every step's parameter values: *entries* over the declarations' defaults, checked.

    An entry without a step applies to every step that declares its name; one
    with a step (SAP's STEP_NR) to that step alone, and it wins over one
    without. Returns the values by (step, name), in step and declaration order,
    and every problem found (the values are meaningless when there are any).
    """
    given, problems = _given(steps, entries)
    values: dict[tuple[int, str], Value] = {}
    for number, declarations in steps.items():
        for declaration in declarations:
            rows = given.get((number, declaration.name), declaration.default)
            checked, why = check(declaration, rows, number)
            problems += why
            values[number, declaration.name] = Value(number, declaration.name, checked, declaration.select_option)
    return values, problems


def given_rows(steps: Mapping[int, Sequence[Declaration]], entries: Iterable[Entry]) -> dict[tuple[int, str], tuple]:
    """The rows *entries* set explicitly, by (step, name), before defaults: what ChangedInd compares with."""
    return _given(steps, entries)[0]


def _given(
    steps: Mapping[int, Sequence[Declaration]], entries: Iterable[Entry]
) -> tuple[dict[tuple[int, str], tuple[Row, ...]], list[Problem]]:
    declared = {number: {d.name for d in declarations} for number, declarations in steps.items()}
    everywhere: dict[str, tuple[Row, ...]] = {}
    per_step: dict[tuple[int, str], tuple[Row, ...]] = {}
    problems: list[Problem] = []
    for entry in entries:
        if entry.step is None:
            if not any(entry.name in names for names in declared.values()):
                problems.append(Problem(entry.name, "is not a parameter of this job template"))
            elif entry.name in everywhere:
                problems.append(Problem(entry.name, "is given twice"))
            everywhere[entry.name] = entry.rows
        elif entry.step not in declared:
            problems.append(Problem(entry.name, f"STEP_NR {entry.step}: the template has no such step", entry.step))
        elif entry.name not in declared[entry.step]:
            problems.append(Problem(entry.name, "is not a parameter of this step", entry.step))
        elif (entry.step, entry.name) in per_step:
            problems.append(Problem(entry.name, "is given twice", entry.step))
        else:
            per_step[entry.step, entry.name] = entry.rows
    given = {(n, name): rows for name, rows in everywhere.items() for n, names in declared.items() if name in names}
    return given | per_step, problems
