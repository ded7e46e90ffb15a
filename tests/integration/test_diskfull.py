"""A full disk, for real: the data directory on a 3 MB tmpfs, filled to the last byte, then freed.

What must hold (issue 9, item 9): JobSchedule answers 507 with an SAP error
document saying the storage is full; ``appjobs admin`` exits 1 saying so;
reads keep working; the worker stays up (same pid) and the log says it about
once a minute, not once per attempt; when space returns, everything goes on
by itself and every job that was accepted runs.

Mounting needs root (CI runs as root); without it the tests are skipped,
naming what is missing.
"""

from __future__ import annotations

import contextlib
import errno
import os
import pathlib
import pwd
import secrets
import subprocess
import tempfile
import time
from collections.abc import Iterator

import psycopg
import pytest
import requests
import sqlalchemy as sa
from conftest import APPJOBS, Processes, Server, free_port, wait_for, worker_pids
from psycopg import sql
from tenant import Tenant, add_users, admin

QUIET = '[[template]]\nname = "/T/QUIET"\ntext = "Quiet"\n[[template.step]]\ncommand = "true"\n'
FULL_MESSAGE = "The server's storage is full"

pytestmark = pytest.mark.backends("sqlite", "postgresql")


class Volume:
    """Where the database lives, on a small volume: :meth:`fill` it to the last byte, :meth:`free` it again."""

    def fill(self) -> None:
        raise NotImplementedError

    def free(self) -> None:
        raise NotImplementedError


