"""The worker on a full disk or without its database: it stays up, waits, and goes on by itself when it can.

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

A database that is down or unreachable (:class:`~appjobs.errors.StorageUnavailable`,
of which a full disk is one kind) is met the same way. Exiting was worse
there: the steps outlived their worker, and the worker started after the
database came back aborted them all as a crash's orphans. A restart of
PostgreSQL cost every running job. One write of a turn may have got
through all the same there: a commit that reached the database just as the
connection broke. Recording a step's end again finds it ended and does
nothing; a step that commit started (a claim, a chain's next step) is
recorded as running with no process, and the worker's own recovery ends it
A (see :mod:`appjobs.engine.recovery`).

When the outage is over, every worker's heartbeat is as old as the outage,
and the first worker to look would take the others for dead and abort their
steps. So for one lease after its own outage, a worker judges the others
only by what it can see without heartbeats (see
:meth:`~appjobs.engine.worker.Worker.after_outage`): each of them sends one
meanwhile, if it is alive.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from appjobs import errors
from appjobs.storage import Store
from appjobs.storage.diskfull import Throttled

if TYPE_CHECKING:
    from appjobs.engine.worker import Worker

logger = logging.getLogger(__name__)

FIRST, LONGEST = 0.5, 30.0  # seconds between tries on a full disk: the first pause, and the longest


class StorageBackoff:
    """How long to wait before the next try, and the log lines about it."""

    def __init__(self, meanwhile: str = "keeps its steps running") -> None:
        self.delay = 0.0
        self.meanwhile = meanwhile  #: what the worker does while it waits, for the log
        self._full = False
        self._log = Throttled(logger)

    def failed(self, exc: errors.StorageUnavailable) -> float:
        """The pause before the next try, after another one failed with *exc*."""
        self.delay = min(max(self.delay * 2, FIRST), LONGEST)
        self._full = isinstance(exc, errors.StorageFull)
        what = "cannot write" if self._full else "cannot use the database"
        self._log.warning("the worker %s, %s and tries again: %s", what, self.meanwhile, exc)
        return self.delay

    def succeeded(self) -> bool:
        """A try got through; True when it ended a run of failures."""
        if not self.delay:
            return False
        logger.warning(
            "the worker can write again and goes on" if self._full else "the database is back; the worker goes on"
        )
        self.delay = 0.0
        self._log.reset()
        return True


def turn(worker: Worker) -> None:
    """One turn of *worker*; on a full disk, only what needs no disk (stopping steps), then a pause."""
    try:
        worker._turn()
    except errors.StorageUnavailable as exc:
        now = time.monotonic()
        worker._check_leaving(now)  # a drain ends on time on a full disk too
        if worker.stopping:
            worker._stop_all("Job aborted: the worker is shutting down.")
        worker._escalate(now)
        worker.leftovers.drain(now)
        worker._wait(worker.backoff.failed(exc))
    else:
        if worker.backoff.succeeded():
            worker.after_outage()


def open_store(url: str) -> Store:
    """The store at *url*, once its database can be used: a worker started during an outage waits for it.

    Exiting would start a loop: ``appjobs serve`` starts another worker a second later, which
    exits too, each with a traceback, for as long as the outage lasts. A stop signal ends the
    wait (nothing runs yet, so the default action is right).
    """
    pause = StorageBackoff(meanwhile="waits for it before it starts")
    while True:
        try:
            store = Store.open(url)
        except errors.StorageUnavailable as exc:
            time.sleep(pause.failed(exc))
            continue
        pause.succeeded()
        return store


def until_stored(worker: Worker, write: Callable[[], object]) -> None:
    """Call *write* until it gets past an outage, pausing between tries; give up when the worker is told to stop."""
    while not worker.stopping:
        try:
            write()
        except errors.StorageUnavailable as exc:
            worker._wait(worker.backoff.failed(exc))
            continue
        if worker.backoff.succeeded():
            worker.after_outage()
        return
