"""``appjobs serve`` over TLS: protocol versions, client-certificate logon, Secure cookies, bad options.

One real server per module, on HTTPS with a trustme CA: password users and a
certificate user (``CERTUSER``, added with ``appjobs admin users add
--certificate``) share its port. The TLS version tests use :mod:`ssl` and
:mod:`http.client` so that each side's protocol range is pinned exactly;
the rest use requests, as a scheduler would.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import http.client
import json
import os
import pathlib
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests
import trustme
from conftest import APPJOBS, Processes, free_port, wait_for
from tenant import ROOT_PATH, USERS, add_users

from appjobs.auth import certificates, users
from appjobs.settings import Paths
from appjobs.storage import Store

CERT_USER = "CERTUSER"
USER, PASSWORD = next(iter(USERS.items()))


@dataclasses.dataclass(frozen=True)
class Pki:
    """PEM files: our CA, the server's chain and key, and client certificates (each with its key)."""

    ca: pathlib.Path
    server_cert: pathlib.Path
    server_key: pathlib.Path
    registered: tuple[str, str]  #: CERTUSER's certificate and key
    stranger: tuple[str, str]  #: signed by our CA, but no user has it
    foreign: tuple[str, str]  #: signed by another CA


def _write_leaf(leaf: trustme.LeafCert, directory: pathlib.Path, name: str) -> tuple[str, str]:
    cert, key = directory / f"{name}.pem", directory / f"{name}-key.pem"
    cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(key))
    return str(cert), str(key)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca, other_ca = trustme.CA(), trustme.CA()
    ca.cert_pem.write_to_path(str(directory / "ca.pem"))
    server = _write_leaf(ca.issue_cert("127.0.0.1", "localhost"), directory, "server")
    return Pki(
        ca=directory / "ca.pem",
        server_cert=pathlib.Path(server[0]),
        server_key=pathlib.Path(server[1]),
        registered=_write_leaf(ca.issue_cert("scheduler.example", common_name=CERT_USER), directory, "registered"),
        stranger=_write_leaf(ca.issue_cert("stranger.example", common_name="STRANGER"), directory, "stranger"),
        foreign=_write_leaf(other_ca.issue_cert("scheduler.example", common_name=CERT_USER), directory, "foreign"),
    )


@dataclasses.dataclass(frozen=True)
class TlsServer:
    port: int
    ca: str
    data_dir: pathlib.Path

    @property
    def root(self) -> str:
        return f"https://127.0.0.1:{self.port}{ROOT_PATH}"

    def healthy(self) -> bool:
        try:
            return requests.get(f"https://127.0.0.1:{self.port}/appjobs/health", verify=self.ca, timeout=1).ok
        except requests.ConnectionError:
            return False


