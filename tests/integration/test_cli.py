"""The server-side commands as a user runs them: real subprocesses, real data directories."""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
from collections.abc import Callable

import pytest
from conftest import APPJOBS, DEMO, Server

from appjobs.auth import passwords
from appjobs.auth.ui import Role, UiAuth
from appjobs.storage import Store

GOOD = '[[template]]\nname = "/T/GOOD"\ntext = "Good"\n[[template.step]]\ncommand = "echo good"\n'


def run(*args: str, data_dir: pathlib.Path | None = None, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if data_dir is not None:
        env["APPJOBS_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [*APPJOBS, *args], input=stdin, capture_output=True, text=True, env=env, timeout=60, check=False
    )


def write(tmp_path: pathlib.Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def template_names(data_dir: pathlib.Path) -> list[str]:
    listed = run("admin", "templates", "list", "--json", data_dir=data_dir)
    assert listed.returncode == 0, listed.stderr
    return [t["name"] for t in json.loads(listed.stdout)]


def init(data_dir: pathlib.Path) -> None:
    """``appjobs admin init``: the admin commands need a data directory that exists."""
    done = run("admin", "init", data_dir=data_dir)
    assert done.returncode == 0, done.stderr


def test_import_into_empty_data_directory(tmp_path: pathlib.Path) -> None:
    """``admin init`` makes an empty data directory; importing into it stores the templates."""
    data_dir = tmp_path / "new" / "data"
    init(data_dir)
    assert template_names(data_dir) == []
    result = run("admin", "templates", "import", "--data-dir", str(data_dir), write(tmp_path, "t.toml", GOOD))
    assert result.returncode == 0, result.stderr
    assert "/T/GOOD\tGood\t1 step(s)" in result.stdout
    assert (data_dir / "appjobs.db").exists()
    assert template_names(data_dir) == ["/T/GOOD"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('[[template]]\ntext = "x"\ncommand = \n', r"bad\.toml: not valid TOML: .*line 3"),
        (
            '[[template]]\ntext = "x"\n[[template.step]]\ncomand = "a"\n',
            r"bad\.toml: template\[1\]\.step\[1\]: unknown field 'comand'",
        ),
        ('[[template]]\ntext = "x"\n[[template.step]]\ntext = "y"\n', r"needs exactly one of 'command' or 'callable'"),
        (GOOD, r"job template /T/GOOD already exists"),
    ],
)
def test_bad_template_file_exits_2_and_changes_nothing(tmp_path: pathlib.Path, content: str, expected: str) -> None:
    """A broken, invalid or duplicate template file is refused with exit code 2 and nothing stored changes."""
    data_dir = tmp_path / "data"
    init(data_dir)
    assert run("admin", "templates", "import", write(tmp_path, "good.toml", GOOD), data_dir=data_dir).returncode == 0
    before = run("admin", "templates", "list", "--json", data_dir=data_dir).stdout
    result = run(
        "admin",
        "templates",
        "import",
        write(tmp_path, "bad.toml", content + GOOD.replace("GOOD", "NEW")),
        data_dir=data_dir,
    )
    assert result.returncode == 2
    assert re.search(expected, result.stderr), result.stderr
    assert result.stderr.startswith("appjobs: error: ")
    assert run("admin", "templates", "list", "--json", data_dir=data_dir).stdout == before


def test_import_of_missing_file_exits_2(tmp_path: pathlib.Path) -> None:
    """A template file that does not exist is a usage error naming the file."""
    init(tmp_path / "data")
    result = run("admin", "templates", "import", str(tmp_path / "nope.toml"), data_dir=tmp_path / "data")
    assert result.returncode == 2
    assert "nope.toml" in result.stderr


def test_replace_updates_existing_template(tmp_path: pathlib.Path) -> None:
    """--replace changes a stored template instead of refusing it."""
    data_dir = tmp_path / "data"
    init(data_dir)
    run("admin", "templates", "import", write(tmp_path, "a.toml", GOOD), data_dir=data_dir)
    changed = write(tmp_path, "b.toml", GOOD.replace('"Good"', '"Better"'))
    assert run("admin", "templates", "import", "--replace", changed, data_dir=data_dir).returncode == 0
    listed = json.loads(run("admin", "templates", "list", "--json", data_dir=data_dir).stdout)
    assert [t["text"] for t in listed] == ["Better"]


def test_users_add_stores_an_argon2id_hash(tmp_path: pathlib.Path) -> None:
    """A communication user's password is read from stdin and stored only as an argon2id hash."""
    data_dir = tmp_path / "data"
    init(data_dir)
    result = run("admin", "users", "add", "SCHEDULER", "--password-stdin", data_dir=data_dir, stdin="s3cret-pass\n")
    assert result.returncode == 0, result.stderr
    assert "s3cret-pass" not in result.stdout + result.stderr
    store = Store.open(f"sqlite:///{data_dir / 'appjobs.db'}")
    stored = store.users.password_hash("SCHEDULER")
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert passwords.verify_password(stored, "s3cret-pass")
    assert not passwords.verify_password(stored, "wrong")
    (listed,) = json.loads(run("admin", "users", "list", "--json", data_dir=data_dir).stdout)
    assert (listed["name"], listed["has_password"], listed["locked"]) == ("SCHEDULER", True, False)
    assert "s3cret-pass" not in json.dumps(listed)
    assert "argon2" not in json.dumps(listed)


@pytest.mark.parametrize(
    ("name", "password", "expected"),
    [
        ("SCHEDULER", "another-pass", "already exists"),
        ("bad name", "long-enough", "not a valid communication user name"),
        ("SHORTPW", "short", "at least 8 characters"),
    ],
)
def test_bad_user_input_exits_2(tmp_path: pathlib.Path, name: str, password: str, expected: str) -> None:
    """Duplicate users, invalid names and short passwords exit 2 and leave the stored users as they were."""
    data_dir = tmp_path / "data"
    init(data_dir)
    run("admin", "users", "add", "SCHEDULER", "--password-stdin", data_dir=data_dir, stdin="first-pass\n")
    result = run("admin", "users", "add", name, "--password-stdin", data_dir=data_dir, stdin=password + "\n")
    assert result.returncode == 2
    assert expected in result.stderr
    store = Store.open(f"sqlite:///{data_dir / 'appjobs.db'}")
    assert store.users.names() == ["SCHEDULER"]
    assert passwords.verify_password(store.users.password_hash("SCHEDULER") or "", "first-pass")


def test_serve_sets_up_a_fresh_data_directory(start_server: Callable[..., Server], data_dir: pathlib.Path) -> None:
    """serve on an empty directory sets up the demo and prints the service URL, a working password and the JobUser."""
    server = start_server()
    output = server.output()
    assert f"{server.url}/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=0002/" in output
    password = re.search(r"Communication user JOBSCHEDULERUSER, password \(shown once\): (\S+)", output)
    assert password is not None
    store = Store.open(f"sqlite:///{data_dir / 'appjobs.db'}")
    assert passwords.verify_password(store.users.password_hash("JOBSCHEDULERUSER") or "", password.group(1))
    # 32 characters without look-alikes (no I, O, l, 0, 1), like the passwords SAP generates: typed or read aloud
    # without mistakes, and 32 x log2(57) = 186 bits of entropy.
    assert re.fullmatch(r"[A-HJ-NP-Za-km-z2-9]{32}", password.group(1)), password.group(1)
    assert sorted(template_names(data_dir)) == [
        "/APPJOBS/DEMO_CHAIN",
        "/APPJOBS/DEMO_ECHO",
        "/APPJOBS/DEMO_FAIL",
        "/APPJOBS/DEMO_PARAMS",
        "/APPJOBS/DEMO_SLEEP",
        "/APPJOBS/DEMO_WARN",
    ]
    assert "Business user for JobUser: CB9980000001" in output
    assert [b.id for b in store.comm.business_users()] == ["ADMIN", "CB9980000001"]
    assert f"Web pages at {server.url}/appjobs/ui/" in output
    ui_password = re.search(r"Web pages user ADMIN \(administrator\), password \(shown once\): (\S+)", output)
    assert ui_password is not None
    ui_session = UiAuth(store).logon("ADMIN", ui_password.group(1))
    assert ui_session is not None
    assert ui_session.role is Role.ADMINISTRATOR
    assert [(a.name, a.scenario.value, a.user_name) for a in store.comm.arrangements()] == [
        ("JOBSCHEDULERUSER_0064", "SAP_COM_0064", "JOBSCHEDULERUSER")
    ]


def test_serve_no_demo_loads_no_templates(start_server: Callable[..., Server], data_dir: pathlib.Path) -> None:
    """serve --no-demo leaves a fresh data directory without templates."""
    start_server("--no-demo")
    assert template_names(data_dir) == []


def test_schedule_and_wait_from_the_command_line(start_server: Callable[..., Server], data_dir: pathlib.Path) -> None:
    """admin jobs schedule --wait exits 0 when the job finished and 1 when it failed; show prints steps and log."""
    start_server()
    ok = run(
        "admin", "jobs", "schedule", "/APPJOBS/DEMO_ECHO", "-p", "MESSAGE=from the CLI", "--wait", data_dir=data_dir
    )
    assert ok.returncode == 0, ok.stderr
    name, run_count = ok.stdout.split()[:2]
    shown = json.loads(run("admin", "jobs", "show", name, run_count, "--json", data_dir=data_dir).stdout)
    assert shown["status"] == "F"
    assert [s["status"] for s in shown["steps"]] == ["F"]
    assert any(e["text"] == "MESSAGE=from the CLI" for e in shown["log"])
    failed = run("admin", "jobs", "schedule", "/APPJOBS/DEMO_FAIL", "--wait", data_dir=data_dir)
    assert failed.returncode == 1
    assert "A Failed" in failed.stdout


def test_schedule_of_unknown_template_exits_2(tmp_path: pathlib.Path) -> None:
    """Scheduling a template that does not exist says so and exits 2."""
    data_dir = tmp_path / "data"
    init(data_dir)
    run("admin", "templates", "import", str(DEMO), data_dir=data_dir)
    result = run("admin", "jobs", "schedule", "/APPJOBS/NOPE", data_dir=data_dir)
    assert result.returncode == 2
    assert "Job template /APPJOBS/NOPE doesn't exist." in result.stderr
    bad = run("admin", "jobs", "schedule", "/APPJOBS/DEMO_ECHO", "-p", "NOEQUALS", data_dir=data_dir)
    assert bad.returncode == 2
    assert "NAME=VALUE" in bad.stderr


def test_a_broken_database_exits_1_not_as_a_refused_logon(tmp_path: pathlib.Path) -> None:
    """A database the server side cannot read is the operator's problem: exit 1, the reason on stderr.

    Not 5 (a scheduler would report a logon refused and have someone reset a password), not 2 (the
    command line was fine: retrying it once the database is repaired will work).
    """
    data_dir = tmp_path / "data"
    init(data_dir)
    (data_dir / "appjobs.db").write_bytes(b"this is no SQLite database\n" * 200)
    result = run("admin", "jobs", "list", data_dir=data_dir)
    assert result.returncode == 1, result.stderr
    assert "database" in result.stderr
