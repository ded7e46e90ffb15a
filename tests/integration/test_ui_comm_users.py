"""Communication Management: business users (UI logons), who may use the pages at all, and the audit log."""

from __future__ import annotations

import html
import re

import pytest
from uisite import PREFIX, Page, UiTenant, error_of, message_of

COMM_PAGES = ["/comm/users", "/comm/systems", "/comm/arrangements", "/comm/business-users", "/comm/audit"]
COMM_POSTS = [
    ("/comm/users", {"name": "FORGED"}),
    ("/comm/users/JOBSCHEDULERUSER/lock", {}),
    ("/comm/users/JOBSCHEDULERUSER/unlock", {}),
    ("/comm/users/JOBSCHEDULERUSER/reset-password", {}),
    ("/comm/systems", {"system_id": "FORGED", "host_name": "evil.example"}),
    (
        "/comm/arrangements",
        {"name": "FORGED", "scenario": "SAP_COM_0326", "system": "OTHERUSER_SYSTEM", "user": "OTHERUSER"},
    ),
    ("/comm/arrangements/JOBSCHEDULERUSER_0064/remove", {}),
    ("/comm/arrangements/JOBSCHEDULERUSER_0064/unlock-user", {}),
    ("/comm/business-users", {"user_id": "FORGED", "password": "Forged-password-123", "role": "administrator"}),
    ("/comm/business-users/logon", {"user_id": "UIVIEWER", "password": "Forged-password-123", "role": "administrator"}),
    ("/comm/business-users/UIADMIN/lock", {}),
    ("/comm/business-users/UIADMIN/unlock", {}),
]


@pytest.mark.parametrize("user", ["UIOPERATOR", "UIVIEWER"])
def test_only_an_administrator_may_see_or_change_communication_management(ui_tenant: UiTenant, user: str) -> None:
    page = ui_tenant.page(user)
    assert f'href="{PREFIX}/comm/users"' not in page.get("/jobs").text  # no link to pages it may not open
    for path in COMM_PAGES:
        answer = page.get(path)
        assert answer.status_code == 403, path
        assert "needs the role administrator" in answer.text
    before = ui_tenant.comm_snapshot()
    for path, data in COMM_POSTS:
        assert page.post(path, data).status_code == 403, path
    assert ui_tenant.comm_snapshot() == before


def test_an_administrator_opens_every_page_with_its_sub_navigation(ui_tenant: UiTenant) -> None:
    page = ui_tenant.page("UIADMIN")
    for path in COMM_PAGES:
        answer = page.get(path)
        assert answer.status_code == 200, path
        assert answer.text.count("<h1") == 1
        assert f'<a href="{PREFIX}{path}" aria-current="page">' in answer.text
        for other in COMM_PAGES:
            assert f'href="{PREFIX}{other}"' in answer.text


def test_a_comm_form_without_the_csrf_token_is_refused(ui_tenant: UiTenant) -> None:
    page = ui_tenant.page("UIADMIN")
    before = ui_tenant.comm_snapshot()
    answer = page.post("/comm/systems", {"system_id": "NOCSRF", "host_name": "x.example"}, csrf=False)
    assert answer.status_code == 403
    assert ui_tenant.comm_snapshot() == before


def test_business_users_are_listed_with_their_ui_role_and_lock_state(ui_tenant: UiTenant) -> None:
    text = ui_tenant.page("UIADMIN").get("/comm/business-users").text
    assert '<table id="business-users">' in text
    row = text.split('<tr data-business-user="UIOPERATOR">')[1].split("</tr>")[0]
    assert "<td>operator</td>" in row
    assert "Active" in row
    plain = text.split('<tr data-business-user="CB8980000030">')[1].split("</tr>")[0]
    assert "No UI logon" in plain
    assert "lock" not in plain


