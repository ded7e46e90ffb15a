"""``appjobs admin doctor`` on a sound installation, and on broken ones: each fault is named, and a FAIL exits 1."""

from __future__ import annotations

import datetime as dt
import os
import pathlib
import subprocess

import pytest
from conftest import APPJOBS, WORKER_ARGS, Processes, wait_for
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from appjobs import models
from appjobs.settings import Paths
from appjobs.storage import Store
from appjobs.storage.workers import WorkerRecord

pytestmark = pytest.mark.usefixtures("initialised")


def doctor(data_dir: pathlib.Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [*APPJOBS, "admin", "doctor", "--data-dir", str(data_dir), *args]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def lines(done: subprocess.CompletedProcess[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in done.stdout.splitlines():
        level, rest = line.split(maxsplit=1)
        found.setdefault(level, []).append(rest)
    return found


def _certificate(path: pathlib.Path, not_after: dt.datetime) -> pathlib.Path:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "appjobs.example")])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(not_after - dt.timedelta(days=90)).not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    path.write_bytes(cert.public_bytes(Encoding.PEM))
    return path


@pytest.mark.backends("sqlite", "postgresql")
def test_a_sound_installation_with_a_worker_is_all_ok(
    data_dir: pathlib.Path, processes: Processes, tmp_path: pathlib.Path, backend: str
) -> None:
    store = Store.open_existing(Paths.resolve(str(data_dir)).database_url)
    try:
        processes.start("worker", "--data-dir", str(data_dir), *WORKER_ARGS)
        wait_for(store.workers.all)
    finally:
        store.close()
    cert = _certificate(tmp_path / "server.pem", dt.datetime.now(dt.UTC) + dt.timedelta(days=200))
    done = doctor(data_dir, "--tls-cert", str(cert))
    assert done.returncode == 0, done.stdout + done.stderr
    found = lines(done)
    assert set(found) == {"OK"}, done.stdout
    checks = {line.split()[0] for line in found["OK"]}
    assert {"data", "disk", "schema", "workers", "TLS"} <= checks
    assert any(line.startswith("workers         1 alive") for line in found["OK"])
    if backend == "postgresql":
        assert any(line.startswith("clock") for line in found["OK"])
    else:
        assert any(line.startswith("database        SQLite quick_check: ok") for line in found["OK"])


def test_open_modes_a_dead_worker_and_an_expired_certificate_are_named(
    data_dir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    store = Store.open_existing(Paths.resolve(str(data_dir)).database_url)
    try:  # a worker that died without unregistering: no process has this pid
        store.workers.register(WorkerRecord("deadbeef", os.uname().nodename, 2**22 - 7, 1.0, models.utcnow()))
    finally:
        store.close()
    os.chmod(data_dir, 0o755)
    os.chmod(data_dir / "appjobs.db", 0o644)
    expired = _certificate(tmp_path / "old.pem", dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
    done = doctor(data_dir, "--tls-cert", str(expired))
    assert done.returncode == 1
    found = lines(done)
    assert any(f"{data_dir} (0755)" in line and "appjobs.db (0644)" in line for line in found["FAIL"]), done.stdout
    assert any(line.startswith("TLS certificate") and "expired" in line for line in found["FAIL"])
    assert any("1 registered but dead: pid 4194297" in line for line in found["WARN"])
    assert any(line.startswith("workers         0 alive") for line in found["WARN"])


def test_a_damaged_database_fails(data_dir: pathlib.Path) -> None:
    database = data_dir / "appjobs.db"
    data = bytearray(database.read_bytes())
    assert len(data) > 8192
    data[4096:8192] = os.urandom(4096)  # the second page and on: the schema's tables
    database.write_bytes(bytes(data))
    done = doctor(data_dir)
    assert done.returncode == 1
    assert any(line.startswith("database") for line in lines(done)["FAIL"]), done.stdout
