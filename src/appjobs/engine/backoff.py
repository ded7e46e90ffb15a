"""The worker on a full disk: it stays up, waits longer and longer, and goes on by itself when space returns.

Before this, a full disk made every turn of the worker raise, the worker
exit, and ``appjobs serve`` start another every second or two, each writing
a traceback: a crash loop that filled what space was left with its log.
Nothing is gained by exiting: the next worker meets the same full disk.

So a turn that meets :class:`~appjobs.errors.StorageFull` is dropped and
tried again after a pause that doubles from :data:`FIRST` up to
:data:`LONGEST`. Nothing is lost by dropping it: every write of a turn is
one transaction, rolled back whole, and what it was to record stays in the
worker's memory for the next try (steps that ended, processes started). Steps
that run go on running; a stop signal still stops them, since stopping a
process needs no disk. The log says it once a minute, and says when it is over.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from appjobs import errors
from appjobs.storage.diskfull import Throttled

if TYPE_CHECKING:
    from appjobs.engine.worker import Worker

logger = logging.getLogger(__name__)

FIRST, LONGEST = 0.5, 30.0  # seconds between tries on a full disk: the first pause, and the longest


class StorageBackoff:
    """How long to wait before the next try, and the log lines about it."""

    def __init__(self) -> None:
        self.delay = 0.0
        self._log = Throttled(logger)

    def failed(self, exc: errors.StorageFull) -> float:
        """The pause before the next try, after another one failed with *exc*."""
        self.delay = min(max(self.delay * 2, FIRST), LONGEST)
        self._log.warning("the worker cannot write, keeps its steps running and tries again: %s", exc)
        return self.delay

    def succeeded(self) -> None:
        if self.delay:
            logger.warning("the worker can write again and goes on")
            self.delay = 0.0
            self._log.reset()


def turn(worker: Worker) -> None:
    """One turn of *worker*; on a full disk, only what needs no disk (stopping steps), then a pause."""
    try:
        worker._turn()
    except errors.StorageFull as exc:
        now = time.monotonic()
        worker._check_leaving(now)  # a drain ends on time on a full disk too
        if worker.stopping:
            worker._stop_all("Job aborted: the worker is shutting down.")
        worker._escalate(now)
        worker.leftovers.drain(now)
        worker._wait(worker.backoff.failed(exc))
    else:
        worker.backoff.succeeded()


def until_stored(worker: Worker, write: Callable[[], object]) -> None:
    """Call *write* until it gets past a full disk, pausing between tries; give up when the worker is told to stop."""
    while not worker.stopping:
        try:
            write()
        except errors.StorageFull as exc:
            worker._wait(worker.backoff.failed(exc))
            continue
        worker.backoff.succeeded()
        return