def test_a_business_user_added_with_a_role_logs_on_and_is_locked_and_unlocked(ui_tenant: UiTenant) -> None:
    admin = ui_tenant.page("UIADMIN")
    fields = {"user_id": "uinewop", "description": "New op", "password": "New-operator-pass-1", "role": "operator"}
    added = admin.post("/comm/business-users", fields)
    assert added.status_code == 200
    assert message_of(added) == "Added business user UINEWOP (UI role operator)."
    assert "New-operator-pass-1" not in added.text
    newcomer = Page(ui_tenant.base)
    assert newcomer.logon("UINEWOP", "New-operator-pass-1").status_code == 200
    locked = admin.post("/comm/business-users/UINEWOP/lock")
    assert message_of(locked) == "Business user UINEWOP: UI logon locked; its sessions have ended."
    assert newcomer.get("/jobs", allow_redirects=False).status_code == 303  # its session ended at once
    assert Page(ui_tenant.base).logon("UINEWOP", "New-operator-pass-1").status_code == 401
    assert admin.post("/comm/business-users/UINEWOP/unlock").status_code == 200
    assert Page(ui_tenant.base).logon("UINEWOP", "New-operator-pass-1").status_code == 200
    with ui_tenant.opened() as store:
        details = [(e.detail, e.source) for _, e in store.audit.search(event="admin", user="UIADMIN")]
    assert ("business user UINEWOP: UI logon unlocked", "ui:UIADMIN") in details
    assert ("created business user UINEWOP (UI role operator)", "ui:UIADMIN") in details


def test_a_new_ui_password_and_role_take_effect_and_end_the_sessions(ui_tenant: UiTenant) -> None:
    admin = ui_tenant.page("UIADMIN")
    admin.post("/comm/business-users", {"user_id": "UIROLECHANGE", "password": "First-password-12", "role": "viewer"})
    viewer = Page(ui_tenant.base)
    assert viewer.logon("UIROLECHANGE", "First-password-12").status_code == 200
    fields = {"user_id": "UIROLECHANGE", "password": "Second-password-34", "role": "administrator"}
    changed = admin.post("/comm/business-users/logon", fields)
    assert changed.status_code == 200
    assert "UI password and role administrator set" in message_of(changed)
    assert viewer.get("/jobs", allow_redirects=False).status_code == 303
    assert Page(ui_tenant.base).logon("UIROLECHANGE", "First-password-12").status_code == 401
    promoted = Page(ui_tenant.base)
    assert promoted.logon("UIROLECHANGE", "Second-password-34").status_code == 200
    assert promoted.get("/comm/users").status_code == 200


@pytest.mark.parametrize(
    ("path", "fields", "status", "message"),
    [
        ("/comm/business-users", {"user_id": "bad id!"}, 400, "'BAD ID!' is not a valid business user id"),
        ("/comm/business-users", {"user_id": "UIVIEWER"}, 409, "business user UIVIEWER already exists"),
        (
            "/comm/business-users",
            {"user_id": "UISHORT", "password": "short", "role": "viewer"},
            400,
            "a UI user's password must have at least 12 characters",
        ),
        (
            "/comm/business-users",
            {"user_id": "UINOROLE", "password": "Long-enough-pass-1"},
            400,
            "a UI user needs both a password and a role",
        ),
        (
            "/comm/business-users",
            {"user_id": "UIBADROLE", "password": "Long-enough-pass-1", "role": "root"},
            400,
            "'root' is not a role",
        ),
        (
            "/comm/business-users/logon",
            {"user_id": "NOSUCHBU", "password": "Long-enough-pass-1", "role": "viewer"},
            404,
            "business user NOSUCHBU doesn't exist",
        ),
        ("/comm/business-users/NOSUCHBU/lock", {}, 404, "business user NOSUCHBU doesn't exist"),
    ],
)
def test_bad_business_user_input_is_refused_and_nothing_changes(
    ui_tenant: UiTenant, path: str, fields: dict[str, str], status: int, message: str
) -> None:
    page = ui_tenant.page("UIADMIN")
    before = ui_tenant.comm_snapshot()
    answer = page.post(path, fields)
    assert answer.status_code == status
    assert error_of(answer).startswith(message)
    assert ui_tenant.comm_snapshot() == before


