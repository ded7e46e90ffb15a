"""Job Templates, Communication Management and the logon lockout in a real browser; labels on every page."""

from __future__ import annotations

import pathlib
import re
import secrets
from urllib.parse import urlsplit

import pytest
import requests
from browsersite import Browser
from selenium.webdriver.support.ui import Select
from tenant import ROOT_PATH
from uisite import PREFIX, UiTenant

from appjobs.auth import users

pytestmark = pytest.mark.slow

TEMPLATE = """
[[template]]
name = "{name}"
text = "Imported in the browser"

[[template.step]]
text = "Say hello"
command = 'echo "hello from {name}"'
"""


def test_an_operator_imports_a_template_from_a_toml_file(browser: Browser, tmp_path: pathlib.Path) -> None:
    name = f"/BROWSER/IMPORTED_{secrets.token_hex(3).upper()}"
    upload = tmp_path / "templates.toml"
    upload.write_text(TEMPLATE.format(name=name))
    browser.logon("UIOPERATOR")
    browser.open("/templates")
    browser.find("input#template-file").send_keys(str(upload))
    browser.find("button#import").click()
    browser.find(".message.success")
    assert not browser.present("#error")
    browser.open("/templates")
    browser.find(f'tr[data-template="{name}"]')


def test_an_administrator_creates_a_communication_user_whose_password_works_on_odata(
    browser: Browser, ui_tenant: UiTenant
) -> None:
    name = f"BROWSERUSER{secrets.token_hex(3).upper()}"
    browser.logon("UIADMIN")
    browser.open("/comm/users")
    browser.find("input#new-user").send_keys(name)
    arrangement = browser.find("input#with-arrangement")
    if not arrangement.is_selected():
        arrangement.click()
    browser.find("button#create-user").click()
    password = browser.wait(lambda: browser.text("#new-password"), message="no #new-password shown")
    browser.open("/comm/users")
    browser.find(f'tr[data-user="{name}"]')
    assert password not in browser.driver.page_source, "the password is shown once, not on every visit"
    answer = requests.get(
        ui_tenant.base + ROOT_PATH + "/JobTemplateSet", params={"$format": "json", "$top": "1"},
        auth=(name, password), timeout=10,
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    wrong = requests.get(ui_tenant.base + ROOT_PATH + "/JobTemplateSet", auth=(name, password + "x"), timeout=10)
    assert wrong.status_code == 401


def test_five_wrong_passwords_lock_the_ui_user_until_it_is_unlocked(browser: Browser, ui_tenant: UiTenant) -> None:
    user, password = "UIBROWSERLOCK", "Browser-lock-password-5"
    store = ui_tenant.store()
    try:
        users.add_business_user(store, user, "locked in the browser test", password=password, role="viewer")
        for attempt in range(5):
            browser.logon(user, f"wrong-password-{attempt}")
            browser.find("#error")
            assert not browser.present("#whoami")
        browser.logon(user, password)  # the right one, but too late: the user is locked
        browser.find("#error")
        assert not browser.present("#whoami")
        users.set_ui_locked(store, user, False)
    finally:
        store.close()
    browser.logon(user, password)
    browser.logged_on(user)


UNLABELLED = """
return [...document.querySelectorAll('input, select, textarea')]
  .filter(e => e.type !== 'hidden')
  .filter(e => !(e.id && document.querySelector('label[for="' + CSS.escape(e.id) + '"]'))
               && !e.closest('label') && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))
  .map(e => e.outerHTML);
"""
UNCAPTIONED = """
return [...document.querySelectorAll('table')].filter(t => !t.caption && !t.getAttribute('aria-label')
                                                          && !t.getAttribute('aria-labelledby')).map(t => t.id);
"""
LINKS = f"""
return [...document.querySelectorAll('a[href^="{PREFIX}/"]')].map(a => a.getAttribute('href'));
"""


def test_every_pages_inputs_have_labels_and_each_page_one_heading(browser: Browser, ui_tenant: UiTenant) -> None:
    """An administrator's walk through every page a link reaches (one of each list's rows).

    Every input is labelled, every page has one ``<h1>``, every table a caption (or an aria label).
    """
    http = ui_tenant.tenant.session()  # a failed job: its page has the most to show (restart forms, an error)
    ui_tenant.tenant.wait_status(http, ui_tenant.tenant.schedule(http, "/APPJOBS/DEMO_FAIL"), "A")
    browser.open("/")
    checked = [check_page(browser, "/")]
    browser.logon("UIADMIN")
    browser.logged_on("UIADMIN")
    seen, queue = {"/"}, ["/jobs"]
    while queue and len(seen) < 40:  # a bound: each list's rows lead to many pages of the same kind
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        browser.open(path)
        checked.append(check_page(browser, path))
        for href in browser.driver.execute_script(LINKS):
            target = urlsplit(href).path.removeprefix(PREFIX) or "/"
            if not target.startswith("/static/") and _new_kind(target, seen | set(queue)):
                queue.append(target)
    browser.open("/schedule")  # and the Schedule page's form for a template with typed parameters
    Select(browser.find("select#template")).select_by_value("/APPJOBS/DEMO_PARAMS")
    browser.find("button#choose-template").click()
    browser.find("#param-PLANTS")
    checked.append(check_page(browser, "/schedule (DEMO_PARAMS)"))
    assert {"/jobs", "/schedule", "/templates", "/comm/users"} <= set(checked), checked
    assert any(path.startswith("/jobs/") for path in checked), checked


def check_page(browser: Browser, path: str) -> str:
    assert not browser.present("#error"), f"{path}: a link led to an error: {browser.text('#error')}"
    unlabelled = browser.driver.execute_script(UNLABELLED)
    assert not unlabelled, f"{path}: inputs without a label: {unlabelled}"
    headings = browser.driver.execute_script("return document.querySelectorAll('h1').length;")
    assert headings == 1, f"{path}: {headings} <h1> elements"
    uncaptioned = browser.driver.execute_script(UNCAPTIONED)
    assert not uncaptioned, f"{path}: tables without a caption: {uncaptioned}"
    return path


def _new_kind(path: str, known: set[str]) -> bool:
    """False when a page of the same kind as *path* is visited or queued already: one of each list's rows.

    Route words are lower-case (``jobs``, ``comm``, ``users``); what names a row (a JobName, a
    template or user name) is not, so ``/jobs/NAME/COUNT`` pages are all of one kind.
    """
    return _kind(path) not in {_kind(other) for other in known}


def _kind(path: str) -> tuple[str, ...]:
    return tuple(part if re.fullmatch(r"[a-z][a-z-]*", part) else "*" for part in path.split("/"))
