"""The client's ``$batch`` calls against ``appjobs serve``: schedule_many is all or none, statuses one per job."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from tenant import Tenant

from appjobs.client import BatchRefused, Client, JobKey, JobNotFound, JobState, Retry, Schedule, TemplateNotFound

pytestmark = pytest.mark.backends("sqlite", "postgresql")


@pytest.fixture
def client(tenant: Tenant) -> Client:
    with Client(tenant.root, auth=tenant.auth(), retry=Retry(attempts=2, backoff=0.01), trust_env=False) as made:
        yield made


def since() -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)


def test_schedule_many_schedules_every_job_in_order(client: Client) -> None:
    text = f"many {uuid.uuid4().hex[:10]}"
    schedules = [
        Schedule("/APPJOBS/DEMO_ECHO", f"{text} 1", parameters={"MESSAGE": "x" * 250, "REPEAT": "2"}),
        Schedule("/APPJOBS/DEMO_ECHO", f"{text} 2"),
        Schedule("/APPJOBS/DEMO_WARN", f"{text} 3"),
    ]
    started = since()
    states = client.schedule_many(schedules)
    assert len({state.key for state in states}) == 3
    for number, state in enumerate(states, 1):
        (found,) = client.find_jobs(f"{text} {number}", created_from=started)
        assert found.key == state.key, "the answers come in the order of the schedules"


def test_schedule_many_with_one_bad_schedules_none(client: Client) -> None:
    text = f"none {uuid.uuid4().hex[:10]}"
    started = since()
    schedules = [Schedule("/APPJOBS/DEMO_ECHO", text), Schedule("/APPJOBS/NO_SUCH", text)]
    with pytest.raises(BatchRefused) as refused:
        client.schedule_many(schedules)
    assert refused.value.index == 1
    assert refused.value.code == "APJ_RT/015"
    assert "JobSchedule 2 of 2 failed, so none of the 2 jobs was scheduled" in str(refused.value)
    assert client.find_jobs(text, created_from=started) == []
    with pytest.raises(TemplateNotFound):  # the same failure, alone
        client.schedule("/APPJOBS/NO_SUCH", text)


def test_statuses_answers_each_job_in_its_place(client: Client) -> None:
    job = client.schedule("/APPJOBS/DEMO_ECHO", "statuses")
    unknown = JobKey("0123456789ABCDEF0123456789ABCDEF", "ABCDEFGH")
    known, missing, again = client.statuses([job.key, unknown, job.key])
    assert isinstance(known, JobState)
    assert known.key == job.key
    assert isinstance(again, JobState)
    assert isinstance(missing, JobNotFound)
    assert missing.code == "APJ_RT/003"
