"""The time ``appjobs admin jobs purge --before`` takes: ISO 8601, UTC unless it carries an offset."""

from __future__ import annotations

import datetime as dt

import click
import pytest

from appjobs.cli.admin_jobs import IsoTime

UTC = dt.UTC


@pytest.mark.parametrize(
    ("text", "meant"),
    [
        ("2026-11-01", dt.datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01T02:00", dt.datetime(2026, 11, 1, 2, 0, tzinfo=UTC)),
        ("2026-11-01T02:00:00Z", dt.datetime(2026, 11, 1, 2, 0, tzinfo=UTC)),
        ("2026-11-01T02:00+01:00", dt.datetime(2026, 11, 1, 1, 0, tzinfo=UTC)),
        ("2026-11-01 02:00:30-05:30", dt.datetime(2026, 11, 1, 7, 30, 30, tzinfo=UTC)),
    ],
)
def test_iso_times_are_utc_unless_they_carry_an_offset(text: str, meant: dt.datetime) -> None:
    parsed = IsoTime().convert(text, None, None)
    assert parsed == meant
    assert parsed.tzinfo is not None


@pytest.mark.parametrize("text", ["", "yesterday", "2026-13-01", "01.11.2026", "2026-11-01T25:00"])
def test_anything_else_is_refused_with_an_example(text: str) -> None:
    with pytest.raises(click.BadParameter, match=r"is not an ISO 8601 date or time: write 2026-12-01"):
        IsoTime().convert(text, None, None)
