"""JobListGet's steps, read for all the listed jobs at once, on a real SQLite file and PostgreSQL database."""

from __future__ import annotations

import datetime as dt

import pytest

from appjobs import models
from appjobs.models import JobStatus, StepKind
from appjobs.storage import Store

pytestmark = pytest.mark.backends("sqlite", "postgresql")

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def _job(store: Store, key: models.JobKey, steps: int) -> models.JobKey:
    job = models.Job(key, "/T/ONE", "t", "ALICE", "ALICE", JobStatus.FINISHED, NOW, NOW, step_count=steps)
    runs = [models.StepRun(key, n, StepKind.SHELL, f"echo {n}", f"step {n}", JobStatus.FINISHED, NOW, NOW, 0)
            for n in range(1, steps + 1)]  # fmt: skip
    store.jobs.create(job, runs, {})
    return key


def test_steps_of_many_jobs_are_each_jobs_own_in_order(store: Store) -> None:
    """More jobs than one read takes, and a job name with two runs of which only one is asked for."""
    keys = [_job(store, models.JobKey.new(), 1 + n % 3) for n in range(450)]
    first = keys[0]
    other_run = _job(store, models.JobKey(first.name, "Zzzzzzzz"), 2)  # same name, not asked for
    found = store.jobs.steps_of(keys)
    assert set(found) == set(keys)
    assert other_run not in found
    for key in keys:
        assert found[key] == store.jobs.steps(key)
    assert [s.number for s in found[keys[2]]] == [1, 2, 3]


def test_steps_of_no_jobs_reads_nothing(store: Store) -> None:
    assert store.jobs.steps_of([]) == {}
