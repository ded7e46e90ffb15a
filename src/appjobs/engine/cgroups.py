"""A cgroup per step: tracking a step's processes in a way the step cannot shed.

A process group, a session and an environment variable are all things a
process may leave (``setsid``, ``env -i``, ``sudo``). Membership of a cgroup
is not: every child is born in its parent's cgroup, and only a process
allowed to write another cgroup's ``cgroup.procs`` can move out. So when the
machine offers one, each step runs in a cgroup of its own, and stopping a
step means stopping everything in that cgroup.

What is used, found once when the worker starts (:func:`detect`):

* **cgroup v2** (``cgroup2`` in ``/proc/self/mountinfo``): a child cgroup of
  the worker's own (``/proc/self/cgroup``), or of ``--cgroup-base``. Under
  systemd that needs a delegated subtree (``Delegate=yes``) for a service
  that does not run as root. Stopping: SIGTERM to each member, the grace
  period, then ``cgroup.kill`` (Linux 5.14+), which kills every member at
  once, forks in flight included; on older kernels ``cgroup.freeze``, then
  SIGKILL to each member, then thaw.
* **cgroup v1**: a writable ``freezer`` hierarchy (freeze, SIGKILL each
  member, thaw: nothing can fork in between), else a ``pids`` one (SIGKILL
  each member, repeated until none is left).
* **token**: none of these. The environment token and the child subreaper
  of :mod:`appjobs.engine.processes`; a process that leaves the session
  *and* clears its environment *and* is re-parented away from the worker
  escapes it.

The step's first process is placed in its cgroup before it runs anything:
the worker starts ``/bin/sh -c 'echo $$ > …/cgroup.procs && exec STEP'``
(with ``posix_spawn``, as any step), so the step and every process it will
ever start are members from their first instruction. Writing the pid after
``posix_spawn`` returned would race with the step's own first fork, and
``preexec_fn`` would mean fork without exec in the worker.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import logging
import os
import pathlib
import signal
import time

logger = logging.getLogger(__name__)

MODES = ("auto", "cgroup2", "cgroup1", "token")
PREFIX = "appjobs-step-"  #: a step's cgroup is PREFIX + its token, so recovery finds it from the database
FREEZE_WAIT = 1.0  # seconds to wait for a v1 freezer to report FROZEN
# $0 is the cgroup.procs file, "$@" the step's argv. A step that cannot be placed is not run outside its cgroup.
_PLACE = 'echo $$ > "$0" || { echo "appjobs: cannot place the step in its cgroup ($0)" >&2; exit 126; }; exec "$@"'


@dataclasses.dataclass(frozen=True)
class Tracking:
    """How this worker tracks its steps' processes: a cgroup hierarchy's directory, or the token alone."""

    kind: str  #: "cgroup2", "cgroup1" or "token"
    base: pathlib.Path | None = None  #: where step cgroups are created
    mount: pathlib.Path | None = None  #: the hierarchy's mount point (recovery searches it)
    why: str = ""  #: for "token": what was missing

    def describe(self) -> str:
        if self.kind == "token":
            return f"environment token and child subreaper ({self.why})"
        return f"a {self.kind} cgroup per step under {self.base}"


@dataclasses.dataclass(frozen=True)
class StepGroup:
    """The cgroup of one step."""

    path: pathlib.Path

    @property
    def procs_file(self) -> pathlib.Path:
        return self.path / "cgroup.procs"

    def pids(self) -> list[int]:
        try:
            return [int(line) for line in self.procs_file.read_text().split()]
        except (FileNotFoundError, ValueError):
            return []
        except OSError as exc:
            if exc.errno == errno.ENODEV:  # being removed: no process is in it
                return []
            raise

    def populated(self) -> bool:
        """True while any process is in the cgroup (zombies do not count)."""
        try:
            events = (self.path / "cgroup.events").read_text()
        except FileNotFoundError:
            return bool(self.pids())  # v1 has no cgroup.events
        except OSError as exc:
            if exc.errno == errno.ENODEV:  # the cgroup is being removed (by another worker): no process is in it
                return False
            raise
        return "populated 1" in events

    def signal(self, sig: int) -> None:
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)

    def kill(self) -> None:
        """SIGKILL every member, so that none can fork a new one meanwhile."""
        if _write(self.path / "cgroup.kill", "1"):
            return
        freeze = self.path / "cgroup.freeze"  # v2 before 5.14
        state = self.path / "freezer.state"  # v1 freezer
        if freeze.exists() and _write(freeze, "1"):
            self.signal(signal.SIGKILL)
            _write(freeze, "0")
        elif state.exists() and _write(state, "FROZEN"):
            deadline = time.monotonic() + FREEZE_WAIT
            while "FREEZING" in _read(state) and time.monotonic() < deadline:
                time.sleep(0.01)
            self.signal(signal.SIGKILL)
            _write(state, "THAWED")
        else:  # v1 pids: a member may fork between the read and the kill; the caller repeats until empty
            self.signal(signal.SIGKILL)

    def remove(self) -> bool:
        """Remove the (empty) cgroup; True when it is gone."""
        try:
            self.path.rmdir()
        except FileNotFoundError:
            return True
        except OSError:
            return False  # still busy: tried again later
        return True


def wrap(argv: list[str], group: StepGroup | None) -> list[str]:
    """*argv*, started so that its process enters *group* before it runs (unchanged without a group)."""
    if group is None:
        return argv
    return ["/bin/sh", "-c", _PLACE, str(group.procs_file), *argv]


def create(tracking: Tracking, token: str) -> StepGroup | None:
    """A new cgroup for the step with *token*, or None when tracking by token (or the cgroup cannot be made)."""
    if tracking.base is None:
        return None
    path = tracking.base / (PREFIX + token)
    try:
        path.mkdir(exist_ok=True)
    except OSError as exc:
        logger.warning("cannot create the step's cgroup %s (%s); tracking it by its token", path, exc)
        return None
    return StepGroup(path)


def find(tracking: Tracking, token: str) -> StepGroup | None:
    """The cgroup of the step with *token*, if it still exists (after its worker died, say)."""
    if tracking.base is None or tracking.mount is None:
        return None
    name = PREFIX + token
    if (tracking.base / name).is_dir():
        return StepGroup(tracking.base / name)
    # Another worker on this host may have had another base (its own cgroup): look through the hierarchy.
    for root, dirs, _ in os.walk(tracking.mount):
        if name in dirs:
            return StepGroup(pathlib.Path(root) / name)
        dirs[:] = [d for d in dirs if not d.startswith(PREFIX)]
    return None


def empty_groups(tracking: Tracking) -> dict[str, StepGroup]:
    """The empty step cgroups under this worker's base, by token: left behind by a worker that was killed.

    List them *before* reading which steps run: a step's token is committed before its cgroup
    is made, so a cgroup listed here whose token is not running then belongs to no step.
    """
    if tracking.base is None:
        return {}
    try:
        names = [e.name for e in os.scandir(tracking.base) if e.is_dir() and e.name.startswith(PREFIX)]
    except OSError:
        return {}
    found = {}
    for name in names:
        group = StepGroup(tracking.base / name)
        if not name.startswith(PREFIX + "probe-") and not group.populated():
            found[name.removeprefix(PREFIX)] = group
    return found


def detect(mode: str = "auto", base: str | None = None) -> Tracking:
    """How to track step processes on this machine: see the module docstring.

    *mode* ``auto`` takes the first that works of cgroup v2, v1 and the token;
    naming one insists on it (and falls back to the token, saying why, when it does not work).
    """
    if mode == "token":
        return Tracking("token", why="chosen with --process-tracking token")
    missing = []
    if mode in ("auto", "cgroup2"):
        found = _try(_v2_base(base), "cgroup2", missing)
        if found:
            return found
    if mode in ("auto", "cgroup1"):
        for controller in ("freezer", "pids"):
            found = _try(_v1_base(controller, base), "cgroup1", missing)
            if found:
                return found
    return Tracking("token", why="; ".join(missing))


def _try(candidate: tuple[pathlib.Path, pathlib.Path] | str, kind: str, missing: list[str]) -> Tracking | None:
    if isinstance(candidate, str):
        missing.append(candidate)
        return None
    mount, where = candidate
    problem = _probe(where)
    if problem:
        missing.append(problem)
        return None
    return Tracking(kind, where, mount)


def _mounts() -> list[tuple[str, pathlib.Path, str]]:
    """(filesystem type, mount point, super options) of each mount, from /proc/self/mountinfo."""
    try:
        lines = pathlib.Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    mounts = []
    for line in lines:
        fields, _, tail = line.partition(" - ")
        parts, after = fields.split(), tail.split()
        if len(parts) >= 5 and len(after) >= 3:
            point = parts[4].encode().decode("unicode_escape")  # \040 for a space
            mounts.append((after[0], pathlib.Path(point), after[2]))
    return mounts


def _own_cgroup(match: str) -> str | None:
    """This process's cgroup path in the hierarchy whose /proc/self/cgroup controllers field is *match*."""
    try:
        lines = pathlib.Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == match or match in controllers.split(","):
            return path
    return None


