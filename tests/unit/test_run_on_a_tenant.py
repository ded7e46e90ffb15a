"""``appjobs run`` and the client commands against a scripted SAP tenant, for what ``appjobs serve`` never answers.

Our server ends a cancelled job A and never reports C (cancelled) or U (user
error), but SAP tenants do, and the exit codes for them are the client's
promise. The peer (:mod:`sap_peer`) answers with documents written by
:mod:`appjobs.odata`; ``appjobs`` runs as a real process, as a scheduler starts it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from sap_peer import BASE, JOB, PASSWORD, USER, SapPeer, reply

from appjobs import models
from appjobs.odata import entities, errordocs, model, payloads

APPJOBS = [sys.executable, "-m", "appjobs"]


@pytest.fixture
def peer() -> Iterator[SapPeer]:
    with SapPeer() as running:
        yield running


def appjobs(peer: SapPeer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPJOBS_")}
    env |= {"APPJOBS_URL": peer.root, "APPJOBS_USER": USER, "APPJOBS_PASSWORD": PASSWORD}
    return subprocess.run([*APPJOBS, *args], env=env, capture_output=True, text=True, timeout=60, check=False)


def status_answer(letter: str) -> bytes:
    job = dataclasses.replace(JOB, status=models.JobStatus(letter))
    return payloads.entry_json(
        model.JOB_SCHEDULE_STATUS_COLLECTION, entities.schedule_status_entity(job, include_status=True), BASE
    )


def job_gone() -> bytes:
    return errordocs.error_document("APJ_RT/003", f"Job {JOB.key.name} doesn't exist.", fmt="json")


@pytest.mark.parametrize(
    ("letter", "code", "text"),
    [("C", 3, "Canceled"), ("U", 1, "User Error"), ("F", 0, "Finished"), ("A", 1, "Failed")],
)
def test_the_exit_code_follows_the_status_the_tenant_reports(peer: SapPeer, letter: str, code: int, text: str) -> None:
    """C (cancelled on the tenant) exits 3 and U (user error) exits 1, after the job was seen running."""
    peer.script("GET", "JobStatusGet", reply(200, status_answer("R")))
    peer.answer("JobStatusGet", status_answer(letter))
    result = appjobs(peer, "run", JOB.template_name, "--json", "--poll-interval", "1")
    assert result.returncode == code, result.stderr
    report = json.loads(result.stdout)
    assert (report["status"], report["exit_code"]) == (letter, code)
    assert f"status {letter} ({text})" in result.stderr


def test_a_job_deleted_on_the_tenant_while_polled_exits_3(peer: SapPeer) -> None:
    """A job seen before that the tenant no longer knows (APJ_RT/003) was deleted: exit 3, status D."""
    peer.script("GET", "JobStatusGet", reply(200, status_answer("S")))
    peer.answer("JobStatusGet", job_gone(), status=400)
    result = appjobs(peer, "run", JOB.template_name, "--json", "--poll-interval", "1")
    assert result.returncode == 3, result.stderr
    assert json.loads(result.stdout)["status"] == "D"


def test_a_job_deleted_before_the_first_poll_exits_3(peer: SapPeer) -> None:
    """The JobSchedule answer proves the job existed: gone at the first poll, it was deleted (D), not unknown."""
    peer.answer("JobStatusGet", job_gone(), status=400)
    result = appjobs(peer, "run", JOB.template_name, "--json", "--poll-interval", "1")
    assert result.returncode == 3, result.stderr
    assert json.loads(result.stdout)["status"] == "D"


def test_resume_of_a_job_the_tenant_does_not_know_exits_2(peer: SapPeer, tmp_path) -> None:
    """A key read from a state file is taken on trust only: unknown at the first poll, it is a usage error."""
    peer.answer("JobStatusGet", job_gone(), status=400)
    state = tmp_path / "state.json"
    state.write_text(
        json.dumps(
            {"url": peer.root, "template": JOB.template_name, "text": "x [run ABCDEFGH]",
             "sent_at": "2024-06-01T08:00:00+00:00", "job_name": JOB.key.name, "run_count": JOB.key.run_count}
        )
    )  # fmt: skip
    result = appjobs(peer, "run", JOB.template_name, "--resume", str(state))
    assert result.returncode == 2, result.stderr


def test_sap_client_and_language_reach_every_request(peer: SapPeer) -> None:
    """--sap-client and --sap-language are sent as sap-client and sap-language on each request."""
    peer.answer("JobStatusGet", status_answer("F"))
    result = appjobs(
        peer, "run", JOB.template_name, "--sap-client", "100", "--sap-language", "DE", "--poll-interval", "1"
    )
    assert result.returncode == 0, result.stderr
    sent = [s for s in peer.seen if s.resource in ("", "JobSchedule", "JobStatusGet", "JobinfoGet")]
    assert {s.resource for s in sent} >= {"JobSchedule", "JobStatusGet"}
    for seen in sent:
        assert (seen.params.get("sap-client"), seen.params.get("sap-language")) == ("100", "DE"), seen
