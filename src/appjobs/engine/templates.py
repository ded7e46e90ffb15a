"""Job templates from TOML files.

A file holds one or more templates; each has a text, optionally a name, and
one or more steps. A step is a shell command or a Python callable, with named
parameters and their defaults::

    [[template]]
    name = "/APPJOBS/DEMO_SLEEP"     # optional; user templates get "Z" + 26 base32 characters
    text = "Sleep"
    supports_test_mode = false       # optional
    recurrence = { every = "1d", at = "02:00", timezone = "Europe/Berlin" }  # optional: see below

    [[template.step]]
    text = "Sleep a while"           # optional
    command = 'sleep "$SECONDS"'     # or: callable = "package.module:function"
    parameters = { SECONDS = "30" }  # optional; names are upper case, values strings
                                     # (or typed declarations: see appjobs.engine.template_params)

Shell steps see their parameters as environment variables; callables get
them as keyword arguments. A step's environment is otherwise clean (see
:func:`appjobs.engine.steps.environment`); ``pass_env = ["ORACLE_HOME"]``,
on a template (for each of its steps) or a step, passes more of the worker's
variables through. ``recurrence`` is the template's default recurrence
(SAP's JobPeriodicGranularity/JobPeriodicValue, used by ``admin jobs schedule
--default-recurrence``): *every* as :meth:`appjobs.recurrence.Recurrence.parse`
reads it (15m, 2h, 1d, 1w, 1mo), *at* an optional local HH:MM of the first
start, *timezone* an optional IANA name (UTC). Every problem is reported with the file and the
field (``jobs.toml: template[2].step[1]: unknown field 'comand'``), and an
invalid file imports nothing.
"""

from __future__ import annotations

import datetime as dt
import pathlib
import re
import tomllib
from typing import Any

from appjobs import errors, models, recurrence
from appjobs.engine import callables, template_params

TEMPLATE_FIELDS = {"name", "text", "supports_test_mode", "business_users", "pass_env", "recurrence", "step"}
RECURRENCE_FIELDS = {"every", "at", "timezone"}
AT_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
STEP_FIELDS = {"text", "command", "callable", "parameters", "warning_exit_codes", "pass_env"}
CALLABLE_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
# Parameters become environment variables of shell steps; these would break the step itself.
RESERVED_PARAMETERS = {"PATH", "HOME", "SHELL", "USER", "LOGNAME", "PWD", "IFS", "LANG", "TZ", "TMPDIR", "ENV"}
RESERVED_PREFIXES = ("APPJOBS_", "LD_", "LC_", "PYTHON")
# pass_env names: any environment variable name, except appjobs' own (the server's settings and secrets).
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


def load_file(path: str | pathlib.Path, *, by: str, now: dt.datetime) -> list[models.Template]:
    """Parse and validate the templates in *path*; :class:`~appjobs.errors.TemplateFileError` if invalid."""
    path = pathlib.Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise errors.TemplateFileError(f"{path}: cannot read: {exc}") from exc
    return parse(text, source=str(path), by=by, now=now)


