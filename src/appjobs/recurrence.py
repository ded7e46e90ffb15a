"""When the jobs of a periodic series start: SAP's granularities, month ends and daylight saving.

A periodic series is a template that starts every *value* minutes, hours, days,
weeks or months (SAP's ``PERIOD_MINUTES`` … ``PERIOD_MONTHS``), in a time zone.
Its first start, the *anchor*, is a **naive** local wall time in that zone; start
*n* is always computed from the anchor and *n*, never from start *n - 1*, so a
series cannot drift: a day that skips 02:30 does not move every later start to
03:00, and 31 January + 1 month = 28 February does not turn 31 March into the 28th.

The rules, by granularity::

    MI, HO   absolute time: resolve(anchor) + n·value minutes (hours). An hourly
             series stays 60 real minutes apart across a daylight-saving change.
    DA, WE   calendar: local date = anchor's date + n·value days (·7 for weeks),
             local time = anchor's time, then resolve() that wall time.
    MO       calendar: anchor's month + n·value months; the day is the anchor's day,
             or the last day of a shorter month (31 Jan → 28/29 Feb → 31 Mar).

:func:`resolve` turns a wall time into an instant: the earliest instant at which
the zone's clock reads that wall time *or later*. So a wall time that occurs twice
(autumn) means its first occurrence, and one that does not occur (the spring gap,
02:30 in Europe/Berlin) means the instant the gap ends (03:00 local, not 03:30).

Everything here is pure: the standard library (``zoneinfo``) and appjobs.errors.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import enum
import re
import zoneinfo

from appjobs import errors

UTC = dt.UTC

#: The longest IANA name appjobs stores (the ``recurrence_timezone`` and series columns are 64 wide).
MAX_TIMEZONE_LENGTH = 64

ACCEPTED_EVERY = "a number and a unit: 15m or 15min (minutes), 2h (hours), 1d (days), 1w (weeks), 1mo (months)"
ACCEPTED_LOCAL = "YYYY-MM-DDTHH:MM[:SS] (a space instead of T is fine)"
ACCEPTED_START = ACCEPTED_LOCAL + ", optionally followed by Z or an offset such as +01:00"


class Granularity(enum.StrEnum):
    """SAP's periodic granularities (PERIOD_MINUTES … PERIOD_MONTHS), with the codes appjobs stores."""

    MINUTES = "MI"
    HOURS = "HO"
    DAYS = "DA"
    WEEKS = "WE"
    MONTHS = "MO"


# SAP's MaxLength of PeriodicMinutes … PeriodicMonths: 2 digits, and 3 for days.
_MAX_VALUE = {Granularity.DAYS: 999}
_DEFAULT_MAX_VALUE = 99

# Canonical suffix of each granularity, and every spelling parse() accepts (lower case).
_SUFFIX = {
    Granularity.MINUTES: "m",
    Granularity.HOURS: "h",
    Granularity.DAYS: "d",
    Granularity.WEEKS: "w",
    Granularity.MONTHS: "mo",
}
_UNITS = {
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), Granularity.MINUTES),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), Granularity.HOURS),
    **dict.fromkeys(("d", "day", "days"), Granularity.DAYS),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), Granularity.WEEKS),
    **dict.fromkeys(("mo", "mon", "month", "months"), Granularity.MONTHS),
}
_EVERY = re.compile(r"\s*(\d{1,6})\s*([a-z]+)\s*", re.IGNORECASE)

# Absolute steps of the granularities that count real time.
_ABSOLUTE_STEP = {Granularity.MINUTES: dt.timedelta(minutes=1), Granularity.HOURS: dt.timedelta(hours=1)}
_DAYS_PER_UNIT = {Granularity.DAYS: 1, Granularity.WEEKS: 7}


