"""The Application Jobs pages: the job list (filters, paging, live rows), the job page, Cancel, Restart, Copy."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import uuid

import pytest
import requests
from conftest import wait_for
from uisite import Page, UiTenant

from appjobs import models

#: The list's keyset paging sorts text by code point on PostgreSQL too (run counts mix cases): tested on both.
pytestmark = pytest.mark.backends("sqlite", "postgresql")

SLEEP, ECHO, FAIL = "/APPJOBS/DEMO_SLEEP", "/APPJOBS/DEMO_ECHO", "/APPJOBS/DEMO_FAIL"
_ROW = re.compile(r'<tr data-job="([0-9A-F]{32}/[A-Za-z]{8})">')


def marker() -> str:
    return "ui-" + uuid.uuid4().hex[:10]


def params(**values: str) -> str:
    """JobParameterValues as an OData literal."""
    rows = [{"NAME": k, "T_VALUE": [{"SIGN": "I", "OPTION": "EQ", "LOW": v, "HIGH": ""}]} for k, v in values.items()]
    return f"'{json.dumps({'VALUES': rows})}'"


def schedule(ui: UiTenant, template: str = ECHO, text: str = "", user: str | None = None, **values: str) -> dict:
    """Schedule over OData (as an external scheduler does); the JobSchedule answer."""
    tenant = ui.tenant
    extra = {"JobText": f"'{text}'"} if text else {}
    if values:
        extra["JobParameterValues"] = params(**values)
    return tenant.schedule(tenant.session(user), template, **extra)


def key(job: dict) -> str:
    return f"{job['JobName']}/{job['JobRunCount']}"


def rows(answer: requests.Response) -> list[str]:
    return _ROW.findall(answer.text)


def status_of(page: Page, job: dict) -> str:
    """The status text the job's row shows in the live rows fragment."""
    found = page.get(f"/jobs/rows?q={job['JobName']}")
    row = found.text.split(f'data-job="{key(job)}"')[1].split("</tr>")[0]
    return re.search(r'class="status [a-z]+">([^<]+)<', row).group(1)  # type: ignore[union-attr]


def wait_status(page: Page, job: dict, *texts: str, timeout: float = 30) -> str:
    return wait_for(lambda: (s := status_of(page, job)) in texts and s, timeout, interval=0.2)  # type: ignore[return-value]


# --- the list -------------------------------------------------------------------------------------------------------


