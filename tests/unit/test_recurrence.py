"""The date arithmetic of periodic series, checked against zoneinfo.

The properties build their oracle from zoneinfo directly (which wall times exist,
which occur twice, where the offset changes) rather than from appjobs.recurrence,
and draw wall times near real daylight-saving changes, where the bugs live.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import functools
import itertools
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appjobs import errors
from appjobs.recurrence import Granularity, Recurrence, parse_local, parse_start, resolve

UTC = dt.UTC
SECOND = dt.timedelta(seconds=1)
# Lord_Howe shifts by 30 minutes; Apia skipped 30 December 2011 entirely; Kolkata and UTC never shift.
CALENDAR = (Granularity.DAYS, Granularity.WEEKS, Granularity.MONTHS)
ABSOLUTE = (Granularity.MINUTES, Granularity.HOURS)
ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC", "Asia/Kolkata", "Pacific/Apia"]


def wall(instant: dt.datetime, tz: str) -> dt.datetime:
    # Through UTC: astimezone() to the zone an instant already has would return it unchecked.
    return instant.astimezone(UTC).astimezone(ZoneInfo(tz)).replace(tzinfo=None)


@functools.cache
def transitions(tz: str) -> tuple[dt.datetime, ...]:
    """The instants (UTC) at which *tz* changed its offset, 2000 to 2040, found by scanning days then bisecting."""
    zone, found = ZoneInfo(tz), []
    day = dt.datetime(2000, 1, 1, tzinfo=UTC)
    while day.year < 2040:
        following = day + dt.timedelta(days=1)
        if day.astimezone(zone).utcoffset() != following.astimezone(zone).utcoffset():
            low, high = day, following
            while high - low > SECOND:
                middle = low + (high - low) / 2
                middle = middle.replace(microsecond=0)
                if middle.astimezone(zone).utcoffset() == following.astimezone(zone).utcoffset():
                    high = middle
                else:
                    low = middle
            found.append(high)
        day = following
    return tuple(found)


def assert_resolves(instant: dt.datetime, local: dt.datetime, tz: str) -> None:
    """*instant* is the first occurrence of wall time *local* in *tz*, or the end of the gap that swallows it."""
    assert instant.utcoffset() == dt.timedelta(0)
    zone = ZoneInfo(tz)
    occurrences = [
        candidate.astimezone(UTC)
        for candidate in (local.replace(tzinfo=zone, fold=0), local.replace(tzinfo=zone, fold=1))
        if wall(candidate, tz) == local
    ]
    if occurrences:
        assert instant == min(occurrences), f"{local} in {tz}: expected its first occurrence"
    else:  # a gap: the clock jumps past *local* exactly at *instant*
        assert wall(instant - SECOND, tz) < local < wall(instant, tz), f"{local} in {tz}: expected the gap's end"
        assert (instant - SECOND).astimezone(zone).utcoffset() != instant.astimezone(zone).utcoffset()


@st.composite
def wall_times(draw: st.DrawFn, tz: str) -> dt.datetime:
    """A wall time in *tz*: often within two hours of one of its offset changes, otherwise anywhere."""
    changes = transitions(tz)
    if changes and draw(st.booleans()):
        change = draw(st.sampled_from(changes))
        before = change - SECOND
        near = wall(before, tz) + SECOND  # the wall time the change happens at, read with the old offset
        return near + dt.timedelta(minutes=draw(st.integers(-120, 120)), seconds=draw(st.sampled_from([0, 0, 1, 59])))
    return draw(st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2039, 12, 31)).map(lambda d: d.replace(fold=0)))


@st.composite
def series(draw: st.DrawFn, granularities: tuple[Granularity, ...]) -> tuple[Recurrence, dt.datetime]:
    tz = draw(st.sampled_from(ZONES))
    granularity = draw(st.sampled_from(granularities))
    value = draw(st.integers(1, 3) | st.integers(1, 99 if granularity != Granularity.DAYS else 999))
    recurrence = Recurrence(granularity, value, tz)
    # Often a wall time near an offset change; anchored a few steps earlier, so that the series meets it.
    return recurrence, expected_local(recurrence, draw(wall_times(tz)), -draw(st.integers(0, 20)))


def expected_local(recurrence: Recurrence, anchor: dt.datetime, n: int) -> dt.datetime:
    """Start *n*'s wall time by the calendar rules, written out independently of the module (n < 0: before)."""
    steps = n * recurrence.value
    if recurrence.granularity in ABSOLUTE:
        return anchor + dt.timedelta(hours=steps)  # only used to step anchors back
    if recurrence.granularity == Granularity.DAYS:
        return anchor + dt.timedelta(days=steps)
    if recurrence.granularity == Granularity.WEEKS:
        return anchor + dt.timedelta(weeks=steps)
    month_index = anchor.month - 1 + steps
    year, month = anchor.year + month_index // 12, month_index % 12 + 1
    return anchor.replace(year=year, month=month, day=min(anchor.day, calendar.monthrange(year, month)[1]))