def zone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA time zone *name* (e.g. ``"Europe/Berlin"``), or InvalidInput naming it."""
    if not isinstance(name, str) or not name or len(name) > MAX_TIMEZONE_LENGTH:
        raise errors.InvalidInput(f"time zone {name!r} is not an IANA time zone name such as 'Europe/Berlin' or 'UTC'")
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as exc:
        # ValueError: a path that is not a zone key ("../x", "/etc/passwd") or a file that is not TZif.
        raise errors.InvalidInput(
            f"unknown time zone {name!r}: expected an IANA name such as 'Europe/Berlin' or 'UTC'"
        ) from exc


@dataclasses.dataclass(frozen=True)
class Recurrence:
    """Every *value* minutes, hours, days, weeks or months, in time zone *timezone* (an IANA name).

    >>> Recurrence.parse("1mo", "Europe/Berlin").start(dt.datetime(2027, 1, 31, 2, 30), 1)
    datetime.datetime(2027, 2, 28, 1, 30, tzinfo=datetime.timezone.utc)
    """

    granularity: Granularity
    value: int
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        try:
            granularity = Granularity(self.granularity)
        except ValueError:
            codes = ", ".join(g.value for g in Granularity)
            raise errors.InvalidInput(f"unknown granularity {self.granularity!r}: expected one of {codes}") from None
        object.__setattr__(self, "granularity", granularity)  # a stored code ("DA") becomes the enum member
        limit = _MAX_VALUE.get(granularity, _DEFAULT_MAX_VALUE)
        if isinstance(self.value, bool) or not isinstance(self.value, int) or not 1 <= self.value <= limit:
            raise errors.InvalidInput(
                f"a recurrence every {self.value!r} {granularity.name.lower()} is not valid:"
                f" the number must be a whole number from 1 to {limit}"
            )
        zone(self.timezone)

    @classmethod
    def parse(cls, every: str, timezone: str = "UTC") -> Recurrence:
        """``"15m"``, ``"2h"``, ``"1d"``, ``"1w"``, ``"1mo"`` (also ``"15min"``, ``"2 hours"``; any case)."""
        match = _EVERY.fullmatch(every) if isinstance(every, str) else None
        granularity = _UNITS.get(match.group(2).lower()) if match else None
        if match is None or granularity is None:
            raise errors.InvalidInput(f"recurrence {every!r} is not valid: expected {ACCEPTED_EVERY}")
        return cls(granularity, int(match.group(1)), timezone)

    @property
    def every(self) -> str:
        """The canonical text :meth:`parse` reads back: ``"15m"``, ``"2h"``, ``"1d"``, ``"1w"``, ``"1mo"``."""
        return f"{self.value}{_SUFFIX[self.granularity]}"

    def start(self, anchor: dt.datetime, n: int) -> dt.datetime:
        """The instant (aware, UTC) of start *n* (0: the anchor itself) of a series anchored at *anchor*.

        *anchor* is a naive local wall time in :attr:`timezone`. The result depends only
        on (anchor, n), so the series never drifts (see the module docstring for the rules).
        """
        _require_naive(anchor, "the anchor of a series")
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise errors.InvalidInput(f"start number {n!r} is not valid: expected a whole number, 0 or more")
        try:
            return self._start(anchor, n)
        except OverflowError:
            raise errors.InvalidInput(
                f"start {n} of a series every {self.every} from {anchor.isoformat()} is after the year 9999"
            ) from None

    def _start(self, anchor: dt.datetime, n: int) -> dt.datetime:
        steps = n * self.value
        if self.granularity in _ABSOLUTE_STEP:
            return resolve(anchor, self.timezone) + steps * _ABSOLUTE_STEP[self.granularity]
        if self.granularity in _DAYS_PER_UNIT:
            local = anchor + dt.timedelta(days=steps * _DAYS_PER_UNIT[self.granularity])
            return resolve(local, self.timezone)
        return resolve(_add_months(anchor, steps), self.timezone)

    def next_index(self, anchor: dt.datetime, after: int, now: dt.datetime) -> int:
        """The smallest m > *after* whose start is strictly later than *now* (aware).

        This is how a series skips the starts it missed while the server was down:
        ``after`` is the last start it had, ``now`` the present. It estimates m with
        arithmetic and corrects by a step or two, so a one-minute series that was down
        for a year costs a handful of :meth:`start` calls, not half a million.
        *after* may be -1 (then the answer can be 0).
        """
        _require_naive(anchor, "the anchor of a series")
        if now.tzinfo is None or now.utcoffset() is None:
            raise errors.InvalidInput(f"'now' {now.isoformat()} must be an aware datetime (with a time zone)")
        if isinstance(after, bool) or not isinstance(after, int) or after < -1:
            raise errors.InvalidInput(f"start number {after!r} is not valid: expected a whole number, -1 or more")
        m = max(after + 1, self._estimate(anchor, now))
        # Starts strictly increase with m, so stepping down then up lands on the smallest m.
        while m > after + 1 and self.start(anchor, m - 1) > now:
            m -= 1
        while self.start(anchor, m) <= now:
            m += 1
        return m

    def _estimate(self, anchor: dt.datetime, now: dt.datetime) -> int:
        """An m whose start is near *now*: exact for MI/HO, within a step or two for the calendar ones."""
        if self.granularity in _ABSOLUTE_STEP:
            elapsed = now - resolve(anchor, self.timezone)
            return elapsed // (self.value * _ABSOLUTE_STEP[self.granularity]) + 1
        local_now = now.astimezone(zone(self.timezone)).replace(tzinfo=None)
        if self.granularity in _DAYS_PER_UNIT:
            return (local_now - anchor) // dt.timedelta(days=self.value * _DAYS_PER_UNIT[self.granularity]) + 1
        months = (local_now.year - anchor.year) * 12 + (local_now.month - anchor.month)
        return months // self.value


def resolve(local: dt.datetime, timezone: str) -> dt.datetime:
    """The instant (aware, UTC) at which the clocks of *timezone* first read the naive wall time *local*.

    More exactly: the earliest instant whose wall time is *local* or later. A wall time
    that occurs twice (the autumn overlap) is its first occurrence (``fold=0``), so a
    daily series runs once; one that does not exist (the spring gap: 02:30 on the day
    Europe/Berlin skips from 02:00 to 03:00) is the instant the gap ends, 03:00 local.
    """
    _require_naive(local, "a local wall time")
    tz = zone(timezone)
    try:
        first = local.replace(tzinfo=tz, fold=0).astimezone(UTC)
        if first.astimezone(tz).replace(tzinfo=None) == local:
            return first  # the wall time exists; fold=0 picked its first occurrence if there are two
        return _gap_end(local, tz)
    except OverflowError:  # within hours of 0001-01-01 or 9999-12-31, where UTC has no date
        raise errors.InvalidInput(f"time {local.isoformat()} in {timezone} is out of range (years 1 to 9999)") from None


def _gap_end(local: dt.datetime, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """The instant the gap that swallows *local* ends: where the zone's offset changes.

    Read with the offset before the change (fold=0) *local* lands after the change,
    read with the offset after it (fold=1) it lands before; the change lies between.
    tzdata changes offsets on whole seconds, so a binary search over seconds finds it.
    """
    one = local.replace(tzinfo=tz, fold=0).astimezone(UTC)
    two = local.replace(tzinfo=tz, fold=1).astimezone(UTC)
    before_s, after_s = sorted((int(one.timestamp()), int(two.timestamp())))
    offset_after = _offset(after_s, tz)
    while after_s - before_s > 1:
        middle = (before_s + after_s) // 2
        if _offset(middle, tz) == offset_after:
            after_s = middle
        else:
            before_s = middle
    return dt.datetime.fromtimestamp(after_s, UTC)


def _offset(seconds: int, tz: zoneinfo.ZoneInfo) -> dt.timedelta | None:
    return dt.datetime.fromtimestamp(seconds, UTC).astimezone(tz).utcoffset()


def _add_months(anchor: dt.datetime, months: int) -> dt.datetime:
    """*anchor* moved by *months* calendar months, its day clipped to the month's last (31 Jan + 1 = 28 Feb)."""
    year, month0 = divmod(anchor.year * 12 + anchor.month - 1 + months, 12)
    if year > dt.MAXYEAR:
        raise OverflowError(f"year {year} is out of range")
    day = min(anchor.day, calendar.monthrange(year, month0 + 1)[1])
    return anchor.replace(year=year, month=month0 + 1, day=day)


