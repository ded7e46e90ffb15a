"""The pause before ``appjobs serve`` starts a worker that died again: doubling while workers die young."""

from __future__ import annotations

from appjobs.server.runner import RESTART_DELAY, RESTART_LONGEST, STEADY, restart_pause


def test_the_pause_doubles_while_workers_die_young_up_to_the_longest() -> None:
    pauses, last = [], 0.0
    for _ in range(8):
        last = restart_pause(last, lived=2.0)
        pauses.append(last)
    assert pauses == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert (RESTART_DELAY, RESTART_LONGEST) == (1.0, 30.0)


def test_a_worker_that_lived_long_is_restarted_after_the_first_pause_again() -> None:
    assert restart_pause(30.0, lived=STEADY) == RESTART_DELAY
    assert restart_pause(30.0, lived=STEADY - 1) == RESTART_LONGEST
