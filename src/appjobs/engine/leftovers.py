"""What ended steps leave behind: process trees being stopped, orphans adopted, cgroups to remove.

A step's leader may end while processes it started live on (a daemonised
child, a pipeline whose head exited). The worker stops them: SIGTERM, then
SIGKILL a grace period later (a :class:`~appjobs.engine.running.Drain` each),
and gives up on processes that outlive SIGKILL (not ours to signal). As a
subreaper it also adopts orphans; one whose step has ended is stopped the same
way. Cgroups are removed once the kernel lets go of their last member.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Mapping

from appjobs.engine import cgroups, processes
from appjobs.engine.running import Drain, Running, signal_step

logger = logging.getLogger(__name__)


class Leftovers:
    """The leftovers of one worker's ended steps; *grace* seconds between SIGTERM and SIGKILL."""

    def __init__(self, worker_id: str, grace: float) -> None:
        self.worker_id = worker_id
        self.grace = grace
        self.draining: list[Drain] = []
        self._abandoned: set[str] = set()  #: tokens of steps whose processes outlived SIGKILL: not ours to stop
        self._empty_groups: list[cgroups.StepGroup] = []  #: cgroups to remove once the kernel lets us

    def add(self, drain: Drain) -> None:
        self.draining.append(drain)

    def forget_group(self, group: cgroups.StepGroup) -> None:
        """Remove *group* once its members are gone."""
        self._empty_groups.append(group)

    def remove(self, group: cgroups.StepGroup) -> None:
        if not group.remove():
            self._empty_groups.append(group)  # the kernel may still be tearing down its last member

    def drain(self, now: float) -> None:
        """Forget trees that are gone, SIGKILL those past their time, give up on those that outlive it."""
        remaining = []
        for drain in self.draining:
            if not drain.alive():
                if drain.group is not None:
                    self.remove(drain.group)
                continue
            if now >= drain.kill_at + self.grace:  # SIGKILLed a grace period ago and still there
                logger.warning(
                    "worker %s: processes of an ended step (token %s) outlive SIGKILL; not permitted to signal "
                    "them? no longer waiting for them",
                    self.worker_id,
                    drain.token,
                )
                self._abandoned.add(drain.token)  # so that the sweep of adopted processes does not take it up again
                continue
            if now >= drain.kill_at:
                signal_step(drain.pgid, drain.token if drain.scan else None, drain.group, signal.SIGKILL)
            remaining.append(drain)
        self.draining = remaining

    def sweep_adopted(self, running: Mapping[int, Running]) -> None:
        """Stop orphans re-parented to us whose step is no longer running; remove cgroups left empty."""
        self._empty_groups = [g for g in self._empty_groups if not g.remove()]
        live_tokens = {r.work.token for r in running.values()}
        for proc in processes.adopted(running):
            try:
                token = proc.environ().get(processes.TOKEN_VAR)
            except processes.psutil.Error:
                continue
            if token in self._abandoned:
                continue
            if token and token not in live_tokens and not any(d.token == token for d in self.draining):
                processes.signal_tree(None, token, signal.SIGTERM)
                self.draining.append(Drain(None, token, time.monotonic() + self.grace, scan=True))

    def close(self) -> None:
        """Remove the cgroups that are empty by now (the worker is ending)."""
        for group in self._empty_groups:
            group.remove()
