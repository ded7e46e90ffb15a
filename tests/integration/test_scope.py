"""Scope over real HTTP: whose jobs a communication user sees and acts on, and who may log on at all.

Against a real ``appjobs serve`` (see :mod:`scopesite`): an SAP_COM_0064 user
meets another user's job exactly as a job that does not exist (APJ_RT/003,
the same bytes but for transaction id and time); an SAP_COM_0326 user sees
and acts on every job; a user without an arrangement gets 401, and so does a
user whose arrangement is removed while the server runs. Then JobSchedule's
JobUser (a registered business user, APJ_RT/083 otherwise; a template's
business_users, APJ_RT/077 otherwise) and the audit log of it all.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from scopesite import (
    ALL_JOBS,
    INTRUDER,
    KEYED,
    LEAVER,
    NO_ARRANGEMENT,
    OWNER,
    PASSWORDS,
    Site,
    error_code,
    running_site,
    shape,
)
from tenant import admin

from appjobs import models


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The module's server: SAP_COM_0064 users, an SAP_COM_0326 user, a user without arrangement (see scopesite)."""
    yield from running_site(tmp_path_factory)


def missing_job() -> dict:
    """A job key shaped like a real one, of a job that does not exist."""
    key = models.JobKey.new()
    return {"JobName": key.name, "JobRunCount": key.run_count}


def running_job(site: Site, http: requests.Session) -> dict:
    """A DEMO_SLEEP job of *http*'s user, once it runs."""
    job = site.schedule(http, "/APPJOBS/DEMO_SLEEP")
    site.wait_status(http, job, "R")
    return job


def test_0064_user_meets_another_users_job_as_a_missing_job(site: Site) -> None:
    """JobStatusGet, JobinfoGet, JobCancel and JobAbort of another user's job answer what a missing job does."""
    owner, intruder = site.session(OWNER), site.session(INTRUDER)
    job = running_job(site, owner)
    try:
        for function in KEYED:
            for fmt in ("json", "xml"):
                theirs = site.call(intruder, function, job, fmt)
                missing = site.call(intruder, function, missing_job(), fmt)
                assert shape(theirs) == shape(missing), (function, fmt)
                assert theirs.status_code == 400
                assert b"APJ_RT/003" in theirs.content
                assert job["JobName"].encode() not in theirs.content
        assert site.status(owner, job["JobName"], job["JobRunCount"]) == "R"  # neither cancelled nor aborted
    finally:
        assert site.call(owner, "JobCancel", job).status_code == 200


def test_0064_user_does_not_list_another_users_job(site: Site) -> None:
    """JobListGet of an SAP_COM_0064 user lists only the jobs it created."""
    owner, intruder = site.session(OWNER), site.session(INTRUDER)
    theirs = site.schedule(owner, "/APPJOBS/DEMO_ECHO")
    mine = site.schedule(intruder, "/APPJOBS/DEMO_ECHO")
    assert site.job_list(intruder, JobName=f"'{theirs['JobName']}'") == []
    listed = site.job_list(intruder)
    assert mine["JobName"] in {row["JobName"] for row in listed}
    assert theirs["JobName"] not in {row["JobName"] for row in listed}
    assert {row["JobCreator"] for row in listed} == {INTRUDER}
    assert [row["JobName"] for row in site.job_list(owner, JobName=f"'{theirs['JobName']}'")] == [theirs["JobName"]]


def test_0326_user_sees_and_lists_every_job(site: Site) -> None:
    """An SAP_COM_0326 user reads another user's job: JobStatusGet, JobinfoGet and JobListGet."""
    owner, all_jobs = site.session(OWNER), site.session(ALL_JOBS)
    job = site.schedule(owner, "/APPJOBS/DEMO_CHAIN")
    assert site.wait_status(all_jobs, job, "F") == "F"
    info = site.call(all_jobs, "JobinfoGet", job)
    assert info.status_code == 200, info.text
    assert [(r["JobName"], r["StepCount"]) for r in info.json()["d"]["results"]] == [
        (job["JobName"], n) for n in (1, 2, 3)
    ]
    [row] = site.job_list(all_jobs, JobName=f"'{job['JobName']}'")
    assert (row["JobCreator"], row["JobStatus"]) == (OWNER, "F")
    listed = site.job_list(all_jobs)
    assert {OWNER} <= {r["JobCreator"] for r in listed}
    assert job["JobName"] in {r["JobName"] for r in listed}