def _v2_base(base: str | None) -> tuple[pathlib.Path, pathlib.Path] | str:
    mount = next((point for fstype, point, _ in _mounts() if fstype == "cgroup2"), None)
    if mount is None:
        return "no cgroup2 file system is mounted"
    if base:
        return mount, pathlib.Path(base)
    own = _own_cgroup("")
    if own is None:
        return "this process has no cgroup v2 path in /proc/self/cgroup"
    return mount, mount / own.lstrip("/")


def _v1_base(controller: str, base: str | None) -> tuple[pathlib.Path, pathlib.Path] | str:
    if base:  # the hierarchy is the one the base lies in, whichever controller it has
        within = [
            point for fstype, point, _ in _mounts() if fstype == "cgroup" and pathlib.Path(base).is_relative_to(point)
        ]
        return (within[0], pathlib.Path(base)) if within else f"{base} is in no cgroup v1 hierarchy"
    mount = next(
        (point for fstype, point, opts in _mounts() if fstype == "cgroup" and controller in opts.split(",")), None
    )
    if mount is None:
        return f"no cgroup v1 {controller} hierarchy is mounted"
    own = _own_cgroup(controller)
    return mount, mount / (own or "/").lstrip("/")


def _probe(where: pathlib.Path) -> str | None:
    """Check that a step cgroup can be made under *where* and a process placed in it; the problem, or None."""
    probe = StepGroup(where / f"{PREFIX}probe-{os.getpid()}")
    try:
        probe.path.mkdir(exist_ok=True)
    except OSError as exc:
        return f"cannot create a cgroup under {where}: {exc.strerror}"
    try:
        pid = os.posix_spawn("/bin/sh", wrap(["/bin/sh", "-c", "exit 0"], probe), {})
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            return f"cannot move a process into a cgroup under {where}"
    except OSError as exc:
        return f"cannot start a process in a cgroup under {where}: {exc.strerror}"
    finally:
        probe.remove()
    return None


def _write(path: pathlib.Path, value: str) -> bool:
    try:
        path.write_text(value)
    except OSError:
        return False
    return True


def _read(path: pathlib.Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""
