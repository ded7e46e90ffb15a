"""The Schedule page's form: a template's declared parameters as inputs, and the start the reader chose.

**Field names.** A template whose parameter names are each declared in one
step only (every demo template) has one input per parameter,
``param-NAME``. A template that declares the same name in several steps
gets one input per step and parameter, ``param-STEP-NAME``, for all of its
parameters, so that the steps can take different values. Either way the
value goes to its own step (SAP's STEP_NR), and JobService checks it as
JobScheduleCheck does (:mod:`appjobs.engine.paramcheck`).

**Inputs by type.** A date is an ``<input type="date">`` (it sends
``YYYY-MM-DD``, which the check turns into SAP's ``YYYYMMDD``); a boolean a
checkbox (``X`` when ticked); a single value with allowed values a select; a
select-option a text area with one row per line, ``SIGN OPTION LOW [HIGH]``
(``I BT 1000 2000``), or a bare value for ``I EQ value``; anything else a text
input. Nothing is checked in the browser but "mandatory": the server's
check names the parameter and the step, in the words the API uses.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence

from appjobs import errors, models, params

ROW_HELP = "One row per line: SIGN OPTION LOW [HIGH], e.g. I BT 1000 2000; a bare value means I EQ value."


@dataclasses.dataclass(frozen=True)
class ParamField:
    """One input of the form: which step's which parameter, its declaration, and what it shows."""

    id: str  #: ``param-NAME`` or ``param-STEP-NAME``; also the form field's name
    step: int
    declaration: params.Declaration
    value: str  #: what the input shows: the default, the copied value, or what the reader sent

    @property
    def widget(self) -> str:
        d = self.declaration
        if d.select_option:
            return "rows"
        if d.type is params.ParamType.BOOLEAN:
            return "checkbox"
        if d.allowed:
            return "select"
        return "date" if d.type is params.ParamType.DATE else "text"


def separate_steps(template: models.Template) -> bool:
    """True when some parameter name is declared in more than one step: then each step gets its own inputs."""
    counts = collections.Counter(d.name for step in template.steps for d in step.declared())
    return any(n > 1 for n in counts.values())


def field_id(template: models.Template, step: int, name: str) -> str:
    return f"param-{step}-{name}" if separate_steps(template) else f"param-{name}"


def fields(template: models.Template, shown: Mapping[str, str] | None = None) -> list[ParamField]:
    """The inputs of *template*'s parameters, showing *shown* (by field id) or else the defaults."""
    result = []
    for step in template.steps:
        for d in step.declared():
            fid = field_id(template, step.number, d.name)
            value = shown[fid] if shown is not None and fid in shown else show_rows(d, d.default)
            result.append(ParamField(fid, step.number, d, value))
    return result


def show_rows(declaration: params.Declaration, rows: Sequence[params.Row]) -> str:
    """*rows* as the input shows them: a value, a date as YYYY-MM-DD, a select-option's rows one per line."""
    if declaration.select_option:
        return "\n".join(" ".join(p for p in (r.sign, r.option, r.low, r.high) if p) for r in rows)
    low = rows[0].low if rows else ""
    if declaration.type is params.ParamType.DATE and len(low) == 8 and low.isdigit():
        return f"{low[:4]}-{low[4:6]}-{low[6:]}"
    return low


def copied(template: models.Template, values: Sequence[params.Value]) -> dict[str, str]:
    """What the inputs show for a copy of a job whose parameter values were *values*."""
    declared = {(s.number, d.name): d for s in template.steps for d in s.declared()}
    shown = {}
    for value in values:
        declaration = declared.get((value.step, value.name))
        if declaration is not None:
            shown[field_id(template, value.step, value.name)] = show_rows(declaration, value.rows)
    return shown


def sent(template: models.Template, form: Mapping[str, object]) -> dict[str, str]:
    """What the reader sent for each input, by field id.

    An unticked checkbox sends nothing: empty. Any other input left out of the form (a script's POST, not a
    browser's) keeps its default.
    """
    shown = {}
    for f in fields(template):
        raw = form.get(f.id)
        if f.widget == "checkbox":
            shown[f.id] = "X" if raw else ""
        elif isinstance(raw, str):
            shown[f.id] = raw
    return shown


def entries(template: models.Template, shown: Mapping[str, str]) -> list[params.Entry]:
    """The parameter entries the inputs hold, each for its own step; a malformed row is InvalidInput naming it."""
    result = []
    for f in fields(template, shown):
        if f.widget == "rows":
            rows = tuple(_row(f, line) for line in f.value.splitlines() if line.strip())
        else:
            rows = (params.Row(low=f.value.strip()),)
        result.append(params.Entry(f.declaration.name, rows, f.step))
    return result


def _row(f: ParamField, line: str) -> params.Row:
    parts = line.split()
    if len(parts) == 1:
        return params.Row(low=parts[0])
    if len(parts) in (3, 4):
        return params.Row(*parts)
    raise errors.InvalidInput(
        f"Parameter {f.declaration.name} (step {f.step}): the row {line.strip()!r} is not SIGN OPTION LOW [HIGH]."
    )


# --- when it starts ----------------------------------------------------------------------------------------------

START_CHOICES = ("now", "at", "series")


@dataclasses.dataclass(frozen=True)
class Start:
    """The start the form asks for, as the reader typed it (shown again after a problem)."""

    choice: str = "now"  #: now, at or series
    start_at: str = ""  #: ``datetime-local`` text, local to *timezone*
    timezone: str = "UTC"
    every: str = "1d"
    count: str = ""
    until: str = ""

    @classmethod
    def read(cls, form: Mapping[str, object]) -> Start:
        def text(name: str, default: str = "") -> str:
            value = form.get(name)
            return value.strip() if isinstance(value, str) and value.strip() else default

        return cls(text("start", "now"), text("start_at"), text("timezone", "UTC"), text("every", "1d"),
                   text("count"), text("until"))  # fmt: skip

    def check(self) -> None:
        """Refuse a start that contradicts itself, naming the field (the times are checked when scheduling)."""
        if self.choice not in START_CHOICES:
            raise errors.InvalidInput(f"Start: {self.choice!r} is not one of at once, at a time, or as a series.")
        if self.choice == "at" and not self.start_at:
            raise errors.InvalidInput("Start at: give the date and time the job starts.")
        if self.choice == "series" and self.count and self.until:
            raise errors.InvalidInput("Count and Until both end a series: give one of them.")
        if self.count and not (self.count.isdigit() and int(self.count) >= 1):
            raise errors.InvalidInput(f"Count: {self.count!r} is not a whole number of starts, 1 or more.")


def local_now(timezone: str) -> str:
    """Now, as a ``datetime-local`` value in *timezone* (UTC if it is not one): what the Start at input shows."""
    from appjobs import recurrence

    try:
        zone = recurrence.zone(timezone)
    except errors.AppjobsError:
        zone = recurrence.zone("UTC")
    return (models.utcnow() + dt.timedelta(minutes=5)).astimezone(zone).strftime("%Y-%m-%dT%H:%M")
