"""Python callables used by the demo templates (see ``engine/demo.toml``)."""

from __future__ import annotations

MAX_REPEAT = 1000  # every communication user may schedule the demo templates: no unbounded loop for them


def echo(**parameters: str) -> None:
    """Print each parameter as ``NAME=value``, ``REPEAT`` times (default once, at most :data:`MAX_REPEAT`)."""
    repeat = parameters.get("REPEAT", "1")
    if not (repeat.isdigit() and 1 <= int(repeat) <= MAX_REPEAT):
        raise SystemExit(f"REPEAT must be a whole number from 1 to {MAX_REPEAT}, not {repeat!r}")
    for _ in range(int(repeat)):
        for name in sorted(parameters):
            print(f"{name}={parameters[name]}")
