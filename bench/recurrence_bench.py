"""Benchmark of the date arithmetic of periodic series (:mod:`appjobs.recurrence`), in this process.

The engine computes one start per series each time a series' planned job becomes due, and one
:meth:`~appjobs.recurrence.Recurrence.next_index` per series when it comes back from downtime; with
10,000 active series (issue 11) a start-up after downtime costs 10,000 of them. Measured here:

* **start**: ``Recurrence.start(anchor, n)`` for every granularity in Europe/Berlin, n up to 1,000;
* **resolve in a gap**: a wall time in the spring gap (the binary search for the gap's end);
* **next_index after a year down**: a one-minute series (525,600 missed starts) and a daily one;
* **10,000 series back from a day down**: next_index for 10,000 series of mixed granularities.

The figures are microseconds per call (median of ``--rounds`` rounds). Run by hand (it is not a test)::

    .venv/bin/python bench/recurrence_bench.py [--rounds N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import random
import statistics
import time
from collections.abc import Callable

from appjobs.recurrence import Recurrence, resolve

ANCHOR = dt.datetime(2026, 1, 31, 2, 30)
EVERY = ["15m", "2h", "1d", "1w", "1mo"]


def per_call(function: Callable[[], object], calls: int, rounds: int) -> float:
    """Median over *rounds* of the microseconds one call of *function* takes."""
    timings = []
    for _ in range(rounds):
        began = time.perf_counter()
        for _ in range(calls):
            function()
        timings.append((time.perf_counter() - began) / calls * 1e6)
    return statistics.median(timings)


def back_from_downtime(count: int) -> Callable[[], object]:
    """next_index for *count* series of mixed granularities, one day after each one's last start."""
    rng = random.Random(11)
    cases = []
    for _ in range(count):
        recurrence = Recurrence.parse(rng.choice(EVERY), rng.choice(["Europe/Berlin", "America/New_York", "UTC"]))
        anchor = ANCHOR + dt.timedelta(minutes=rng.randrange(60 * 24 * 30))
        last = rng.randrange(100)
        cases.append((recurrence, anchor, last, recurrence.start(anchor, last) + dt.timedelta(days=1)))
    return lambda: [r.next_index(a, last, now) for r, a, last, now in cases]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, {args.rounds} rounds, median")
    for every in EVERY:
        recurrence = Recurrence.parse(every, "Europe/Berlin")
        n = iter(range(10**9))
        cost = per_call(lambda r=recurrence, n=n: r.start(ANCHOR, next(n) % 1000), 10_000, args.rounds)
        print(f"start, every {every:>4} in Europe/Berlin: {cost:8.2f} µs")
    gap = dt.datetime(2027, 3, 28, 2, 30)
    cost = per_call(lambda: resolve(gap, "Europe/Berlin"), 2_000, args.rounds)
    print(f"resolve, a wall time in the spring gap:  {cost:8.2f} µs")
    for every in ("1m", "1d"):
        recurrence = Recurrence.parse(every, "Europe/Berlin")
        now = recurrence.start(ANCHOR, 0) + dt.timedelta(days=365)
        cost = per_call(lambda r=recurrence, now=now: r.next_index(ANCHOR, 0, now), 2_000, args.rounds)
        print(f"next_index, every {every} down a year:     {cost:8.2f} µs")
    batch = back_from_downtime(10_000)
    print(f"next_index of 10,000 series, a day down: {per_call(batch, 1, args.rounds) / 1000:8.2f} ms in all")


if __name__ == "__main__":
    main()
