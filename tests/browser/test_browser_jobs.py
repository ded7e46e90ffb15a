"""Application Jobs in a real browser: logon, the live job list, a job's page and log, cancel, schedule, roles.

The jobs run in the worker inside the module's ``appjobs serve``; the
tests schedule them over OData, as a scheduler would, or from the
Schedule page, and watch the pages follow them without reloading.
With APPJOBS_SCREENSHOTS=1 the module also saves the README's
screenshots (docs/images/job-monitor.png and job-page.png).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import pytest
import requests
from browsersite import Browser
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select
from uisite import UI_USERS, UiTenant

pytestmark = pytest.mark.slow

SLEEP = "/APPJOBS/DEMO_SLEEP"
ENDED = ("Canceled", "Failed")  # a cancelled job: appjobs' engine reports A (Failed), newer SAP tenants C


@pytest.fixture
def odata(ui_tenant: UiTenant) -> Iterator[requests.Session]:
    """An OData session of the scheduler's communication user; jobs it leaves running are cancelled after the test.

    The embedded worker runs as many steps at once as the machine has cores: a sleeping job
    left behind would hold one of them for the rest of the module.
    """
    http = ui_tenant.tenant.session()
    http.started = []  # type: ignore[attr-defined]
    yield http
    for job in http.started:  # type: ignore[attr-defined]
        params = {"JobName": f"'{job['JobName']}'", "JobRunCount": f"'{job['JobRunCount']}'", "$format": "json"}
        http.post(ui_tenant.tenant.root + "/JobCancel", params=params, timeout=10)  # 4xx when it ended: fine


def schedule(ui_tenant: UiTenant, http: requests.Session, template: str, text: str = "", **values: str) -> str:
    """Schedule *template* over OData with parameter *values*; the job's ``NAME/RUNCOUNT``, as rows name it."""
    extra = {"JobText": f"'{text or 'browser test ' + secrets.token_hex(3)}'"}
    if values:
        rows = [
            {"NAME": n, "T_VALUE": [{"SIGN": "I", "OPTION": "EQ", "LOW": v, "HIGH": ""}]} for n, v in values.items()
        ]
        extra["JobParameterValues"] = f"'{json.dumps({'VALUES': rows})}'"
    job = ui_tenant.tenant.schedule(http, template, **extra)
    http.started.append(job)  # type: ignore[attr-defined]
    return f"{job['JobName']}/{job['JobRunCount']}"


def row(job: str) -> str:
    return f'tr[data-job="{job}"]'


def open_job(browser: Browser, job: str) -> None:
    """Open *job*'s page from its row in the job list, as a reader would."""
    browser.open("/jobs")
    browser.click(f"{row(job)} a")
    browser.find("#job-status .status")


def odata_status(ui_tenant: UiTenant, http: requests.Session, job: str) -> str:
    name, run_count = job.split("/")
    return ui_tenant.tenant.status(http, name, run_count)


def test_logon_opens_the_job_list(browser: Browser) -> None:
    browser.logon("UIOPERATOR")
    browser.logged_on("UIOPERATOR")
    assert browser.present("table#jobs")
    assert browser.text("h1") == "Application Jobs"


def test_logon_works_by_keyboard_alone(browser: Browser) -> None:
    browser.logon("UIVIEWER")  # then log off, to come back to the form with a session ended
    browser.logged_on("UIVIEWER")
    browser.find("#logoff").send_keys(Keys.ENTER)
    browser.find("#password")
    active = browser.driver.switch_to.active_element
    for _ in range(6):  # the form's first field has the focus, or a few tabs away (past the skip link)
        if active.get_attribute("id") == "username":
            break
        active.send_keys(Keys.TAB)
        active = browser.driver.switch_to.active_element
    assert active.get_attribute("id") == "username"
    active.send_keys("UIOPERATOR", Keys.TAB)
    active = browser.driver.switch_to.active_element
    assert active.get_attribute("id") == "password"
    active.send_keys(UI_USERS["UIOPERATOR"][1], Keys.ENTER)
    browser.logged_on("UIOPERATOR")


def test_a_job_scheduled_over_odata_appears_and_finishes_without_a_reload(
    browser: Browser, ui_tenant: UiTenant, odata: requests.Session
) -> None:
    browser.logon("UIOPERATOR")
    browser.logged_on("UIOPERATOR")
    browser.find("tbody#job-rows")
    browser.mark()
    job = schedule(ui_tenant, odata, SLEEP, SECONDS="2")  # long enough to be seen before it ends
    browser.find(row(job))
    browser.wait_text(f"{row(job)} .status", "Finished")
    assert browser.marked(), "the page was reloaded; its live part should have followed the job"


def test_a_jobs_page_shows_its_steps_and_step_output(
    browser: Browser, ui_tenant: UiTenant, odata: requests.Session
) -> None:
    message = "printed-by-" + secrets.token_hex(4)
    job = schedule(ui_tenant, odata, "/APPJOBS/DEMO_ECHO", MESSAGE=message)
    ui_tenant.tenant.wait_status(odata, dict(zip(("JobName", "JobRunCount"), job.split("/"), strict=True)), "F")
    browser.logon("UIVIEWER")
    open_job(browser, job)
    browser.wait_text("#job-status .status", "Finished")
    assert browser.present("table#steps tbody tr")
    browser.wait(lambda: message in (browser.text("#log") or ""), message=f"{message} not in #log")


