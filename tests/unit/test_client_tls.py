"""Tests of the transport against a scripted peer over TLS and via a proxy: CA bundle, client certificates, proxies."""

from __future__ import annotations

import pathlib
import ssl
from collections.abc import Iterator

import certifi
import pytest
import trustme
from sap_peer import KEY, PASSWORD, ROOT_PATH, TEMPLATE, USER, SapPeer

from appjobs.client import Client, JobStatus, Retry, TransportError

FAST = Retry(attempts=4, backoff=0.01, max_backoff=0.02)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def bundle(ca: trustme.CA, tmp_path: pathlib.Path) -> str:
    """The test CA as a PEM file, the way a user hands a CA bundle to the client."""
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def server_context(ca: trustme.CA, *, client_certificates: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    if client_certificates:
        ca.configure_trust(context)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


@pytest.fixture
def tls_peer(ca: trustme.CA) -> Iterator[SapPeer]:
    with SapPeer(tls=server_context(ca)) as peer:
        yield peer


@pytest.fixture
def mtls_peer(ca: trustme.CA) -> Iterator[SapPeer]:
    """A tenant that logs communication users on by their certificate: no password asked."""
    with SapPeer(tls=server_context(ca, client_certificates=True), check_auth=False) as peer:
        yield peer


def test_the_ca_bundle_is_trusted_whatever_requests_ca_bundle_says(
    tls_peer: SapPeer, bundle: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """*ca_bundle* wins over ``REQUESTS_CA_BUNDLE``, which requests would otherwise let override it."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())  # public CAs only: not the test CA
    client = Client(tls_peer.root, auth=(USER, PASSWORD), ca_bundle=bundle, retry=FAST)
    assert client.status(KEY).status is JobStatus.RUNNING


def test_an_untrusted_server_is_a_tls_error_and_not_tried_again(tls_peer: SapPeer) -> None:
    """Without the CA the handshake fails once: a TransportError that names TLS, after one connection."""
    client = Client(tls_peer.root, auth=(USER, PASSWORD), retry=FAST, trust_env=False)
    with pytest.raises(TransportError, match="TLS"):
        client.status(KEY)
    assert len(tls_peer.connections) == 1
    assert tls_peer.seen == []


def test_a_client_certificate_logs_on(mtls_peer: SapPeer, ca: trustme.CA, bundle: str, tmp_path: pathlib.Path) -> None:
    """``cert=(certificate file, key file)``: the tenant sees the certificate on every request, no password."""
    user = ca.issue_cert("jobscheduler@example.com", common_name="JOBSCHEDCERTUSER")
    certificate, key = tmp_path / "user.pem", tmp_path / "user.key"
    user.cert_chain_pems[0].write_to_path(str(certificate))
    user.private_key_pem.write_to_path(str(key))
    client = Client(mtls_peer.root, cert=(str(certificate), str(key)), ca_bundle=bundle, retry=FAST, trust_env=False)
    client.schedule(TEMPLATE.name, "run 1")
    assert [s.method for s in mtls_peer.seen] == ["HEAD", "POST"]
    assert {s.certificate for s in mtls_peer.seen} == {"JOBSCHEDCERTUSER"}
    assert all("authorization" not in s.headers for s in mtls_peer.seen)


def test_a_client_certificate_and_key_in_one_file(
    mtls_peer: SapPeer, ca: trustme.CA, bundle: str, tmp_path: pathlib.Path
) -> None:
    """``cert="both.pem"``: one PEM file holding key and certificate works too."""
    both = tmp_path / "both.pem"
    ca.issue_cert(
        "jobscheduler@example.com", common_name="JOBSCHEDCERTUSER"
    ).private_key_and_cert_chain_pem.write_to_path(str(both))
    client = Client(mtls_peer.root, cert=str(both), ca_bundle=bundle, retry=FAST, trust_env=False)
    assert client.status(KEY).status is JobStatus.RUNNING
    assert mtls_peer.seen[0].certificate == "JOBSCHEDCERTUSER"


def test_proxies_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """With ``HTTP_PROXY`` set, requests for the tenant go to the proxy, in absolute form."""
    for name in ("http_proxy", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with SapPeer() as proxy:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
        client = Client(f"http://tenant.invalid{ROOT_PATH}", auth=(USER, PASSWORD), retry=FAST)
        assert client.status(KEY).status is JobStatus.RUNNING
    (seen,) = proxy.seen
    assert seen.proxied
    assert seen.headers["host"] == "tenant.invalid"