# --- properties -------------------------------------------------------------------


@given(data=st.data(), tz=st.sampled_from(ZONES))
@settings(max_examples=300)
def test_resolve_is_the_first_occurrence_or_the_gaps_end(data: st.DataObject, tz: str) -> None:
    local = data.draw(wall_times(tz))
    assert_resolves(resolve(local, tz), local, tz)


@given(case=series(CALENDAR), count=st.integers(2, 40))
@settings(max_examples=200)
def test_calendar_starts_keep_the_wall_time_and_increase(case: tuple[Recurrence, dt.datetime], count: int) -> None:
    recurrence, anchor = case
    starts = [recurrence.start(anchor, n) for n in range(count)]
    for n, start in enumerate(starts):
        assert_resolves(start, expected_local(recurrence, anchor, n), recurrence.timezone)
    assert all(a < b for a, b in itertools.pairwise(starts))


@given(case=series(ABSOLUTE), n=st.integers(0, 100_000))
def test_minute_and_hour_starts_are_exact_steps_in_real_time(case: tuple[Recurrence, dt.datetime], n: int) -> None:
    recurrence, anchor = case
    step = dt.timedelta(minutes=recurrence.value * (60 if recurrence.granularity == Granularity.HOURS else 1))
    first = recurrence.start(anchor, 0)
    assert_resolves(first, anchor, recurrence.timezone)
    assert recurrence.start(anchor, n) == first + n * step
    assert recurrence.start(anchor, n + 1) - recurrence.start(anchor, n) == step


@given(
    case=series(tuple(Granularity)),
    after=st.integers(-1, 30),
    k=st.integers(0, 200),
    shift=st.sampled_from([dt.timedelta(0), -SECOND, SECOND]) | st.timedeltas(-dt.timedelta(days=3), dt.timedelta(3)),
)
@settings(max_examples=300)
def test_next_index_agrees_with_counting(
    case: tuple[Recurrence, dt.datetime], after: int, k: int, shift: dt.timedelta
) -> None:
    recurrence, anchor = case
    now = recurrence.start(anchor, k) + shift
    brute = after + 1
    while recurrence.start(anchor, brute) <= now:
        brute += 1
    assert recurrence.next_index(anchor, after, now) == brute


# --- the cases ------------------------------------------------------------


def berlin(instant: dt.datetime) -> str:
    return instant.astimezone(ZoneInfo("Europe/Berlin")).isoformat()


def test_month_ends_clip_and_come_back() -> None:
    monthly = Recurrence.parse("1mo")
    starts = [monthly.start(dt.datetime(2027, 1, 31, 9, 0), n).date().isoformat() for n in range(4)]
    assert starts == ["2027-01-31", "2027-02-28", "2027-03-31", "2027-04-30"]
    assert monthly.start(dt.datetime(2028, 1, 31, 9, 0), 1).date() == dt.date(2028, 2, 29)  # leap year
    assert Recurrence.parse("12mo").start(dt.datetime(2028, 2, 29), 1).date() == dt.date(2029, 2, 28)