def test_an_operator_cancels_a_running_job_from_its_page(
    browser: Browser, ui_tenant: UiTenant, odata: requests.Session
) -> None:
    job = schedule(ui_tenant, odata, SLEEP, SECONDS="60")
    browser.logon("UIOPERATOR")
    open_job(browser, job)
    browser.wait_text("#job-status .status", "In Process")
    browser.click("button#cancel")
    browser.wait_text("#job-status .status", *ENDED)
    assert odata_status(ui_tenant, odata, job) in ("A", "C")


def test_a_viewer_sees_no_cancel_button_and_a_forged_cancel_is_refused(
    browser: Browser, ui_tenant: UiTenant, odata: requests.Session
) -> None:
    job = schedule(ui_tenant, odata, SLEEP, SECONDS="60")
    browser.logon("UIOPERATOR")  # where the cancel goes: the operator's page says
    open_job(browser, job)
    browser.wait_text("#job-status .status", "In Process")
    target = browser.driver.execute_script(
        "const b = document.querySelector('#cancel');"
        "return b.getAttribute('formaction') || b.getAttribute('hx-post') || b.form.action;"
    )
    browser.logon("UIVIEWER")
    open_job(browser, job)
    assert not browser.present("#cancel")
    # The viewer's own browser posts it, with the session's valid CSRF token read from the page:
    # the role alone must refuse it.
    answer = browser.driver.execute_async_script(
        """
        const [url, done] = [arguments[0], arguments[arguments.length - 1]];
        const token = document.querySelector('input[name=csrf_token]').value;
        fetch(url, {method: 'POST', body: new URLSearchParams({csrf_token: token}),
                    headers: {'X-CSRF-Token': token}, credentials: 'same-origin', redirect: 'manual'})
          .then(r => r.text().then(t => done([r.status, t])), e => done([0, String(e)]));
        """,
        target,
    )
    assert answer[0] == 403, answer
    assert "role" in answer[1]  # refused for the role, not for the token
    assert odata_status(ui_tenant, odata, job) == "R"
    browser.open("/jobs")
    assert browser.text(f"{row(job)} .status") == "In Process"


def test_an_operator_schedules_a_job_with_a_parameter_from_the_schedule_page(browser: Browser) -> None:
    message = "from-the-schedule-page-" + secrets.token_hex(4)
    browser.logon("UIOPERATOR")
    browser.find("a#schedule-link").click()
    choose(Select(browser.find("select#template")), "/APPJOBS/DEMO_ECHO")
    browser.find("button#choose-template").click()
    browser.wait(lambda: browser.present("#param-MESSAGE") and browser.present("button#schedule"))
    field = browser.find("#param-MESSAGE")
    field.clear()
    field.send_keys(message)
    browser.find("input#job-text").send_keys("scheduled in the browser")
    browser.find("#start-now").click()
    browser.find("button#schedule").click()
    browser.find("#job-status .status")  # the new job's page
    browser.wait_text("#job-status .status", "Finished")
    browser.wait(lambda: message in (browser.text("#log") or ""), message=f"{message} not in #log")
    assert browser.text("h1")


def choose(select: Select, template: str) -> None:
    """Pick *template* in the template list, whether options carry its name as value or only as text."""
    for option in select.options:
        if option.get_attribute("value") == template or template in option.text:
            select.select_by_visible_text(option.text)
            return
    raise AssertionError(f"{template} is not offered: {[o.text for o in select.options]}")


def test_screenshots_of_the_job_monitor_and_a_job_page(
    browser: Browser, ui_tenant: UiTenant, odata: requests.Session
) -> None:
    """The README's pictures: a list of jobs of mixed status, and a finished chain's page with its log."""
    chain = schedule(ui_tenant, odata, "/APPJOBS/DEMO_CHAIN", "Nightly load: extract, wait, report")
    schedule(ui_tenant, odata, "/APPJOBS/DEMO_FAIL", "Invoice export (fails on purpose)")
    schedule(ui_tenant, odata, "/APPJOBS/DEMO_WARN", "Clean-up with a warning")
    schedule(ui_tenant, odata, "/APPJOBS/DEMO_ECHO", "Greeting", MESSAGE="Hello from the job monitor")
    browser.logon("UIADMIN")  # the administrator's header names all three apps
    browser.open("/jobs")
    browser.wait_text(f"{row(chain)} .status", "Finished")
    running = schedule(ui_tenant, odata, SLEEP, "Long-running import", SECONDS="60")
    browser.wait_text(f"{row(running)} .status", "In Process")
    browser.open("/jobs")  # the whole page afresh, its caption's count too (the live refresh swaps the rows alone)
    browser.wait_text(f"{row(running)} .status", "In Process")
    browser.screenshot("job-monitor")
    open_job(browser, chain)
    browser.wait(lambda: "step 3 of 3" in (browser.text("#log") or ""))
    assert len(browser.driver.find_elements("css selector", "table#steps tbody tr")) == 3
    browser.screenshot("job-page", whole_page=True)
