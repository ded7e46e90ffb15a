"""``Client.restart`` and the restart commands against a scripted SAP tenant: what goes over the wire, and tenants
older than JobRestart (2023), which answer 404 "Resource not found for the segment 'JobRestart'" (SAP Gateway)
or 501 (an ``appjobs serve`` that declares it without a handler). The answers are written by :mod:`appjobs.odata`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from sap_peer import BASE, JOB, KEY, PASSWORD, USER, SapPeer, reply, reset

from appjobs import models
from appjobs.client import (
    Client,
    JobKey,
    JobNotFound,
    JobStateError,
    OperationNotOffered,
    OutcomeUnknown,
    RestartMode,
    RestartRefused,
    Retry,
)
from appjobs.odata import entities, errordocs, model, payloads

APPJOBS = [sys.executable, "-m", "appjobs"]
COPY = models.JobKey("FA163EE3A08E1ED9879ED50BD092B7F8", "xJAYMLTy")


@pytest.fixture
def peer() -> Iterator[SapPeer]:
    with SapPeer() as running:
        yield running


@pytest.fixture
def client(peer: SapPeer) -> Iterator[Client]:
    with Client(peer.root, auth=(USER, PASSWORD), retry=Retry(attempts=2, backoff=0.01), trust_env=False) as made:
        yield made


def copy_answer() -> bytes:
    """JobRestart's answer as SAP documents it: the copy's key, JobStatus R, ReturnCode 0."""
    entity = entities.status_entity(COPY, models.JobStatus.RUNNING)
    return payloads.entry_json(model.JOB_SCHEDULE_STATUS_COLLECTION, entity, BASE)


def sap_error(code: str, message: str) -> bytes:
    return errordocs.error_document(code, message, fmt="json")


@pytest.mark.parametrize(
    ("mode", "letter"), [(RestartMode.FROM_FAILED, "E"), ("A", "A"), (RestartMode.AFTER_FAILED, "A")]
)
def test_restart_posts_the_key_and_mode_and_returns_the_copy(
    peer: SapPeer, client: Client, mode: RestartMode | str, letter: str
) -> None:
    """A POST with the CSRF token, JobName, JobRunCount and JobRestartMode as string literals; the copy's key back."""
    peer.answer("JobRestart", copy_answer())
    assert client.restart(JobKey(KEY.name, KEY.run_count), mode) == JobKey(COPY.name, COPY.run_count)
    (seen,) = peer.requests_for("JobRestart")
    assert seen.method == "POST"
    assert seen.headers.get("x-csrf-token")
    assert seen.params == {
        "JobName": f"'{KEY.name}'",
        "JobRunCount": f"'{KEY.run_count}'",
        "JobRestartMode": f"'{letter}'",
        "$format": "json",
    }


def test_a_bad_mode_is_refused_before_anything_is_sent(peer: SapPeer, client: Client) -> None:
    with pytest.raises(ValueError, match="'E' \\(from the failed step\\) or 'A'"):
        client.restart(JobKey(KEY.name, KEY.run_count), "X")
    assert peer.requests_for("JobRestart") == []


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("APJ_RT/081", "Can't restart the job due to the status"),
        ("APJ_RT/082", "Can't restart the job after the last step"),
    ],
)
def test_081_and_082_are_restart_refused_with_sap_s_message(
    peer: SapPeer, client: Client, code: str, message: str
) -> None:
    peer.answer("JobRestart", sap_error(code, message), status=400)
    with pytest.raises(RestartRefused) as caught:
        client.restart(JobKey(KEY.name, KEY.run_count))
    assert isinstance(caught.value, JobStateError)
    assert (caught.value.code, caught.value.status) == (code, 400)
    assert str(caught.value).startswith(f"{message} ({code})")


def test_a_missing_job_is_job_not_found_not_a_missing_operation(peer: SapPeer, client: Client) -> None:
    peer.answer("JobRestart", sap_error("APJ_RT/003", "Job doesn't exist."), status=400)
    with pytest.raises(JobNotFound) as caught:
        client.restart(JobKey(KEY.name, KEY.run_count))
    assert not isinstance(caught.value, OperationNotOffered)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, sap_error("005056A509B11EE1B9A8FEC11C21D78E", "Resource not found for the segment 'JobRestart'.")),
        (501, sap_error("005056A509B11EE1BB8AF4A65EC3CA20", "The function import JobRestart is not implemented yet.")),
    ],
)
def test_a_service_without_job_restart_says_so(peer: SapPeer, client: Client, status: int, body: bytes) -> None:
    """404 (an older tenant) and 501 are OperationNotOffered naming JobRestart, not a lost answer; sent once."""
    peer.answer("JobRestart", body, status=status)
    with pytest.raises(OperationNotOffered) as caught:
        client.restart(JobKey(KEY.name, KEY.run_count))
    assert (caught.value.operation, caught.value.status) == ("JobRestart", status)
    assert "does not offer JobRestart (SAP added it to BC_EXT_APPJOB_MANAGEMENT in 2023" in str(caught.value)
    assert len(peer.requests_for("JobRestart")) == 1


@pytest.mark.parametrize("fault", [reset(), reply(503, sap_error("005056A509B11EE1BB8AF4A65EC3CA20", "Busy"))])
def test_a_lost_answer_is_outcome_unknown_and_not_sent_again(peer: SapPeer, client: Client, fault: object) -> None:
    """A reset or a 503 after JobRestart was sent: the copy may exist, so it is OutcomeUnknown, sent once."""
    peer.answer("JobRestart", copy_answer())
    peer.script("POST", "JobRestart", fault)  # type: ignore[arg-type]
    with pytest.raises(OutcomeUnknown) as caught:
        client.restart(JobKey(KEY.name, KEY.run_count))
    assert not isinstance(caught.value, OperationNotOffered)
    assert caught.value.operation == "JobRestart"
    assert len(peer.requests_for("JobRestart")) == 1


def appjobs(peer: SapPeer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPJOBS_")}
    env |= {"APPJOBS_URL": peer.root, "APPJOBS_USER": USER, "APPJOBS_PASSWORD": PASSWORD}
    return subprocess.run([*APPJOBS, *args], env=env, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(
    "command",
    [
        ("restart", JOB.key.name, JOB.key.run_count),
        ("restart", JOB.key.name, JOB.key.run_count, "--wait"),
        ("run", "--restart-from-failed", JOB.key.name, JOB.key.run_count),
    ],
)
def test_the_commands_say_that_an_older_tenant_lacks_job_restart(peer: SapPeer, command: tuple[str, ...]) -> None:
    """Against a tenant without JobRestart (404) the commands exit 2 saying so, in one line."""
    result = appjobs(peer, *command)
    assert result.returncode == 2, result.stderr
    assert "the service does not offer JobRestart (SAP added it to BC_EXT_APPJOB_MANAGEMENT in 2023" in result.stderr
    assert "Traceback" not in result.stderr