def test_a_daily_start_in_the_spring_gap_runs_when_the_gap_ends() -> None:
    daily = Recurrence.parse("1d", "Europe/Berlin")
    anchor = dt.datetime(2027, 3, 27, 2, 30)  # Berlin skips 02:00-03:00 on 28 March 2027
    assert [berlin(daily.start(anchor, n)) for n in range(3)] == [
        "2027-03-27T02:30:00+01:00",
        "2027-03-28T03:00:00+02:00",  # the gap's end, not 03:30
        "2027-03-29T02:30:00+02:00",  # and the wall time comes back, no drift
    ]
    assert daily.start(anchor, 1) == dt.datetime(2027, 3, 28, 1, 0, tzinfo=UTC)


def test_a_daily_start_in_the_autumn_overlap_runs_once_at_the_first() -> None:
    daily = Recurrence.parse("1d", "Europe/Berlin")
    anchor = dt.datetime(2026, 10, 24, 2, 30)  # 25 October 2026 has 02:30 twice
    starts = [daily.start(anchor, n) for n in range(3)]
    assert [berlin(s) for s in starts] == [
        "2026-10-24T02:30:00+02:00",
        "2026-10-25T02:30:00+02:00",  # fold 0: the first 02:30, summer time
        "2026-10-26T02:30:00+01:00",
    ]
    assert resolve(dt.datetime(2026, 10, 25, 2, 30), "Europe/Berlin") == dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_gaps_elsewhere_end_where_their_zone_says() -> None:
    # New York skips 02:00-03:00 (EST to EDT); Lord Howe skips only 02:00-02:30.
    assert resolve(dt.datetime(2027, 3, 14, 2, 30), "America/New_York") == dt.datetime(2027, 3, 14, 7, 0, tzinfo=UTC)
    lord_howe = resolve(dt.datetime(2027, 10, 3, 2, 15), "Australia/Lord_Howe")
    assert wall(lord_howe, "Australia/Lord_Howe") == dt.datetime(2027, 10, 3, 2, 30)
    # Apia skipped the whole of 30 December 2011: that day's start is at midnight of the 31st.
    apia = resolve(dt.datetime(2011, 12, 30, 10, 0), "Pacific/Apia")
    assert wall(apia, "Pacific/Apia") == dt.datetime(2011, 12, 31, 0, 0)


def test_an_hourly_series_stays_sixty_real_minutes_apart_across_the_change() -> None:
    hourly = Recurrence.parse("1h", "Europe/Berlin")
    anchor = dt.datetime(2027, 3, 28, 0, 30)
    starts = [hourly.start(anchor, n) for n in range(4)]
    assert {b - a for a, b in itertools.pairwise(starts)} == {dt.timedelta(hours=1)}
    assert [berlin(s)[11:16] for s in starts] == ["00:30", "01:30", "03:30", "04:30"]


@dataclasses.dataclass
class Counter:
    calls: int = 0


@pytest.mark.parametrize(
    ("every", "down_for"),
    [
        ("1m", dt.timedelta(days=365)),
        ("7m", dt.timedelta(days=3653)),
        ("1d", dt.timedelta(days=3653)),
        ("1w", dt.timedelta(days=3653)),
        ("1mo", dt.timedelta(days=36525)),
    ],
)
def test_next_index_after_a_long_downtime_is_arithmetic_not_a_walk(
    monkeypatch: pytest.MonkeyPatch, every: str, down_for: dt.timedelta
) -> None:
    recurrence = Recurrence.parse(every, "Europe/Berlin")
    anchor = dt.datetime(2026, 1, 31, 2, 30)
    now = recurrence.start(anchor, 3) + down_for
    expected = recurrence.next_index(anchor, 3, now)
    assert recurrence.start(anchor, expected - 1) <= now < recurrence.start(anchor, expected)
    counter, start = Counter(), Recurrence.start

    def counting(self: Recurrence, anchor: dt.datetime, n: int) -> dt.datetime:
        counter.calls += 1
        return start(self, anchor, n)

    monkeypatch.setattr(Recurrence, "start", counting)
    assert recurrence.next_index(anchor, 3, now) == expected
    assert counter.calls <= 6, f"{counter.calls} starts computed for one answer"


