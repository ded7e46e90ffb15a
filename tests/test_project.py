"""Project-wide gates: layer rules, lint, and documentation that tells the truth."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import click
import pytest

from appjobs import settings
from appjobs.cli.main import cli

ROOT = pathlib.Path(__file__).parent.parent
BIN = pathlib.Path(sys.executable).parent


def tool(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / name), *args], cwd=ROOT, capture_output=True, text=True, check=False)


def test_layers_are_kept() -> None:
    """import-linter finds no import that breaks the layers (errors <- models <- odata, storage <- engine ...)."""
    result = tool("lint-imports")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_finds_nothing() -> None:
    """ruff's lint rules pass on the package, the tests and the benchmarks."""
    result = tool("ruff", "check", "src", "tests", "bench", "mutation")
    assert result.returncode == 0, result.stdout + result.stderr


def test_code_is_formatted() -> None:
    """The code is formatted as ruff format would format it."""
    result = tool("ruff", "format", "--check", "src", "tests", "bench", "mutation")
    assert result.returncode == 0, result.stdout + result.stderr


def all_commands(group: click.Group, prefix: str = "appjobs") -> list[str]:
    ctx = click.Context(group)
    names = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if isinstance(command, click.Group):
            names += all_commands(command, f"{prefix} {name}")
        elif command is not None and not command.hidden:
            names.append(f"{prefix} {name}")
    return names


@pytest.mark.parametrize("command", all_commands(cli))
def test_readme_documents_every_command(command: str) -> None:
    """Every command of the appjobs CLI is named in the README."""
    assert command in (ROOT / "README.md").read_text()


@pytest.mark.parametrize("variable", sorted(settings.ENVIRONMENT))
def test_readme_documents_every_environment_variable(variable: str) -> None:
    """Every environment variable appjobs reads is documented in the README."""
    assert variable in (ROOT / "README.md").read_text()
