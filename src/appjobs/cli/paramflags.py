"""Parameter flags of ``appjobs run`` and ``appjobs check``: ``-p`` for single values, ``-r`` for ranges.

* ``-p NAME=VALUE`` sets a single value (one row ``I EQ VALUE``) in every step that declares NAME;
* ``-p NAME@STEP=VALUE`` sets it for step STEP alone (SAP's STEP_NR);
* ``-r NAME[@STEP] SIGN OPTION LOW HIGH`` adds a row to a select-option, e.g.
  ``-r PLANTS I BT 1000 2000 -r PLANTS E EQ 1500 ''``; repeat it for more rows.

A NAME (for one step, or for all) is given by ``-p`` once, or by ``-r`` rows,
not both. Only ``-p NAME=VALUE`` flags give the plain ``{NAME: value}`` the
client has always sent; anything else is sent as records with steps and rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import click

from appjobs import errors

Range = tuple[str, str, str, str, str]


def options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The ``-p`` and ``-r`` options, as parameters ``parameters`` and ``ranges``."""
    f = click.option(
        "-r",
        "--range",
        "ranges",
        multiple=True,
        nargs=5,
        metavar="NAME[@STEP] SIGN OPTION LOW HIGH",
        help="Add a row to a select-option parameter (e.g. -r PLANTS I BT 1000 2000); repeat for more rows.",
    )(f)
    return click.option(
        "-p",
        "--parameter",
        "parameters",
        multiple=True,
        metavar="NAME[@STEP]=VALUE",
        help="Set a template parameter (JobParameterValues), in one step with @STEP; repeat for more.",
    )(f)


def parse(pairs: Sequence[str], ranges: Sequence[Range] = ()) -> Any:
    """The flags as the client's ``parameters``: a ``{NAME: value}`` dict, or ParameterValue records."""
    from appjobs.client import ParameterRow, ParameterValue

    singles: dict[tuple[str, int | None], str] = {}
    for pair in pairs:
        target, sep, value = pair.partition("=")
        if not sep or not target.strip():
            raise errors.InvalidInput(f"parameter {pair!r} is not NAME=VALUE or NAME@STEP=VALUE")
        key = _target(target)
        if key in singles:
            raise errors.InvalidInput(f"parameter {target.strip()} is given twice")
        singles[key] = value
    rows: dict[tuple[str, int | None], list[Any]] = {}
    for target, sign, option, low, high in ranges:
        key = _target(target)
        if key in singles:
            raise errors.InvalidInput(f"parameter {target.strip()} is given with -p and with -r; use one of them")
        rows.setdefault(key, []).append(ParameterRow(sign, option, low, high))
    if not rows and all(step is None for _, step in singles):
        return {name: value for (name, _), value in singles.items()}
    records = [ParameterValue.single(name, value, step) for (name, step), value in singles.items()]
    return records + [ParameterValue(name, tuple(found), step) for (name, step), found in rows.items()]


def _target(text: str) -> tuple[str, int | None]:
    name, at, step = text.strip().partition("@")
    if not at:
        return name, None
    if not (step.isascii() and step.isdecimal() and 0 < int(step) < 10**6):
        raise errors.InvalidInput(f"parameter {text.strip()!r}: the step after @ must be a step number (1, 2, …)")
    return name, int(step)
