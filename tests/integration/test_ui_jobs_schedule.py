"""The Schedule page: a template's parameters with defaults and checks, the job user, and when the job starts."""

from __future__ import annotations

import datetime as dt
import re
import uuid
import zoneinfo

import sqlalchemy as sa
from conftest import wait_for
from uisite import UiTenant

from appjobs import models
from appjobs.storage import schema

ECHO, PARAMS, SLEEP = "/APPJOBS/DEMO_ECHO", "/APPJOBS/DEMO_PARAMS", "/APPJOBS/DEMO_SLEEP"
_JOB_URL = re.compile(r"/jobs/([0-9A-F]{32})/([A-Za-z]{8})\?notice=scheduled$")


def marker() -> str:
    return "ui-" + uuid.uuid4().hex[:10]


def form(template: str, text: str, **fields: str) -> dict[str, str]:
    return {"template": template, "text": text, "job_user": "JOBSCHEDULERUSER", "start": "now", **fields}


def stored(ui: UiTenant, text: str) -> list[models.Job]:
    """The jobs whose text is *text*, read from the database: what a refused form must not have made."""
    store = ui.store()
    try:
        with store.db.read() as conn:
            found = conn.execute(sa.select(schema.job).where(schema.job.c.text == text)).all()
        return [models.Job(models.JobKey(r.name, r.run_count), r.template_name, r.text, r.job_user, r.creator,
                           models.JobStatus(r.status), r.created_at, r.scheduled_at, series_id=r.series_id)
                for r in found]  # fmt: skip
    finally:
        store.close()


def test_choosing_a_template_shows_its_parameters_with_defaults(ui_tenant: UiTenant) -> None:
    page = ui_tenant.page("UIOPERATOR")
    empty = page.get("/schedule")
    assert empty.status_code == 200
    assert '<select id="template" name="template">' in empty.text
    assert 'id="choose-template"' in empty.text
    assert 'id="schedule"' not in empty.text  # nothing to schedule before a template is chosen
    chosen = page.get(f"/schedule?template={ECHO}").text
    assert 'id="param-MESSAGE" name="param-MESSAGE" value="Hello from appjobs"' in chosen
    assert 'id="param-REPEAT" name="param-REPEAT" value="1" required' in chosen
    assert '<select id="job-user" name="job_user">' in chosen
    assert '<option value="JOBSCHEDULERUSER">' in chosen
    assert '<option value="CB8980000030">' in chosen
    assert '<option value="UIOPERATOR" selected>' in chosen  # the UI user is a business user: the default
    for field in ('id="job-text" name="text"', 'id="start-now" value="now" checked', 'id="start-at-time" value="at"',
                  'id="start-series" value="series"', 'id="start-at" name="start_at"', 'id="timezone"',
                  'id="every"', 'id="count"', 'id="until"', 'id="schedule"'):  # fmt: skip
        assert field.split(" value=")[0] in chosen, field
    typed = page.get(f"/schedule?template={PARAMS}").text
    assert 'type="date" id="param-FROM" name="param-FROM" value="2026-01-01" required' in typed
    assert 'type="checkbox" id="param-FULL" name="param-FULL" value="X">' in typed
    assert 'id="param-LIMIT" name="param-LIMIT" value="100" inputmode="numeric"' in typed
    assert re.search(r'<textarea id="param-PLANTS" name="param-PLANTS"[^>]*>I BT 1000 2000</textarea>', typed)


def test_scheduling_with_a_parameter_runs_the_job_and_is_audited(ui_tenant: UiTenant) -> None:
    page, text = ui_tenant.page("UIOPERATOR"), marker()
    answer = page.post("/schedule", form(ECHO, text, **{"param-MESSAGE": "said on the page", "param-REPEAT": "2"}))
    assert answer.status_code == 200
    found = _JOB_URL.search(answer.url)
    assert found, answer.url
    assert f"<h1>{text}</h1>" in answer.text
    job_page = f"/jobs/{found.group(1)}/{found.group(2)}"
    wait_for(lambda: "Finished</span>" in page.get(job_page).text.split('id="job-status"')[1][:80], 30, 0.2)
    shown = page.get(job_page).text
    assert shown.split('id="log"')[1].count("said on the page") == 2
    assert "<dt>Created by</dt><dd>UIOPERATOR</dd>" in shown
    assert "<dt>Job user</dt><dd>JOBSCHEDULERUSER</dd>" in shown
    store = ui_tenant.store()
    try:
        entries = store.audit.since(models.utcnow() - dt.timedelta(hours=1))
    finally:
        store.close()
    assert any(e.event == "schedule" and e.user_name == "UIOPERATOR" and e.outcome == "success"
               and found.group(1) in e.detail and (e.source or "").startswith("ui") for e in entries)  # fmt: skip


