"""The Job Templates pages: the list, a template's page, and importing a TOML upload as the command does."""

from __future__ import annotations

import html
import pathlib
import subprocess
from collections.abc import Iterator

import pytest
from conftest import APPJOBS
from uisite import PREFIX, UiTenant

from appjobs import errors, models

GOOD = """
[[template]]
name = "/UITEST/{name}"
text = "{text}"

[[template.step]]
text = "Load"
command = 'echo "$AREA"'

[template.step.parameters]
AREA = "EU"

[template.step.parameters.FROM]
type = "date"
default = 2026-01-01
mandatory = true
text = "First day"

[template.step.parameters.PLANTS]
select_option = true
allowed = ["1000", "2000", "3000"]
default = [{{ sign = "I", option = "BT", low = "1000", high = "2000" }}]

[[template.step]]
callable = "appjobs.demo:echo"
"""


def good(name: str, text: str = "UI import test") -> bytes:
    return GOOD.format(name=name, text=text).encode()


def stored(ui_tenant: UiTenant) -> list[models.Template]:
    with ui_tenant.opened() as store:
        return store.templates.list()


def upload(page, content: bytes, *, filename: str = "jobs.toml", replace: bool = False):  # type: ignore[no-untyped-def]
    data = {"replace": "on"} if replace else {}
    return page.post("/templates/import", data, files={"file": (filename, content, "application/toml")})


def test_the_list_shows_every_template_with_its_steps_parameters_and_users(ui_tenant: UiTenant) -> None:
    answer = ui_tenant.page("UIVIEWER").get("/templates")
    assert answer.status_code == 200
    assert '<table id="templates">' in answer.text
    row = answer.text.split('<tr data-template="/APPJOBS/DEMO_ECHO">')[1].split("</tr>")[0]
    cells = [c.split("</td>")[0].strip() for c in row.split("<td>")[1:]]
    assert cells[1:] == ["Echo parameters", "1", "2", "Any", ""]
    assert f'href="{PREFIX}/templates/%2FAPPJOBS%2FDEMO_ECHO"' in row  # one path part: the slashes are encoded
    for name in ("/APPJOBS/DEMO_SLEEP", "/APPJOBS/DEMO_CHAIN"):
        assert f'data-template="{name}"' in answer.text


def test_a_viewer_sees_no_import_form_and_may_not_import(ui_tenant: UiTenant) -> None:
    page = ui_tenant.page("UIVIEWER")
    assert 'id="import-form"' not in page.get("/templates").text
    before = stored(ui_tenant)
    refused = upload(page, good("VIEWER"))
    assert refused.status_code == 403
    assert stored(ui_tenant) == before


def test_a_template_page_shows_steps_parameters_and_checks(ui_tenant: UiTenant) -> None:
    page = ui_tenant.page("UIOPERATOR")
    assert upload(page, good("DETAIL")).status_code == 200
    answer = page.get("/templates/%2FUITEST%2FDETAIL")
    assert answer.status_code == 200
    text = answer.text
    assert "<h1" in text
    assert "<code>echo &#34;$AREA&#34;</code>" in text
    assert "<code>appjobs.demo:echo</code>" in text
    plants = text.split('<tr data-parameter="PLANTS">')[1].split("</tr>")[0]
    assert "I BT 1000 2000" in plants
    assert "one of 1000, 2000, 3000" in plants
    date = text.split('<tr data-parameter="FROM">')[1].split("</tr>")[0]
    assert "20260101" in date
    assert "<td>Yes</td>" in date
    assert "a date YYYYMMDD" in date
    assert "UIOPERATOR" in text  # changed by: the UI user who imported it


def test_the_demo_template_page_names_its_callable_and_parameters(ui_tenant: UiTenant) -> None:
    text = ui_tenant.page("UIVIEWER").get("/templates/%2FAPPJOBS%2FDEMO_ECHO").text
    assert "appjobs.demo:echo" in text
    assert 'data-parameter="MESSAGE"' in text
    assert "Hello from appjobs" in text
    assert 'id="business-users">Any<' in text


