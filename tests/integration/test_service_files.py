"""The service files in ``contrib/``: systemd units that ``systemd-analyze verify`` accepts, and a container file.

The units are verified as an administrator would install them, with the
ExecStart path pointed at this checkout's ``appjobs`` (verify checks that it
is executable). What they promise is checked against the code: that the
stop timeout covers the drain timeout and the grace the command lines give,
that only the main process gets systemd's SIGTERM (so that serve can drain),
and that the container runs as a non-root user with the data directory as a
volume and a health check on an endpoint the server serves.
"""

from __future__ import annotations

import configparser
import pathlib
import re
import shutil
import subprocess
import sys

import click
import pytest

from appjobs.cli.main import cli

CONTRIB = pathlib.Path(__file__).parents[2] / "contrib"
UNITS = sorted((CONTRIB / "systemd").glob("*.service"))
APPJOBS = pathlib.Path(sys.executable).with_name("appjobs")


def _unit(path: pathlib.Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text())
    return parser


def test_there_is_a_unit_for_serve_and_for_a_worker() -> None:
    assert [u.name for u in UNITS] == ["appjobs-worker.service", "appjobs.service"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_systemd_analyze_verify_accepts_the_unit(unit: pathlib.Path, tmp_path: pathlib.Path) -> None:
    installed = tmp_path / unit.name
    installed.write_text(unit.read_text().replace("/opt/appjobs/bin/appjobs", str(APPJOBS)))
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", installed.name], cwd=tmp_path, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr  # not even a warning (an unknown key is only one)


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_the_unit_stops_by_draining_and_runs_hardened_as_its_own_user(unit: pathlib.Path) -> None:
    service = _unit(unit)["Service"]
    command = service["ExecStart"].split()
    assert command[0] == "/opt/appjobs/bin/appjobs"
    assert command[1] in {"serve", "worker"}
    assert cli.get_command(click.Context(cli), command[1]) is not None
    options = dict(zip(command[2::2], command[3::2], strict=False))
    drain = float(options.get("--drain-timeout", 60))
    grace = float(options.get("--grace", 10))
    assert float(service["TimeoutStopSec"]) > drain + grace  # systemd's SIGKILL comes after the drain
    assert service["KillMode"] == "mixed"  # systemd's SIGTERM reaches the main process alone
    assert service["User"] == "appjobs"
    assert service["StateDirectory"] == "appjobs"
    assert service["StateDirectoryMode"] == "0700"
    assert "Environment=APPJOBS_DATA_DIR=/var/lib/appjobs" in unit.read_text().splitlines()
    for option in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices", "RestrictSUIDSGID"):
        assert service[option] == "yes", option
    assert service["ProtectSystem"] == "strict"
    assert service["CapabilityBoundingSet"] == ""


def test_the_container_runs_unprivileged_with_a_volume_and_a_readiness_check() -> None:
    text = (CONTRIB / "container" / "Containerfile").read_text()
    user = re.search(r"^USER (\S+)", text, re.MULTILINE)
    assert user is not None
    assert user.group(1).split(":")[0] not in {"0", "root"}
    assert 'VOLUME ["/var/lib/appjobs"]' in text
    assert "APPJOBS_DATA_DIR=/var/lib/appjobs" in text
    health = re.search(r"^HEALTHCHECK .*\n\s+CMD .*(/appjobs/\w+)", text, re.MULTILINE)
    assert health is not None
    assert health.group(1) == "/appjobs/ready"
    assert health.group(1) in _served_paths()  # the endpoint the check asks for is one the server serves


def _served_paths() -> set[str]:
    from appjobs.server import app

    source = pathlib.Path(app.__file__).read_text()
    return set(re.findall(r'Route\("(/appjobs/[a-z]+)"', source))
