"""JobRestart over real HTTP, on SQLite and PostgreSQL: a copy of a failed chain run from or after its failed step.

Every chain here (see :mod:`restartsite`) has three shell steps that write a
line to a file each (their job's name and a parameter value), so that what
ran, in which job and with which value is seen on disk, not only in statuses.
"""

from __future__ import annotations

import json
import os
import pathlib

import pytest
import requests
from conftest import wait_for
from restartsite import chain, error, jobinfo, key, restart, restarted, step_statuses, stored
from tenant import Tenant, admin

from appjobs import models

pytestmark = pytest.mark.backends("sqlite", "postgresql")

AREA_2 = json.dumps(
    {"VALUES": [{"NAME": "AREA_2", "T_VALUE": [{"SIGN": "I", "OPTION": "EQ", "LOW": "EU-2", "HIGH": ""}]}]}
)


def failed_job(tenant: Tenant, http: requests.Session, template: str) -> dict:
    """A job of *template* with step 2's parameter set, once it has ended A."""
    job = tenant.schedule(http, template, JobParameterValues=f"'{AREA_2}'")
    assert tenant.wait_status(http, job, "FAW") == "A"
    return job


def test_restart_from_the_failed_step(tenant: Tenant, tmp_path: pathlib.Path) -> None:
    """Mode E: step 1 is skipped (K, not run again), the failed step 2 runs again with its parameter, then step 3.

    The copy is a new job, created by the caller, pointing at the original,
    which stays as it was; the answer says R as SAP's does.
    """
    http, steps = tenant.session(), chain(tenant, tmp_path)
    job = failed_job(tenant, http, steps.name)
    assert step_statuses(tenant, http, job) == "FAA"
    assert (len(steps.lines(1)), len(steps.lines(2)), steps.lines(3)) == (1, 1, [])

    copy = restarted(tenant, http, job, "E")
    assert (copy["JobStatus"], copy["ReturnCode"]) == ("R", 0)
    assert copy["JobName"] != job["JobName"]
    assert models.JOB_NAME_RE.match(copy["JobName"])
    assert models.RUN_COUNT_RE.match(copy["JobRunCount"])
    assert tenant.wait_status(http, copy, "FAW") == "F"
    rows = jobinfo(tenant, http, copy)
    assert [(r["StepCount"], r["StepStatus"]) for r in rows] == [(1, "K"), (2, "F"), (3, "F")]
    assert {r["JobStatus"] for r in rows} == {"F"}
    assert rows[0]["StepStartDateTime"] is None  # never started

    assert steps.lines(1) == [f"{job['JobName']} default1"]  # the skipped step did not run again
    assert steps.lines(2) == [f"{job['JobName']} EU-2", f"{copy['JobName']} EU-2"]  # same parameter value
    assert steps.lines(3) == [f"{copy['JobName']} default3"]
    assert step_statuses(tenant, http, job) == "FAA"  # the original is untouched
    with stored(tenant) as store:
        stored_copy, log = store.jobs.get(key(copy)), [e.text for e in store.jobs.log(key(copy))]
        assert store.jobs.parameters(key(copy)) == store.jobs.parameters(key(job))
        definitions = [[(s.kind, s.target, s.text, s.pass_env) for s in store.jobs.steps(key(j))] for j in (job, copy)]
        original_log = [e.text for e in store.jobs.log(key(job))]
    assert (stored_copy.restart_of, stored_copy.restart_mode) == (key(job), "E")
    assert definitions[0] == definitions[1]  # each step as the original had it
    assert [d[3] for d in definitions[1]] == [("RESTART_TEST_1",), ("RESTART_TEST_2",), ("RESTART_TEST_3",)]
    assert (stored_copy.creator, stored_copy.template_name, stored_copy.text) == (
        tenant.user,
        steps.name,
        "appjobs test",
    )
    assert any(f"copy of job {job['JobName']} {job['JobRunCount']}" in t and "from step 2 of 3" in t for t in log)
    assert "Step 1 skipped: the job restarts from step 2." in log
    assert f"Job restarted by {tenant.user} as job {copy['JobName']} {copy['JobRunCount']} (mode E)." in original_log


def test_restart_after_the_failed_step(tenant: Tenant, tmp_path: pathlib.Path) -> None:
    """Mode A: steps 1 and 2 are skipped (neither runs again), only step 3 runs, and the copy ends F."""
    http, steps = tenant.session(), chain(tenant, tmp_path)
    job = failed_job(tenant, http, steps.name)
    copy = restarted(tenant, http, job, "A")
    assert tenant.wait_status(http, copy, "FAW") == "F"
    assert step_statuses(tenant, http, copy) == "KKF"
    assert len(steps.lines(1)) == len(steps.lines(2)) == 1
    assert steps.lines(3) == [f"{copy['JobName']} default3"]
    with stored(tenant) as store:
        assert store.jobs.get(key(copy)).restart_mode == "A"