def test_an_unknown_template_is_a_clear_404(ui_tenant: UiTenant) -> None:
    answer = ui_tenant.page("UIVIEWER").get("/templates/%2FAPPJOBS%2FNO_SUCH")
    assert answer.status_code == 404
    assert "/APPJOBS/NO_SUCH doesn&#39;t exist" in answer.text


def test_an_import_stores_every_template_names_them_and_is_audited(ui_tenant: UiTenant) -> None:
    content = good("IMPORT1") + good("IMPORT2").replace(b"UI import test", b"Second")
    answer = upload(ui_tenant.page("UIOPERATOR"), content)
    assert answer.status_code == 200
    status = answer.text.split('class="message success" role="status">')[1].split("</p>")[0]
    assert (
        status
        == "Imported 2 job templates: /UITEST/IMPORT1 (UI import test, 2 steps), /UITEST/IMPORT2 (Second, 2 steps)."
    )
    assert 'data-template="/UITEST/IMPORT2"' in answer.text
    with ui_tenant.opened() as store:
        template = store.templates.get("/UITEST/IMPORT1")
        entries = store.audit.search(user="UIOPERATOR", event="admin")
    assert template.created_by == "UIOPERATOR"
    assert template.steps[0].target == 'echo "$AREA"'
    assert any(e.source == "ui:UIOPERATOR" and "/UITEST/IMPORT1, /UITEST/IMPORT2" in e.detail for _, e in entries)


BAD = [
    pytest.param(b"[[template]\nname = 1", "jobs.toml: not valid TOML", id="invalid-toml"),
    pytest.param(
        good("GOODBUTBAD") + good("BADCALL").replace(b"appjobs.demo:echo", b"appjobs.demo:no_such_function"),
        "jobs.toml: template[2].step[2]: field &#39;callable&#39;: &#39;appjobs.demo:no_such_function&#39;",
        id="unknown-callable",
    ),
    pytest.param(
        good("FIELD").replace(b"command =", b"comand ="),
        "jobs.toml: template[1].step[1]: unknown field &#39;comand&#39;",
        id="field",
    ),
    pytest.param(b"\xff\xfe[[template]]", "jobs.toml: cannot read:", id="not-utf-8"),
]


@pytest.mark.parametrize(("content", "message"), BAD)
def test_a_bad_file_gives_the_commands_message_and_stores_nothing(
    ui_tenant: UiTenant, content: bytes, message: str
) -> None:
    before = stored(ui_tenant)
    answer = upload(ui_tenant.page("UIOPERATOR"), content)
    assert answer.status_code == 400
    error = answer.text.split('id="error">')[1].split("</p>")[0]
    assert error.startswith(message)
    assert 'id="import-form"' in answer.text  # the form again, to pick another file
    assert stored(ui_tenant) == before


def test_the_message_is_the_one_the_command_prints(ui_tenant: UiTenant, tmp_path: pathlib.Path) -> None:
    content = good("SAMEMESSAGE").replace(b"command =", b"comand =")
    (tmp_path / "jobs.toml").write_bytes(content)
    command = [*APPJOBS, "admin", "templates", "import", "jobs.toml", "--data-dir", str(ui_tenant.tenant.data_dir)]
    done = subprocess.run(command, cwd=tmp_path, check=False, capture_output=True, text=True)
    assert done.returncode != 0
    error = upload(ui_tenant.page("UIOPERATOR"), content).text.split('id="error">')[1].split("</p>")[0]
    assert html.unescape(error) in done.stderr


