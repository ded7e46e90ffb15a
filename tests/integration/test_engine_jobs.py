"""Jobs run end to end: a real ``appjobs worker`` process on a real SQLite file and PostgreSQL database."""

from __future__ import annotations

import datetime as dt
import itertools
import pathlib

import pytest
from conftest import wait_final

from appjobs import errors, models
from appjobs.engine import JobService, templates
from appjobs.models import JobStatus

pytestmark = [pytest.mark.backends("sqlite", "postgresql"), pytest.mark.usefixtures("worker")]


def log_texts(service: JobService, key: models.JobKey) -> list[str]:
    return [entry.text for entry in service.log(key)]


def add_template(service: JobService, toml: str) -> None:
    service.import_templates(templates.parse(toml, source="test.toml", by="TEST", now=models.utcnow()))


def test_one_step_job_finishes(demo: JobService) -> None:
    """DEMO_ECHO runs its Python callable once and the job ends F with the output in its log."""
    job = demo.schedule("/APPJOBS/DEMO_ECHO", creator="TESTER", parameters={"MESSAGE": "héllo wörld"})
    assert job.status is JobStatus.SCHEDULED
    done = wait_final(demo, job.key)
    assert done.status is JobStatus.FINISHED
    assert done.started_at is not None
    assert done.ended_at is not None
    assert done.created_at <= done.started_at <= done.ended_at
    assert "MESSAGE=héllo wörld" in log_texts(demo, job.key)
    assert [s.status for s in demo.steps(job.key)] == [JobStatus.FINISHED]


def test_three_step_chain_runs_in_order(demo: JobService) -> None:
    """DEMO_CHAIN's three steps each end F, one after the other, and so does the job."""
    job = demo.schedule("/APPJOBS/DEMO_CHAIN", creator="TESTER", text="chain test")
    done = wait_final(demo, job.key)
    assert done.status is JobStatus.FINISHED
    assert done.text == "chain test"
    steps = demo.steps(job.key)
    assert [s.status for s in steps] == [JobStatus.FINISHED] * 3
    for earlier, later in itertools.pairwise(steps):
        assert earlier.ended_at is not None
        assert later.started_at is not None
        assert earlier.ended_at <= later.started_at
    texts = log_texts(demo, job.key)
    assert texts.index("step 1 of 3") < texts.index("step 3 of 3")
    assert "Job finished." in texts


def test_failing_job_ends_aborted_with_output(demo: JobService) -> None:
    """DEMO_FAIL ends A, its step A with exit code 3, and its stderr is in the job log."""
    job = demo.schedule("/APPJOBS/DEMO_FAIL", creator="TESTER")
    assert wait_final(demo, job.key).status is JobStatus.ABORTED
    (step,) = demo.steps(job.key)
    assert (step.status, step.exit_code) == (JobStatus.ABORTED, 3)
    texts = log_texts(demo, job.key)
    assert "this step fails on purpose" in texts
    assert "Step 1 failed with exit code 3." in texts


def test_warning_exit_code_ends_the_job_w(demo: JobService) -> None:
    """DEMO_WARN's step exits 1, which it declares a warning: step and job end W, and the output is logged."""
    job = demo.schedule("/APPJOBS/DEMO_WARN", creator="TESTER")
    assert wait_final(demo, job.key).status is JobStatus.WARNING
    (step,) = demo.steps(job.key)
    assert (step.status, step.exit_code, step.warning_exit_codes) == (JobStatus.WARNING, 1, (1,))
    texts = log_texts(demo, job.key)
    assert "something to look at" in texts
    assert "Step 1 finished with warnings (exit code 1)." in texts


def test_a_warning_lets_the_chain_go_on_and_marks_the_job(service: JobService) -> None:
    """A step that ends W does not stop the chain; the job ends W even when the last step ends F.

    An exit code the step did not declare is still a failure.
    """
    add_template(
        service,
        """
        [[template]]
        name = "/APPJOBS/TEST_WARN_CHAIN"
        text = "Chain with a warning"
        [[template.step]]
        command = "exit 4"
        warning_exit_codes = [4, 5]
        [[template.step]]
        command = "echo two"
        [[template.step]]
        command = "exit 6"
        warning_exit_codes = [4]
        """,
    )
    job = service.schedule("/APPJOBS/TEST_WARN_CHAIN", creator="TESTER")
    assert wait_final(service, job.key).status is JobStatus.ABORTED
    assert [s.status for s in service.steps(job.key)] == [JobStatus.WARNING, JobStatus.FINISHED, JobStatus.ABORTED]
    add_template(
        service,
        """
        [[template]]
        name = "/APPJOBS/TEST_WARN_FIRST"
        text = "Warning first"
        [[template.step]]
        command = "exit 5"
        warning_exit_codes = [5]
        [[template.step]]
        command = "true"
        """,
    )
    job = service.schedule("/APPJOBS/TEST_WARN_FIRST", creator="TESTER")
    assert wait_final(service, job.key).status is JobStatus.WARNING
    assert [s.status for s in service.steps(job.key)] == [JobStatus.WARNING, JobStatus.FINISHED]