def test_0326_user_cancels_and_aborts_another_users_jobs(site: Site) -> None:
    """An SAP_COM_0326 user aborts another user's running job (it ends A) and cancels another (it ends or goes)."""
    owner, all_jobs = site.session(OWNER), site.session(ALL_JOBS)
    running = running_job(site, owner)
    other = site.schedule(owner, "/APPJOBS/DEMO_SLEEP")
    aborted = site.call(all_jobs, "JobAbort", running)
    assert aborted.status_code == 200, aborted.text
    assert aborted.json()["d"]["ReturnCode"] == 0
    assert site.wait_status(owner, running, "A") == "A"
    cancelled = site.call(all_jobs, "JobCancel", other)
    assert cancelled.status_code == 200, cancelled.text
    # Deleted if it had not started (APJ_RT/003 from now on), aborted if it had.
    status = site.call(owner, "JobStatusGet", other)
    if status.status_code == 200:
        assert site.wait_status(owner, other, "A") == "A"
    else:
        assert error_code(status) == "APJ_RT/003"


def test_user_without_arrangement_gets_401(site: Site) -> None:
    """A user with the right password but no communication arrangement is refused like a wrong password."""
    refused = requests.get(site.root + "/", auth=(NO_ARRANGEMENT, PASSWORDS[NO_ARRANGEMENT]), timeout=10)
    wrong = requests.get(site.root + "/", auth=(OWNER, "not-the-password"), timeout=10)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith('Basic realm="SAP NetWeaver Application Server')
    assert shape(refused)[::2] == shape(wrong)[::2]
    assert requests.get(site.root + "/", auth=site.auth(OWNER), timeout=10).status_code == 200
    _, entries = site.audit()
    assert any(
        (e["event"], e["user_name"], e["outcome"], e["source"]) == ("logon", NO_ARRANGEMENT, "failure", "127.0.0.1")
        and "no communication arrangement" in e["detail"]
        for e in entries
    ), entries


def test_removing_the_arrangement_stops_logons_of_a_running_server(site: Site) -> None:
    """Once ``arrangements remove`` has returned, the user's session, cookie and Basic logons get 401 at once."""
    http = site.session(LEAVER)
    job = site.schedule(http, "/APPJOBS/DEMO_ECHO")
    cookie_only = requests.Session()
    cookie_only.cookies.update(http.cookies)
    assert cookie_only.get(site.root + "/", timeout=10).status_code == 200
    assert requests.get(site.root + "/", auth=site.auth(LEAVER), timeout=10).status_code == 200

    admin(site.data_dir, "arrangements", "remove", "LEAVER_0064")

    answers = (
        site.call(http, "JobStatusGet", job),  # the poll a server answers from its caches
        cookie_only.get(site.root + "/", timeout=10),
        requests.get(site.root + "/", auth=site.auth(LEAVER), timeout=10),
    )
    assert [a.status_code for a in answers] == [401, 401, 401]
    scheduled = http.post(site.root + "/JobSchedule", params={"JobTemplateName": "'/APPJOBS/DEMO_ECHO'"}, timeout=10)
    assert scheduled.status_code == 401
    assert site.session(OWNER)  # the others still log on


# --- JobUser: business users and templates restricted to some of them --------------------------


def schedule_as(site: Site, http: requests.Session, template: str, job_user: str | None) -> requests.Response:
    params = {"JobTemplateName": f"'{template}'", "JobText": "'scope test'"}
    if job_user is not None:
        params["JobUser"] = f"'{job_user}'"
    return site.call(http, "JobSchedule", **params)


def test_job_user_must_be_a_registered_business_user(site: Site) -> None:
    """JobSchedule with an unknown JobUser answers 400 APJ_RT/083 and creates no job; a registered one is stored."""
    http = site.session(OWNER)
    before = {row["JobName"] for row in site.job_list(http)}
    unknown = schedule_as(site, http, "/APPJOBS/DEMO_ECHO", "NOSUCHUSER")
    assert error_code(unknown) == "APJ_RT/083"
    assert "NOSUCHUSER" in unknown.json()["error"]["message"]["value"]
    assert {row["JobName"] for row in site.job_list(http)} == before
    for given, stored in (("CB8980000030", "CB8980000030"), ("cb8980000030", "CB8980000030"), (None, OWNER)):
        answer = schedule_as(site, http, "/APPJOBS/DEMO_ECHO", given)
        assert answer.status_code == 200, answer.text
        assert site.job(answer.json()["d"])["job_user"] == stored, given
    # An empty JobUser is the creator, even one that is not a registered business user.
    other = schedule_as(site, site.session(INTRUDER), "/APPJOBS/DEMO_ECHO", "")
    assert other.status_code == 200, other.text
    assert site.job(other.json()["d"])["job_user"] == INTRUDER


