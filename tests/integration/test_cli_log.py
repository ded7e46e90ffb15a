"""Job logs through the client and the command line: ``Client.header``/``Client.log``, ``appjobs log`` and
``appjobs run --show-log``, against the module's real ``appjobs serve``, and through a proxy that plays an
older tenant (one without JobHeaderSet).
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import threading
from collections.abc import Iterator

import pytest
from conftest import APPJOBS, gated_template
from faultproxy import FaultProxy, unknown_segment
from tenant import USERS, Tenant, admin

from appjobs.client import Client, JobKey, JobNotFound, JobStatus, OperationNotOffered

SLOW_CHAIN = ("/APPJOBS/DEMO_CHAIN", "-p", "SECONDS=6")  # step 2 sleeps 6 s: time to see step 1's line meanwhile


def env_for(root: str) -> dict[str, str]:
    user = "JOBSCHEDULERUSER"
    return {**os.environ, "APPJOBS_URL": root, "APPJOBS_USER": user, "APPJOBS_PASSWORD": USERS[user]}


@pytest.fixture
def client(tenant: Tenant) -> Iterator[Client]:
    with Client(tenant.root, auth=tenant.auth()) as opened:
        yield opened


@pytest.fixture
def older(tenant: Tenant) -> Iterator[FaultProxy]:
    """The tenant behind a proxy that answers every JobHeaderSet request as a tenant from before 2024."""
    with FaultProxy(tenant.server.port) as proxy:
        proxy.add("GET", "JobHeaderSet", unknown_segment("JobHeaderSet"), times=None)
        yield proxy


def log_lines(client: Client, key: JobKey) -> list[tuple[int, str, str]]:
    return [(m.step_number, m.type, m.text) for m in client.log(key)]


def test_header_expansions_and_log(tenant: Tenant, client: Client) -> None:
    http = tenant.session()
    job = tenant.schedule(http, "/APPJOBS/DEMO_CHAIN")
    assert tenant.wait_status(http, job, "FAW", timeout=60) == "F"
    key = JobKey(job["JobName"], job["JobRunCount"])
    plain = client.header(key)
    assert (plain.status, plain.step_count, plain.template_text, plain.steps) == (
        JobStatus.FINISHED, 3, "Three-step chain", None,
    )  # fmt: skip
    assert plain.started_at is not None
    assert plain.ended_at >= plain.started_at
    steps = client.header(key, expand="steps").steps
    assert [(s.number, s.status, s.logs) for s in steps] == [(n, JobStatus.FINISHED, None) for n in (1, 2, 3)]
    logs = client.header(key, expand="logs").steps
    assert all(len(s.logs) == 1 and s.messages is None for s in logs)
    messages = client.log(key)
    assert [m.step_number for m in messages] == sorted(m.step_number for m in messages)
    texts = [m.text for m in messages]
    assert texts.index("step 1 of 3") < texts.index("step 3 of 3")
    assert messages[0].job_level
    assert messages[0].source == "engine"
    assert all(m.time is not None for m in messages)
    assert [m.time for m in messages] == sorted(m.time for m in messages)
    with pytest.raises(JobNotFound):
        client.header(JobKey("0123456789ABCDEF0123456789ABCDEF", "AAAAAAAA"))
    with pytest.raises(ValueError, match="expand"):
        client.header(key, expand="everything")


def test_run_show_log_prints_each_line_once_while_it_waits(tenant: Tenant, client: Client) -> None:
    """Step 1's line arrives while the job still runs; at the end stderr holds the whole log, in order, once."""
    command = [*APPJOBS, "run", *SLOW_CHAIN, "--json", "--show-log", "--poll-interval", "1"]
    seen: list[str] = []
    with subprocess.Popen(
        command, env=env_for(tenant.root), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stderr is not None
        for line in proc.stderr:  # read as it comes, until step 1's output line is shown
            seen.append(line.rstrip("\n"))
            if seen[-1].endswith(" step 1 of 3"):
                break
        scheduled = next(line.split() for line in seen if " scheduled from " in line)
        key = JobKey(scheduled[2], scheduled[3])  # "appjobs: job NAME RUNCOUNT scheduled from …"
        status_meanwhile = tenant.status(tenant.session(), key.name, key.run_count)
        seen += [line.rstrip("\n") for line in proc.stderr]  # the same reader: its buffer holds lines already read
        assert proc.wait(timeout=120) == 0, seen
    assert status_meanwhile == "R"  # shown while the run waited, not after the job ended
    printed = [line for line in seen if line.startswith("step ")]
    messages = client.log(key)
    assert len(printed) == len(messages)  # none lost, none repeated
    for line, message in zip(printed, messages, strict=True):
        assert line.startswith(f"step {message.step_number} {message.type} ")
        assert line.endswith(f"Z {message.text}")
    assert [m.step_number for m in messages if m.text.startswith("step ")] == [1, 3]
    final = next(index for index, line in enumerate(seen) if "status F" in line)
    assert final > seen.index(printed[-1])  # the last line ("Job finished.") before the run's end


def test_log_command_and_follow(tenant: Tenant, client: Client) -> None:
    http = tenant.session()
    job = tenant.schedule(http, "/APPJOBS/DEMO_CHAIN")
    command = [*APPJOBS, "log", job["JobName"], job["JobRunCount"], "--follow", "--poll-interval", "0.3", "--json"]
    followed = subprocess.run(
        command, env=env_for(tenant.root), check=False, capture_output=True, text=True, timeout=120
    )
    assert followed.returncode == 0, followed.stderr
    key = JobKey(job["JobName"], job["JobRunCount"])
    rows = [json.loads(line) for line in followed.stdout.splitlines()]
    assert [(r["step"], r["type"], r["text"]) for r in rows] == log_lines(client, key)
    assert rows[-1]["text"] == "Job finished."
    command = [*APPJOBS, "log", key.name, key.run_count]
    once = subprocess.run(command, env=env_for(tenant.root), check=False, capture_output=True, text=True, timeout=60)
    assert once.returncode == 0
    assert [line.split("Z ", 1)[1] for line in once.stdout.splitlines()] == [t for _, _, t in log_lines(client, key)]


def test_appjobs_log_follow_shows_a_running_steps_line_before_the_step_ends(
    tenant: Tenant, tmp_path: pathlib.Path
) -> None:
    gate = tmp_path / "gate"
    toml = tmp_path / "live.toml"
    toml.write_text(gated_template("/APPJOBS/TEST_FOLLOW", gate))
    admin(tenant.data_dir, "templates", "import", str(toml))
    job = tenant.schedule(tenant.session(), "/APPJOBS/TEST_FOLLOW")
    env = env_for(tenant.root)
    command = [*APPJOBS, "log", job["JobName"], job["JobRunCount"], "--follow", "--poll-interval", "0.2"]
    # Should the line never come while the step runs, the step still ends (and this test fails, not hangs).
    fallback = threading.Timer(30, gate.touch)
    fallback.start()
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        try:
            lines = []
            for line in proc.stdout:  # until the step's first line is shown
                lines.append(line.rstrip("\n"))
                if line.rstrip("\n").endswith("Z first"):
                    break
            assert lines, proc.stderr.read() if proc.poll() is not None else "no line shown"
            assert lines[-1].endswith("Z first"), lines
            assert tenant.status(tenant.session(), job["JobName"], job["JobRunCount"]) == "R"
        finally:
            fallback.cancel()
            gate.touch()
        rest = proc.stdout.read()
        assert proc.wait(timeout=60) == 0
    with Client(tenant.root, auth=tenant.auth()) as client:
        logged = [m.text for m in client.log(JobKey(job["JobName"], job["JobRunCount"]))]
    shown = [line.split("Z ", 1)[1] for line in [*lines, *rest.splitlines()]]
    assert shown == logged
    assert [t for t in logged if t in {"first", "half", "half done", "last"}] == ["first", "half done", "last"]


def test_older_tenant_is_named(tenant: Tenant, older: FaultProxy) -> None:
    """Without JobHeaderSet: the client raises OperationNotOffered, `log` says so (exit 2), `run` goes on."""
    http = tenant.session()
    job = tenant.schedule(http, "/APPJOBS/DEMO_ECHO")
    key = JobKey(job["JobName"], job["JobRunCount"])
    with Client(older.root, auth=tenant.auth()) as through, pytest.raises(OperationNotOffered) as raised:
        through.log(key)
    assert raised.value.operation == "JobHeaderSet"
    command = [*APPJOBS, "log", key.name, key.run_count]
    refused = subprocess.run(command, env=env_for(older.root), check=False, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2
    assert "this server does not offer JobHeaderSet (SAP added it in 2024)" in refused.stderr
    ran = subprocess.run([*APPJOBS, "run", "/APPJOBS/DEMO_ECHO", "--show-log", "--poll-interval", "1"],
                         env=env_for(older.root), check=False, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert ran.stderr.count("does not offer JobHeaderSet") == 1
    assert older.count("GET", "JobHeaderSet") >= 2
