"""The web pages under test: a module's shared server with UI users, and a requests-driven "browser".

:func:`ui_tenant` is the module's :func:`tenant` (``appjobs serve`` with the
demo templates and the communication users) plus three UI users, one per
role. :class:`Page` logs on through the real logon form and sends the
CSRF token the pages hand out, as a browser with the page open would.
"""

from __future__ import annotations

import contextlib
import html
import re
from collections.abc import Iterator

import pytest
import requests
from tenant import Tenant

from appjobs.auth import users
from appjobs.settings import Paths
from appjobs.storage import Store

PREFIX = "/appjobs/ui"
UI_USERS = {
    "UIADMIN": ("administrator", "Admin-password-of-appjobs-1"),
    "UIOPERATOR": ("operator", "Operator-password-of-appjobs-2"),
    "UIVIEWER": ("viewer", "Viewer-password-of-appjobs-3"),
}
_TOKEN = re.compile(r'name="csrf_token" value="([^"]*)"')


class Page:
    """A requests session on the pages, logged on as one UI user."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()
        self.csrf = ""

    def logon(self, user: str, password: str) -> requests.Response:
        """Fill in and send the logon form; the answer after its redirect."""
        form = self.http.get(self.base + PREFIX + "/", timeout=10)
        token = _TOKEN.search(form.text)
        assert token, form.text
        data = {"username": user, "password": password, "csrf_token": token.group(1)}
        answer = self.http.post(self.base + PREFIX + "/logon", data=data, timeout=30)
        self._remember(answer)
        return answer

    def get(self, path: str, **kwargs: object) -> requests.Response:
        answer = self.http.get(self.base + PREFIX + path, timeout=30, **kwargs)  # type: ignore[arg-type]
        self._remember(answer)
        return answer

    def post(self, path: str, data: dict | None = None, *, csrf: bool = True, **kwargs: object) -> requests.Response:
        """POST a form to *path* with the session's CSRF token (unless *csrf* is False)."""
        fields = {**(data or {}), **({"csrf_token": self.csrf} if csrf else {})}
        answer = self.http.post(self.base + PREFIX + path, data=fields, timeout=30, **kwargs)  # type: ignore[arg-type]
        self._remember(answer)
        return answer

    def _remember(self, answer: requests.Response) -> None:
        found = _TOKEN.search(answer.text)
        if found and found.group(1):
            self.csrf = found.group(1)


class UiTenant:
    """The module's tenant, with UI users."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant
        self.base = tenant.server.url

    def page(self, user: str = "UIADMIN") -> Page:
        """A :class:`Page` logged on as *user*."""
        page = Page(self.base)
        answer = page.logon(user, UI_USERS[user][1])
        assert answer.status_code == 200, answer.text
        assert answer.url.endswith(PREFIX + "/jobs"), answer.url
        return page

    def store(self) -> Store:
        return Store.open_existing(Paths.resolve(str(self.tenant.data_dir)).database_url)

    @contextlib.contextmanager
    def opened(self) -> Iterator[Store]:
        """The module's store, closed after the block."""
        store = self.store()
        try:
            yield store
        finally:
            store.close()

    def comm_snapshot(self) -> tuple[object, ...]:
        """Everything the Communication Management pages can change: to show that a refusal changed nothing."""
        with self.opened() as store:
            return store.users.list(), store.comm.systems(), store.comm.arrangements(), store.ui_users.list()


def error_of(answer: requests.Response) -> str:
    """The error message a page shows (``#error``), unescaped."""
    return html.unescape(answer.text.split('id="error">')[1].split("</p>")[0])


def message_of(answer: requests.Response) -> str:
    """The success message a page shows (``role="status"``), unescaped."""
    return html.unescape(answer.text.split('role="status">')[1].split("</p>")[0])


@pytest.fixture(scope="module")
def ui_tenant(tenant: Tenant) -> Iterator[UiTenant]:
    store = Store.open_existing(Paths.resolve(str(tenant.data_dir)).database_url)
    try:
        for user, (role, password) in UI_USERS.items():
            users.add_business_user(store, user, f"UI {role}", password=password, role=role)
    finally:
        store.close()
    return UiTenant(tenant)