def test_typed_parameters_are_checked_and_normalized_as_jobschedulecheck_does(ui_tenant: UiTenant) -> None:
    page, text = ui_tenant.page("UIOPERATOR"), marker()
    fields = {"param-FROM": "2026-03-04", "param-FULL": "X", "param-LIMIT": "7", "param-PLANTS": "I EQ 3000\nI EQ 1000"}
    answer = page.post("/schedule", form(PARAMS, text, **fields))
    assert _JOB_URL.search(answer.url), answer.text
    values = answer.text.split("Parameters</h2>")[1]
    assert "<td>20260304</td>" in values
    assert "<td>I EQ 3000; I EQ 1000</td>" in values


def test_a_bad_parameter_value_is_named_and_nothing_is_stored(ui_tenant: UiTenant) -> None:
    page, text = ui_tenant.page("UIOPERATOR"), marker()
    answer = page.post("/schedule", form(PARAMS, text, **{"param-FROM": "2026-01-01", "param-LIMIT": "lots"}))
    assert answer.status_code == 400
    assert 'id="error">Parameters: Parameter LIMIT (step 1): value &#39;lots&#39; is not an integer' in answer.text
    assert 'id="param-LIMIT" name="param-LIMIT" value="lots"' in answer.text  # the input is kept
    assert f'value="{text}"' in answer.text
    plants = page.post("/schedule", form(PARAMS, text, **{"param-FROM": "2026-01-01", "param-PLANTS": "I EQ 4000"}))
    assert plants.status_code == 400
    assert "PLANTS" in plants.text
    assert "not allowed" in plants.text
    malformed = page.post("/schedule", form(PARAMS, text, **{"param-FROM": "2026-01-01", "param-PLANTS": "I EQ"}))
    assert malformed.status_code == 400
    assert "Parameter PLANTS (step 1): the row &#39;I EQ&#39; is not SIGN OPTION LOW [HIGH]" in malformed.text
    missing = page.post("/schedule", form(ECHO, text, **{"param-REPEAT": ""}))
    assert missing.status_code == 400
    assert "REPEAT" in missing.text
    assert "mandatory" in missing.text
    assert stored(ui_tenant, text) == []


def test_an_unknown_template_or_business_user_is_named_and_nothing_is_stored(ui_tenant: UiTenant) -> None:
    page, text = ui_tenant.page("UIOPERATOR"), marker()
    unknown = page.post("/schedule", form("/APPJOBS/NO_SUCH", text))
    assert unknown.status_code == 404
    assert "Job template: /APPJOBS/NO_SUCH doesn" in unknown.text
    assert page.get("/schedule?template=/APPJOBS/NO_SUCH").status_code == 404
    nobody = page.post("/schedule", form(ECHO, text, job_user="NOBODY42"))
    assert nobody.status_code == 404
    assert 'id="error">Job user: NOBODY42 is not a registered business user' in nobody.text
    assert stored(ui_tenant, text) == []


