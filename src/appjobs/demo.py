"""Python callables used by the demo templates (see ``engine/demo.toml``)."""

from __future__ import annotations


def echo(**parameters: str) -> None:
    """Print each parameter as ``NAME=value``, ``REPEAT`` times (default once)."""
    for _ in range(int(parameters.get("REPEAT", "1"))):
        for name in sorted(parameters):
            print(f"{name}={parameters[name]}")