def test_failed_step_aborts_the_rest_of_the_chain(service: JobService, tmp_path: pathlib.Path) -> None:
    """When step 2 of 3 fails, step 3 never runs and is marked A with the job."""
    marker = tmp_path / "step3-ran"
    add_template(
        service,
        f"""
        [[template]]
        name = "/APPJOBS/TEST_BROKEN_CHAIN"
        text = "Broken chain"
        [[template.step]]
        command = "echo one"
        [[template.step]]
        command = "exit 1"
        [[template.step]]
        command = "touch {marker}"
        """,
    )
    job = service.schedule("/APPJOBS/TEST_BROKEN_CHAIN", creator="TESTER")
    assert wait_final(service, job.key).status is JobStatus.ABORTED
    statuses = [s.status for s in service.steps(job.key)]
    assert statuses == [JobStatus.FINISHED, JobStatus.ABORTED, JobStatus.ABORTED]
    assert service.steps(job.key)[2].started_at is None
    assert not marker.exists()


def test_python_step_exception_is_logged(service: JobService) -> None:
    """A callable step that raises ends A, with the traceback in the job log."""
    add_template(
        service,
        """
        [[template]]
        name = "/APPJOBS/TEST_RAISE"
        text = "Raise"
        [[template.step]]
        callable = "json:loads"
        parameters = { S = "not json" }
        """,
    )
    job = service.schedule("/APPJOBS/TEST_RAISE", creator="TESTER")
    assert wait_final(service, job.key).status is JobStatus.ABORTED
    texts = "\n".join(log_texts(service, job.key))
    assert "Traceback" in texts
    assert "TypeError" in texts  # json.loads() got an unexpected keyword argument 'S'


def test_shell_step_sees_parameters_and_job_identity(service: JobService) -> None:
    """A shell step gets its parameters and its job's name and run count as environment variables."""
    add_template(
        service,
        """
        [[template]]
        name = "/APPJOBS/TEST_ENV"
        text = "Environment"
        [[template.step]]
        command = 'echo "$GREETING $APPJOBS_JOB_NAME $APPJOBS_JOB_RUN_COUNT $APPJOBS_STEP_NUMBER"'
        parameters = { GREETING = "default" }
        """,
    )
    job = service.schedule("/APPJOBS/TEST_ENV", creator="TESTER", parameters={"GREETING": "it's 'quoted' $HOME"})
    assert wait_final(service, job.key).status is JobStatus.FINISHED
    expected = f"it's 'quoted' $HOME {job.key.name} {job.key.run_count} 1"
    assert expected in log_texts(service, job.key)
    assert service.parameters(job.key) == {1: {"GREETING": "it's 'quoted' $HOME"}}


def test_jobs_are_listed_by_creation_time(demo: JobService) -> None:
    """Jobs are listed oldest first within the creation-time window, optionally by creator."""
    first = demo.schedule("/APPJOBS/DEMO_ECHO", creator="ALICE")
    second = demo.schedule("/APPJOBS/DEMO_ECHO", creator="BOB")
    window = (first.created_at, second.created_at)
    assert [j.key for j in demo.jobs(*window)] == [first.key, second.key]
    assert [j.key for j in demo.jobs(*window, creator="BOB")] == [second.key]
    assert demo.jobs(second.created_at + dt.timedelta(seconds=1), models.utcnow()) == []


def test_unknown_job_is_not_found(service: JobService) -> None:
    """Asking for a job that does not exist raises APJ_RT/003."""
    with pytest.raises(errors.JobNotFound) as caught:
        service.status(models.JobKey("0" * 32, "AAAAAAAA"))
    assert caught.value.message_id == "APJ_RT/003"