def test_next_index_never_returns_a_start_already_had() -> None:
    daily = Recurrence.parse("1d")
    anchor = dt.datetime(2027, 1, 1, 12, 0)
    assert daily.next_index(anchor, -1, dt.datetime(2026, 1, 1, tzinfo=UTC)) == 0
    assert daily.next_index(anchor, 5, dt.datetime(2026, 1, 1, tzinfo=UTC)) == 6
    assert daily.next_index(anchor, 5, daily.start(anchor, 9)) == 10  # a start at exactly now is not later


# --- text and bad input -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "granularity", "value", "every"),
    [
        ("15m", "MI", 15, "15m"),
        ("15min", "MI", 15, "15m"),
        ("2h", "HO", 2, "2h"),
        ("2 Hours", "HO", 2, "2h"),
        ("1d", "DA", 1, "1d"),
        ("999D", "DA", 999, "999d"),
        ("1w", "WE", 1, "1w"),
        ("1mo", "MO", 1, "1mo"),
        ("99MO", "MO", 99, "99mo"),
    ],
)
def test_parse_reads_sap_granularities_and_every_writes_them_back(
    text: str, granularity: str, value: int, every: str
) -> None:
    recurrence = Recurrence.parse(text, "Asia/Kolkata")
    assert (recurrence.granularity, recurrence.value, recurrence.timezone) == (granularity, value, "Asia/Kolkata")
    assert recurrence.every == every
    assert Recurrence.parse(every, "Asia/Kolkata") == recurrence


def test_a_stored_granularity_code_becomes_the_enum() -> None:
    recurrence = Recurrence("WE", 2)  # type: ignore[arg-type]
    assert recurrence.granularity is Granularity.WEEKS
    with pytest.raises(dataclasses.FrozenInstanceError):
        recurrence.value = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: Recurrence.parse("3x"), ["'3x'", "15m", "1mo"]),
        (lambda: Recurrence.parse(""), ["''", "1mo"]),
        (lambda: Recurrence.parse("m15"), ["'m15'"]),
        (lambda: Recurrence.parse("0m"), ["0 minutes", "1 to 99"]),
        (lambda: Recurrence.parse("100h"), ["100 hours", "1 to 99"]),
        (lambda: Recurrence.parse("1000d"), ["1000 days", "1 to 999"]),
        (lambda: Recurrence("XX", 1), ["'XX'", "MI, HO, DA, WE, MO"]),  # type: ignore[arg-type]
        (lambda: Recurrence(Granularity.DAYS, True), ["True"]),
        (lambda: Recurrence.parse("1d", "Mars/Olympus"), ["'Mars/Olympus'", "IANA"]),
        (lambda: Recurrence.parse("1d", "../etc/passwd"), ["'../etc/passwd'"]),
        (lambda: Recurrence.parse("1d", ""), ["''", "IANA"]),
        (lambda: Recurrence.parse("1d").start(dt.datetime(2027, 1, 1, tzinfo=UTC), 0), ["naive"]),
        (lambda: Recurrence.parse("1d").start(dt.datetime(2027, 1, 1), -1), ["-1"]),
        (lambda: Recurrence.parse("1d").start(dt.datetime(9999, 12, 1), 100), ["9999"]),
        (lambda: Recurrence.parse("1d").next_index(dt.datetime(2027, 1, 1), 0, dt.datetime(2027, 1, 1)), ["aware"]),
        (lambda: resolve(dt.datetime(2027, 1, 1), "Nowhere"), ["'Nowhere'"]),
        (lambda: resolve(dt.datetime(1, 1, 1), "Asia/Tokyo"), ["0001-01-01T00:00:00", "out of range"]),
        (lambda: parse_start("9999-12-31T23:00", "America/New_York"), ["9999-12-31T23:00:00", "out of range"]),
    ],
)
def test_bad_input_is_refused_with_what_is_wrong(make: object, words: list[str]) -> None:
    with pytest.raises(errors.InvalidInput) as raised:
        make()  # type: ignore[operator]
    for word in words:
        assert word in str(raised.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-24T02:00", dt.datetime(2026, 12, 24, 2, 0)),
        ("2026-12-24 02:00", dt.datetime(2026, 12, 24, 2, 0)),
        ("2026-12-24 02:00:59", dt.datetime(2026, 12, 24, 2, 0, 59)),
        (" 2026-12-24T23:59:00.5 ", dt.datetime(2026, 12, 24, 23, 59, 0, 500000)),
    ],
)
def test_parse_local_reads_a_wall_time(text: str, expected: dt.datetime) -> None:
    assert parse_local(text) == expected
    assert parse_local(text).tzinfo is None