def test_template_restricted_to_business_users(site: Site) -> None:
    """A template with business_users runs only for them (APJ_RT/077 for others; empty JobUser is the creator)."""
    owner, intruder = site.session(OWNER), site.session(INTRUDER)
    refused = [
        (owner, "/T/RESTRICTED", OWNER),  # a registered business user, but not one of the template's
        (owner, "/T/RESTRICTED", None),  # the creator, who is not one of them either
        (intruder, "/T/OWN", None),
        (intruder, "/T/OWN", "CB8980000030"),
    ]
    for http, template, job_user in refused:
        answer = schedule_as(site, http, template, job_user)
        assert error_code(answer) == "APJ_RT/077", (template, job_user)
    assert error_code(schedule_as(site, owner, "/T/RESTRICTED", "NOSUCHUSER")) == "APJ_RT/083"
    allowed = [(owner, "/T/RESTRICTED", "CB8980000030"), (owner, "/T/OWN", None), (intruder, "/T/OWN", OWNER)]
    for http, template, job_user in allowed:
        answer = schedule_as(site, http, template, job_user)
        assert answer.status_code == 200, answer.text
        assert site.wait_status(http, answer.json()["d"], "FA") == "F"


# --- the audit log of what happened over HTTP --------------------------------------------------


def audited_actions(site: Site) -> tuple[list[dict], set[str]]:
    """Logons, schedules and cancels of INTRUDER, each as a success and as a failure, and a failed abort.

    Returns the jobs concerned and every CSRF token and cookie value the server gave out.
    """
    assert requests.get(site.root + "/", auth=(INTRUDER, "not-the-password"), timeout=10).status_code == 401
    intruder, owner = site.session(INTRUDER), site.session(OWNER)
    scheduled = site.schedule(intruder, "/APPJOBS/DEMO_SLEEP")
    assert error_code(schedule_as(site, intruder, "/APPJOBS/DEMO_ECHO", "NOSUCHUSER")) == "APJ_RT/083"
    broken = {"JobTemplateName": "'/APPJOBS/DEMO_ECHO'", "JobParameterValues": "'{broken'"}
    assert error_code(site.call(intruder, "JobSchedule", **broken)) == "APJ_RT/032"
    assert site.call(intruder, "JobCancel", scheduled).status_code == 200
    theirs = site.schedule(owner, "/APPJOBS/DEMO_ECHO")
    assert error_code(site.call(intruder, "JobCancel", theirs)) == "APJ_RT/003"
    assert error_code(site.call(intruder, "JobAbort", theirs)) == "APJ_RT/003"
    secrets = {http.headers["X-CSRF-Token"] for http in (intruder, owner)}
    secrets |= {value for http in (intruder, owner) for value in http.cookies.values()}
    return [scheduled, theirs], secrets


def test_audit_log_holds_logons_schedules_and_cancels_but_no_secret(site: Site) -> None:
    """``admin audit --json`` has logons, schedules, cancels (outcome, 127.0.0.1); no password, token or cookie."""
    since = models.utcnow().strftime("%Y-%m-%dT%H:%M:%S")
    (scheduled, theirs), secrets = audited_actions(site)
    raw, entries = site.audit(since)
    mine = [(e["event"], e["outcome"], e["detail"]) for e in entries if e["user_name"] == INTRUDER]
    assert {e["source"] for e in entries if e["user_name"] == INTRUDER} == {"127.0.0.1"}
    assert ("logon", "failure", "wrong password") in mine
    assert ("logon", "success", "password") in mine
    assert (
        "schedule",
        "success",
        f"job {scheduled['JobName']} {scheduled['JobRunCount']} from /APPJOBS/DEMO_SLEEP",
    ) in mine
    assert any(e[:2] == ("schedule", "failure") and "NOSUCHUSER" in e[2] for e in mine), mine
    # A failed schedule's entry gives the reason behind APJ_RT/032, not only "Job couldn't be scheduled."
    assert any(e[:2] == ("schedule", "failure") and "JobParameterValues is not valid" in e[2] for e in mine), mine
    assert ("abort", "failure", f"job {theirs['JobName']} {theirs['JobRunCount']}: Job doesn't exist.") in mine
    assert ("cancel", "success", f"job {scheduled['JobName']} {scheduled['JobRunCount']}") in mine
    assert ("cancel", "failure", f"job {theirs['JobName']} {theirs['JobRunCount']}: Job doesn't exist.") in mine
    for secret in (*PASSWORDS.values(), *secrets):
        assert secret not in raw
        assert requests.utils.unquote(secret) not in raw
