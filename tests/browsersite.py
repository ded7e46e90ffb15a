"""The web pages in a real browser: headless Chromium, driven by Selenium, against the module's ``appjobs serve``.

:func:`browser` gives each test module one Chromium (starting one costs
about a second) on the module's :func:`~uisite.ui_tenant` server, closed
when the module ends. It uses Debian's ``chromium`` and ``chromium-driver``
packages (``/usr/bin/chromium``, ``/usr/bin/chromedriver``), which
``.ci/run`` installs when they are missing; Selenium is told both paths, so
it never downloads a browser or a driver. Without them the browser tests
are skipped, with the reason, except under CI (the ``CI`` environment
variable set), where they fail: CI must never pass without running them.

Every wait is explicit: :meth:`Browser.wait` polls a condition until it
holds (or fails the test after :data:`WAIT` seconds), since the pages'
live parts refresh on their own schedule and the jobs run in the server's
worker. Texts are read with one small script (:meth:`Browser.text`), so a
part that htmx swaps between two reads never leaves a stale element behind.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait
from uisite import PREFIX, UI_USERS, UiTenant

CHROMIUM = pathlib.Path("/usr/bin/chromium")
CHROMEDRIVER = pathlib.Path("/usr/bin/chromedriver")
#: Seconds an explicit wait may take: pages answer in milliseconds, but live parts refresh every few
#: seconds and a loaded CI machine (the whole suite runs beside these tests) can be slow to start a step.
WAIT = 30.0
#: Where the README's screenshots go, when APPJOBS_SCREENSHOTS=1 asks for them.
#: The window's size: fixed, so that layouts (and the README's screenshots) do not vary.
WINDOW = (1400, 900)
IMAGES = pathlib.Path(__file__).resolve().parents[1] / "docs" / "images"

T = TypeVar("T")


def require_chromium() -> None:
    """Skip (outside CI) or fail (under CI) when Debian's chromium or its driver is missing."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if not missing:
        return
    reason = (
        f"the browser tests need Debian's chromium and chromium-driver packages; missing: {', '.join(missing)} "
        "(apt-get install chromium chromium-driver, as .ci/run does)"
    )
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; under CI (CI is set) they must run", pytrace=False)
    pytest.skip(reason)


class Browser:
    """One Chromium on the module's server, with the few moves the tests make."""

    def __init__(self, driver: webdriver.Chrome, ui_tenant: UiTenant) -> None:
        self.driver = driver
        self.ui_tenant = ui_tenant
        self.base = ui_tenant.base

    def open(self, path: str) -> None:
        """Load the page at *path* (below ``/appjobs/ui``) and wait until its document is complete."""
        self.driver.get(self.base + PREFIX + path)
        self.wait(lambda: self.driver.execute_script("return document.readyState") == "complete")

    def logon(self, user: str, password: str | None = None) -> None:
        """Log on as *user* through the logon form; its own password (from :data:`UI_USERS`) unless given.

        Any earlier session's cookie is dropped first, so the form is shown (a logged-on
        reader is sent on to the job list). Waits for the answer, a page naming the user or
        an error, but does not check which: see :meth:`logged_on`. (A test that opened the
        next page at once could stop the logon on its way, before its session cookie came.)
        """
        self.open("/")
        self.driver.delete_all_cookies()
        self.open("/")  # a fresh logon form, with the token cookie that goes with it
        self.find("input[name=username]").send_keys(user)
        self.find("input[name=password]").send_keys(password if password is not None else UI_USERS[user][1])
        self.find("#logon").click()
        self.wait(lambda: self.present("#whoami") or self.present("#error"), message="the logon got no answer")

    def logged_on(self, user: str) -> None:
        """Wait until the page names *user* as the one logged on."""
        self.wait(lambda: (self.text("#whoami") or "").startswith(user))

    def wait(self, condition: Callable[[], T], timeout: float = WAIT, message: str = "") -> T:
        """Poll *condition* until it returns something truthy; its value. Elements that htmx swapped are retried."""
        ignored = (NoSuchElementException, StaleElementReferenceException)
        waiting = WebDriverWait(self.driver, timeout, poll_frequency=0.1, ignored_exceptions=ignored)
        return waiting.until(lambda _: condition(), message or getattr(condition, "__doc__", "") or "")

    def find(self, css: str) -> WebElement:
        """The element *css* selects, once it is on the page."""
        return self.wait(lambda: self.driver.find_element(By.CSS_SELECTOR, css), message=f"no element {css}")

    def click(self, css: str) -> None:
        """Click the element *css* selects; again if htmx swapped it between finding and clicking (live parts)."""
        self.wait(lambda: self.driver.find_element(By.CSS_SELECTOR, css).click() or True, message=f"cannot click {css}")

    def present(self, css: str) -> bool:
        return bool(self.driver.find_elements(By.CSS_SELECTOR, css))

    def text(self, css: str) -> str | None:
        """The text of the first element *css* selects (trimmed), or None when there is none."""
        return self.driver.execute_script(
            "const e = document.querySelector(arguments[0]); return e ? e.textContent.trim() : null;", css
        )

    def wait_text(self, css: str, *texts: str, timeout: float = WAIT) -> str:
        """Wait until the element *css* selects reads one of *texts*; the text it reads."""
        found: list[str | None] = [None]

        def reads() -> str | None:
            found[0] = self.text(css)
            return found[0] if found[0] in texts else None

        try:
            return self.wait(reads, timeout)
        except Exception as exc:  # say what the page showed instead
            raise AssertionError(f"{css} reads {found[0]!r}, not one of {texts}, after {timeout} s") from exc

    def mark(self) -> None:
        """Mark the loaded document; :meth:`marked` tells whether it is still the same one (no reload)."""
        self.driver.execute_script("window.appjobsMarker = 1;")

    def marked(self) -> bool:
        return self.driver.execute_script("return window.appjobsMarker === 1;") is True

    def screenshot(self, name: str, *, whole_page: bool = False) -> None:
        """Save the window as ``docs/images/NAME.png``, only when APPJOBS_SCREENSHOTS=1 asks for it.

        *whole_page*: the window grows to the page's height first (up to 2400 pixels), so that
        a long page (a job's steps and log) is seen whole; then it is set back.
        """
        if os.environ.get("APPJOBS_SCREENSHOTS") != "1":
            return
        IMAGES.mkdir(parents=True, exist_ok=True)
        if whole_page:
            height = self.driver.execute_script("return document.documentElement.scrollHeight;")
            self.driver.set_window_size(WINDOW[0], min(2400, max(WINDOW[1], height + 160)))  # + the window frame
        try:
            assert self.driver.save_screenshot(str(IMAGES / f"{name}.png"))
        finally:
            self.driver.set_window_size(*WINDOW)


@pytest.fixture(scope="module")
def browser(ui_tenant: UiTenant, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """Headless Chromium for the module, on the module's server; quit when the module ends."""
    require_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
        "--disable-dev-shm-usage",  # containers' /dev/shm is small; Chromium would crash on it
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",  # one profile per module: xdist workers
        "--no-first-run",
        "--disable-extensions",
        "--lang=en-US",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        driver.set_page_load_timeout(WAIT)
        yield Browser(driver, ui_tenant)
    finally:
        driver.quit()