class SqliteVolume(Volume):
    """The whole data directory on a 3 MB tmpfs; a file fills what is left."""

    def __init__(self, mount_point: pathlib.Path) -> None:
        self.filler = mount_point / "filler"

    def fill(self) -> None:
        chunk = b"\0" * 65536
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            while len(chunk):
                try:
                    os.write(fd, chunk)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    chunk = chunk[: len(chunk) // 2]
        finally:
            os.close(fd)

    def free(self) -> None:
        self.filler.unlink()


class PostgresVolume(Volume):
    """The test's database in a tablespace on a 40 MB tmpfs (a new database copies about 8 MB); a table fills it."""

    def __init__(self, url: str) -> None:
        self.url = url

    def _connect(self) -> psycopg.Connection:
        info = sa.make_url(self.url)
        return psycopg.connect(
            host=info.host, port=info.port, user=info.username, dbname=info.database, autocommit=True
        )

    def fill(self) -> None:
        with self._connect() as conn:
            conn.execute("CREATE TABLE filler (b text)")
            conn.execute("ALTER TABLE filler ALTER COLUMN b SET STORAGE EXTERNAL")  # uncompressed: a row takes its size
            for size in (1_000_000, 100_000, 10_000, 1_000, 100, 10, 1):
                with contextlib.suppress(psycopg.errors.DiskFull):
                    while True:
                        conn.execute("INSERT INTO filler SELECT repeat(md5(random()::text), %s)", (max(size // 32, 1),))

    def free(self) -> None:
        with self._connect() as conn:
            conn.execute("DROP TABLE filler")  # its files are emptied at commit


def mount_tmpfs(mount_point: pathlib.Path, size: str, owner: str | None = None) -> None:
    """Mount a tmpfs of *size* at *mount_point* (owned by *owner*); skip the test, saying why, where that cannot be."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (os.geteuid() is not 0)")
    options = f"size={size}"
    if owner is not None:
        entry = pwd.getpwnam(owner)
        options += f",uid={entry.pw_uid},gid={entry.pw_gid},mode=0700"
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount_point)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")


@contextlib.contextmanager
def small_sqlite(tmp_path: pathlib.Path) -> Iterator[tuple[pathlib.Path, Volume]]:
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    mount_tmpfs(mount_point, "3m")
    try:
        yield mount_point / "data", SqliteVolume(mount_point)
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


@contextlib.contextmanager
def small_postgres(tmp_path: pathlib.Path, server: str) -> Iterator[tuple[pathlib.Path, Volume]]:
    """A database of its own in a tablespace on a small tmpfs, as APPJOBS_DATABASE_URL (PostgreSQL on this host)."""
    info = psycopg.conninfo.conninfo_to_dict(server)
    if info.get("host") not in ("127.0.0.1", "localhost", "::1"):
        pytest.skip("a tablespace on a small volume needs the PostgreSQL server on this machine")
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("no 'postgres' system user to own the tablespace's folder")
    # The server's user must reach the folder, and pytest's own folders are private to root.
    mount_point = pathlib.Path(tempfile.mkdtemp(prefix="appjobs-small-", dir="/tmp"))
    mount_point.chmod(0o755)
    name = f"appjobs_small_{secrets.token_hex(4)}"
    mount_tmpfs(mount_point, "40m", owner="postgres")
    try:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE TABLESPACE {} LOCATION {}").format(
                sql.Identifier(name), sql.Literal(str(mount_point))))  # fmt: skip
            conn.execute(sql.SQL("CREATE DATABASE {} TABLESPACE {}").format(sql.Identifier(name), sql.Identifier(name)))
        url = sa.URL.create(
            "postgresql+psycopg", info.get("user"), None, info.get("host"), int(info.get("port") or 5432), name
        )
        yield tmp_path / "data", PostgresVolume(url.render_as_string(hide_password=False))
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("DROP TABLESPACE IF EXISTS {}").format(sql.Identifier(name)))
        subprocess.run(["umount", "-l", str(mount_point)], check=False)
        mount_point.rmdir()


def schedule(tenant: Tenant, http: requests.Session) -> requests.Response:
    params = {"JobTemplateName": "'/T/QUIET'", "JobText": "'disk'", "$format": "json"}
    return http.post(tenant.root + "/JobSchedule", params=params, timeout=30)


@pytest.fixture
def small(
    backend: str, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[tuple[Tenant, Volume, Processes]]:
    """``appjobs serve`` with its database on a small volume, users added and a quiet template; its Processes."""
    monkeypatch.delenv("APPJOBS_DATABASE_URL", raising=False)
    with contextlib.ExitStack() as stack:
        if backend == "sqlite":
            data_dir, volume = stack.enter_context(small_sqlite(tmp_path))
        else:
            data_dir, volume = stack.enter_context(small_postgres(tmp_path, request.getfixturevalue("postgres_server")))
            monkeypatch.setenv("APPJOBS_DATABASE_URL", volume.url)  # type: ignore[attr-defined]
        add_users(data_dir)
        (tmp_path / "quiet.toml").write_text(QUIET)
        admin(data_dir, "templates", "import", str(tmp_path / "quiet.toml"))
        port, log, processes = free_port(), tmp_path / "serve.log", Processes()
        stack.callback(processes.kill_all)
        with log.open("w") as stderr:
            args = ["serve", "--data-dir", str(data_dir), "--port", str(port), "--grace", "1"]
            proc = processes.start(*args, stderr=stderr)
        server = Server(proc, port, log)
        wait_for(lambda: server.healthy() or proc.poll() is not None)
        assert proc.poll() is None, server.output()
        yield Tenant(server, data_dir), volume, processes


def schedule_until_refused(tenant: Tenant, http: requests.Session, accepted: list[dict]) -> requests.Response:
    """Schedule until the server refuses; jobs it still accepts (the database may fit a few into pages it has)
    are added to *accepted*: they must run once space returns."""
    for _ in range(500):
        answer = schedule(tenant, http)
        if answer.status_code != 200:
            return answer
        accepted.append(answer.json()["d"])
    raise AssertionError("the server accepted 500 jobs on a full disk")


def test_a_full_disk_gives_a_clear_answer_and_everything_resumes(
    small: tuple[Tenant, Volume, Processes], tmp_path: pathlib.Path
) -> None:
    tenant, volume, processes = small
    server = tenant.server
    http = tenant.session()
    accepted = [tenant.schedule(http, "/T/QUIET")]
    assert tenant.wait_status(http, accepted[0], "F") == "F"
    workers = wait_for(lambda: worker_pids(server))

    volume.fill()
    refused = schedule_until_refused(tenant, http, accepted)
    assert refused.status_code == 507, refused.text
    assert refused.headers["retry-after"] == "60"
    assert FULL_MESSAGE in refused.json()["error"]["message"]["value"]

    started = time.monotonic()
    for _ in range(200):  # what made the log grow by megabytes before
        assert schedule(tenant, http).status_code == 507
    assert tenant.status(http, accepted[0]["JobName"], accepted[0]["JobRunCount"]) == "F"  # reads work
    listed = admin(tenant.data_dir, "jobs", "list", "--json")  # so do the admin commands that read
    assert accepted[0]["JobName"] in listed.stdout
    command = [*APPJOBS, "admin", "jobs", "schedule", "/T/QUIET", "--data-dir", str(tenant.data_dir)]
    refused_cli = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert refused_cli.returncode == 1, refused_cli.stderr
    assert FULL_MESSAGE in refused_cli.stderr
    # A worker that starts on the full disk stays up too, waiting to register; it runs jobs once it can.
    late_log = tmp_path / "late-worker.log"
    with late_log.open("w") as stderr:
        late = processes.start("worker", "--data-dir", str(tenant.data_dir), stderr=stderr)
    late_started = time.monotonic()
    # The workers meet the full disk on every turn and stay up; give them a few seconds of turns to fail in.
    wait_for(lambda: time.monotonic() - started > 3 and time.monotonic() - late_started > 3, timeout=30)
    assert worker_pids(server) == workers
    assert late.poll() is None, late_log.read_text()
    output = server.output()
    assert "exited with" not in output
    assert len(output) < 20_000, output[-5000:]
    # The audit log's mirror in the log (logger appjobs.audit) has one line per refused request by design,
    # as an access log would; the server's own diagnostics say it a few times at most.
    diagnostics = "\n".join(line for line in output.splitlines() if "appjobs.audit:" not in line)
    assert diagnostics.count("storage is full") <= 4, output

    volume.free()
    after = wait_for(lambda: (answer := schedule(tenant, http)).status_code == 200 and answer, timeout=60)
    accepted.append(after.json()["d"])  # type: ignore[union-attr]
    for job in accepted:
        assert tenant.wait_status(http, job, "FA", timeout=60) == "F", job
    assert worker_pids(server) == workers
    assert late.poll() is None, late_log.read_text()
