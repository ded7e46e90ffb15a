"""``appjobs admin backup`` under load and ``appjobs admin restore`` into a stopped server: every job is found again.

On PostgreSQL the commands say to use pg_dump; a test checks that such a
dump restores into a database a server then works on.
"""

from __future__ import annotations

import os
import pathlib
import sqlite3
import subprocess
import threading
from collections.abc import Callable

import pytest
import requests
from conftest import APPJOBS, Server
from postgres import new_database
from tenant import ROOT_PATH, USERS, add_users

from appjobs.settings import Paths
from appjobs.storage import Store

pytestmark = pytest.mark.slow


def admin(*args: str, data_dir: pathlib.Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **(env or {})}
    command = [*APPJOBS, "admin", *args, "--data-dir", str(data_dir)]
    return subprocess.run(command, capture_output=True, text=True, check=False, env=environment)


class Load(threading.Thread):
    """Schedules jobs over OData, one after the other, until stopped; remembers each job's key."""

    def __init__(self, server: Server) -> None:
        super().__init__(daemon=True)
        self.root = server.url + ROOT_PATH
        self.keys: list[tuple[str, str]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        http = requests.Session()
        http.auth = next(iter(USERS.items()))
        token = http.head(self.root + "/", headers={"X-CSRF-Token": "Fetch"}, timeout=10).headers["x-csrf-token"]
        http.headers["X-CSRF-Token"] = token
        while not self.stop.is_set():
            params = {"JobTemplateName": "'/APPJOBS/DEMO_ECHO'", "JobText": "'under load'", "$format": "json"}
            answer = http.post(self.root + "/JobSchedule", params=params, timeout=10)
            assert answer.status_code == 200, answer.text
            job = answer.json()["d"]
            self.keys.append((job["JobName"], job["JobRunCount"]))


def _keys(database: pathlib.Path) -> set[tuple[str, str]]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        return set(db.execute("SELECT name, run_count FROM job").fetchall())


def test_a_backup_taken_under_load_restores_with_every_job(
    start_server: Callable[..., Server], data_dir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    add_users(data_dir)
    server = start_server()
    # A reader from before the load keeps the jobs' pages in the write-ahead log (no checkpoint can move
    # them into the database file past a reader's snapshot): a backup must take them from there too.
    reader = sqlite3.connect(data_dir / "appjobs.db", isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM job").fetchone()
    load = Load(server)
    load.start()
    try:
        while len(load.keys) < 30:  # jobs that were there before the backup began
            load.join(0.05)
        before = list(load.keys)
        backup = tmp_path / "backups" / "appjobs.backup"
        backup.parent.mkdir()
        done = admin("backup", str(backup), data_dir=data_dir)
    finally:
        load.stop.set()
        load.join()
        reader.close()
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"backed up {backup}: ")
    assert oct(backup.stat().st_mode & 0o777) == "0o600"
    saved = _keys(backup)
    assert set(before) <= saved  # every job scheduled before the backup is in it
    assert saved <= set(load.keys)  # and nothing that was never scheduled
    assert f"{len(saved)} job(s)" in done.stdout

    again = admin("backup", str(backup), data_dir=data_dir)
    assert again.returncode == 2
    assert "exists; give --force" in again.stderr

    restored_dir = tmp_path / "restored"
    done = admin("restore", str(backup), data_dir=restored_dir)
    assert done.returncode == 0, done.stderr
    assert f"{len(saved)} job(s)" in done.stdout
    store = Store.open_existing(Paths.resolve(str(restored_dir)).database_url)
    try:
        assert {(j.key.name, j.key.run_count) for j in _all_jobs(store)} == saved
    finally:
        store.close()


def _all_jobs(store: Store) -> list:
    import datetime as dt

    from appjobs import models

    return store.jobs.list(models.utcnow() - dt.timedelta(days=1), models.utcnow() + dt.timedelta(days=1))


def test_restore_refuses_a_running_server_an_existing_database_and_a_bad_file(
    start_server: Callable[..., Server], data_dir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    add_users(data_dir)
    server = start_server()
    backup = tmp_path / "good.backup"
    assert admin("backup", str(backup), data_dir=data_dir).returncode == 0
    running = admin("restore", str(backup), "--force", data_dir=data_dir)
    assert running.returncode == 2
    assert "workers are running on this database" in running.stderr
    server.proc.terminate()
    server.proc.wait(30)

    before = (data_dir / "appjobs.db").read_bytes()
    refused = admin("restore", str(backup), data_dir=data_dir)
    assert refused.returncode == 2
    assert "exists; give --force to replace it" in refused.stderr
    garbage = tmp_path / "garbage.backup"
    garbage.write_bytes(b"SQLite format 3\x00" + os.urandom(4096))
    bad = admin("restore", str(garbage), "--force", data_dir=data_dir)
    assert bad.returncode == 2
    assert "garbage.backup" in bad.stderr
    missing = admin("restore", str(tmp_path / "nothing"), "--force", data_dir=data_dir)
    assert missing.returncode == 2
    assert "does not exist" in missing.stderr
    assert (data_dir / "appjobs.db").read_bytes() == before  # nothing was changed by the refusals

    forced = admin("restore", str(backup), "--force", data_dir=data_dir)
    assert forced.returncode == 0, forced.stderr
    assert "the database it replaced is kept as" in forced.stdout
    assert list(data_dir.glob("appjobs.db.replaced-*"))


@pytest.mark.backends("postgresql")
def test_on_postgresql_backup_points_to_pg_dump_whose_dump_restores_into_a_working_server(
    start_server: Callable[..., Server], data_dir: pathlib.Path, postgres_server: str, tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    add_users(data_dir)
    server = start_server()
    session = requests.Session()
    session.auth = next(iter(USERS.items()))
    token = session.head(server.url + ROOT_PATH + "/", headers={"X-CSRF-Token": "Fetch"}, timeout=10)
    session.headers["X-CSRF-Token"] = token.headers["x-csrf-token"]
    params = {"JobTemplateName": "'/APPJOBS/DEMO_ECHO'", "$format": "json"}
    job = session.post(server.url + ROOT_PATH + "/JobSchedule", params=params, timeout=10).json()["d"]
    advice = admin("backup", str(tmp_path / "x"), data_dir=data_dir)
    assert advice.returncode == 2
    assert "pg_dump --format=custom" in advice.stderr

    url = os.environ["APPJOBS_DATABASE_URL"]
    libpq = url.replace("postgresql+psycopg://", "postgresql://")
    dump = tmp_path / "appjobs.dump"
    subprocess.run(["pg_dump", "--format=custom", "--file", str(dump), libpq], check=True)
    server.proc.terminate()
    server.proc.wait(30)
    with new_database(postgres_server) as restored:
        target = restored.replace("postgresql+psycopg://", "postgresql://")
        subprocess.run(["pg_restore", "--no-owner", "--dbname", target, str(dump)], check=True)
        monkeypatch.setenv("APPJOBS_DATABASE_URL", restored)
        again = start_server()
        status = session.get(
            again.url + ROOT_PATH + "/JobStatusGet",
            params={"JobName": f"'{job['JobName']}'", "JobRunCount": f"'{job['JobRunCount']}'", "$format": "json"},
            auth=session.auth, timeout=10,
        )  # fmt: skip
        assert status.status_code == 200, status.text
        assert status.json()["d"]["JobName"] == job["JobName"]
        again.proc.terminate()
        again.proc.wait(30)