def test_a_start_in_the_past_is_refused_and_a_later_one_planned_in_its_time_zone(ui_tenant: UiTenant) -> None:
    page, text = ui_tenant.page("UIOPERATOR"), marker()
    past = page.post("/schedule", form(ECHO, text, start="at", start_at="2020-01-01T10:00", timezone="Europe/Berlin"))
    assert past.status_code == 400
    assert 'id="error">Start at: 2020-01-01T10:00 (Europe/Berlin) is in the past' in past.text
    nonsense = page.post("/schedule", form(ECHO, text, start="at", start_at="tomorrow"))
    assert nonsense.status_code == 400
    assert "Start at:" in nonsense.text
    zone = page.post("/schedule", form(ECHO, text, start="at", start_at="2030-01-01T10:00", timezone="Mars/Olympus"))
    assert zone.status_code == 400
    assert "Start at:" in zone.text
    assert "Mars/Olympus" in zone.text
    assert stored(ui_tenant, text) == []
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    when = (dt.datetime.now(berlin) + dt.timedelta(days=2)).replace(second=0, microsecond=0, tzinfo=None)
    later = page.post("/schedule", form(ECHO, text, start="at", start_at=when.strftime("%Y-%m-%dT%H:%M"),
                                        timezone="Europe/Berlin"))  # fmt: skip
    assert _JOB_URL.search(later.url), later.text
    (job,) = stored(ui_tenant, text)
    assert job.status is models.JobStatus.SCHEDULED
    assert job.scheduled_at == when.replace(tzinfo=berlin).astimezone(dt.UTC)
    assert page.post(f"/jobs/{job.key}/cancel").url.endswith("notice=deleted")  # tidy up: it had not started


def test_a_series_is_scheduled_and_its_page_says_so(ui_tenant: UiTenant) -> None:
    page, text = ui_tenant.page("UIOPERATOR"), marker()
    both = page.post("/schedule", form(ECHO, text, start="series", every="1d", count="3", until="2030-01-01T00:00"))
    assert both.status_code == 400
    assert "Count and Until" in both.text
    bad = page.post("/schedule", form(ECHO, text, start="series", every="3x"))
    assert bad.status_code == 400
    assert 'id="error">Every:' in bad.text
    assert stored(ui_tenant, text) == []
    start = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
    answer = page.post("/schedule", form(ECHO, text, start="series", every="1d", count="3", start_at=start))
    assert _JOB_URL.search(answer.url), answer.text
    assert re.search(r'id="series">Start 1 of the periodic series [0-9A-F]{32}: every 1d in UTC, after 3 starts',
                     answer.text)  # fmt: skip
    assert 'id="cancel">Cancel the periodic series</button>' in answer.text
    (job,) = stored(ui_tenant, text)
    assert job.series_id is not None
    cancelled = page.post(f"/jobs/{job.key}/cancel")
    assert cancelled.url.endswith("notice=series-deleted")
    assert "periodic series was cancelled" in cancelled.text


def test_a_viewer_may_not_schedule(ui_tenant: UiTenant) -> None:
    viewer, text = ui_tenant.page("UIVIEWER"), marker()
    assert viewer.get("/schedule").status_code == 403
    assert viewer.post("/schedule", form(ECHO, text)).status_code == 403
    assert stored(ui_tenant, text) == []


TWO_STEPS = """
[[template]]
name = "/APPJOBS_T/TWO_STEPS"
text = "Two steps, one parameter name"

[[template.step]]
text = "First"
command = 'echo "first got $WHAT"'
parameters = { WHAT = "one" }

[[template.step]]
text = "Second"
command = 'echo "second got $WHAT"'
parameters = { WHAT = "two" }
"""


def test_a_parameter_declared_in_two_steps_gets_an_input_per_step(ui_tenant: UiTenant) -> None:
    from appjobs.engine import templates

    store = ui_tenant.store()
    try:
        store.templates.add(templates.parse(TWO_STEPS, source="test", by="TEST", now=models.utcnow()), replace=True)
    finally:
        store.close()
    page, text = ui_tenant.page("UIOPERATOR"), marker()
    shown = page.get("/schedule?template=/APPJOBS_T/TWO_STEPS").text
    assert 'id="param-1-WHAT" name="param-1-WHAT" value="one"' in shown
    assert 'id="param-2-WHAT" name="param-2-WHAT" value="two"' in shown
    answer = page.post(
        "/schedule", form("/APPJOBS_T/TWO_STEPS", text, **{"param-1-WHAT": "apples", "param-2-WHAT": "pears"})
    )
    found = _JOB_URL.search(answer.url)
    assert found, answer.text
    job_page = f"/jobs/{found.group(1)}/{found.group(2)}"
    log = wait_for(lambda: "second got pears" in (t := page.get(job_page).text) and t, 30, 0.2)
    assert "first got apples" in log  # type: ignore[operator]
