"""The options of ``appjobs admin jobs schedule`` that put a job in time: ``--start-at``, ``--every`` and friends.

    appjobs admin jobs schedule Z… --start-at 2026-12-24T02:00 --timezone Europe/Berlin
    appjobs admin jobs schedule Z… --every 1d --start-at 2026-12-07T02:00 --timezone Europe/Berlin --count 30
    appjobs admin jobs schedule Z… --default-recurrence

A time without an offset is local to ``--timezone`` (default UTC); one with an
offset (``2026-12-24T02:00+01:00``, ``…Z``) is that instant. For a series,
``--start-at`` is its first start (default: now), and its local wall time is
the one the series keeps (see :mod:`appjobs.recurrence`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo
from collections.abc import Callable
from typing import Any

import click

from appjobs import errors, models, recurrence
from appjobs.engine import JobService, planning

OPTIONS = (
    click.option("--start-at", metavar="DATETIME", help="Start then (ISO 8601), not at once; a series' first start."),
    click.option("--timezone", default="UTC", show_default=True, help="IANA time zone of times without an offset."),
    click.option("--every", metavar="PERIOD", help="Start again every 15m, 2h, 1d, 1w or 1mo: a periodic series."),
    click.option("--until", metavar="DATETIME", help="A series' last start is at or before this."),
    click.option("--count", type=click.IntRange(1), help="A series starts this many times."),
    click.option("--default-recurrence", is_flag=True, help="A series as the template's `recurrence` declares it."),
)


def planning_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(OPTIONS):
        command = option(command)
    return command


@dataclasses.dataclass(frozen=True)
class When:
    """When a job starts, as the options say: at once, at a time, or as a series."""

    start_at: str | None = None
    timezone: str = "UTC"
    every: str | None = None
    until: str | None = None
    count: int | None = None
    default_recurrence: bool = False

    @property
    def periodic(self) -> bool:
        return bool(self.every or self.default_recurrence)

    def check(self) -> None:
        """Refuse options that contradict each other, naming them."""
        if self.every and self.default_recurrence:
            raise errors.InvalidInput("--every and --default-recurrence contradict each other: give one")
        if not self.periodic and (self.until or self.count):
            raise errors.InvalidInput("--until and --count end a series: give --every (or --default-recurrence) too")
        if self.until and self.count:
            raise errors.InvalidInput("--until and --count both end a series: give one")


def schedule(service: JobService, template: str, when: When, **job: Any) -> tuple[models.Job, models.Series | None]:
    """Schedule *template* as *when* says; the (first) job, and its series when there is one."""
    when.check()
    if not when.periodic:
        start = None if when.start_at is None else recurrence.parse_start(when.start_at, when.timezone)
        return service.schedule(template, start_at=start, **job), None
    rule, anchor = _series_rule(service, template, when)
    until = None if when.until is None else recurrence.parse_start(when.until, rule.timezone)
    series, first = planning.schedule_series(
        service, template, rule=rule, anchor=anchor, until=until, count=when.count, **job
    )
    return first, series


def _series_rule(service: JobService, template: str, when: When) -> tuple[recurrence.Recurrence, dt.datetime]:
    """The recurrence and the anchor (the local wall time of the first start) the options ask for."""
    if when.default_recurrence:
        rule, anchor = planning.default_anchor(service.template(template), service.clock())
    else:
        rule = recurrence.Recurrence.parse(when.every or "", when.timezone)
        anchor = (service.clock() + dt.timedelta(seconds=1)).astimezone(zoneinfo.ZoneInfo(rule.timezone))
        anchor = anchor.replace(tzinfo=None, microsecond=0)
    if when.start_at is not None:
        anchor = _anchor(when.start_at, rule.timezone)
    return rule, anchor


def _anchor(text: str, timezone: str) -> dt.datetime:
    """The local wall time a series keeps: *text*'s own, or its instant's in *timezone* when it has an offset."""
    start = recurrence.parse_start(text, timezone)  # refuses what is not a date and time, naming it
    try:
        return recurrence.parse_local(text).replace(microsecond=0)
    except errors.InvalidInput:  # it has an offset (or Z): that instant, in the series' zone
        return start.astimezone(zoneinfo.ZoneInfo(timezone)).replace(tzinfo=None, microsecond=0)


def describe(job: models.Job, series: models.Series | None) -> str:
    """One line on when the job starts, for the schedule command's output."""
    if series is None:
        return f"planned for {job.scheduled_at:%Y-%m-%d %H:%M:%S}Z"
    rec = series.recurrence
    end = f", {series.max_runs} starts" if series.max_runs else ""
    end += f", until {series.until:%Y-%m-%d %H:%M:%S}Z" if series.until else ""
    return (
        f"series {series.id}: every {rec.every} in {rec.timezone}{end}; "
        f"first start {job.scheduled_at:%Y-%m-%d %H:%M:%S}Z"
    )