def parse(text: str, *, source: str, by: str, now: dt.datetime) -> list[models.Template]:
    """Parse templates from TOML *text*; *source* names it in error messages."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise errors.TemplateFileError(f"{source}: not valid TOML: {exc}") from exc
    _check_no_nul(document, source)
    unknown = set(document) - {"template"}
    if unknown:
        raise errors.TemplateFileError(
            f"{source}: unknown top-level key {sorted(unknown)[0]!r} (expected [[template]])"
        )
    entries = document.get("template")
    if not isinstance(entries, list) or not entries:
        raise errors.TemplateFileError(f"{source}: no [[template]] tables")
    templates = [_template(entry, f"{source}: template[{i}]", by, now) for i, entry in enumerate(entries, 1)]
    seen: dict[str, int] = {}
    for i, template in enumerate(templates, 1):
        if template.name in seen:
            raise errors.TemplateFileError(
                f"{source}: template[{i}]: duplicate template {template.name} (also template[{seen[template.name]}])"
            )
        seen[template.name] = i
    return templates


def _check_no_nul(value: Any, where: str, separator: str = ": ") -> None:
    """Refuse a NUL (TOML's ``\\u0000``) anywhere: PostgreSQL cannot store it, nor can a command line carry it."""
    if isinstance(value, str) and "\x00" in value:
        raise errors.TemplateFileError(f"{where}: {value!r} contains a NUL character (\\u0000)")
    if isinstance(value, list):
        for number, item in enumerate(value, 1):
            _check_no_nul(item, f"{where}[{number}]", ".")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_no_nul(key, where)
            _check_no_nul(item, f"{where}{separator}{key}", ".")


def _template(entry: Any, where: str, by: str, now: dt.datetime) -> models.Template:
    _check_fields(entry, TEMPLATE_FIELDS, where)
    text = _string(entry, "text", where, required=True, max_length=120)
    name = _string(entry, "name", where, max_length=40) or models.user_template_name(text)
    if not models.TEMPLATE_NAME_RE.match(name):
        raise errors.TemplateFileError(
            f"{where}: field 'name': {name!r} is not a template name (like /NAMESPACE/NAME or Z + 26 base32 characters)"
        )
    test_mode = entry.get("supports_test_mode", False)
    if not isinstance(test_mode, bool):
        raise errors.TemplateFileError(f"{where}: field 'supports_test_mode' must be true or false")
    steps = entry.get("step")
    if not isinstance(steps, list) or not steps:
        raise errors.TemplateFileError(f"{where}: needs at least one [[template.step]]")
    pass_env = _pass_env(entry.get("pass_env", []), where)
    return models.Template(
        name=name,
        text=text,
        steps=tuple(_step(step, f"{where}.step[{n}]", n, pass_env) for n, step in enumerate(steps, 1)),
        supports_test_mode=test_mode,
        business_users=_business_users(entry.get("business_users", []), where),
        recurrence=_recurrence(entry["recurrence"], where) if "recurrence" in entry else None,
        created_by=by,
        created_at=now,
        changed_by=by,
        changed_at=now,
    )


def _business_users(values: Any, where: str) -> tuple[str, ...]:
    """The business users a template is restricted to (SAP: APJ_RT/077 for anybody else)."""
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise errors.TemplateFileError(f"{where}: field 'business_users' must be a list of business user ids")
    for value in values:
        if not models.BUSINESS_USER_RE.match(value):
            raise errors.TemplateFileError(
                f"{where}: field 'business_users': {value!r} is not a business user id (A-Z, 0-9, _ . - @; at most 40)"
            )
    return tuple(dict.fromkeys(values))


def _recurrence(entry: Any, where: str) -> models.DefaultRecurrence:
    """A template's default recurrence, stored canonical ("15min" becomes "15m") so it fits its column."""
    _check_fields(entry, RECURRENCE_FIELDS, f"{where}: field 'recurrence'")
    every, at, timezone = entry.get("every"), entry.get("at", ""), entry.get("timezone", "UTC")
    if not isinstance(every, str):
        raise errors.TemplateFileError(f"{where}: field 'recurrence.every' is needed: {recurrence.ACCEPTED_EVERY}")
    if isinstance(at, dt.time) and at.second == 0 and at.microsecond == 0 and at.tzinfo is None:
        at = at.strftime("%H:%M")  # TOML's own local time (at = 02:00:00)
    if not isinstance(at, str) or (at and not AT_RE.match(at)):
        raise errors.TemplateFileError(
            f"{where}: field 'recurrence.at': {at!r} is not a time of day HH:MM (00:00-23:59)"
        )
    try:
        recurrence.zone(timezone)
    except errors.InvalidInput as exc:
        raise errors.TemplateFileError(f"{where}: field 'recurrence.timezone': {exc}") from exc
    try:
        parsed = recurrence.Recurrence.parse(every, timezone)
    except errors.InvalidInput as exc:
        raise errors.TemplateFileError(f"{where}: field 'recurrence.every': {exc}") from exc
    return models.DefaultRecurrence(every=parsed.every, at=at, timezone=timezone)


def _step(entry: Any, where: str, number: int, pass_env: tuple[str, ...] = ()) -> models.TemplateStep:
    _check_fields(entry, STEP_FIELDS, where)
    command = _string(entry, "command", where)
    target = _string(entry, "callable", where)
    if bool(command) == bool(target):
        raise errors.TemplateFileError(f"{where}: needs exactly one of 'command' or 'callable'")
    if target and not CALLABLE_RE.match(target):
        raise errors.TemplateFileError(f"{where}: field 'callable': {target!r} is not of the form module:function")
    if target and (why := callables.problem(target)):
        raise errors.TemplateFileError(f"{where}: field 'callable': {target!r}: {why}")
    declarations = template_params.parse_parameters(entry.get("parameters", {}), where, check_parameter_name)
    return models.TemplateStep(
        number=number,
        kind=models.StepKind.SHELL if command else models.StepKind.PYTHON,
        target=command or target,
        text=_string(entry, "text", where, max_length=120),
        parameters={d.name: d.default_value for d in declarations},
        declarations=declarations,
        warning_exit_codes=_exit_codes(entry.get("warning_exit_codes", []), where),
        # The template's names apply to each of its steps, the step's own ones to it alone.
        pass_env=tuple(dict.fromkeys(pass_env + _pass_env(entry.get("pass_env", []), where))),
    )


def _pass_env(values: Any, where: str) -> tuple[str, ...]:
    """Names of the worker's environment variables a step may see beyond the allow-list (see steps.ALLOWED_ENV)."""
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise errors.TemplateFileError(f"{where}: field 'pass_env' must be a list of environment variable names")
    for name in values:
        if not ENV_NAME_RE.match(name):
            raise errors.TemplateFileError(
                f"{where}: field 'pass_env': {name!r} is not an environment variable name (letters, digits, _)"
            )
        if name.upper().startswith("APPJOBS_"):
            raise errors.TemplateFileError(
                f"{where}: field 'pass_env': {name!r} is refused: APPJOBS_* variables hold the server's settings "
                "and secrets, and a step gets its own APPJOBS_JOB_* and APPJOBS_STEP_* variables anyway"
            )
    return tuple(dict.fromkeys(values))


def _exit_codes(values: Any, where: str) -> tuple[int, ...]:
    """Exit codes that end a step W (finished with warnings): integers from 1 to 255."""
    valid = isinstance(values, list) and all(type(v) is int and 1 <= v <= 255 for v in values)
    if not valid:
        raise errors.TemplateFileError(f"{where}: field 'warning_exit_codes' must be a list of integers from 1 to 255")
    return tuple(sorted(set(values)))


def check_parameter_name(name: str, where: str) -> None:
    """Reject parameter names that are not SAP-like or would clobber the step's environment."""
    if not models.PARAMETER_NAME_RE.match(name):
        raise errors.TemplateFileError(f"{where}: {name!r} is not a parameter name (A-Z, 0-9, _; at most 38)")
    if name in RESERVED_PARAMETERS or name.startswith(RESERVED_PREFIXES):
        raise errors.TemplateFileError(f"{where}: {name!r} is reserved for the step's environment")


def _check_fields(entry: Any, allowed: set[str], where: str) -> None:
    if not isinstance(entry, dict):
        raise errors.TemplateFileError(f"{where}: must be a table")
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise errors.TemplateFileError(f"{where}: unknown field {unknown[0]!r} (known: {', '.join(sorted(allowed))})")


def _string(entry: dict[str, Any], field: str, where: str, *, required: bool = False, max_length: int = 0) -> str:
    value = entry.get(field, "")
    if not isinstance(value, str):
        raise errors.TemplateFileError(f"{where}: field {field!r} must be a string")
    value = value.strip()
    if required and not value:
        raise errors.TemplateFileError(f"{where}: missing field {field!r}")
    if max_length and len(value) > max_length:
        raise errors.TemplateFileError(f"{where}: field {field!r} is longer than {max_length} characters")
    return value
