"""TLS for ``appjobs serve``: the server's SSL context, and who a client certificate says the caller is.

SAP tenants speak HTTPS only, with TLS 1.2 or 1.3; so does ``appjobs serve``
when it is given a certificate and its key. uvicorn builds its own context
from ``ssl_*`` options that cannot raise the minimum protocol version, so we
build the whole :class:`ssl.SSLContext` here and hand it to uvicorn through
its ``ssl_context_factory`` hook (see :mod:`appjobs.server.runner`).

Client-certificate logon (SAP's "SSL client certificate" authentication of a
communication user) needs a CA to verify certificates against. The server
then *asks* for a certificate but does not insist (``CERT_OPTIONAL``), so
password users keep working on the same port. A certificate that is offered
but does not verify ends the handshake; one that verifies is identified by
the SHA-256 fingerprint of its DER bytes (:func:`appjobs.auth.certificates.fingerprint`,
the same function that fingerprints the certificates stored with users),
which :mod:`appjobs.server.protocol` puts in each request's ASGI scope.

Every file is checked here, before the server starts, so that a wrong path
or a wrong file is an error naming the option and the file rather than an
OpenSSL message at startup.
"""

from __future__ import annotations

import dataclasses
import pathlib
import ssl
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from appjobs.auth import certificates

MINIMUM_VERSION = ssl.TLSVersion.TLSv1_2
#: The key under ``scope["extensions"]["tls"]`` that carries the verified client certificate's fingerprint.
FINGERPRINT_KEY = "appjobs_client_cert_sha256"
#: ASGI's TLS extension numbers versions as on the wire.
_WIRE_VERSIONS = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


class TlsFileError(Exception):
    """A TLS file that cannot be used; *option* is the command-line option that named it."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(message)
        self.option = option


@dataclasses.dataclass(frozen=True)
class TlsFiles:
    """The PEM files of a TLS server: its certificate (chain), its key, and the CA of client certificates."""

    cert: str
    key: str
    client_ca: str | None = None


def server_context(files: TlsFiles) -> ssl.SSLContext:
    """A server context for *files*: TLS 1.2 or newer, client certificates verified when a CA is given.

    Raises :class:`TlsFileError` naming the option and the file when one is
    unreadable, is not what it should be, or (the key) does not match the certificate.
    """
    _read_certificates("--tls-cert", files.cert)
    _check_key(files.key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)  # loads no default CAs: only ours are trusted
    context.minimum_version = MINIMUM_VERSION
    try:
        context.load_cert_chain(files.cert, files.key)
    except ssl.SSLError as exc:
        mismatch = f"the key in {files.key} does not match the certificate in {files.cert}"
        raise TlsFileError("--tls-key", mismatch) from exc
    if files.client_ca:
        _read_certificates("--tls-client-ca", files.client_ca)
        try:
            context.load_verify_locations(cafile=files.client_ca)
        except ssl.SSLError as exc:
            raise TlsFileError("--tls-client-ca", f"OpenSSL refuses the certificates in {files.client_ca}") from exc
        # Optional, not required: password users share the port and offer no certificate.
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


def _read(option: str, path: str) -> bytes:
    try:
        return pathlib.Path(path).read_bytes()
    except OSError as exc:
        raise TlsFileError(option, f"cannot read {path}: {exc.strerror}") from exc


def _read_certificates(option: str, path: str) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(_read(option, path))
    except ValueError as exc:
        raise TlsFileError(option, f"{path} holds no PEM certificate") from exc


def _check_key(path: str) -> None:
    try:
        serialization.load_pem_private_key(_read("--tls-key", path), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        # TypeError is cryptography's answer to an encrypted key: we have no passphrase to offer.
        raise TlsFileError("--tls-key", f"{path} holds no usable PEM private key ({exc})") from exc


def scope_extension(ssl_object: ssl.SSLObject | None) -> dict[str, Any] | None:
    """ASGI's ``tls`` extension for a connection (None for plain HTTP), with our client-certificate fingerprint.

    The fingerprint is present only when the context verified the peer: with
    ``CERT_NONE`` no certificate is asked for, and any other mode ends the
    handshake on a certificate that does not verify, so a certificate we see
    here is one our CA signed.
    """
    if ssl_object is None:
        return None
    extension: dict[str, Any] = {
        "server_cert": None,  # the spec allows None; nothing in appjobs wants it
        "tls_version": _WIRE_VERSIONS.get(ssl_object.version() or ""),
    }
    if ssl_object.context.verify_mode != ssl.CERT_NONE:
        der = ssl_object.getpeercert(binary_form=True)
        if der:
            extension[FINGERPRINT_KEY] = certificates.fingerprint(der)
    return extension
