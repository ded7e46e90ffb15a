"""The import-time check of a template's ``callable``: found without running the module, or refused with a reason."""

from __future__ import annotations

import pathlib
import sys
from collections.abc import Iterator

import pytest

from appjobs.engine import callables


@pytest.fixture
def modules(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[pathlib.Path]:
    """A directory on sys.path for the test's own modules (forgotten again afterwards)."""
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [n for n in sys.modules if n.startswith("acme_")]:
        del sys.modules[name]


SOURCES = {
    "acme_plain.py": "def load(**p):\n    pass\nCONSTANT = 1\n",
    "acme_blocks.py": "try:\n    from json import loads as fast\nexcept ImportError:\n    fast = None\n"
    "if True:\n    def chosen():\n        pass\nfor made in range(1):\n    pass\n",
    "acme_star.py": "from json import *\n",
    "acme_dynamic.py": "def __getattr__(name):\n    return print\n",
    "acme_globals.py": "globals()['made'] = print\n",
    "acme_pkg/__init__.py": "raise RuntimeError('a package whose __init__ must not run')\n",
    "acme_pkg/jobs.py": "def nightly(**p):\n    pass\n",
}


@pytest.mark.parametrize(
    "target",
    [
        "acme_plain:load",
        "acme_plain:CONSTANT",
        "acme_blocks:fast",
        "acme_blocks:chosen",
        "acme_blocks:made",
        "acme_star:anything",
        "acme_dynamic:anything",
        "acme_globals:made",
        "acme_pkg.jobs:nightly",
        "json:loads",
        "os.path:join",
    ],
)
def test_callables_that_can_be_found_pass(modules: pathlib.Path, target: str) -> None:
    for name, source in SOURCES.items():
        (modules / name).parent.mkdir(exist_ok=True)
        (modules / name).write_text(source)
    assert callables.problem(target) is None
    assert "acme_pkg" not in sys.modules  # found without running the package's __init__


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("acme_missing:run", "is not found"),
        ("acme_pkg.missing:run", "is not found"),
        ("acme_plain.sub:run", "is not found"),  # a module is not a package
        ("acme_plain:nothing", "has no top-level 'nothing'"),
        ("acme_pkg.jobs:weekly", "has no top-level 'weekly'"),
    ],
)
def test_callables_that_cannot_be_found_are_refused(modules: pathlib.Path, target: str, why: str) -> None:
    for name, source in SOURCES.items():
        (modules / name).parent.mkdir(exist_ok=True)
        (modules / name).write_text(source)
    assert why in (callables.problem(target) or "")