def test_restart_of_a_restart(tenant: Tenant, tmp_path: pathlib.Path) -> None:
    """A copy that fails again can be restarted: its skipped step stays skipped, and the lineage is kept."""
    http, steps = tenant.session(), chain(tenant, tmp_path, passes_on=3)
    job = failed_job(tenant, http, steps.name)
    first = restarted(tenant, http, job, "E")
    assert tenant.wait_status(http, first, "FAW") == "A"
    assert step_statuses(tenant, http, first) == "KAA"
    second = restarted(tenant, http, first, "E")
    assert tenant.wait_status(http, second, "FAW") == "F"
    assert step_statuses(tenant, http, second) == "KFF"
    assert [line.split()[0] for line in steps.lines(2)] == [job["JobName"], first["JobName"], second["JobName"]]
    assert len(steps.lines(1)) == 1
    with stored(tenant) as store:
        assert store.jobs.get(key(second)).restart_of == key(first)
        assert store.jobs.get(key(first)).restart_of == key(job)
    # JobHeaderSet shows the lineage: the copy's origin, the mode and how many restarts lead to it.
    origin = [header(tenant, http, j) for j in (job, first, second)]
    assert [(h["OrigJobName"], h["OrigJobCount"], h["JobRunRestartMode"], h["JobRestartCount"]) for h in origin] == [
        ("", "", "", 0),  # an original: empty, as ABAP writes an initial field
        (job["JobName"], job["JobRunCount"], "E", 1),
        (first["JobName"], first["JobRunCount"], "E", 2),
    ]
    assert [s["StepStatus"] for s in origin[2]["JobStepSet"]["results"]] == ["K", "F", "F"]


