"""What ``appjobs admin`` checks before it stores or waits: template names and callables, liveness, ``--json``.

Each test runs the command as an administrator does, as a real subprocess on
a real data directory.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pathlib
import select
import subprocess
import time

import pytest
from conftest import APPJOBS, DEMO, WORKER_ARGS, Processes, wait_final, wait_for

from appjobs import models
from appjobs.engine import JobService

STEP = '[[template.step]]\ncommand = "true"\n'


def run(*args: str, data_dir: pathlib.Path, env: dict[str, str] | None = None, timeout: float = 60):
    environ = {**os.environ, **(env or {}), "APPJOBS_DATA_DIR": str(data_dir)}
    return subprocess.run([*APPJOBS, *args], capture_output=True, text=True, env=environ, timeout=timeout, check=False)


def import_file(tmp_path: pathlib.Path, text: str, **kwargs) -> subprocess.CompletedProcess[str]:
    file = tmp_path / "jobs.toml"
    file.write_text(text)
    return run("admin", "templates", "import", str(file), data_dir=tmp_path / "data", **kwargs)


def stored_names(tmp_path: pathlib.Path) -> list[str]:
    listed = run("admin", "templates", "list", "--json", data_dir=tmp_path / "data")
    assert listed.returncode == 0, listed.stderr
    return [t["name"] for t in json.loads(listed.stdout)]


# --- template names and callables ------------------------------------------------------------------


@pytest.mark.usefixtures("initialised")  # admin commands need a data directory that exists
@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("ACME_NO_SLASH", "is not a template name"),
        ("ZNIGHTLY", "is not a template name"),
    ],
)
def test_a_template_name_that_is_not_sap_like_exits_2(tmp_path: pathlib.Path, name: str, why: str) -> None:
    """Only /NAMESPACE/NAME (delivered) and Z + 26 base32 characters (customer) are template names."""
    good = f'[[template]]\nname = "/ACME/GOOD"\ntext = "Good"\n{STEP}'
    result = import_file(tmp_path, f'{good}[[template]]\nname = "{name}"\ntext = "Bad"\n{STEP}')
    assert result.returncode == 2, result.stderr
    assert why in result.stderr
    assert "/NAMESPACE/NAME" in result.stderr
    assert "jobs.toml: template[2]: field 'name'" in result.stderr
    assert stored_names(tmp_path) == []  # all or nothing: the good one is not stored either


def callable_template(target: str) -> str:
    return f'[[template]]\nname = "/ACME/CALL"\ntext = "Call"\n[[template.step]]\ncallable = "{target}"\n'


@pytest.mark.usefixtures("initialised")  # admin commands need a data directory that exists
@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("acme_no_such_module:run", "module 'acme_no_such_module' is not found"),
        ("appjobs.no_such_module:run", "module 'appjobs.no_such_module' is not found"),
        ("json.no_such_module:run", "module 'json.no_such_module' is not found"),
        ("json:no_such_function", "has no top-level 'no_such_function'"),
        ("acme_jobs:missing", "has no top-level 'missing'"),
    ],
)
def test_a_callable_that_cannot_be_called_exits_2(tmp_path: pathlib.Path, target: str, why: str) -> None:
    """A callable whose module is not found, or has no such function, is refused at import (exit 2)."""
    (tmp_path / "acme_jobs.py").write_text("def load(**parameters):\n    print(parameters)\n")
    result = import_file(tmp_path, callable_template(target), env={"PYTHONPATH": str(tmp_path)})
    assert result.returncode == 2, result.stderr
    assert why in result.stderr, result.stderr
    assert "field 'callable'" in result.stderr
    assert stored_names(tmp_path) == []


@pytest.mark.usefixtures("initialised")  # admin commands need a data directory that exists
@pytest.mark.parametrize("target", ["json:loads", "appjobs.demo:echo", "os.path:join", "acme_jobs:load"])
def test_a_callable_that_can_be_called_is_imported_without_running_its_module(
    tmp_path: pathlib.Path, target: str
) -> None:
    """The check finds the module and the function without executing the module's code."""
    ran = tmp_path / "module-ran"
    (tmp_path / "acme_jobs.py").write_text(
        f"import pathlib\npathlib.Path({str(ran)!r}).write_text('ran')\n\ndef load(**parameters):\n    pass\n"
    )
    result = import_file(tmp_path, callable_template(target), env={"PYTHONPATH": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert stored_names(tmp_path) == ["/ACME/CALL"]
    assert not ran.exists()


# --- admin jobs schedule --wait, and --json ---------------------------------------------------------


def read_until(stream, wanted: str, timeout: float = 30.0) -> str:
    """Lines of *stream* up to the first holding *wanted*; fails the test after *timeout* seconds."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], max(deadline - time.monotonic(), 0))
        if not ready:
            break
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        if wanted in line:
            return "".join(seen)
    pytest.fail(f"{wanted!r} not seen within {timeout} s; got {''.join(seen)!r}")


@pytest.mark.backends("sqlite", "postgresql")
def test_schedule_wait_says_when_no_worker_is_alive_and_goes_on_waiting(
    demo: JobService, data_dir: pathlib.Path, processes: Processes
) -> None:
    """--wait with no worker says so on stderr after a few seconds, then ends normally once a worker runs the job."""
    proc = processes.start(
        "admin", "jobs", "schedule", "/APPJOBS/DEMO_ECHO", "--wait", "--data-dir", str(data_dir),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    said = read_until(proc.stderr, "no worker is alive")
    assert said.startswith("appjobs: no worker is alive"), said
    assert "appjobs worker" in said
    assert proc.poll() is None  # it goes on waiting
    processes.start("worker", "--data-dir", str(data_dir), *WORKER_ARGS)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert stdout.splitlines()[-1] == "F Finished"
    assert "no worker is alive" not in stderr  # said once only


def json_of(result: subprocess.CompletedProcess[str]):
    """The one JSON document on stdout (json.loads refuses anything before or after it)."""
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.usefixtures("initialised")  # admin commands need a data directory that exists
def test_json_output_is_exactly_one_document(tmp_path: pathlib.Path) -> None:
    """With --json, stdout of every admin command that has it is one JSON document and nothing else."""
    data_dir = tmp_path / "data"
    assert run("admin", "templates", "import", str(DEMO), data_dir=data_dir).returncode == 0
    job = json_of(run("admin", "jobs", "schedule", "/APPJOBS/DEMO_ECHO", "--json", data_dir=data_dir))
    assert (job["status"], job["template_name"]) == ("S", "/APPJOBS/DEMO_ECHO")
    shown = json_of(run("admin", "jobs", "show", job["name"], job["run_count"], "--json", data_dir=data_dir))
    assert shown["name"] == job["name"]
    assert job["name"] in {j["name"] for j in json_of(run("admin", "jobs", "list", "--json", data_dir=data_dir))}
    for command in (
        ("templates", "list"),
        ("users", "list"),
        ("systems", "list"),
        ("arrangements", "list"),
        ("business-users", "list"),
        ("audit",),
    ):
        assert isinstance(json_of(run("admin", *command, "--json", data_dir=data_dir)), list), command


# --- admin jobs list and cancel ------------------------------------------------------------------------


def test_jobs_list_and_cancel(demo: JobService, data_dir: pathlib.Path, processes: Processes) -> None:
    """cancel deletes a job that has not started and aborts a running one; list shows jobs by creation time."""
    waiting = json_of(run("admin", "jobs", "schedule", "/APPJOBS/DEMO_ECHO", "--json", data_dir=data_dir))
    listed = run("admin", "jobs", "list", data_dir=data_dir)
    assert listed.returncode == 0, listed.stderr
    assert f"{waiting['name']} {waiting['run_count']} S " in listed.stdout
    later = (models.utcnow() + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    assert json_of(run("admin", "jobs", "list", "--from", later, "--json", data_dir=data_dir)) == []
    deleted = run("admin", "jobs", "cancel", waiting["name"], waiting["run_count"], data_dir=data_dir)
    assert deleted.returncode == 0, deleted.stderr
    assert "deleted (it had not started)" in deleted.stdout
    gone = run("admin", "jobs", "show", waiting["name"], waiting["run_count"], data_dir=data_dir)
    assert gone.returncode == 2
    again = run("admin", "jobs", "cancel", waiting["name"], waiting["run_count"], data_dir=data_dir)
    assert again.returncode == 2, again.stderr

    processes.start("worker", "--data-dir", str(data_dir), *WORKER_ARGS)
    running = json_of(run("admin", "jobs", "schedule", "/APPJOBS/DEMO_SLEEP", "--json", data_dir=data_dir))
    key = models.JobKey(running["name"], running["run_count"])
    wait_for(lambda: demo.status(key).status is models.JobStatus.RUNNING)
    aborted = run("admin", "jobs", "cancel", key.name, key.run_count, data_dir=data_dir)
    assert aborted.returncode == 0, aborted.stderr
    assert "cancel requested; the job will end A" in aborted.stdout
    assert wait_final(demo, key).status is models.JobStatus.ABORTED
    assert any("canceled by user ADMIN" in entry.text for entry in demo.log(key))
