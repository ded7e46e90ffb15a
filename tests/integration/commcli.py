"""Helpers for the tests of communication management: run ``appjobs admin``, snapshot its listings, make certificates.

Every command runs as a real subprocess on a real data directory. :func:`run`
also checks that no output of any command holds a password or a password
hash, so every test that runs a command checks that too.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import subprocess
import sys

import trustme
from conftest import APPJOBS
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

#: Every password the tests of communication management give a user.
PASSWORDS = ("Base-user-password-1", "Reset-password-22", "Another-user-pw-333", "short")
BASE_PASSWORD, NEW_PASSWORD, OTHER_PASSWORD, SHORT_PASSWORD = PASSWORDS
SERVICE_PATH = "/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=0002/"

#: One subprocess prints every listing as JSON (the audit log from long ago), so that comparing
#: "before" with "after" costs one start of Python, not five.
_SNAPSHOT = """
import json, sys
from click.testing import CliRunner
from appjobs.cli.main import cli
listings = {
    "users": ["users", "list", "--json"],
    "systems": ["systems", "list", "--json"],
    "arrangements": ["arrangements", "list", "--json"],
    "business-users": ["business-users", "list", "--json"],
    "audit": ["audit", "--json", "--since", "2000-01-01"],
}
found = {}
for name, args in listings.items():
    result = CliRunner().invoke(cli, ["admin", *args, "--data-dir", sys.argv[1]])
    if result.exit_code != 0:
        sys.exit(f"{args}: {result.output}")
    found[name] = json.loads(result.stdout)
print(json.dumps(found))
"""


def leaks(text: str) -> list[str]:
    """The secrets that *text* holds: any password of :data:`PASSWORDS` but the short one, or an argon2 hash."""
    return [secret for secret in (*PASSWORDS[:3], "$argon2") if secret in text]


def run(
    *args: str, data_dir: pathlib.Path, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``appjobs admin ARGS`` on *data_dir* (given as APPJOBS_DATA_DIR), checked to leak no secret."""
    environment = {k: v for k, v in os.environ.items() if k != "APPJOBS_PUBLIC_URL"}
    environment |= {"APPJOBS_DATA_DIR": str(data_dir)} | (env or {})
    done = subprocess.run(
        [*APPJOBS, "admin", *args], input=stdin, capture_output=True, text=True, env=environment, check=False
    )
    assert not leaks(done.stdout + done.stderr), f"{args} printed a secret: {done.stdout}{done.stderr}"
    return done


def ok(*args: str, data_dir: pathlib.Path, stdin: str = "", env: dict[str, str] | None = None) -> str:
    """The standard output of ``appjobs admin ARGS``, which must succeed."""
    done = run(*args, data_dir=data_dir, stdin=stdin, env=env)
    assert done.returncode == 0, f"{args}: exit {done.returncode}: {done.stderr}"
    return done.stdout


def listing(*args: str, data_dir: pathlib.Path, env: dict[str, str] | None = None) -> list[dict[str, object]]:
    """The parsed ``--json`` output of ``appjobs admin ARGS --json``."""
    return json.loads(ok(*args, "--json", data_dir=data_dir, env=env))


def snapshot(data_dir: pathlib.Path) -> dict[str, list[dict[str, object]]]:
    """Every listing of communication management and the whole audit log, as ``--json`` prints them."""
    done = subprocess.run([sys.executable, "-c", _SNAPSHOT, str(data_dir)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@dataclasses.dataclass(frozen=True)
class Certificates:
    """Certificate files: PEM ones that nobody uses yet, one in DER, and files that are no certificate."""

    directory: pathlib.Path
    ca: trustme.CA

    def pem(self, name: str, common_name: str) -> pathlib.Path:
        """A new PEM certificate issued to *common_name*, written to *name*."""
        path = self.directory / name
        self.ca.issue_cert(common_name, common_name=common_name).cert_chain_pems[0].write_to_path(str(path))
        return path

    def der(self, name: str, common_name: str) -> pathlib.Path:
        """A new DER certificate issued to *common_name*, written to *name*."""
        pem = self.ca.issue_cert(common_name, common_name=common_name).cert_chain_pems[0].bytes()
        path = self.directory / name
        path.write_bytes(x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER))
        return path

    def private_key(self, name: str) -> pathlib.Path:
        """A PEM private key, which begins like a certificate but is not one."""
        path = self.directory / name
        self.ca.issue_cert("key.example.com").private_key_pem.write_to_path(str(path))
        return path


def fingerprint(path: pathlib.Path) -> str:
    """SHA-256 of the certificate's DER bytes, as appjobs identifies a certificate user."""
    data = path.read_bytes()
    cert = x509.load_pem_x509_certificate(data) if data.startswith(b"-----") else x509.load_der_x509_certificate(data)
    return cert.fingerprint(hashes.SHA256()).hex()
