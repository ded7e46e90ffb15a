"""Entry point of a Python-callable step: ``python -m appjobs._callable module:function PARAMS_JSON``.

It lives outside the engine package so that starting a step imports
nothing but the standard library and the step's own module.

The worker starts this as its own process, so a callable step can be
stopped like any shell step. The callable gets the step's parameters as
keyword arguments; returning ends the step F, raising ends it A with the
traceback in the job log.
"""

from __future__ import annotations

import importlib
import json
import sys
import traceback


def main(argv: list[str]) -> int:
    target, params = argv[0], json.loads(argv[1])
    module_name, _, function_name = target.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), function_name)
        function(**params)
    except Exception:  # the step's own failure: report it, do not crash the worker
        traceback.print_exc()
        return 1
    finally:
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
