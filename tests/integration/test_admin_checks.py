"""What ``appjobs admin`` checks before it stores or waits: template names and callables, liveness, ``--json``.

Each test runs the command as an administrator does, as a real subprocess on
a real data directory.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess

import pytest
from conftest import APPJOBS

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
