"""JobRestart's rules without a database: which step failed, and which modes there are."""

from __future__ import annotations

import pytest

from appjobs import errors, models
from appjobs.engine import restart
from appjobs.models import JobStatus

KEY = models.JobKey("0" * 32, "AAAAAAAA")


def steps(letters: str) -> list[models.StepRun]:
    return [
        models.StepRun(KEY, n, models.StepKind.SHELL, "true", "", JobStatus(letter))
        for n, letter in enumerate(letters, 1)
    ]


@pytest.mark.parametrize(
    ("letters", "failed"),
    [
        ("FAA", 2),  # step 2 failed, step 3 was marked A without running
        ("AAA", 1),
        ("WFA", 3),  # a warning is no failure
        ("KAA", 2),  # a copy: its skipped step comes before the failed one
        ("FCS", 2),  # a tenant's C
        ("FUS", 2),  # a tenant's U
        ("FSS", 2),  # cancelled before step 2 began, as a tenant may report it: the first step that did not finish
        ("SSS", 1),  # none started: step 1
        ("FFF", None),  # nothing failed
    ],
)
def test_the_failed_step(letters: str, failed: int | None) -> None:
    assert restart.failed_step(steps(letters)) == failed


@pytest.mark.parametrize("mode", ["E", "A"])
def test_the_modes(mode: str) -> None:
    assert restart.check_mode(mode) == mode


@pytest.mark.parametrize("mode", ["", "e", "a", "X", "EA", " E"])
def test_other_modes_are_refused_naming_the_parameter(mode: str) -> None:
    with pytest.raises(errors.InvalidInput, match=r"JobRestartMode must be 'E' .* or 'A'"):
        restart.check_mode(mode)
