"""Communication Management pages: communication users, systems and arrangements, against a real server.

Each action must do what the ``appjobs admin`` command does (same checks,
lockout, revocation, audit), name the UI user who acted in the audit log,
and leave everything as it was when the input is bad.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import pathlib
import re
from collections.abc import Callable

import pytest
import requests
from conftest import Server
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tenant import add_users
from uisite import UI_USERS, Page, UiTenant, error_of, message_of

from appjobs.auth import users
from appjobs.settings import Paths
from appjobs.storage import Store

PASSWORD = re.compile(r'<code class="secret" id="new-password">([^<]*)</code>')
SERVICE_PATH = "/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=0002/"


def metadata(ui_tenant: UiTenant, user: str, password: str) -> int:
    """The status of ``$metadata`` for *user* with *password* over HTTP Basic."""
    answer = requests.get(ui_tenant.tenant.root + "/$metadata", auth=(user, password), timeout=30)
    return answer.status_code


def create(page: Page, name: str, *, arrangement: bool = True, certificate: bytes | None = None) -> requests.Response:
    data = {"name": name} | ({"arrangement": "on"} if arrangement else {})
    files = {"certificate": ("scheduler.pem", certificate or b"", "application/x-pem-file")}
    if certificate is None:
        files = {"certificate": ("", b"", "application/octet-stream")}  # what a browser sends for no file
    return page.post("/comm/users", data, files=files)


def new_password(answer: requests.Response) -> str:
    found = PASSWORD.search(answer.text)
    assert found, answer.text
    return html.unescape(found.group(1))


def certificate(common_name: str) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def test_the_service_path_is_the_servers() -> None:
    from appjobs.server.app import SERVICE_PATH as served
    from appjobs.web.comm_base import SERVICE_PATH as shown

    assert shown == served == SERVICE_PATH


def test_a_created_user_gets_a_password_shown_once_that_logs_on_to_odata(ui_tenant: UiTenant) -> None:
    page = ui_tenant.page("UIADMIN")
    answer = create(page, "uischeduler")  # names are upper-cased, as SAP's
    assert answer.status_code == 200
    password = new_password(answer)
    assert len(password) >= 20
    assert re.search(r"[^A-Za-z0-9]", password)
    assert "UISCHEDULER_0064" in message_of(answer)
    assert 'tr data-user="UISCHEDULER"' in answer.text
    assert metadata(ui_tenant, "UISCHEDULER", password) == 200
    for path in ("/comm/users", "/comm/arrangements", "/comm/audit", "/comm/systems", "/templates"):
        later = page.get(path)
        assert later.status_code == 200
        assert password not in html.unescape(later.text), path
        assert 'id="new-password"' not in later.text
    with ui_tenant.opened() as store:
        entries = store.audit.search(user="UISCHEDULER", event="admin")
    assert any(e.source == "ui:UIADMIN" and e.detail.startswith("created communication user") for _, e in entries)


def test_two_passwords_are_never_the_same() -> None:
    from appjobs.web.comm_base import SPECIALS, generate_password

    passwords = {generate_password() for _ in range(200)}
    assert len(passwords) == 200
    assert all(any(c in SPECIALS for c in p) and any(c.isdigit() for c in p) for p in passwords)


def test_a_user_without_an_arrangement_cannot_log_on_yet(ui_tenant: UiTenant) -> None:
    page = ui_tenant.page("UIADMIN")
    answer = create(page, "UINOARRANGEMENT", arrangement=False)
    assert answer.status_code == 200
    row = answer.text.split('tr data-user="UINOARRANGEMENT"')[1].split("</tr>")[0]
    assert "None: it cannot log on" in row
    assert metadata(ui_tenant, "UINOARRANGEMENT", new_password(answer)) == 401


@pytest.mark.parametrize(
    ("name", "status", "message"),
    [
        ("bad name!", 400, "'BAD NAME!' is not a valid communication user name"),
        ("", 400, "'' is not a valid communication user name"),
        ("JOBSCHEDULERUSER", 409, "communication user JOBSCHEDULERUSER already exists"),
    ],
)
def test_a_bad_or_taken_user_name_is_refused_and_nothing_changes(
    ui_tenant: UiTenant, name: str, status: int, message: str
) -> None:
    page = ui_tenant.page("UIADMIN")
    before = ui_tenant.comm_snapshot()
    answer = create(page, name)
    assert answer.status_code == status
    assert error_of(answer).startswith(message)
    assert 'id="new-password"' not in answer.text
    assert f'id="new-user" name="name" value="{html.escape(name)}"' in answer.text  # the input, to correct
    assert ui_tenant.comm_snapshot() == before


def test_a_certificate_user_is_created_from_an_upload(ui_tenant: UiTenant) -> None:
    page = ui_tenant.page("UIADMIN")
    answer = create(page, "UICERTUSER", certificate=certificate("scheduler.example.com"))
    assert answer.status_code == 200, answer.text
    assert 'id="new-password"' not in answer.text
    row = answer.text.split('tr data-user="UICERTUSER"')[1].split("</tr>")[0]
    assert "Certificate" in row
    assert "CN=scheduler.example.com" in row
    assert "reset-password" not in row  # a certificate user has no password to reset
    with ui_tenant.opened() as store:
        assert store.users.get("UICERTUSER").cert_subject == "CN=scheduler.example.com"


def test_a_file_that_is_no_certificate_is_refused(ui_tenant: UiTenant) -> None:
    page = ui_tenant.page("UIADMIN")
    before = ui_tenant.comm_snapshot()
    answer = create(page, "UIBADCERT", certificate=b"-----BEGIN CERTIFICATE-----\nnonsense\n")
    assert answer.status_code == 400
    assert error_of(answer).startswith("scheduler.pem is not an X.509 certificate")
    assert ui_tenant.comm_snapshot() == before


def test_lock_unlock_and_reset_password_act_on_the_odata_logon(ui_tenant: UiTenant) -> None:
    page = ui_tenant.page("UIADMIN")
    password = new_password(create(page, "UILOCKABLE"))
    assert metadata(ui_tenant, "UILOCKABLE", password) == 200
    locked = page.post("/comm/users/UILOCKABLE/lock")
    assert message_of(locked) == "Communication user UILOCKABLE locked."
    row = locked.text.split('tr data-user="UILOCKABLE"')[1].split("</tr>")[0]
    assert "Locked" in row
    assert 'class="button unlock"' in row
    assert metadata(ui_tenant, "UILOCKABLE", password) == 401
    assert page.post("/comm/users/UILOCKABLE/unlock").status_code == 200
    assert metadata(ui_tenant, "UILOCKABLE", password) == 200
    reset = page.post("/comm/users/UILOCKABLE/reset-password")
    assert reset.status_code == 200
    fresh = new_password(reset)
    assert fresh != password
    assert metadata(ui_tenant, "UILOCKABLE", password) == 401
    assert metadata(ui_tenant, "UILOCKABLE", fresh) == 200
    assert fresh not in html.unescape(page.get("/comm/users").text)
    with ui_tenant.opened() as store:
        details = [e.detail for _, e in store.audit.search(user="UILOCKABLE") if e.source == "ui:UIADMIN"]
    assert details[:3] == ["password reset", "unlocked", "locked"]  # newest first


def test_an_unknown_user_cannot_be_locked(ui_tenant: UiTenant) -> None:
    before = ui_tenant.comm_snapshot()
    answer = ui_tenant.page("UIADMIN").post("/comm/users/NOSUCHUSER/lock")
    assert answer.status_code == 404
    assert error_of(answer) == "communication user NOSUCHUSER doesn't exist"
    assert ui_tenant.comm_snapshot() == before


def test_systems_are_listed_and_added_and_a_duplicate_is_refused(ui_tenant: UiTenant) -> None:
    page = ui_tenant.page("UIADMIN")
    added = page.post("/comm/systems", {"system_id": "uisys", "host_name": "scheduler.example.com"})
    assert added.status_code == 200
    assert message_of(added) == "Added communication system UISYS (scheduler.example.com)."
    assert '<tr data-system="UISYS"><td>UISYS</td><td>scheduler.example.com</td>' in added.text
    before = ui_tenant.comm_snapshot()
    duplicate = page.post("/comm/systems", {"system_id": "UISYS", "host_name": "other.example.com"})
    assert duplicate.status_code == 409
    assert error_of(duplicate) == "communication system UISYS already exists"
    assert 'id="host-name" name="host_name" value="other.example.com"' in duplicate.text
    bad_host = page.post("/comm/systems", {"system_id": "UISYS2", "host_name": "bad host/"})
    assert bad_host.status_code == 400
    assert "is not a valid host name" in error_of(bad_host)
    assert ui_tenant.comm_snapshot() == before


def test_arrangements_show_their_service_url_and_are_added_and_removed(ui_tenant: UiTenant) -> None:
    page = ui_tenant.page("UIADMIN")
    create(page, "UIARRANGED", arrangement=False)
    page.post("/comm/systems", {"system_id": "UIARRSYS", "host_name": "arr.example.com"})
    fields = {"name": "uiarr_0326", "scenario": "SAP_COM_0326", "system": "UIARRSYS", "user": "UIARRANGED"}
    added = page.post("/comm/arrangements", fields)
    assert added.status_code == 200
    row = added.text.split('<tr data-arrangement="UIARR_0326">')[1].split("</tr>")[0]
    assert "SAP_COM_0326" in row
    url = row.split('class="service-url"><code>')[1].split("</code>")[0]
    assert url == ui_tenant.base + SERVICE_PATH
    assert requests.get(url + "$metadata", auth=("JOBSCHEDULERUSER", "Welcome-to-appjobs-1"), timeout=30).ok
    removed = page.post("/comm/arrangements/UIARR_0326/remove")
    assert message_of(removed) == "Removed communication arrangement UIARR_0326."
    assert 'data-arrangement="UIARR_0326"' not in removed.text
    with ui_tenant.opened() as store:
        assert "UIARR_0326" not in [a.name for a in store.comm.arrangements()]


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"system": "NOSUCHSYSTEM"}, 404, "communication system NOSUCHSYSTEM doesn't exist"),
        ({"user": "NOSUCHUSER"}, 404, "communication user NOSUCHUSER doesn't exist"),
        ({"scenario": "SAP_COM_9999"}, 400, "'SAP_COM_9999' is not a communication scenario"),
        ({"name": "JOBSCHEDULERUSER_0064"}, 409, "communication arrangement JOBSCHEDULERUSER_0064 already exists"),
        ({"name": "bad name"}, 400, "'BAD NAME' is not a valid arrangement name"),
    ],
)
def test_a_bad_arrangement_is_refused_and_nothing_changes(
    ui_tenant: UiTenant, fields: dict[str, str], status: int, message: str
) -> None:
    page = ui_tenant.page("UIADMIN")
    before = ui_tenant.comm_snapshot()
    base = {"name": "UIBADARR", "scenario": "SAP_COM_0064", "system": "JOBSCHEDULERUSER_SYSTEM"}
    answer = page.post("/comm/arrangements", base | {"user": "JOBSCHEDULERUSER"} | fields)
    assert answer.status_code == status
    assert error_of(answer).startswith(message)
    assert ui_tenant.comm_snapshot() == before


def test_a_locked_users_arrangement_shows_it_with_an_unlock_button(ui_tenant: UiTenant) -> None:
    page = ui_tenant.page("UIADMIN")
    password = new_password(create(page, "UIWILLLOCK"))
    for _ in range(5):  # the server's lockout, as a scheduler with a stale password meets it
        metadata(ui_tenant, "UIWILLLOCK", "a-wrong-password")
    assert metadata(ui_tenant, "UIWILLLOCK", password) == 401
    listed = page.get("/comm/arrangements")
    row = listed.text.split('<tr data-arrangement="UIWILLLOCK_0064">')[1].split("</tr>")[0]
    assert "Locked" in row
    assert "5 failed logons" in row
    assert 'class="button unlock"' in row
    unlocked = page.post("/comm/arrangements/UIWILLLOCK_0064/unlock-user")
    assert message_of(unlocked) == "Communication user UIWILLLOCK unlocked."
    row = unlocked.text.split('<tr data-arrangement="UIWILLLOCK_0064">')[1].split("</tr>")[0]
    assert "Active" in row
    assert "unlock" not in row
    assert metadata(ui_tenant, "UIWILLLOCK", password) == 200


def test_the_service_url_is_the_servers_public_url_when_it_has_one(
    data_dir: pathlib.Path, start_server: Callable[..., Server]
) -> None:
    """Behind a proxy that ends TLS, the request says http and an inner host: ``--public-url`` is what
    schedulers must be told. (The module's server has none: its pages show their own URL, tested above.)"""
    add_users(data_dir)
    role, password = UI_USERS["UIADMIN"]
    with contextlib.closing(Store.open_existing(Paths.resolve(str(data_dir)).database_url)) as store:
        users.add_business_user(store, "UIADMIN", "UI administrator", password=password, role=role)
    server = start_server("--public-url", "https://jobs.example.com:8443/")
    page = Page(server.url)
    assert page.logon("UIADMIN", password).status_code == 200
    listed = page.get("/comm/arrangements")
    row = listed.text.split('<tr data-arrangement="JOBSCHEDULERUSER_0064">')[1].split("</tr>")[0]
    shown = row.split('class="service-url"><code>')[1].split("</code>")[0]
    assert shown == "https://jobs.example.com:8443" + SERVICE_PATH
