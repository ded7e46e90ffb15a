"""Jobs in time: a template planned for later, or started again and again as a periodic series.

SAP's external API starts jobs only at once ("The External Scheduler API is
not able to schedule a job that runs at regular time intervals"); planned and
periodic jobs come from the administrator's side (``appjobs admin jobs
schedule --start-at … --every …``), and the API shows them.

A series is stored once (:class:`appjobs.models.Series`) with exactly one job
planned ahead. That job is created here for the first start still ahead; each
later one is created by the worker that moves its predecessor to Y (see
:mod:`appjobs.storage.series`), so a series costs nothing while it waits and
survives any restart of the server. The rules of its starts (month ends,
daylight saving, missed starts) are :mod:`appjobs.recurrence`'s.
"""

from __future__ import annotations

import datetime as dt
import secrets
import zoneinfo

from appjobs import errors, models, recurrence
from appjobs.engine import paramcheck
from appjobs.engine.service import JobService

#: The most starts a series may be given: SAP's JobEndMaxIterations is an Edm.Int32, and so is the column.
MAX_RUNS = 2**31 - 1


def schedule_series(
    service: JobService,
    template_name: str,
    *,
    creator: str,
    rule: recurrence.Recurrence,
    anchor: dt.datetime,
    until: dt.datetime | None = None,
    count: int | None = None,
    text: str = "",
    job_user: str = "",
    parameters: paramcheck.ParameterInput | None = None,
) -> tuple[models.Series, models.Job]:
    """Start a periodic series of *template_name*; the series and its first planned job.

    *anchor* is the local wall time (naive) of its first start in ``rule.timezone``;
    when that lies in the past, the series begins with its first start still ahead.
    It ends after *count* starts, or with the last start not after *until*, or never.
    """
    now = service.clock()
    if count is not None and not 1 <= count <= MAX_RUNS:
        raise errors.InvalidInput(f"--count must be from 1 to {MAX_RUNS}, not {count}")
    if until is not None and until.tzinfo is None:
        raise errors.InvalidInput(f"end time {until.isoformat()} has no time zone")
    first = 0 if rule.start(anchor, 0) >= now else rule.next_index(anchor, -1, now)
    start = rule.start(anchor, first)
    if count is not None and first >= count:
        last = _utc(rule.start(anchor, count - 1))
        raise errors.InvalidInput(f"all {count} starts of the series lie in the past (the last: {last})")
    if until is not None and start > until:
        raise errors.InvalidInput(f"the series' first start ahead, {_utc(start)}, is after its end {_utc(until)}")
    series = models.Series(
        id=secrets.token_hex(16).upper(),
        template_name=template_name,
        recurrence=rule,
        anchor=anchor,
        created_at=now,
        created_by=creator,
        until=until,
        max_runs=count,
    )
    job = service.schedule(
        template_name,
        creator=creator,
        text=text,
        job_user=job_user,
        parameters=parameters,
        start_at=start,
        series=series,
        series_index=first,
    )
    return series, job


def default_anchor(template: models.Template, now: dt.datetime) -> tuple[recurrence.Recurrence, dt.datetime]:
    """The recurrence a template declares, and the anchor of a series scheduled from it now.

    The anchor is today's ``at`` in the template's time zone (or the current local time
    without one); when that has passed, the series begins with its next start.
    """
    if template.recurrence is None:
        raise errors.InvalidInput(f"job template {template.name} declares no default recurrence")
    rule = template.recurrence.recurrence()
    # The next whole second: without an ``at``, the first start is now, not one period from now.
    local = (now.astimezone(zoneinfo.ZoneInfo(rule.timezone)) + dt.timedelta(seconds=1)).replace(
        tzinfo=None, microsecond=0
    )
    if template.recurrence.at:
        hours, minutes = (int(part) for part in template.recurrence.at.split(":"))
        local = local.replace(hour=hours, minute=minutes, second=0)
    return rule, local


def _utc(value: dt.datetime) -> str:
    return f"{value.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S}Z"