def tls_args(pki: Pki) -> list[str]:
    return ["--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key), "--tls-client-ca", str(pki.ca)]


@pytest.fixture(scope="module")
def server(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    """``appjobs serve`` over TLS with client-certificate logon, :data:`USERS` and ``CERTUSER``."""
    base = tmp_path_factory.mktemp("tls")
    data_dir = base / "data"
    add_users(data_dir)
    add = [*APPJOBS, "admin", "users", "add", CERT_USER, "--certificate", pki.registered[0]]
    subprocess.run([*add, "--data-dir", str(data_dir)], check=True, capture_output=True, text=True)
    port, log, processes = free_port(), base / "serve.log", Processes()
    with log.open("w") as stderr:
        args = ["serve", "--data-dir", str(data_dir), "--port", str(port), "--grace", "1", *tls_args(pki)]
        proc = processes.start(*args, stderr=stderr)
    tls = TlsServer(port, str(pki.ca), data_dir)
    try:
        wait_for(lambda: tls.healthy() or proc.poll() is not None)
        assert proc.poll() is None, f"serve exited: {log.read_text()}"
        assert f"appjobs serving at https://127.0.0.1:{port}/sap/opu/odata/" in log.read_text()
        yield tls
    finally:
        processes.kill_all()
        if sys.exc_info()[0] is not None:
            print(log.read_text())


# --- protocol versions ------------------------------------------------------------------------


def client_context(pki: Pki, version: ssl.TLSVersion) -> ssl.SSLContext:
    """A client context that speaks *version* only, and would speak even TLS 1.0 and 1.1.

    OpenSSL's default security level forbids TLS 1.1 on the client side too;
    level 0 lifts that, so that a refusal can only come from the server.
    """
    context = ssl.create_default_context(cafile=str(pki.ca))
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    context.minimum_version = context.maximum_version = version
    return context


def handshake_with_permissive_server(pki: Pki, client: ssl.SSLContext) -> str:
    """The version *client* agrees on with a throwaway server that would speak TLS 1.1 too."""
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.set_ciphers("DEFAULT:@SECLEVEL=0")
    server.minimum_version = ssl.TLSVersion.TLSv1_1
    server.load_cert_chain(pki.server_cert, pki.server_key)
    with socket.create_server(("127.0.0.1", 0)) as listener, concurrent.futures.ThreadPoolExecutor(1) as pool:

        def accept_one() -> str | None:
            conn, _ = listener.accept()
            with server.wrap_socket(conn, server_side=True) as tls:
                return tls.version()

        accepted = pool.submit(accept_one)
        with (
            socket.create_connection(listener.getsockname(), timeout=10) as sock,
            client.wrap_socket(sock, server_hostname="127.0.0.1") as tls,
        ):
            version = tls.version()
        assert accepted.result(timeout=10) == version
        return version or ""


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_tls_1_1_is_refused_by_the_server(server: TlsServer, pki: Pki) -> None:
    context = client_context(pki, ssl.TLSVersion.TLSv1_1)
    # The control: this client does speak TLS 1.1 to a server that allows it...
    assert handshake_with_permissive_server(pki, context) == "TLSv1.1"
    # ...so when ours ends the handshake, the refusal is the server's (it hangs up after the ClientHello).
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock, pytest.raises(ssl.SSLError) as err:
        context.wrap_socket(sock, server_hostname="127.0.0.1")
    assert isinstance(err.value, ssl.SSLEOFError) or err.value.reason == "TLSV1_ALERT_PROTOCOL_VERSION", err.value


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_tls_1_2_and_1_3_are_accepted(server: TlsServer, pki: Pki, version: ssl.TLSVersion) -> None:
    connection = http.client.HTTPSConnection("127.0.0.1", server.port, context=client_context(pki, version), timeout=10)
    auth = requests.auth._basic_auth_str(USER, PASSWORD)
    params = "JobName='0123456789ABCDEF0123456789ABCDEF'&JobRunCount='AAAAAAAA'&$format=json"
    try:
        connection.request("GET", f"{ROOT_PATH}/", headers={"Authorization": auth})
        answer = connection.getresponse()
        assert answer.status == 200, answer.read()
        answer.read()
        assert connection.sock.version() == {"TLSv1_2": "TLSv1.2", "TLSv1_3": "TLSv1.3"}[version.name]
        connection.request("GET", f"{ROOT_PATH}/JobStatusGet?{params}", headers={"Authorization": auth})
        answer = connection.getresponse()
        # A job that does not exist: SAP's 400 with its error document, so the application answered.
        assert answer.status == 400, answer.read()
        assert b"APJ_RT/003" in answer.read()
    finally:
        connection.close()


# --- client certificates ----------------------------------------------------------------------


def test_certificate_user_logs_on_and_schedules_without_a_password(server: TlsServer, pki: Pki) -> None:
    http = requests.Session()
    # Not trust_env: REQUESTS_CA_BUNDLE in the environment would override the session's verify.
    http.trust_env = False
    http.cert, http.verify = pki.registered, server.ca
    assert http.get(server.root + "/", timeout=10).status_code == 200
    fetched = http.head(server.root + "/", headers={"X-CSRF-Token": "Fetch"}, timeout=10)
    assert fetched.status_code == 200
    http.headers["X-CSRF-Token"] = fetched.headers["x-csrf-token"]
    params = {"JobTemplateName": "'/APPJOBS/DEMO_ECHO'", "$format": "json"}
    scheduled = http.post(server.root + "/JobSchedule", params=params, timeout=10)
    assert scheduled.status_code == 200, scheduled.text
    job = scheduled.json()["d"]
    status = {"JobName": f"'{job['JobName']}'", "JobRunCount": f"'{job['JobRunCount']}'", "$format": "json"}
    assert http.get(server.root + "/JobStatusGet", params=status, timeout=10).status_code == 200
    # The job is CERTUSER's: SAP_COM_0064 shows another user only the jobs it created itself.
    other = requests.get(server.root + "/JobStatusGet", params=status, auth=(USER, PASSWORD), verify=server.ca)
    assert other.status_code == 400, other.text


def test_certificate_of_our_ca_that_no_user_has_gets_401(server: TlsServer, pki: Pki) -> None:
    answer = requests.get(server.root + "/", cert=pki.stranger, verify=server.ca, timeout=10)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Basic ")


def test_password_guesses_do_not_lock_a_certificate_user_and_basic_beside_a_certificate_decides(
    server: TlsServer, pki: Pki
) -> None:
    """A certificate user has no password to guess: wrong ones are refused, uncounted, and never lock it out.

    And a request that brings both a certificate and Basic credentials is logged on by the credentials.
    """
    for _ in range(7):  # more than the server's lockout limit (5 by default)
        answer = requests.get(server.root + "/", auth=(CERT_USER, "a-guess"), verify=server.ca, timeout=10)
        assert answer.status_code == 401
    assert requests.get(server.root + "/", cert=pki.registered, verify=server.ca, timeout=10).status_code == 200
    both = requests.get(server.root + "/", cert=pki.registered, auth=(USER, "not-the-password"), verify=server.ca)
    assert both.status_code == 401
    both = requests.get(server.root + "/", cert=pki.registered, auth=(USER, PASSWORD), verify=server.ca, timeout=10)
    assert both.status_code == 200


def test_a_refused_certificate_is_audited_by_its_fingerprint_and_an_accepted_one_is_not(
    server: TlsServer, pki: Pki
) -> None:
    assert requests.get(server.root + "/", cert=pki.stranger, verify=server.ca, timeout=10).status_code == 401
    assert requests.get(server.root + "/", cert=pki.registered, verify=server.ca, timeout=10).status_code == 200
    command = [*APPJOBS, "admin", "audit", "--json", "--since", "2000-01-01", "--data-dir", str(server.data_dir)]
    entries = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    refused = [e["detail"] for e in entries if e["outcome"] == "failure" and e["detail"].startswith("certificate ")]
    stranger, registered = (certificates.load(pem).fingerprint for pem in (pki.stranger[0], pki.registered[0]))
    assert f"certificate {stranger[:16]}… not accepted" in refused
    assert not any(registered[:16] in detail for detail in refused)


def raw_get(server: TlsServer, context: ssl.SSLContext) -> bytes:
    """The first bytes of the answer to a GET of the service root; b"" when the server hangs up instead."""
    request = f"GET {ROOT_PATH}/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        try:
            with context.wrap_socket(sock, server_hostname="127.0.0.1") as tls:
                tls.sendall(request)
                return tls.recv(1024)
        except OSError:  # an SSL error, a reset or a broken pipe: the server would not talk to us
            return b""


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_certificate_of_another_ca_ends_the_handshake(server: TlsServer, pki: Pki, version: ssl.TLSVersion) -> None:
    registered, foreign = client_context(pki, version), client_context(pki, version)
    registered.load_cert_chain(*pki.registered)
    foreign.load_cert_chain(*pki.foreign)
    assert raw_get(server, registered).startswith(b"HTTP/1.1 200 ")  # the same request, with a good certificate
    # Under TLS 1.3 the client's half of the handshake ends before the server has judged its
    # certificate, so the refusal shows only when it reads; under TLS 1.2 the handshake fails.
    assert raw_get(server, foreign) == b""
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(server.root + "/", cert=pki.foreign, verify=server.ca, timeout=10)


def test_password_users_work_on_the_same_port(server: TlsServer) -> None:
    assert requests.get(server.root + "/", auth=(USER, PASSWORD), verify=server.ca, timeout=10).status_code == 200
    wrong = requests.get(server.root + "/", auth=(USER, "not-the-password"), verify=server.ca, timeout=10)
    assert wrong.status_code == 401


def test_session_cookie_is_secure_under_tls(server: TlsServer) -> None:
    fetched = requests.head(
        server.root + "/", auth=(USER, PASSWORD), headers={"X-CSRF-Token": "Fetch"}, verify=server.ca, timeout=10
    )
    assert fetched.status_code == 200
    cookies = fetched.raw.headers.getlist("set-cookie")
    session = [c for c in cookies if c.startswith("SAP_SESSIONID_")]
    assert len(session) == 1
    assert "; Secure" in session[0], session
    assert all(c.secure for c in fetched.cookies if c.name.startswith("SAP_SESSIONID_"))


def test_the_web_pages_cookies_are_secure_under_tls(server: TlsServer) -> None:
    store = Store.open_existing(Paths.resolve(str(server.data_dir)).database_url)
    try:
        users.add_business_user(store, "TLSUI", password="Web-page-password-1", role="viewer")
    finally:
        store.close()
    page = requests.Session()  # verify= on each call: a Session's own verify loses to REQUESTS_CA_BUNDLE
    base = f"https://127.0.0.1:{server.port}/appjobs/ui"
    form = page.get(base + "/", timeout=10, verify=server.ca)
    assert "; Secure" in form.headers["set-cookie"]  # the logon form's CSRF cookie
    token = form.text.split('name="csrf_token" value="')[1].split('"')[0]
    data = {"username": "TLSUI", "password": "Web-page-password-1", "csrf_token": token}
    answer = page.post(base + "/logon", data=data, timeout=30, allow_redirects=False, verify=server.ca)
    assert answer.status_code == 303
    session = [c for c in answer.raw.headers.getlist("set-cookie") if c.startswith("appjobs_ui=")]
    assert len(session) == 1
    assert "; Secure" in session[0]


def test_plain_http_on_the_tls_port_gets_no_answer(server: TlsServer) -> None:
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{server.port}/appjobs/health", timeout=10)


# --- bad options ------------------------------------------------------------------------------


def serve_with(tmp_path: pathlib.Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [*APPJOBS, "serve", "--data-dir", str(tmp_path / "data"), "--port", str(free_port()), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_client_ca_without_tls_is_a_usage_error(tmp_path: pathlib.Path, pki: Pki) -> None:
    done = serve_with(tmp_path, "--tls-client-ca", str(pki.ca))
    assert done.returncode == 2, done.stderr
    assert "--tls-client-ca needs --tls-cert and --tls-key" in done.stderr
    assert not (tmp_path / "data").exists()  # refused before anything was created


@pytest.mark.parametrize(("given", "missing"), [("--tls-cert", "--tls-key"), ("--tls-key", "--tls-cert")])
def test_cert_without_key_and_key_without_cert(tmp_path: pathlib.Path, pki: Pki, given: str, missing: str) -> None:
    file = pki.server_cert if given == "--tls-cert" else pki.server_key
    done = serve_with(tmp_path, given, str(file))
    assert done.returncode == 2, done.stderr
    assert f"{given} needs {missing}" in done.stderr


def _bad_files(pki: Pki, garbage: pathlib.Path) -> dict[str, tuple[str, str, str, str]]:
    """Case name: (cert, key, client CA, the option the error must name)."""
    cert, key, ca = str(pki.server_cert), str(pki.server_key), str(pki.ca)
    return {
        "missing cert": (str(garbage.parent / "nowhere.pem"), key, ca, "--tls-cert"),
        "key as cert": (key, key, ca, "--tls-cert"),
        "garbage key": (cert, str(garbage), ca, "--tls-key"),
        "cert as key": (cert, cert, ca, "--tls-key"),
        "key of another cert": (cert, pki.stranger[1], ca, "--tls-key"),
        "garbage client CA": (cert, key, str(garbage), "--tls-client-ca"),
        "directory as client CA": (cert, key, str(garbage.parent), "--tls-client-ca"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing cert",
        "key as cert",
        "garbage key",
        "cert as key",
        "key of another cert",
        "garbage client CA",
        "directory as client CA",
    ],
)
def test_unusable_files_are_usage_errors_naming_option_and_file(tmp_path: pathlib.Path, pki: Pki, case: str) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    cert, key, ca, option = _bad_files(pki, garbage)[case]
    done = serve_with(tmp_path, "--tls-cert", cert, "--tls-key", key, "--tls-client-ca", ca)
    assert done.returncode == 2, done.stderr
    assert f"Invalid value for '{option}'" in done.stderr
    named = {"--tls-cert": cert, "--tls-key": key, "--tls-client-ca": ca}[option]
    assert pathlib.Path(named).name in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


# --- the client commands over TLS: --ca-bundle, --cert/--key, profiles ---------------------------


def client_command(
    *args: str, password: str | None = None, profiles: pathlib.Path | None = None
) -> subprocess.CompletedProcess[str]:
    """An ``appjobs`` client command with only the settings given: no APPJOBS_* or CA bundle from the environment."""
    noise = ("APPJOBS_", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(noise)}
    if password is not None:
        env["APPJOBS_PASSWORD"] = password
    if profiles is not None:
        env["APPJOBS_PROFILES"] = str(profiles)
    return subprocess.run([*APPJOBS, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def test_run_over_tls_with_basic_and_the_ca_bundle(server: TlsServer) -> None:
    done = client_command(
        "run", "/APPJOBS/DEMO_ECHO", "--url", server.root, "--user", USER, "--ca-bundle", server.ca, "--json",
        password=PASSWORD,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "F"


def test_run_over_tls_with_a_client_certificate(server: TlsServer, pki: Pki) -> None:
    cert, key = pki.registered
    done = client_command(
        "run", "/APPJOBS/DEMO_ECHO", "--url", server.root, "--cert", cert, "--key", key, "--ca-bundle", server.ca,
        "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "F"
    pinged = client_command("ping", "--url", server.root, "--cert", cert, "--key", key, "--ca-bundle", server.ca)
    assert pinged.returncode == 0, pinged.stdout + pinged.stderr
    assert "ok   csrf" in pinged.stdout


def test_a_certificate_no_user_has_exits_5(server: TlsServer, pki: Pki) -> None:
    cert, key = pki.stranger
    tls = ("--cert", cert, "--key", key, "--ca-bundle", server.ca)
    done = client_command("status", "X", "Y", "--url", server.root, *tls)
    assert done.returncode == 5, done.stderr
    assert "logon refused" in done.stderr


def test_without_the_ca_bundle_the_server_is_not_trusted_exit_6(server: TlsServer) -> None:
    done = client_command("status", "X", "Y", "--url", server.root, "--user", USER, password=PASSWORD)
    assert done.returncode == 6, done.stderr
    assert "TLS failed" in done.stderr
    assert "CERTIFICATE_VERIFY_FAILED" in done.stderr
    assert "HTTPSConnection" not in done.stderr  # the cause in a few words, not urllib3's reprs


def test_a_profile_carries_certificate_key_and_ca_bundle(server: TlsServer, pki: Pki, tmp_path: pathlib.Path) -> None:
    cert, key = pki.registered
    profiles = tmp_path / "profiles.toml"
    profiles.write_text(f'[tls]\nurl = "{server.root}"\ncert = "{cert}"\nkey = "{key}"\nca_bundle = "{server.ca}"\n')
    done = client_command("ping", "--profile", "tls", profiles=profiles)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok   logon" in done.stdout
