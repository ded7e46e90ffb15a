"""Logging on to the web pages: who may, lockout, sessions, CSRF, roles, and the headers every page carries."""

from __future__ import annotations

from collections.abc import Iterator

import requests
from tenant import ROOT_PATH, USERS
from uisite import PREFIX, UI_USERS, Page, UiTenant

from appjobs.auth import users


def test_logon_opens_the_job_list_with_a_strict_session_cookie(ui_tenant: UiTenant) -> None:
    page = Page(ui_tenant.base)
    answer = page.logon("uioperator", UI_USERS["UIOPERATOR"][1])  # user names are upper-cased, as SAP's
    assert answer.status_code == 200
    assert "UIOPERATOR" in answer.text
    assert "Application Jobs" in answer.text
    cookie = answer.history[0].headers["set-cookie"]
    assert "appjobs_ui=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/appjobs/ui/" in cookie


def test_every_page_answer_carries_the_security_headers(ui_tenant: UiTenant) -> None:
    answer = requests.get(ui_tenant.base + PREFIX + "/", timeout=10)
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_without_a_session_a_page_sends_the_reader_to_the_logon_form_and_back(ui_tenant: UiTenant) -> None:
    answer = requests.get(ui_tenant.base + PREFIX + "/jobs", timeout=10, allow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == PREFIX + "/?next=/appjobs/ui/jobs"
    htmx = requests.get(ui_tenant.base + PREFIX + "/jobs", headers={"HX-Request": "true"}, timeout=10)
    assert htmx.status_code == 401
    assert htmx.headers["hx-redirect"].startswith(PREFIX + "/")


def test_a_wrong_password_is_refused_with_a_message_and_audited(ui_tenant: UiTenant) -> None:
    answer = Page(ui_tenant.base).logon("UIVIEWER", "not-the-password-at-all")
    assert answer.status_code == 401
    assert "Logon failed" in answer.text
    assert "appjobs_ui=" not in answer.headers.get("set-cookie", "")
    store = ui_tenant.store()
    try:
        entries = [e for e in store.audit.since(_an_hour_ago()) if e.event == "ui-logon" and e.user_name == "UIVIEWER"]
    finally:
        store.close()
    assert any(e.outcome == "failure" and e.detail == "wrong password" for e in entries)


def test_five_wrong_passwords_lock_the_ui_user_until_an_administrator_unlocks_it(ui_tenant: UiTenant) -> None:
    store = ui_tenant.store()
    try:
        users.add_business_user(store, "UILOCKME", "", password="Lock-me-if-you-can-7", role="viewer")
        for _ in range(5):
            assert Page(ui_tenant.base).logon("UILOCKME", "a-wrong-password-here").status_code == 401
        assert Page(ui_tenant.base).logon("UILOCKME", "Lock-me-if-you-can-7").status_code == 401  # locked now
        users.set_ui_locked(store, "UILOCKME", False)
    finally:
        store.close()
    assert Page(ui_tenant.base).logon("UILOCKME", "Lock-me-if-you-can-7").status_code == 200


def test_a_communication_user_cannot_log_on_to_the_pages(ui_tenant: UiTenant) -> None:
    user, password = next(iter(USERS.items()))
    assert Page(ui_tenant.base).logon(user, password).status_code == 401


def test_a_ui_user_cannot_call_the_odata_service(ui_tenant: UiTenant) -> None:
    answer = requests.get(
        ui_tenant.base + ROOT_PATH + "/$metadata", auth=("UIADMIN", UI_USERS["UIADMIN"][1]), timeout=10
    )
    assert answer.status_code == 401


def test_a_form_without_the_sessions_csrf_token_is_refused(ui_tenant: UiTenant) -> None:
    page = ui_tenant.page("UIOPERATOR")
    refused = page.post("/logoff", csrf=False)
    assert refused.status_code == 403
    assert "out of date" in refused.text
    forged = page.post("/logoff", {"csrf_token": "forged"}, csrf=False)
    assert forged.status_code == 403
    assert page.get("/jobs").status_code == 200  # still logged on: neither request was obeyed


def test_logoff_ends_the_session_for_good(ui_tenant: UiTenant) -> None:
    page = ui_tenant.page("UIVIEWER")
    cookie = page.http.cookies.get("appjobs_ui")
    assert page.post("/logoff").url.endswith(PREFIX + "/")
    replayed = requests.get(ui_tenant.base + PREFIX + "/jobs", cookies={"appjobs_ui": cookie}, timeout=10,
                            allow_redirects=False)  # fmt: skip
    assert replayed.status_code == 303


def test_locking_a_ui_user_ends_its_open_session_at_once(ui_tenant: UiTenant) -> None:
    store = ui_tenant.store()
    try:
        users.add_business_user(store, "UISHORTLIVED", "", password="Short-lived-password-9", role="operator")
        page = Page(ui_tenant.base)
        assert page.logon("UISHORTLIVED", "Short-lived-password-9").status_code == 200
        users.set_ui_locked(store, "UISHORTLIVED", True)
    finally:
        store.close()
    assert page.get("/jobs", allow_redirects=False).status_code == 303


def test_the_logon_redirect_never_leaves_the_site(ui_tenant: UiTenant) -> None:
    page = Page(ui_tenant.base)
    form = page.http.get(ui_tenant.base + PREFIX + "/", timeout=10).text
    token = form.split('name="csrf_token" value="')[1].split('"')[0]
    for target in ("https://evil.example/", "//evil.example/", "/appjobs/ui//evil.example", "/appjobs/ui/\\evil"):
        data = {"username": "UIVIEWER", "password": UI_USERS["UIVIEWER"][1], "csrf_token": token, "next": target}
        answer = page.http.post(ui_tenant.base + PREFIX + "/logon", data=data, timeout=30, allow_redirects=False)
        assert answer.headers["location"] == PREFIX + "/jobs", target
        page.http.cookies.clear()
        token = page.http.get(ui_tenant.base + PREFIX + "/", timeout=10).text.split('name="csrf_token" value="')[1]
        token = token.split('"')[0]


def test_a_logon_form_posted_without_its_own_token_is_refused(ui_tenant: UiTenant) -> None:
    data = {"username": "UIVIEWER", "password": UI_USERS["UIVIEWER"][1], "csrf_token": "made-up"}
    answer = requests.post(ui_tenant.base + PREFIX + "/logon", data=data, timeout=30, allow_redirects=False)
    assert answer.status_code == 403
    assert "out of date" in answer.text


def _an_hour_ago() -> object:
    import datetime as dt

    from appjobs import models

    return models.utcnow() - dt.timedelta(hours=1)


def test_the_logon_form_refuses_a_large_body_before_reading_it(ui_tenant: UiTenant) -> None:
    """Anybody may post to the logon form: a file in it must not be spooled to disk, whatever its size."""
    upload = {"file": ("big.bin", b"x" * (5 * 1024 * 1024))}
    declared = requests.post(ui_tenant.base + PREFIX + "/logon", files=upload, timeout=30)
    assert declared.status_code == 413
    assert "too large" in declared.text

    def chunks() -> Iterator[bytes]:  # no Content-Length: the body is counted as it arrives
        boundary = b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n\r\n'
        yield boundary
        for _ in range(80):
            yield b"x" * 65536

    headers = {"Content-Type": "multipart/form-data; boundary=b"}
    streamed = requests.post(ui_tenant.base + PREFIX + "/logon", data=chunks(), headers=headers, timeout=30)
    assert streamed.status_code == 413


def test_an_htmx_request_may_carry_the_csrf_token_in_its_header_alone(ui_tenant: UiTenant) -> None:
    page = ui_tenant.page("UIVIEWER")
    answer = page.http.post(ui_tenant.base + PREFIX + "/logoff", headers={"X-CSRF-Token": page.csrf}, timeout=30,
                            allow_redirects=False)  # fmt: skip
    assert answer.status_code == 303
    assert page.get("/jobs", allow_redirects=False).status_code == 303  # obeyed: logged off


def test_the_logon_takes_the_reader_back_to_the_page_it_asked_for(ui_tenant: UiTenant) -> None:
    page = Page(ui_tenant.base)
    form = page.http.get(ui_tenant.base + PREFIX + "/?next=/appjobs/ui/templates", timeout=10).text
    token = form.split('name="csrf_token" value="')[1].split('"')[0]
    data = {"username": "UIVIEWER", "password": UI_USERS["UIVIEWER"][1], "csrf_token": token,
            "next": PREFIX + "/templates"}  # fmt: skip
    answer = page.http.post(ui_tenant.base + PREFIX + "/logon", data=data, timeout=30, allow_redirects=False)
    assert answer.headers["location"] == PREFIX + "/templates"


def test_static_files_may_be_cached_and_pages_may_not(ui_tenant: UiTenant) -> None:
    css = requests.get(ui_tenant.base + PREFIX + "/static/appjobs.css", timeout=10)
    assert css.status_code == 200
    assert "no-store" not in css.headers.get("cache-control", "")
    assert css.headers["x-frame-options"] == "DENY"  # the other headers all the same
    assert css.headers["referrer-policy"] == "same-origin"


def test_a_template_file_of_a_mebibyte_is_imported_and_one_byte_more_is_too_large(ui_tenant: UiTenant) -> None:
    page = ui_tenant.page("UIOPERATOR")
    assert "at most 1024 KiB" in page.get("/templates").text
    template = b'[[template]]\nname = "/UITEST/MEBIBYTE"\ntext = "A full file"\n\n[[template.step]]\ncommand = "true"\n'
    exact = template + b"#" + b"x" * (1024 * 1024 - len(template) - 2) + b"\n"
    assert len(exact) == 1024 * 1024
    refused = page.post("/templates/import", files={"file": ("big.toml", exact + b"\n", "application/toml")})
    assert refused.status_code == 400
    assert "big.toml is too large: a file may have at most 1024 KiB" in refused.text
    answer = page.post("/templates/import", files={"file": ("big.toml", exact, "application/toml")})
    assert answer.status_code == 200, answer.text


def test_a_refusal_is_a_whole_page_and_to_htmx_only_the_message(ui_tenant: UiTenant) -> None:
    page = ui_tenant.page("UIVIEWER")
    whole = page.post("/logoff", csrf=False)
    assert whole.status_code == 403
    assert "<h1>Not possible</h1>" in whole.text
    swapped = page.post("/logoff", csrf=False, headers={"HX-Request": "true"})
    assert swapped.status_code == 403
    assert swapped.text.startswith('<p class="message error" role="alert" id="error">This form is out of date')
    assert "<h1>" not in swapped.text