@pytest.mark.parametrize(
    ("text", "timezone", "expected"),
    [
        ("2026-12-24T02:00", "UTC", dt.datetime(2026, 12, 24, 2, 0, tzinfo=UTC)),
        ("2026-12-24T02:00", "Europe/Berlin", dt.datetime(2026, 12, 24, 1, 0, tzinfo=UTC)),
        ("2027-03-28T02:30", "Europe/Berlin", dt.datetime(2027, 3, 28, 1, 0, tzinfo=UTC)),  # in the gap
        ("2026-12-24T02:00Z", "Europe/Berlin", dt.datetime(2026, 12, 24, 2, 0, tzinfo=UTC)),  # the offset wins
        ("2026-12-24T02:00+05:30", "UTC", dt.datetime(2026, 12, 23, 20, 30, tzinfo=UTC)),
        ("2026-12-24 02:00:00-0800", "UTC", dt.datetime(2026, 12, 24, 10, 0, tzinfo=UTC)),
    ],
)
def test_parse_start_reads_an_instant(text: str, timezone: str, expected: dt.datetime) -> None:
    start = parse_start(text, timezone)
    assert start == expected
    assert start.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("tomorrow", ["'tomorrow'", "YYYY-MM-DDTHH:MM"]),
        ("2026-12-24", ["'2026-12-24'", "YYYY-MM-DDTHH:MM"]),
        ("2026-02-30T01:00", ["'2026-02-30T01:00'", "day is out of range"]),
        ("2026-12-24T25:00", ["'2026-12-24T25:00'"]),
        ("2026-12-24T02:00+24:00", ["'+24:00'"]),
        ("2026-12-24T02:00 Europe/Berlin", ["'2026-12-24T02:00 Europe/Berlin'"]),
    ],
)
def test_bad_times_are_refused_with_the_form_expected(text: str, words: list[str]) -> None:
    with pytest.raises(errors.InvalidInput) as raised:
        parse_start(text)
    for word in words:
        assert word in str(raised.value)


def test_parse_local_refuses_an_offset_and_parse_start_a_bad_zone() -> None:
    with pytest.raises(errors.InvalidInput, match="'2026-12-24T02:00Z'"):
        parse_local("2026-12-24T02:00Z")
    with pytest.raises(errors.InvalidInput, match="'Berlin'"):
        parse_start("2026-12-24T02:00Z", "Berlin")


def test_next_index_corrects_an_estimate_that_overshoots(monkeypatch: pytest.MonkeyPatch) -> None:
    # The estimates are lower bounds in every zone tzdata has; the step down guards one that is not.
    daily = Recurrence.parse("1d", "Europe/Berlin")
    anchor, now = dt.datetime(2027, 3, 1, 2, 30), dt.datetime(2027, 3, 28, 12, 0, tzinfo=UTC)
    expected = daily.next_index(anchor, 0, now)
    monkeypatch.setattr(Recurrence, "_estimate", lambda self, anchor, now: expected + 7)
    assert daily.next_index(anchor, 0, now) == expected == 28