def test_a_duplicate_is_refused_unless_replace_is_ticked(ui_tenant: UiTenant) -> None:
    page = ui_tenant.page("UIOPERATOR")
    assert upload(page, good("TWICE", "First text")).status_code == 200
    before = stored(ui_tenant)
    refused = upload(page, good("TWICE", "Second text"))
    assert refused.status_code == 409
    error = html.unescape(refused.text.split('id="error">')[1].split("</p>")[0])
    assert error == "job template /UITEST/TWICE already exists (tick “Replace existing templates” to change it)"
    assert stored(ui_tenant) == before
    replaced = upload(page, good("TWICE", "Second text"), replace=True)
    assert replaced.status_code == 200
    with ui_tenant.opened() as store:
        assert store.templates.get("/UITEST/TWICE").text == "Second text"


def test_an_import_without_a_file_or_with_a_huge_one_is_refused(ui_tenant: UiTenant) -> None:
    page = ui_tenant.page("UIOPERATOR")
    before = stored(ui_tenant)
    empty = page.post("/templates/import", {}, files={"file": ("", b"", "application/octet-stream")})
    assert empty.status_code == 400
    assert "Choose a TOML file" in empty.text
    huge = upload(page, b"# " + b"x" * (2 * 1024 * 1024))
    assert huge.status_code == 413
    assert "too large" in huge.text
    assert stored(ui_tenant) == before


def test_an_import_without_the_csrf_token_is_refused(ui_tenant: UiTenant) -> None:
    page = ui_tenant.page("UIOPERATOR")
    before = stored(ui_tenant)
    answer = page.post("/templates/import", {}, csrf=False, files={"file": ("jobs.toml", good("NOCSRF"))})
    assert answer.status_code == 403
    assert stored(ui_tenant) == before


def test_a_template_text_is_shown_never_run(ui_tenant: UiTenant) -> None:
    page = ui_tenant.page("UIOPERATOR")
    assert upload(page, good("SCRIPT", "<script>alert(1)</script>")).status_code == 200
    for path in ("/templates", "/templates/%2FUITEST%2FSCRIPT"):
        text = page.get(path).text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
        assert "<script>alert" not in text


def test_a_stored_template_is_unchanged_by_a_failed_replace(ui_tenant: UiTenant) -> None:
    page = ui_tenant.page("UIOPERATOR")
    assert upload(page, good("KEEP", "Kept")).status_code == 200
    bad = good("KEEP", "Changed").replace(b"appjobs.demo:echo", b"nowhere:fn")
    assert upload(page, bad, replace=True).status_code == 400
    with ui_tenant.opened() as store:
        assert store.templates.get("/UITEST/KEEP").text == "Kept"
    with ui_tenant.opened() as store, pytest.raises(errors.TemplateNotFound):
        store.templates.get("/UITEST/GOODBUTBAD")


def test_a_file_with_one_duplicate_stores_none_of_its_templates(ui_tenant: UiTenant) -> None:
    page = ui_tenant.page("UIOPERATOR")
    assert upload(page, good("ALREADY")).status_code == 200
    before = stored(ui_tenant)
    answer = upload(page, good("BRANDNEW") + good("ALREADY"))
    assert answer.status_code == 409
    assert "job template /UITEST/ALREADY already exists" in html.unescape(answer.text)
    assert stored(ui_tenant) == before


def test_a_huge_upload_without_a_length_is_cut_off_and_stores_nothing(ui_tenant: UiTenant) -> None:
    page = ui_tenant.page("UIOPERATOR")
    before = stored(ui_tenant)
    boundary = "appjobsboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{page.csrf}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.toml"\r\n\r\n'
    ).encode()

    def chunks() -> Iterator[bytes]:  # no Content-Length: requests sends it chunked
        yield head
        for _ in range(64):
            yield b"#" * 65536

    answer = page.http.post(
        ui_tenant.base + PREFIX + "/templates/import",
        data=chunks(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        timeout=30,
    )
    assert answer.status_code == 413
    assert "too large" in answer.text
    assert stored(ui_tenant) == before
    assert page.get("/templates").status_code == 200  # the server still answers
