"""Client certificates of communication users: what identifies one, read from PEM or DER.

A certificate user is found by the SHA-256 fingerprint of its certificate's
DER bytes, the value the TLS layer hands us for each connection; the
subject is kept to show people which certificate it is.
"""

from __future__ import annotations

import dataclasses
import hashlib
import pathlib

from cryptography import x509

from appjobs import errors


@dataclasses.dataclass(frozen=True)
class CertificateId:
    fingerprint: str  #: SHA-256 of the DER bytes, lower-case hex
    subject: str  #: RFC 4514, e.g. ``CN=scheduler,O=ACME``


def fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def load(path: str) -> CertificateId:
    """The identity of the certificate in *path* (PEM or DER); :class:`InvalidInput` naming the file if none."""
    try:
        data = pathlib.Path(path).read_bytes()
    except OSError as exc:
        raise errors.InvalidInput(f"cannot read certificate file {path}: {exc.strerror}") from exc
    return parse(data, path)


def parse(data: bytes, name: str) -> CertificateId:
    """The identity of the certificate *data* (PEM or DER; an upload); *name* says where it came from in errors."""
    try:
        cert = x509.load_pem_x509_certificate(data) if b"-----BEGIN" in data else x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise errors.InvalidInput(f"{name} is not an X.509 certificate in PEM or DER: {exc}") from exc
    from cryptography.hazmat.primitives.serialization import Encoding

    der = cert.public_bytes(Encoding.DER)
    return CertificateId(fingerprint(der), cert.subject.rfc4514_string())
