"""Starting a step's process and stopping its whole tree.

A step runs as the leader of a new session and process group, with a token
in its environment (``APPJOBS_STEP_TOKEN``) that every descendant inherits.
Stopping a step signals its process group *and* every process that carries
its token, so a grandchild that called ``setsid`` (and so left the group) is
found as well. The worker is a child subreaper (Linux ``PR_SET_CHILD_SUBREAPER``),
so such escapees are re-parented to it rather than to init when their parent
exits, and the worker reaps them.

Limits, stated plainly: a process that both leaves the session and clears its
environment can only be found while it is still the worker's descendant. Where
the machine offers cgroups, each step has one as well (:mod:`appjobs.engine.cgroups`),
which no process of the step can leave that way.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import signal
import sys
from collections.abc import Iterable, Mapping, Sequence

import psutil

TOKEN_VAR = "APPJOBS_STEP_TOKEN"
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_PROC_STAT = sys.platform.startswith("linux") and os.path.exists("/proc/self/stat")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if _PROC_STAT else 100


def _prctl(option: int, value: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(option, value, 0, 0, 0) == 0


def become_subreaper() -> bool:
    """Adopt orphaned descendants instead of letting init have them (Linux only)."""
    return _prctl(_PR_SET_CHILD_SUBREAPER, 1)


def exit_with_parent(sig: int = signal.SIGTERM) -> bool:
    """Have the kernel send *sig* to this process when its parent dies (Linux only)."""
    return _prctl(_PR_SET_PDEATHSIG, sig)


def spawn(argv: Sequence[str], env: Mapping[str, str], output_fd: int) -> int:
    """Start *argv* as a new session leader with stdout and stderr going to *output_fd* (a pipe's write end).

    Returns the pid. ``posix_spawn`` avoids copying the worker's memory,
    which keeps starting a step cheap however large the worker grows.
    """
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_DUP2, output_fd, 1),
        (os.POSIX_SPAWN_DUP2, output_fd, 2),
    ]
    return os.posix_spawnp(argv[0], list(argv), dict(env), file_actions=actions, setsid=True)


def started_at(pid: int) -> float | None:
    """The start time of process *pid*, or None when it does not exist.

    The value is exactly psutil's ``Process.create_time()``, which :func:`is_alive`
    compares it with. On Linux it is read straight from ``/proc/<pid>/stat``:
    the worker calls this for every step it starts, just after ``posix_spawn``,
    and going through ``psutil.Process`` took three to four times as long
    (0.2 ms against 0.06 ms a step).
    """
    if _PROC_STAT:
        try:
            return _proc_started_at(pid)
        except (FileNotFoundError, ProcessLookupError):
            return None
        except (OSError, ValueError, IndexError):
            pass  # not the /proc we know: let psutil decide
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def _proc_started_at(pid: int) -> float:
    fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
    try:
        stat = os.read(fd, 4096)
    finally:
        os.close(fd)
    # Field 22, starttime, in clock ticks since boot. The command name (field 2) may hold spaces and
    # parentheses, so count from the last ")": field 3 is the first one after it.
    ticks = int(stat[stat.rindex(b")") + 2 :].split()[19])
    return ticks / _CLOCK_TICKS + psutil.boot_time()  # psutil's formula, to the bit


def is_alive(pid: int, started: float | None) -> bool:
    """True when *pid* exists and is the same process that started at *started*."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False  # it has ended; only its exit status is left for its parent to collect
        now_started = proc.create_time()
    except psutil.Error:
        return False
    return started is None or abs(now_started - started) < 0.01


def marked(token: str) -> list[psutil.Process]:
    """Every live process whose environment carries *token*."""
    found = []
    me = os.getpid()
    for proc in psutil.process_iter():
        if proc.pid == me:
            continue
        try:
            if proc.environ().get(TOKEN_VAR) == token and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except psutil.Error:
            continue
    return found


def group_alive(pgid: int) -> bool:
    """True while any process of group *pgid* exists (a zombie leader counts until reaped)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_tree(pgid: int | None, token: str | None, sig: int) -> int:
    """Send *sig* to process group *pgid* and to every process marked with *token*.

    Returns how many processes carrying the token were signalled.
    """
    if pgid:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)
    count = 0
    for proc in marked(token) if token else ():
        try:
            proc.send_signal(sig)
            count += 1
        except psutil.Error:
            continue
    return count


def adopted(known: Iterable[int]) -> list[psutil.Process]:
    """Children of this process that it did not start itself: orphans it adopted as subreaper."""
    skip = set(known)
    try:
        return [p for p in psutil.Process().children() if p.pid not in skip]
    except psutil.Error:
        return []


def reap() -> list[tuple[int, int]]:
    """Collect every child that has ended, as ``(pid, exit code)``; signals give negative codes."""
    ended = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        except OSError as exc:  # pragma: no cover - EINTR is retried by Python
            if exc.errno == errno.EINTR:
                continue
            raise
        if pid == 0:
            break
        ended.append((pid, os.waitstatus_to_exitcode(status)))
    return ended