def test_a_job_scheduled_over_odata_appears_in_the_list_and_its_live_rows_until_finished(ui_tenant: UiTenant) -> None:
    page, text = ui_tenant.page("UIVIEWER"), marker()
    job = schedule(ui_tenant, text=text)
    listing = page.get("/jobs")
    assert listing.status_code == 200
    assert key(job) in rows(listing)
    assert '<table id="jobs">' in listing.text
    live = re.search(r'<tbody id="job-rows" hx-get="/appjobs/ui(/jobs/rows\?[^"]*v=[0-9a-f]+[^"]*)" '
                     r'hx-trigger="every 2s" hx-swap="outerHTML">', listing.text)  # fmt: skip
    assert live, listing.text
    fragment = page.get(f"/jobs/rows?q={text}", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert rows(fragment) == [key(job)]
    assert "<html" not in fragment.text  # the rows alone
    assert wait_status(page, job, "Finished") == "Finished"
    finished = page.get(f"/jobs/rows?q={text}")
    assert 'class="status success">Finished<' in finished.text
    again = re.search(r'hx-get="/appjobs/ui(/jobs/rows\?[^"]+)"', finished.text).group(1)  # type: ignore[union-attr]
    assert page.get(html.unescape(again)).status_code == 204  # nothing changed since: htmx leaves the rows be


def test_the_filters_narrow_the_list(ui_tenant: UiTenant) -> None:
    page, text = ui_tenant.page("UIVIEWER"), marker()
    echo = schedule(ui_tenant, text=f"{text} echo")
    failed = schedule(ui_tenant, FAIL, text=f"{text} fail")
    other = schedule(ui_tenant, text=f"{text} other", user="OTHERUSER")
    wait_status(page, failed, "Failed")
    wait_status(page, echo, "Finished")
    wait_status(page, other, "Finished")
    mine = {key(echo), key(failed), key(other)}
    assert set(rows(page.get(f"/jobs?q={text}"))) == mine
    assert rows(page.get(f"/jobs?q={text}&status=A")) == [key(failed)]
    assert set(rows(page.get(f"/jobs?q={text}&status=A&status=F"))) == mine
    assert rows(page.get(f"/jobs?q={text}&template={FAIL}")) == [key(failed)]
    assert rows(page.get(f"/jobs?q={text}&creator=otheruser")) == [key(other)]
    assert set(rows(page.get(f"/jobs?q={text}&creator=JOBSCHEDULERUSER"))) == {key(echo), key(failed)}
    assert set(rows(page.get(f"/jobs?q={text}&job_user=JOBSCHEDULERUSER"))) == {key(echo), key(failed)}
    assert rows(page.get(f"/jobs?q={text.upper()} FAIL")) == [key(failed)]  # any case
    assert rows(page.get(f"/jobs?q={failed['JobName']}")) == [key(failed)]  # a job name finds the job
    later = (models.utcnow() + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    assert rows(page.get(f"/jobs?q={text}&from={later}")) == []
    assert set(rows(page.get(f"/jobs?q={text}&to={later}"))) == mine
    assert "No jobs match" in page.get(f"/jobs?q={text}&status=R").text


def test_a_failed_row_shows_its_first_error_line(ui_tenant: UiTenant) -> None:
    page, text = ui_tenant.page("UIVIEWER"), marker()
    failed = schedule(ui_tenant, FAIL, text=text)
    wait_status(page, failed, "Failed")
    row = page.get(f"/jobs?q={text}").text.split(f'data-job="{key(failed)}"')[1].split("</tr>")[0]
    assert '<div class="first-error">Step 1 failed with exit code 3.</div>' in row


def test_a_bad_time_in_the_filter_is_named(ui_tenant: UiTenant) -> None:
    answer = ui_tenant.page("UIVIEWER").get("/jobs?from=yesterday")
    assert answer.status_code == 400
    assert "Planned start from: &#39;yesterday&#39; is not a date and time" in answer.text


def test_paging_by_cursor_gives_disjoint_pages_newest_first_and_back(ui_tenant: UiTenant) -> None:
    page, text = ui_tenant.page("UIVIEWER"), marker()
    jobs = [schedule(ui_tenant, text=text) for _ in range(7)]
    first = page.get(f"/jobs?q={text}&size=3")
    pages, answer = [rows(first)], first
    while 'id="older"' in answer.text and len(pages) < 10:  # a cursor that does not move would loop forever
        link = html.unescape(re.search(r'id="older" rel="next" href="/appjobs/ui([^"]+)"', answer.text).group(1))  # type: ignore[union-attr]
        assert "offset" not in link
        assert "after=" in link
        answer = page.get(link)
        pages.append(rows(answer))
    assert [len(p) for p in pages] == [3, 3, 1]
    everything = [k for p in pages for k in p]
    assert sorted(everything) == sorted(key(j) for j in jobs)  # every job once: disjoint and complete
    second = page.get(html.unescape(re.search(r'id="older" rel="next" href="/appjobs/ui([^"]+)"', first.text).group(1)))  # type: ignore[union-attr]
    newer = html.unescape(re.search(r'id="newer" rel="prev" href="/appjobs/ui([^"]+)"', second.text).group(1))  # type: ignore[union-attr]
    assert rows(page.get(newer)) == pages[0]
    store = ui_tenant.store()
    try:
        found = store.jobs.list(models.utcnow() - dt.timedelta(hours=1), models.utcnow(), filters={"text": text})
        planned = {str(j.key): j.scheduled_at for j in found}
    finally:
        store.close()
    assert [planned[k] for k in everything] == sorted(planned.values(), reverse=True)  # newest first


def test_a_stale_or_edited_cursor_shows_the_first_page(ui_tenant: UiTenant) -> None:
    answer = ui_tenant.page("UIVIEWER").get("/jobs?after=not-a-cursor")
    assert answer.status_code == 200
    assert '<table id="jobs">' in answer.text


def test_a_job_text_with_markup_is_shown_never_run(ui_tenant: UiTenant) -> None:
    page = ui_tenant.page("UIVIEWER")
    job = schedule(ui_tenant, text="<script>alert(1)</script>")
    for answer in (page.get(f"/jobs?q={job['JobName']}"), page.get(f"/jobs/{key(job)}")):
        assert "<script>alert(1)" not in answer.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answer.text


# --- the job page ------------------------------------------------------------------------------------------------


def test_the_job_page_shows_header_steps_parameters_and_the_log_with_the_steps_output(ui_tenant: UiTenant) -> None:
    page, text = ui_tenant.page("UIVIEWER"), marker()
    job = schedule(ui_tenant, text=text, MESSAGE="hello from the job page", REPEAT="2")
    wait_status(page, job, "Finished")
    answer = page.get(f"/jobs/{key(job)}")
    assert answer.status_code == 200
    assert f"<h1>{text}</h1>" in answer.text
    assert re.search(r'id="job-status"><span class="status success">Finished</span>', answer.text)
    assert '<table id="steps">' in answer.text
    assert "Print the parameters" in answer.text  # the template step's text
    assert '<th scope="row">MESSAGE</th><td>hello from the job page</td>' in answer.text
    log = answer.text.split('id="log"')[1]
    assert log.count("hello from the job page") == 2
    assert "Job finished." in log
    assert "hx-trigger" not in answer.text.split('id="job-live"')[1].split(">")[0]  # final: no more polling
    assert 'id="cancel"' not in answer.text  # nothing to cancel
    assert 'id="copy"' not in answer.text  # a viewer sees no actions


def test_a_missing_job_is_a_404_page_saying_so(ui_tenant: UiTenant) -> None:
    page = ui_tenant.page("UIVIEWER")
    answer = page.get("/jobs/" + "0" * 32 + "/abcdefgh")
    assert answer.status_code == 404
    assert "doesn" in answer.text
    assert "exist" in answer.text
    assert page.get("/jobs/not-a-job/name").status_code == 404


def test_cancel_from_the_job_page_ends_a_running_sleep_and_is_audited(ui_tenant: UiTenant) -> None:
    page, text = ui_tenant.page("UIOPERATOR"), marker()
    job = schedule(ui_tenant, SLEEP, text=text, SECONDS="60")
    wait_status(page, job, "In Process")
    running = page.get(f"/jobs/{key(job)}")
    live = re.search(r'id="job-live" hx-get="/appjobs/ui([^"]+/live\?v=[0-9a-f]+)" hx-trigger="every 2s"', running.text)
    assert live, running.text  # live while it runs
    assert wait_for(lambda: _unchanged_since_read(page, job), 10, 0.2)  # 204 once nothing lands in between
    assert f'action="/appjobs/ui/jobs/{key(job)}/cancel"' in running.text
    assert 'id="cancel">Cancel job</button>' in running.text
    answer = page.post(f"/jobs/{key(job)}/cancel")
    assert answer.status_code == 200
    assert answer.url.endswith(f"/jobs/{key(job)}?notice=cancel-requested")
    assert wait_status(page, job, "Failed", "Canceled") in ("Failed", "Canceled")
    live = page.get(f"/jobs/{key(job)}/live")
    assert "hx-trigger" not in live.text.split(">")[0]
    entries = _audit(ui_tenant, "cancel")
    assert any(
        e.user_name == "UIOPERATOR" and e.outcome == "success" and job["JobName"] in e.detail
        and (e.source or "").startswith("ui")
        for e in entries
    )  # fmt: skip


def test_restart_of_a_failed_job_from_its_page(ui_tenant: UiTenant) -> None:
    page, text = ui_tenant.page("UIOPERATOR"), marker()
    failed = schedule(ui_tenant, FAIL, text=text)
    wait_status(page, failed, "Failed")
    shown = page.get(f"/jobs/{key(failed)}").text
    assert 'id="restart-from"' in shown
    assert 'id="restart-after"' not in shown  # one step: nothing after it
    answer = page.post(f"/jobs/{key(failed)}/restart", {"mode": "from"})
    assert answer.status_code == 200
    copy = re.search(r"/jobs/([0-9A-F]{32})/([A-Za-z]{8})\?notice=restarted", answer.url)
    assert copy, answer.url
    assert copy.group(0).split("?")[0] != f"/jobs/{key(failed)}"
    assert f'id="restart-of" href="/appjobs/ui/jobs/{key(failed)}"' in answer.text
    assert any(e.user_name == "UIOPERATOR" and "restarting job " + failed["JobName"] in e.detail
               for e in _audit(ui_tenant, "restart"))  # fmt: skip
    refused = page.post(f"/jobs/{key(failed)}/restart", {"mode": "after"})
    assert refused.status_code == 409
    assert "after the last step" in refused.text
    assert page.post(f"/jobs/{key(failed)}/restart", {"mode": "sideways"}).status_code == 400


def test_restart_after_the_failed_step_of_a_cancelled_chain_runs_only_the_steps_after_it(ui_tenant: UiTenant) -> None:
    page, text = ui_tenant.page("UIOPERATOR"), marker()
    chain = schedule(ui_tenant, "/APPJOBS/DEMO_CHAIN", text=text, SECONDS="60")
    step_two = re.compile(
        r'<tr data-step="2">\s*<td>2</td><td>[^<]*</td>\s*<td><span class="status information">In Process'
    )
    wait_for(lambda: step_two.search(page.get(f"/jobs/{key(chain)}").text), 30, 0.2)
    page.post(f"/jobs/{key(chain)}/cancel")
    wait_status(page, chain, "Failed", "Canceled")
    shown = page.get(f"/jobs/{key(chain)}").text
    assert 'id="restart-after">Restart after failed step 2</button>' in shown
    answer = page.post(f"/jobs/{key(chain)}/restart", {"mode": "after"})
    copy = re.search(r"/jobs/([0-9A-F]{32}/[A-Za-z]{8})\?notice=restarted", answer.url)
    assert copy, answer.url
    done = wait_for(
        lambda: (t := page.get(f"/jobs/{copy.group(1)}").text) and "Finished</span></dd>" in t and t, 30, 0.2
    )
    steps = done.split('<table id="steps">')[1].split("</table>")[0]  # type: ignore[union-attr]
    assert list(re.findall(r'class="status [a-z]+">([^<]+)<', steps)) == ["Skipped", "Skipped", "Finished"]
    assert "step 3 of 3" in done.split('id="log"')[1]  # type: ignore[union-attr]


def test_copy_fills_the_schedule_page_from_the_job(ui_tenant: UiTenant) -> None:
    page, text = ui_tenant.page("UIOPERATOR"), marker()
    job = schedule(ui_tenant, text=text, MESSAGE="copy me", REPEAT="3")
    shown = page.get(f"/jobs/{key(job)}").text
    assert f'id="copy" href="/appjobs/ui/schedule?copy={key(job)}"' in shown
    form = page.get(f"/schedule?copy={key(job)}").text
    assert '<option value="/APPJOBS/DEMO_ECHO" selected>' in form
    assert 'id="param-MESSAGE" name="param-MESSAGE" value="copy me"' in form
    assert 'id="param-REPEAT" name="param-REPEAT" value="3"' in form
    assert f'id="job-text" name="text" maxlength="120" value="{text}"' in form
    assert '<option value="JOBSCHEDULERUSER" selected>' in form
    assert page.get("/schedule?copy=" + "0" * 32 + "/abcdefgh").status_code == 404


def test_a_viewer_sees_no_actions_and_a_forged_cancel_is_refused(ui_tenant: UiTenant) -> None:
    viewer, text = ui_tenant.page("UIVIEWER"), marker()
    job = schedule(ui_tenant, SLEEP, text=text, SECONDS="60")
    wait_status(viewer, job, "In Process")
    shown = viewer.get(f"/jobs/{key(job)}").text
    for action in ('id="cancel"', 'id="restart-from"', 'id="copy"'):
        assert action not in shown
    assert 'id="schedule-link"' not in viewer.get("/jobs").text
    forged = viewer.post(f"/jobs/{key(job)}/cancel")  # with the viewer's own, valid CSRF token
    assert forged.status_code == 403
    assert viewer.post(f"/jobs/{key(job)}/restart", {"mode": "from"}).status_code == 403
    assert status_of(viewer, job) == "In Process"
    store = ui_tenant.store()
    try:
        assert store.jobs.get(models.JobKey(job["JobName"], job["JobRunCount"])).cancel_requested_by is None
    finally:
        store.close()
    operator = ui_tenant.page("UIOPERATOR")
    assert 'id="schedule-link"' in operator.get("/jobs").text
    assert operator.post(f"/jobs/{key(job)}/cancel").status_code == 200  # tidy up


def _unchanged_since_read(page: Page, job: dict) -> bool:
    """Whether the live part, asked right after the page was read, answers 204: nothing changed."""
    found = re.search(r'id="job-live" hx-get="/appjobs/ui([^"]+)"', page.get(f"/jobs/{key(job)}").text)
    return found is not None and page.get(found.group(1)).status_code == 204


def _audit(ui: UiTenant, event: str) -> list[models.AuditEntry]:
    store = ui.store()
    try:
        return [e for e in store.audit.since(models.utcnow() - dt.timedelta(hours=1)) if e.event == event]
    finally:
        store.close()
