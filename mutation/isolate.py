"""Run a command as the first process of a PID namespace of its own: ``unshare ... isolate.py CMD ...``.

For the modules marked ``isolate = true`` in ``mutation/config.toml`` (see there): ``mutation/run.py``
starts each mutant's tests as ``unshare --pid --fork --mount-proc --kill-child python isolate.py pytest ...``.
Inside, ``/proc`` shows only the test run's own processes, so a mutant that signals "every process
carrying the token" with the token test inverted reaches the test run alone (and kills it, which counts
as killed), not the rest of the machine.

This process is the namespace's init: it reaps every orphan (as init does outside, so a dead process
does not linger as a zombie that a test takes for alive), passes SIGTERM and SIGINT on to the command,
and exits with the command's exit status. When it exits, the kernel kills whatever is left inside.
"""

from __future__ import annotations

import os
import signal
import sys


def main() -> int:
    command = sys.argv[1:]
    if not command:
        sys.exit("usage: isolate.py COMMAND [ARG ...]")
    child = os.fork()
    if child == 0:
        os.execvp(command[0], command)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda number, _frame: os.kill(child, number))
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            return 1
        if pid == child:
            code = os.waitstatus_to_exitcode(status)
            return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
