"""When the jobs of a periodic series start: SAP's granularities, month ends and daylight saving.

(Contract for the helper that implements it; see /work/notes/recurrence.md.)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum


class Granularity(enum.StrEnum):
    """SAP's periodic granularities (PERIOD_MINUTES … PERIOD_MONTHS), with the codes appjobs stores."""

    MINUTES = "MI"
    HOURS = "HO"
    DAYS = "DA"
    WEEKS = "WE"
    MONTHS = "MO"


@dataclasses.dataclass(frozen=True)
class Recurrence:
    """Every *value* minutes, hours, days, weeks or months, in time zone *timezone* (an IANA name)."""

    granularity: Granularity
    value: int
    timezone: str = "UTC"

    @classmethod
    def parse(cls, every: str, timezone: str = "UTC") -> Recurrence:
        raise NotImplementedError

    @property
    def every(self) -> str:
        raise NotImplementedError

    def start(self, anchor: dt.datetime, n: int) -> dt.datetime:
        raise NotImplementedError

    def next_index(self, anchor: dt.datetime, after: int, now: dt.datetime) -> int:
        raise NotImplementedError


def resolve(local: dt.datetime, timezone: str) -> dt.datetime:
    raise NotImplementedError