def test_the_audit_log_shows_ui_actions_with_the_ui_user_who_acted(ui_tenant: UiTenant) -> None:
    page = ui_tenant.page("UIADMIN")
    page.post("/comm/systems", {"system_id": "UIAUDITSYS", "host_name": "audit.example.com"})
    answer = page.get("/comm/audit", params={"user": "uiadmin", "event": "admin"})
    assert answer.status_code == 200
    rows = answer.text.split("<tbody>")[1].split("</tbody>")[0].split("<tr data-entry=")[1:]
    assert rows, answer.text
    newest = rows[0]
    assert "created communication system UIAUDITSYS (audit.example.com)" in newest
    assert "<td>ui:UIADMIN</td>" in newest
    assert all('<td class="nowrap">admin</td>' in row for row in rows)


def test_the_audit_log_filters_by_outcome_and_time_and_pages(ui_tenant: UiTenant) -> None:
    for _ in range(3):
        Page(ui_tenant.base).logon("UIVIEWER", "a-wrong-password-1")
    Page(ui_tenant.base).logon("UIVIEWER", "Viewer-password-of-appjobs-3")  # a success forgets the failures
    page = ui_tenant.page("UIADMIN")
    failures = page.get("/comm/audit", params={"user": "UIVIEWER", "outcome": "failure"}).text
    assert failures.count("<tr data-entry=") >= 3
    assert "Success" not in failures.split("<tbody>")[1]
    future = page.get("/comm/audit", params={"from": "2099-01-01T00:00"}).text
    assert "No entries match." in future
    past = page.get("/comm/audit", params={"to": "2000-01-01T00:00"}).text
    assert "No entries match." in past
    first = page.get("/comm/audit")
    ids = [int(r.split('"')[1]) for r in first.text.split("<tr data-entry=")[1:]]
    assert ids == sorted(ids, reverse=True)  # newest first


def test_the_audit_log_pages_by_the_last_id_shown(ui_tenant: UiTenant) -> None:
    page = ui_tenant.page("UIADMIN")
    for number in range(55):
        page.post("/comm/systems", {"system_id": f"UIPAGE{number}", "host_name": "page.example.com"})
    first = page.get("/comm/audit", params={"event": "admin", "user": "UIADMIN"})
    ids = [int(r.split('"')[1]) for r in first.text.split("<tr data-entry=")[1:]]
    assert len(ids) == 50
    link = html.unescape(first.text.split('" id="older"')[0].rsplit('href="', 1)[1])
    assert "event=admin" in link
    assert "user=UIADMIN" in link
    second = page.get(link.removeprefix(PREFIX)).text
    more = [int(r.split('"')[1]) for r in second.split("<tr data-entry=")[1:]]
    assert more
    assert max(more) < min(ids)
    assert "Newest entries" in second


def test_a_bad_time_in_the_audit_filter_is_a_clear_400(ui_tenant: UiTenant) -> None:
    answer = ui_tenant.page("UIADMIN").get("/comm/audit", params={"from": "yesterday"})
    assert answer.status_code == 400
    assert error_of(answer) == "From: 'yesterday' is not a time like 2026-12-06T07:45 (UTC)"
    assert 'id="audit-from" name="from" type="datetime-local" value="yesterday"' in answer.text


@pytest.mark.parametrize("path", [*COMM_PAGES, "/templates", "/templates/%2FAPPJOBS%2FDEMO_ECHO"])
def test_every_field_has_a_label_and_no_page_has_inline_script_or_style(ui_tenant: UiTenant, path: str) -> None:
    text = ui_tenant.page("UIADMIN").get(path).text
    fields = re.findall(r"<(?:input|select|textarea)\b([^>]*)>", text)
    for attributes in fields:
        if 'type="hidden"' in attributes:
            continue
        found = re.search(r'\bid="([^"]+)"', attributes)
        assert found, attributes
        assert f'<label for="{found.group(1)}"' in text, found.group(1)
    assert " style=" not in text
    assert re.findall(r"<script\b[^>]*>", text) == [f'<script src="{PREFIX}/static/htmx.min.js" defer>']
    assert "<caption>" in text
    assert 'scope="col"' in text
