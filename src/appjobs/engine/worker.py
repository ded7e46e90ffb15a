"""The worker: a supervisor process that claims jobs and runs their steps as child processes.

One worker runs up to ``concurrency`` steps at once, each in its own process
session (see :mod:`appjobs.engine.processes`). It is a single-threaded loop
that waits on three things: its wake-up socket (new jobs, cancel requests;
on PostgreSQL also a connection that hears them from other hosts), a signal
pipe (a child ended, or the worker is told to stop), and a timeout (polling,
heartbeats, grace periods). Each turn it

1. reaps ended children;
2. in one transaction, records each of those steps F or A (starting the next
   step of a chain in the same slot) and claims ready jobs for the free slots;
   then starts their processes and, in a second transaction, records which
   process runs each step;
3. acts on cancel requests: SIGTERM to the step's whole tree, SIGKILL after the
   grace period;
4. sweeps orphans it adopted whose step has ended, and stops them too;
5. heartbeats, and aborts the steps of workers that died (see :mod:`recovery`).

Why two transactions per turn and not one per change: each durable commit
costs the same however little it carries, and a no-op job used to need three
of the worker's own (claim, step started, step ended). A turn now carries
those of every step that ended or started since the last one (see
:mod:`appjobs.storage.dispatch`). A step that ended is held in memory only
until the end of the turn that reaped it; if the worker dies in between, the
step is still R and crash recovery ends it A, as it would any running step.

The worker runs in its own process (``appjobs worker``, or started by
``appjobs serve``), never in the HTTP server's event loop, so a hung or
crashing step cannot touch the API.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import os
import pathlib
import selectors
import signal
import socket
import time
import uuid
from collections.abc import Callable

from appjobs import errors, models
from appjobs.engine import backoff, processes, recovery, steps, wake
from appjobs.storage import Store
from appjobs.storage.dispatch import SUCCESSFUL
from appjobs.storage.jobs import JobBatch, StepWork

logger = logging.getLogger(__name__)

SEVERITIES = {models.JobStatus.FINISHED: models.Severity.INFO, models.JobStatus.WARNING: models.Severity.WARNING}
DRAIN_CHECK = 0.05  # seconds between checks that a stopped tree is gone


@dataclasses.dataclass
class Running:
    """A step whose leader process is alive (or not yet reaped)."""

    work: StepWork
    pid: int
    output: pathlib.Path
    stop_reason: str | None = None  #: why it is being stopped, when it is
    kill_at: float | None = None  #: monotonic time to send SIGKILL


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


@dataclasses.dataclass(frozen=True)
class WorkerOptions:
    """How a worker behaves; see ``appjobs worker --help`` for each."""

    concurrency: int = os.cpu_count() or 1
    grace: float = 10.0  # seconds between SIGTERM and SIGKILL when stopping a step
    poll_interval: float = 0.5  # seconds between database polls when nothing wakes us
    heartbeat_interval: float = 5.0  # seconds between heartbeats
    lease: float = 30.0  # seconds without a heartbeat after which a worker counts as dead


class Worker:
    """Runs jobs from *store*; :meth:`run` returns after SIGTERM, SIGINT or SIGHUP."""

    def __init__(
        self,
        store: Store,
        *,
        data_dir: pathlib.Path,
        options: WorkerOptions = WorkerOptions(),
        clock: Callable[[], dt.datetime] = models.utcnow,
    ) -> None:
        self.store = store
        self.options = options
        self.clock = clock
        self.id = str(uuid.uuid4())
        self.run_dir = data_dir / wake.SOCKET_DIR
        self.log_dir = data_dir / "logs"
        self.running: dict[int, Running] = {}
        self.draining: list[Drain] = []
        self.stopping = False
        self._ended: list[Ended] = []
        self._spawned: list[Spawned] = []
        self._due: dict[str, float] = {}
        self._woken = True
        self._selector = selectors.DefaultSelector()
        self._remote = wake.RemoteWakeups(self._selector, store.db)
        self.backoff = backoff.StorageBackoff()  #: pauses between tries while the disk is full

    # --- life cycle ----------------------------------------------------------------

    def run(self) -> None:
        """Serve until told to stop, then stop every running step and return."""
        self.log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        processes.become_subreaper()
        signal_r = self._install_signals()
        wake_sock = wake.listen(self.run_dir, self.id)
        for sock in filter(None, (signal_r, wake_sock)):
            self._selector.register(sock, selectors.EVENT_READ)
        self._remote.connect()
        backoff.until_stored(self, lambda: recovery.register(self))
        logger.info("worker %s started (concurrency %d)", self.id, self.options.concurrency)
        try:
            backoff.until_stored(self, lambda: recovery.recover(self))
            while not (self.stopping and not self.running and not self.draining):
                backoff.turn(self)  # self._turn(), outliving a full disk
        finally:
            with contextlib.suppress(errors.StorageFull):  # then crash recovery forgets us: our pid is gone
                self.store.workers.unregister(self.id)
            if wake_sock is not None:
                with contextlib.suppress(OSError):
                    os.unlink(wake_sock.getsockname())
            self._remote.close()
            self._selector.close()
            logger.info("worker %s stopped", self.id)

    def _install_signals(self) -> socket.socket:
        reader, writer = socket.socketpair()
        reader.setblocking(False)
        writer.setblocking(False)
        self._signal_pipe = (reader, writer)
        signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_stop)
        return reader

    def _on_stop(self, signum: int, _frame: object) -> None:
        self.stopping = True

    def _turn(self) -> None:
        self._reap()
        self._dispatch()
        now = time.monotonic()
        if self.stopping:
            self._stop_all("Job aborted: the worker is shutting down.")
        elif self.running and (self._woken or self._is_due("cancel", self.options.poll_interval)):
            self._act_on_cancels()
        self._escalate(now)
        self._drain(now)
        if self._is_due("sweep", 1.0):
            self._sweep_adopted()
        if self._is_due("heartbeat", self.options.heartbeat_interval):
            self.store.workers.heartbeat(self.id, self.clock())
            self._remote.connect()  # again, if the connection broke
        if self._is_due("recover", self.options.lease / 3):
            recovery.recover(self)
        self._woken = False
        self._wait()

    def _is_due(self, what: str, interval: float) -> bool:
        now = time.monotonic()
        if now >= self._due.get(what, 0.0):
            self._due[what] = now + interval
            return True
        return False

    def _wait(self, pause: float | None = None) -> None:
        # Never past the next heartbeat or recovery, however long the poll interval: a late heartbeat
        # would let the other workers take this one for dead. A *pause* (on a full disk) is kept whole.
        now = time.monotonic()
        due = (self._due.get(what, now) - now for what in ("heartbeat", "recover"))
        timeout = min(self.options.poll_interval, *due) if pause is None else pause
        if self.draining or any(r.kill_at for r in self.running.values()):
            timeout = DRAIN_CHECK
        for key, _ in self._selector.select(timeout):
            if key.data is not None:  # the LISTEN connection: it reads its own input
                key.data()
            else:
                with contextlib.suppress(BlockingIOError, InterruptedError):
                    while key.fileobj.recv(4096):  # type: ignore[union-attr]
                        pass
            self._woken = True

    # --- starting and ending steps -------------------------------------------------

    def _dispatch(self) -> None:
        """Record the reaped steps and claim jobs for the free slots in one transaction; then start them."""
        free = self.options.concurrency - len(self.running) - sum(e.continues for e in self._ended)
        # A wake-up means new jobs (or cancel requests): worth a claim only with a slot free. The poll
        # still runs when all are taken, so that due jobs show Y (ready) while they wait.
        poll = self._is_due("claim", self.options.poll_interval)
        claim = not self.stopping and (poll or (self._woken and free > 0))
        if not (self._ended or claim):
            return
        limit, now = max(free, 0), self.clock()
        with self.store.jobs.batch() as batch:
            started = [w for e in self._ended if (w := self._record_end(batch, e)) is not None]
            if claim:
                started += batch.claim(self.id, limit, now, [uuid.uuid4().hex for _ in range(limit)])
        self._ended = []
        for work in started:
            self._start(work)
        self._record_spawns()

    def _record_end(self, batch: JobBatch, ended: Ended) -> StepWork | None:
        work = ended.work
        return batch.finish_step(
            work.key,
            work.number,
            ended.status,
            exit_code=ended.code,
            now=ended.at,
            log=ended.log(),
            next_token=uuid.uuid4().hex,
        )

    def _start(self, work: StepWork) -> None:
        output = steps.output_path(self.log_dir, work.key, work.number)
        now = self.clock()
        try:
            pid = processes.spawn(steps.command(work), steps.environment(work), str(output))
        except OSError as exc:
            note = steps.engine_entry(work.key, work.number, now, f"Step {work.number} could not start: {exc}")
            ended = Ended(work, models.JobStatus.ABORTED, None, now, [note])
            self.store.jobs.finish_step(work.key, work.number, ended.status, exit_code=None, now=now, log=ended.log())
            return
        self.running[pid] = Running(work, pid, output)
        note = steps.engine_entry(work.key, work.number, now, f"Step {work.number} started: {work.target}")
        self._spawned.append(Spawned(work, pid, processes.started_at(pid), note))

    def _record_spawns(self) -> None:
        """Record which process runs each step started this turn, so that crash recovery can find it."""
        if not self._spawned:
            return
        with self.store.jobs.batch() as batch:
            for s in self._spawned:
                batch.step_spawned(s.work.key, s.work.number, s.pid, s.pid_started, [s.note])
        self._spawned = []

    def _reap(self) -> None:
        for pid, code in processes.reap():
            running = self.running.pop(pid, None)
            if running is not None:  # else an adopted orphan, now gone
                self._ended.append(self._end(running, code))

    def _end(self, running: Running, code: int) -> Ended:
        work, now = running.work, self.clock()
        status, sentence = steps.describe_exit(work.number, code, work.warning_exit_codes)
        entries = steps.collect_output(running.output, work.key, work.number, now)
        if running.stop_reason:
            status = models.JobStatus.ABORTED
            entries.append(steps.engine_entry(work.key, None, now, running.stop_reason, models.Severity.ERROR))
        severity = SEVERITIES.get(status, models.Severity.ERROR)
        entries.append(steps.engine_entry(work.key, work.number, now, sentence, severity))
        self._tidy(running)
        return Ended(work, status, code, now, entries)

    def _tidy(self, running: Running) -> None:
        """Stop what a step left behind in its process group once its leader has ended."""
        scan = running.stop_reason is not None
        if not processes.group_alive(running.pid) and not scan:
            return
        processes.signal_tree(running.pid, running.work.token if scan else None, signal.SIGTERM)
        kill_at = running.kill_at or time.monotonic() + self.options.grace
        self.draining.append(Drain(running.pid, running.work.token, kill_at, scan))

    # --- stopping steps ------------------------------------------------------------

    def _act_on_cancels(self) -> None:
        for key, by in self.store.jobs.cancel_requests(self.id):
            for running in self.running.values():
                if running.work.key == key and running.stop_reason is None:
                    self._stop(running, f"Job was canceled by user {by}.")

    def _stop_all(self, reason: str) -> None:
        for running in self.running.values():
            if running.stop_reason is None:
                self._stop(running, reason)

    def _stop(self, running: Running, reason: str) -> None:
        running.stop_reason = reason
        running.kill_at = time.monotonic() + self.options.grace
        processes.signal_tree(running.pid, running.work.token, signal.SIGTERM)

    def _escalate(self, now: float) -> None:
        for running in self.running.values():
            if running.kill_at is not None and now >= running.kill_at:
                processes.signal_tree(running.pid, running.work.token, signal.SIGKILL)

    def _drain(self, now: float) -> None:
        remaining = []
        for drain in self.draining:
            alive = (drain.pgid is not None and processes.group_alive(drain.pgid)) or (
                drain.scan and bool(processes.marked(drain.token))
            )
            if not alive:
                continue
            if now >= drain.kill_at:
                processes.signal_tree(drain.pgid, drain.token if drain.scan else None, signal.SIGKILL)
            remaining.append(drain)
        self.draining = remaining

    def _sweep_adopted(self) -> None:
        """Stop orphans re-parented to us whose step is no longer running."""
        live_tokens = {r.work.token for r in self.running.values()}
        for proc in processes.adopted(self.running):
            try:
                token = proc.environ().get(processes.TOKEN_VAR)
            except processes.psutil.Error:
                continue
            if token and token not in live_tokens and not any(d.token == token for d in self.draining):
                processes.signal_tree(None, token, signal.SIGTERM)
                self.draining.append(Drain(None, token, time.monotonic() + self.options.grace, scan=True))
