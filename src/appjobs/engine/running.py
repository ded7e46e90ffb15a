"""What the worker holds about the steps it runs, from start to the last leftover process.

A step is :class:`Running` while its leader lives, :class:`Ended` from the
turn that reaped it until that turn's transaction records it, and what it
left behind is a :class:`Drain` until every process of it is gone.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import signal
from collections.abc import Iterable

from appjobs import models
from appjobs.engine import cgroups, output, processes, steplog, steps
from appjobs.storage import Store
from appjobs.storage.dispatch import SUCCESSFUL
from appjobs.storage.jobs import StepWork

SEVERITIES = {models.JobStatus.FINISHED: models.Severity.INFO, models.JobStatus.WARNING: models.Severity.WARNING}


@dataclasses.dataclass
class Running:
    """A step whose leader process is alive (or not yet reaped)."""

    work: StepWork
    pid: int
    output: output.Capture
    group: cgroups.StepGroup | None = None  #: its cgroup, where the machine offers one
    stop_reason: str | None = None  #: why it is being stopped, when it is
    kill_at: float | None = None  #: monotonic time to send SIGKILL
    log: steplog.OutputLog = dataclasses.field(init=False)  #: how much of its output is in the job log

    def __post_init__(self) -> None:
        self.log = steplog.OutputLog(self.output.path, self.work.key, self.work.number)


@dataclasses.dataclass
class Ended:
    """A step whose leader has been reaped, to be recorded F or A in this turn's transaction."""

    work: StepWork
    status: models.JobStatus
    code: int | None
    at: dt.datetime
    entries: list[models.LogEntry]

    @property
    def continues(self) -> bool:
        """True when the job's next step will take over this step's slot."""
        return self.status in SUCCESSFUL and self.work.number < self.work.step_count

    def log(self) -> list[models.LogEntry]:
        """The step's entries, plus the job's last word when this step ends the job."""
        key, at = self.work.key, self.at
        if self.status not in SUCCESSFUL:
            return [*self.entries, steps.engine_entry(key, None, at, "Job failed.", models.Severity.ERROR)]
        if self.work.number == self.work.step_count:
            # Whether an earlier step warned is known only in the database: the sentence stays neutral.
            return [*self.entries, steps.engine_entry(key, None, at, "Job finished.", models.Severity.SUCCESS)]
        return self.entries


def log_output(store: Store, running: Iterable[Running], now: dt.datetime) -> None:
    """Log the whole lines that *running* steps wrote since the last look, in one transaction (see :mod:`steplog`)."""
    logs = [r.log for r in running if r.log.grew()]
    store.jobs.append_log([e for log in logs for e in log.read(now)])
    for log in logs:  # only once stored: after a failed write (a full disk) the next look reads them again
        log.logged()


@dataclasses.dataclass(frozen=True)
class Spawned:
    """A step process just started, to be recorded at the end of the turn."""

    work: StepWork
    pid: int
    pid_started: float | None
    note: models.LogEntry


@dataclasses.dataclass
class Drain:
    """Processes of an ended step that are still around: TERMed, KILLed at *kill_at*."""

    pgid: int | None
    token: str
    kill_at: float
    scan: bool  #: also look for the token outside the process group (costly, so only when needed)
    group: cgroups.StepGroup | None = None  #: the step's cgroup: where its processes are, when it has one

    def alive(self) -> bool:
        if self.group is not None:
            return self.group.populated()
        return (self.pgid is not None and processes.group_alive(self.pgid)) or (
            self.scan and bool(processes.marked(self.token))
        )


def signal_step(pgid: int | None, token: str | None, group: cgroups.StepGroup | None, sig: int) -> None:
    """Send *sig* to a step's processes: its cgroup's members when it has one, else those the token finds."""
    if group is None:
        processes.signal_tree(pgid, token, sig)
        return
    processes.signal_tree(pgid, None, sig)
    if sig == signal.SIGKILL:
        group.kill()
    else:
        group.signal(sig)
