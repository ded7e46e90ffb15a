"""Hypothesis against the web pages of a live server: whatever a browser sends, the answer is never a 5xx.

Every page and action that :func:`appjobs.web.app.page_routes` lists is
walked, logged on as an administrator (who may reach them all): path
parameters with any text (slashes, NULs, quotes, ``<script>``), query
strings and form fields with the names the pages use and any values. A 2xx,
3xx or 4xx is fine; a 5xx fails, and so does a page that echoes markup
unescaped. Logoff is left out (it would end the session the walk runs in).
"""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.routing import Route
from uisite import PREFIX, Page, UiTenant

from appjobs.web.app import page_routes

FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
MARKUP = "<b>appjobs-fuzz</b>"
#: Field and query names the pages read; each example sends some of them.
NAMES = [
    "template", "text", "job_user", "start", "start_at", "timezone", "every", "count", "until", "copy", "mode",
    "status", "creator", "q", "from", "to", "cursor", "before", "after", "name", "password", "role", "description",
    "system_id", "host_name", "scenario", "system", "user", "arrangement", "replace", "event", "outcome", "since",
    "param-TEXT", "param-COUNT", "next", "page",
]  # fmt: skip
VALUES = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", "0", "-1", "99999999999999999999", "now", "at", "series", "1d", "2026-13-45T25:61",
                     "/APPJOBS/DEMO_ECHO", "UIADMIN", MARKUP, "' OR 1=1 --", "\x00", "%00", "../../etc/passwd"]),
)  # fmt: skip
PATH_TEXT = st.one_of(
    st.text(min_size=1, max_size=20),
    st.sampled_from(["/APPJOBS/DEMO_ECHO", MARKUP, "..", "%00", "a/b", "0" * 32, "NOSUCHJOB"]),
)
ROUTES = [r for r in page_routes() if isinstance(r, Route) and r.path not in {"/logoff"}]


def _example_path(route: Route, values: list[str]) -> str:
    path = route.path
    for (name, convertor), value in zip(route.param_convertors.items(), values, strict=False):
        encoded = quote(value, safe="/" if convertor.regex == ".*" else "")
        path = re.sub(r"\{" + name + r"(:[a-z]+)?\}", lambda _m, e=encoded: e or "x", path)
    return path


@pytest.fixture(scope="module")
def admin_page(ui_tenant: UiTenant) -> Page:
    return ui_tenant.page("UIADMIN")


def _check(answer: requests.Response) -> None:
    assert answer.status_code < 500, answer.text[:2000]
    assert MARKUP not in answer.text, "markup from the request was echoed unescaped"


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{','.join(sorted(r.methods or []))} {r.path}")
@FUZZ
@given(data=st.data())
def test_no_input_makes_a_page_fail(admin_page: Page, route: Route, data: st.DataObject) -> None:
    values = [data.draw(PATH_TEXT) for _ in route.param_convertors]
    path = _example_path(route, values)
    fields = data.draw(st.dictionaries(st.sampled_from(NAMES), VALUES, max_size=6))
    methods = route.methods or {"GET"}
    if "GET" in methods:
        _check(admin_page.http.get(admin_page.base + PREFIX + path, params=fields, timeout=30, allow_redirects=False))
    if "POST" in methods:
        _check(admin_page.post(path, fields, allow_redirects=False))
    assert admin_page.get("/jobs", allow_redirects=False).status_code == 200  # the walk's session is still alive


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{','.join(sorted(r.methods or []))} {r.path}")
def test_markup_in_every_field_and_path_is_shown_escaped(admin_page: Page, route: Route) -> None:
    path = _example_path(route, [MARKUP] * len(route.param_convertors))
    fields = dict.fromkeys(NAMES, MARKUP)
    if "GET" in (route.methods or {"GET"}):
        _check(admin_page.http.get(admin_page.base + PREFIX + path, params=fields, timeout=30, allow_redirects=False))
    if "POST" in (route.methods or set()):
        _check(admin_page.post(path, fields, allow_redirects=False))
