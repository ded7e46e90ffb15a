"""The data directory: who may create one, and that what it holds is private.

Only ``serve``, ``worker`` and ``admin init`` create a data directory; every
other ``admin`` command on a path without one exits 2 and names the path it
looked in. Whatever the umask, and whether the directory existed, every
folder in it ends 0700 and every file 0600: it holds password hashes,
sessions, job logs and the audit log.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import stat
import subprocess
from collections.abc import Callable, Iterator

import pytest
from conftest import APPJOBS, Server

pytestmark = pytest.mark.backends("sqlite", "postgresql")

ADMIN_COMMANDS = [
    ("users", "add", "FOO", "--password-stdin"),
    ("users", "list"),
    ("templates", "list"),
    ("jobs", "list"),
    ("audit",),
]


def admin(*args: str, cwd: pathlib.Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "APPJOBS_DATA_DIR"} | (env or {})
    return subprocess.run(
        [*APPJOBS, "admin", *args], input="Some-password-123\n", capture_output=True, text=True,
        cwd=cwd, env=environment, timeout=60, check=False,
    )  # fmt: skip


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    """Run with *mask* as this process's umask (the subprocesses started meanwhile inherit it)."""
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def modes(root: pathlib.Path) -> dict[str, str]:
    """The mode of *root* and of everything under it, by path relative to *root*."""
    found = {".": oct(stat.S_IMODE(root.stat().st_mode))}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = oct(stat.S_IMODE(path.lstat().st_mode))
    return found


@pytest.mark.parametrize("args", ADMIN_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_admin_commands_never_create_a_data_directory(
    args: tuple[str, ...], tmp_path: pathlib.Path, backend: str, data_dir: pathlib.Path
) -> None:
    """Run from another folder, an admin command exits 2 naming the path and APPJOBS_DATA_DIR, and creates nothing.

    (*data_dir* is not used but sets APPJOBS_DATABASE_URL to a new, empty PostgreSQL database.)
    """
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = admin(*args, cwd=elsewhere)
    assert done.returncode == 2, done.stderr
    if backend == "sqlite":
        assert str(elsewhere / "appjobs-data") in done.stderr
        assert "APPJOBS_DATA_DIR" in done.stderr
    else:  # the database decides: an empty one is no installation
        assert "holds no appjobs installation" in done.stderr
        assert "APPJOBS_DATABASE_URL" in done.stderr
    assert list(elsewhere.iterdir()) == []


def test_admin_command_on_an_empty_folder_exits_2(tmp_path: pathlib.Path, backend: str, data_dir: pathlib.Path) -> None:
    """A folder that exists but holds no database is no data directory either; ``admin init`` makes it one."""
    folder = tmp_path / "empty"
    folder.mkdir()
    done = admin("users", "list", "--data-dir", str(folder), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    if backend == "sqlite":
        assert f"no appjobs database in {folder} (appjobs.db is missing)" in done.stderr
    assert list(folder.iterdir()) == []
    assert admin("init", "--data-dir", str(folder), cwd=tmp_path).returncode == 0
    added = admin("users", "add", "FOO", "--password-stdin", "--data-dir", str(folder), cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    assert "FOO" in admin("users", "list", "--data-dir", str(folder), cwd=tmp_path).stdout


def test_every_file_is_private_whatever_the_umask(
    start_server: Callable[..., Server], data_dir: pathlib.Path, tmp_path: pathlib.Path, backend: str
) -> None:
    """``mkdir -m755 d && appjobs serve --data-dir d`` under umask 022: after a job, every file 0600, folder 0700."""
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)
    with umask(0o022):
        server = start_server()
        scheduled = admin("jobs", "schedule", "/APPJOBS/DEMO_ECHO", "--wait", "--data-dir", str(data_dir), cwd=tmp_path)
    assert scheduled.returncode == 0, scheduled.stderr
    assert "was open to other users (mode 0755); made it 0700" in server.output()
    found = modes(data_dir)
    expected = {"logs", "run"} | ({"appjobs.db", "appjobs.db-wal", "appjobs.db-shm"} if backend == "sqlite" else set())
    assert expected <= set(found), found
    assert any(name.startswith("run/worker-") for name in found), found  # the worker's socket is checked too
    wrong = {name: mode for name, mode in found.items() if mode != ("0o700" if (data_dir / name).is_dir() else "0o600")}
    assert wrong == {}


def test_an_existing_open_directory_is_narrowed_by_admin_init(tmp_path: pathlib.Path, data_dir: pathlib.Path) -> None:
    """A data directory left open (an older appjobs, a umask of 022) is made private, files and folders alike."""
    folder = tmp_path / "old"
    with umask(0o022):
        assert admin("init", "--data-dir", str(folder), cwd=tmp_path).returncode == 0
        folder.chmod(0o755)
        (folder / "logs").chmod(0o755)
        (folder / "logs" / "left.log").write_text("output of a step\n")
        done = admin("init", "--data-dir", str(folder), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "was open to other users" in done.stderr
    assert {mode for name, mode in modes(folder).items() if (folder / name).is_dir()} == {"0o700"}
    assert {mode for name, mode in modes(folder).items() if (folder / name).is_file()} == {"0o600"}