def header(tenant: Tenant, http: requests.Session, job: dict) -> dict:
    """The job's JobHeader with its steps, read as a client of today's tenants reads it."""
    path = f"JobHeaderSet(JobName='{job['JobName']}',JobRunCount='{job['JobRunCount']}')"
    response = http.get(f"{tenant.root}/{path}", params={"$expand": "JobStepSet", "$format": "json"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["d"]


def test_a_cancelled_job_restarts_from_the_step_that_was_running(tenant: Tenant, tmp_path: pathlib.Path) -> None:
    """A job cancelled in step 2 ends A; mode E reruns step 2 (which no longer hangs) and step 3."""
    http, steps = tenant.session(), chain(tenant, tmp_path, how="hang")
    job = tenant.schedule(http, steps.name)
    wait_for((steps.folder / "slept").exists)
    cancel = {"JobName": f"'{job['JobName']}'", "JobRunCount": f"'{job['JobRunCount']}'"}
    assert http.post(f"{tenant.root}/JobCancel", params=cancel, timeout=10).status_code == 200
    assert tenant.wait_status(http, job, "FAW") == "A"
    assert step_statuses(tenant, http, job) == "FAA"
    copy = restarted(tenant, http, job, "E")
    assert tenant.wait_status(http, copy, "FAW") == "F"
    assert step_statuses(tenant, http, copy) == "KFF"
    assert len(steps.lines(1)) == 1
    assert len(steps.lines(3)) == 1


def test_jobs_that_did_not_fail_are_081(tenant: Tenant) -> None:
    """F, W, R and a job not started yet (S or Y) cannot be restarted: APJ_RT/081, SAP's text, the status named."""
    http = tenant.session()
    finished = tenant.schedule(http, "/APPJOBS/DEMO_ECHO")
    warned = tenant.schedule(http, "/APPJOBS/DEMO_WARN")
    assert tenant.wait_status(http, finished, "FAW") == "F"
    assert tenant.wait_status(http, warned, "FAW") == "W"
    # The server runs os.cpu_count() steps at once: fill every slot, and one more job must wait.
    sleeping = '{"VALUES":[{"NAME":"SECONDS","T_VALUE":[{"SIGN":"I","OPTION":"EQ","LOW":"120","HIGH":""}]}]}'
    busy = [
        tenant.schedule(http, "/APPJOBS/DEMO_SLEEP", JobParameterValues=f"'{sleeping}'")
        for _ in range(os.cpu_count() or 1)
    ]
    waiting = tenant.schedule(http, "/APPJOBS/DEMO_SLEEP")
    try:
        for running in busy:
            tenant.wait_status(http, running, "R")
        assert tenant.status(http, waiting["JobName"], waiting["JobRunCount"]) in ("S", "Y")
        for job, letter in ((finished, "F"), (warned, "W"), (busy[0], "R"), (waiting, "")):
            for mode in ("E", "A"):
                code, message, details = error(restart(tenant, http, job, mode))
                assert (code, message) == ("APJ_RT/081", "Can't restart the job due to the status"), job
                assert details
                assert f"Job {job['JobName']} {job['JobRunCount']} is {letter}" in details[0]
                assert "A (Failed), C (Canceled), U (User Error)" in details[0]
    finally:
        for job in [waiting, *busy]:
            params = {"JobName": f"'{job['JobName']}'", "JobRunCount": f"'{job['JobRunCount']}'"}
            http.post(f"{tenant.root}/JobCancel", params=params, timeout=10)


def test_after_the_last_step_is_082(tenant: Tenant, tmp_path: pathlib.Path) -> None:
    """Mode A after a failure in the last step (of a chain, or of a one-step job) is APJ_RT/082; mode E works."""
    http, steps = tenant.session(), chain(tenant, tmp_path, failing=3)
    job = failed_job(tenant, http, steps.name)
    assert step_statuses(tenant, http, job) == "FFA"
    code, message, details = error(restart(tenant, http, job, "A"))
    assert (code, message) == ("APJ_RT/082", "Can't restart the job after the last step")
    assert "failed in step 3, its last" in details[0]
    single = tenant.schedule(http, "/APPJOBS/DEMO_FAIL")
    assert tenant.wait_status(http, single, "FAW") == "A"
    assert error(restart(tenant, http, single, "A"))[0] == "APJ_RT/082"
    copy = restarted(tenant, http, job, "E")
    assert tenant.wait_status(http, copy, "FAW") == "F"
    assert step_statuses(tenant, http, copy) == "KKF"


@pytest.mark.parametrize("mode", ["X", "e", "", "EA", None])
def test_an_unknown_mode_is_refused_naming_the_allowed_ones(tenant: Tenant, mode: str | None) -> None:
    """Any JobRestartMode but E and A (or none) is a 400 naming JobRestartMode and both letters; no job is made."""
    http = tenant.session()
    job = tenant.schedule(http, "/APPJOBS/DEMO_FAIL")
    assert tenant.wait_status(http, job, "FAW") == "A"
    with stored(tenant) as store:
        before = len(store.jobs.list(models.utcnow().replace(year=2000), models.utcnow()))
    response = restart(tenant, http, job, mode)
    assert response.status_code == 400, response.text
    message = response.json()["error"]["message"]["value"]
    assert "JobRestartMode must be 'E' (from the failed step) or 'A' (after the failed step)" in message
    assert (f"it is '{mode}'" if mode else "it is missing") in message
    with stored(tenant) as store:
        assert len(store.jobs.list(models.utcnow().replace(year=2000), models.utcnow())) == before


def test_another_users_job_is_003_as_a_missing_one(tenant: Tenant, tmp_path: pathlib.Path) -> None:
    """An SAP_COM_0064 user restarting another user's failed job gets what a missing job gets, and nothing is made."""
    owner, other = tenant.session(), tenant.session("OTHERUSER")
    job = tenant.schedule(owner, "/APPJOBS/DEMO_FAIL")
    assert tenant.wait_status(owner, job, "FAW") == "A"
    missing = models.JobKey.new()
    theirs = restart(tenant, other, job, "E")
    nothing = restart(tenant, other, {"JobName": missing.name, "JobRunCount": missing.run_count}, "E")
    assert error(theirs) == error(nothing) == ("APJ_RT/003", "Job doesn't exist.", [])
    assert job["JobName"] not in theirs.text
    with stored(tenant) as store:
        copies = [j for j in store.jobs.list(models.utcnow().replace(year=2000), models.utcnow()) if j.restart_of]
    assert key(job) not in {j.restart_of for j in copies}


def test_restarts_are_audited(tenant: Tenant) -> None:
    """A restart that worked and one that was refused are in the audit log, naming both jobs and the outcome."""
    http = tenant.session()
    job = tenant.schedule(http, "/APPJOBS/DEMO_FAIL")
    assert tenant.wait_status(http, job, "FAW") == "A"
    copy = restarted(tenant, http, job, "E")
    assert error(restart(tenant, http, job, "A"))[0] == "APJ_RT/082"
    entries = json.loads(admin(tenant.data_dir, "audit", "--json", "--since", "2000-01-01").stdout)
    restarts = [(e["user_name"], e["outcome"], e["detail"]) for e in entries if e["event"] == "restart"]
    original = f"job {job['JobName']} {job['JobRunCount']}"
    assert (
        tenant.user,
        "success",
        f"job {copy['JobName']} {copy['JobRunCount']} restarting {original} (mode E)",
    ) in restarts
    assert any(
        who == tenant.user and outcome == "failure" and detail.startswith(original) for who, outcome, detail in restarts
    )


def test_atom_answer(tenant: Tenant) -> None:
    """Without $format the answer is an Atom entry of JobScheduleStatusCollection with JobStatus R."""
    http = tenant.session()
    job = tenant.schedule(http, "/APPJOBS/DEMO_FAIL")
    assert tenant.wait_status(http, job, "FAW") == "A"
    response = restart(tenant, http, job, "E", fmt="xml")
    assert response.status_code == 200, response.text
    assert "<d:JobStatus>R</d:JobStatus>" in response.text
    assert "JobScheduleStatusCollection(JobName='" in response.text