def _require_naive(value: dt.datetime, what: str) -> None:
    if not isinstance(value, dt.datetime) or value.tzinfo is not None:
        raise errors.InvalidInput(f"{what} must be a naive datetime (a wall time without offset), got {value!r}")


# --- text -------------------------------------------------------------------------

_LOCAL = r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?"
_LOCAL_RE = re.compile(_LOCAL, re.IGNORECASE)
_START_RE = re.compile(_LOCAL + r"\s*(Z|[+-]\d{2}(?::?\d{2})?)?", re.IGNORECASE)


def parse_local(text: str) -> dt.datetime:
    """A naive wall time from ``"2026-12-24T02:00"`` or ``"2026-12-24 02:00[:SS]"``; else InvalidInput."""
    match = _LOCAL_RE.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise errors.InvalidInput(f"time {text!r} is not valid: expected a local time {ACCEPTED_LOCAL}")
    return _local_from(match, text)


def parse_start(text: str, timezone: str = "UTC") -> dt.datetime:
    """The instant (aware, UTC) of an ISO 8601 time: with Z or an offset, that instant;
    without, the wall time in *timezone*, resolved as :func:`resolve` does."""
    tz = zone(timezone)  # a bad zone is an error even when the text carries its own offset
    match = _START_RE.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise errors.InvalidInput(f"start time {text!r} is not valid: expected {ACCEPTED_START}")
    local = _local_from(match, text)
    offset = match.group(8)
    if offset is None:
        return resolve(local, tz.key)
    return local.replace(tzinfo=_fixed_offset(offset, text)).astimezone(UTC)


def _local_from(match: re.Match[str], text: str) -> dt.datetime:
    year, month, day, hour, minute, second, fraction = match.groups()[:7]
    micro = int((fraction or "0").ljust(6, "0"))
    try:
        return dt.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro)
    except ValueError as exc:
        raise errors.InvalidInput(f"time {text!r} is not a date and time that exists: {exc}") from None


def _fixed_offset(offset: str, text: str) -> dt.timezone:
    if offset.upper() == "Z":
        return UTC
    digits = offset[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23 or minutes > 59:
        raise errors.InvalidInput(f"time {text!r} has an impossible offset {offset!r}: expected -23:59 to +23:59")
    sign = -1 if offset[0] == "-" else 1
    return dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
