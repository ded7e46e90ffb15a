"""Whether a template's ``callable = "module:function"`` can be called, found out without running any of its code.

A Python step runs ``python -m appjobs._callable module:function`` with the
worker's interpreter. A name that cannot be imported should be refused when
the template is imported, not hours later when the job runs. Importing the
module to check would run its top-level code in the administrator's process
(connections opened, files written, environment variables it expects and
that only the worker has), so the check reads instead of runs:

* the module is looked up with the import system's finders, which locate
  files but execute nothing (a dotted name is followed package by package
  through each package's search path, not by importing the packages);
* in a Python source file, the function must be bound at the top level:
  ``def``, ``class``, an assignment, or an import (also inside a top-level
  ``if``/``try``/``with``).

What the check cannot see it accepts: a module without source (built in,
compiled extension, bytecode only), one with ``from … import *``, a
module-level ``__getattr__`` or a call of ``globals()``. It looks the module up on the path of the Python
that runs the check, which is the worker's when both come from one installation.
"""

from __future__ import annotations

import ast
import importlib.machinery
import importlib.util
import pathlib
import sys
from importlib.machinery import ModuleSpec

#: Statements whose bodies run at import time, so names bound in them are module attributes.
_BLOCKS = (ast.If, ast.Try, ast.With, ast.For, ast.While)


def problem(target: str) -> str | None:
    """Why the step *target* (``module:function``) cannot be called; None when it can or that cannot be told."""
    module_name, _, function = target.partition(":")
    try:
        spec = _find(module_name)
    except (ImportError, ValueError, OSError) as exc:
        return f"module {module_name!r} cannot be looked up: {exc}"
    if spec is None:
        return (
            f"module {module_name!r} is not found by {sys.executable}: install it where the worker's Python "
            "finds it (or put its directory on PYTHONPATH) before importing the template"
        )
    names = _top_level_names(spec, module_name)
    if names is not None and function not in names:
        return f"module {module_name!r} ({spec.origin}) has no top-level {function!r}"
    return None


def _find(module_name: str) -> ModuleSpec | None:
    """The spec of *module_name*, without importing it or its parent packages."""
    if module_name in sys.modules:
        return getattr(sys.modules[module_name], "__spec__", None) or ModuleSpec(module_name, None)
    first, *rest = module_name.split(".")
    spec = importlib.util.find_spec(first)  # a top-level name: finders only, nothing runs
    name = first
    for part in rest:
        if spec is None or spec.submodule_search_locations is None:
            return None  # the parent is missing, or a module and not a package
        name = f"{name}.{part}"
        spec = importlib.machinery.PathFinder.find_spec(name, list(spec.submodule_search_locations))
    return spec


def _top_level_names(spec: ModuleSpec, module_name: str) -> set[str] | None:
    """Names the module binds at its top level; None when that cannot be told without running it."""
    loaded = sys.modules.get(module_name)
    if loaded is not None:
        return set(vars(loaded))
    origin = spec.origin
    if not spec.has_location or origin is None or not origin.endswith(".py"):
        return None
    try:
        source = pathlib.Path(origin).read_bytes()
        tree = ast.parse(source, origin)
    except (OSError, SyntaxError, ValueError):
        return None  # the step will report it when it runs; the check only refuses what is surely wrong
    if b"globals()" in source:
        return None  # it may bind names no statement shows
    names: set[str] = set()
    if not _collect(tree.body, names):
        return None
    return names


def _collect(body: list[ast.stmt], names: set[str]) -> bool:
    """Add the names *body* binds to *names*; False when it may bind any name (``import *``, ``__getattr__``)."""
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            if any(alias.name == "*" for alias in node.names):
                return False
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, _BLOCKS):
            if isinstance(node, ast.For):
                names.update(n.id for n in ast.walk(node.target) if isinstance(n, ast.Name))
            for block in _bodies(node):
                if not _collect(block, names):
                    return False
    return "__getattr__" not in names


def _bodies(node: ast.stmt) -> list[list[ast.stmt]]:
    if isinstance(node, ast.Try):
        return [node.body, *(h.body for h in node.handlers), node.orelse, node.finalbody]
    if isinstance(node, ast.If | ast.For | ast.While):
        return [node.body, node.orelse]
    return [node.body]  # type: ignore[attr-defined]
