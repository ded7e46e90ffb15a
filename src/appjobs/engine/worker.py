"""The worker: a supervisor process that claims jobs and runs their steps as child processes.

One worker runs up to ``concurrency`` steps at once, each in its own process
session and, where the machine offers one, its own cgroup (see
:mod:`appjobs.engine.processes` and :mod:`appjobs.engine.cgroups`). It is a
single-threaded loop that waits on four things: its wake-up socket (new jobs,
cancel requests; on PostgreSQL also a connection that hears them from other
hosts), a signal pipe (a child ended, or the worker is told to stop), the
output pipes of its steps (emptied into their files up to a cap, see
:mod:`appjobs.engine.output`), and a timeout (polling, heartbeats, grace
periods). Each turn it

1. reaps ended children;
2. in one transaction, records each of those steps F or A (starting the next
   step of a chain in the same slot) and claims ready jobs for the free slots;
   then starts their processes and, in a second transaction, records which
   process runs each step;
3. acts on cancel requests: SIGTERM to the step's whole tree, SIGKILL after the
   grace period;
4. sweeps orphans it adopted whose step has ended, and stops them too;
5. heartbeats, and aborts the steps of workers that died (see :mod:`recovery`);
6. now and then deletes jobs that ended long ago, a few batches a turn (see :mod:`retention`).

Why two transactions per turn and not one per change: each durable commit
costs the same however little it carries, and a no-op job used to need three
of the worker's own (claim, step started, step ended). A turn now carries
those of every step that ended or started since the last one (see
:mod:`appjobs.storage.dispatch`). A step that ended is held in memory only
until the end of the turn that reaped it; if the worker dies in between, the
step is still R and crash recovery ends it A, as it would any running step.

Stopping: the first SIGTERM, SIGINT or SIGHUP makes the worker claim nothing
more and let its running jobs finish, chains included, for up to
``drain_timeout`` seconds; then (or on another signal a second or more
later) it aborts what still runs, as a cancel would. SIGUSR1, which a worker
of ``appjobs serve`` gets when the server dies, aborts at once: a crash.

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

from appjobs import errors, metrics, models
from appjobs.engine import backoff, cgroups, output, processes, recovery, retention, steplog, steps, wake
from appjobs.engine.leftovers import Leftovers
from appjobs.engine.running import SEVERITIES, Drain, Ended, Running, Spawned, log_output, signal_step
from appjobs.storage import Store
from appjobs.storage.jobs import JobBatch, StepWork

logger = logging.getLogger(__name__)

DRAIN_CHECK = 0.05  # seconds between checks that a stopped tree is gone
PLANNED_MIN_WAIT = 0.05  # seconds: a due job another worker holds locked is not worth a busy loop
PARENT_DIED = signal.SIGUSR1  #: what ``appjobs serve``'s workers get when it dies (see ``--exit-with-parent``)
SAME_STOP = 1.0  # seconds: a signal this soon after the first is the same stop (Ctrl-C reaches serve and worker)


@dataclasses.dataclass(frozen=True)
class WorkerOptions:
    """How a worker behaves; see ``appjobs worker --help`` for each."""

    concurrency: int = os.cpu_count() or 1
    grace: float = 10.0  # seconds between SIGTERM and SIGKILL when stopping a step
    poll_interval: float = 0.5  # seconds between database polls when nothing wakes us
    heartbeat_interval: float = 5.0  # seconds between heartbeats
    lease: float = 30.0  # seconds without a heartbeat after which a worker counts as dead
    max_step_output: int = output.DEFAULT_CAP  # bytes of a step's output kept on disk while it runs
    drain_timeout: float = 60.0  # seconds a stopping worker lets running jobs go on; 0: abort them at once
    process_tracking: str = "auto"  # see appjobs.engine.cgroups.detect
    cgroup_base: str | None = None  # where step cgroups are made [default: under the worker's own]
    retention_days: float = 14.0  # jobs that ended longer ago are deleted (see engine.retention); 0: keep all
    audit_retention_days: float = 365.0  # audit entries older than this are deleted; 0: keep all


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
        self.leftovers = Leftovers(self.id, options.grace)  #: what ended steps left behind, being stopped
        self.stopping = False  #: abort what runs and end
        self.leaving_at: float | None = None  #: claim nothing more; abort what still runs at this monotonic time
        self._first_signal: float | None = None
        self.heartbeats_count_from = 0.0  #: monotonic time from which others' heartbeats tell the dead (see backoff)
        self.tracking = cgroups.Tracking("token", why="not detected yet")
        self._ended: list[Ended] = []
        self._spawned: list[Spawned] = []
        self._due: dict[str, float] = {}
        self._woken = True
        self._selector = selectors.DefaultSelector()
        self._remote = wake.RemoteWakeups(self._selector, store.db)
        self.backoff = backoff.StorageBackoff()  #: pauses between tries while the disk is full
        days, audit_days = options.retention_days, options.audit_retention_days
        self.retention = retention.Retention(store, days=days, audit_days=audit_days, clock=clock)

    # --- life cycle ----------------------------------------------------------------

    def run(self) -> None:
        """Serve until told to stop, then stop every running step and return."""
        self.log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        processes.become_subreaper()
        self.tracking = cgroups.detect(self.options.process_tracking, self.options.cgroup_base)
        wanted = self.options.process_tracking
        level = logging.WARNING if wanted not in ("auto", self.tracking.kind) else logging.INFO
        logger.log(level, "worker %s tracks step processes with %s", self.id, self.tracking.describe())
        signal_r = self._install_signals()
        wake_sock = wake.listen(self.run_dir, self.id)
        for sock in filter(None, (signal_r, wake_sock)):
            self._selector.register(sock, selectors.EVENT_READ)
        self._remote.connect()
        backoff.until_stored(self, lambda: recovery.register(self))
        logger.info("worker %s started (concurrency %d)", self.id, self.options.concurrency)
        try:
            backoff.until_stored(self, lambda: recovery.recover(self))
            while not (self._leaving and not self.running and not self.leftovers.draining):
                backoff.turn(self)  # self._turn(), outliving a full disk
        finally:
            with contextlib.suppress(errors.StorageUnavailable):  # then crash recovery forgets us: our pid is gone
                self.store.workers.unregister(self.id)
            self.leftovers.close()
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
        signal.signal(PARENT_DIED, self._on_parent_death)
        return reader

    def _on_stop(self, signum: int, _frame: object) -> None:
        """First signal: drain (when there is a drain timeout); another one, a second or more later: stop now."""
        now = time.monotonic()
        if self._first_signal is None:
            self._first_signal = now
            if self.options.drain_timeout > 0:
                self.leaving_at = now + self.options.drain_timeout
                return
        elif now - self._first_signal < SAME_STOP:
            return
        self.stopping = True

    def _on_parent_death(self, signum: int, _frame: object) -> None:
        """The server that started this worker is gone (``kill -9``, say): a crash, not a stop. Abort now."""
        self.stopping = True

    @property
    def _leaving(self) -> bool:
        return self.stopping or self.leaving_at is not None

    def _check_leaving(self, now: float) -> None:
        if self.leaving_at is None or self.stopping:
            return
        if not self._due.get("leaving"):
            self._due["leaving"] = now
            logger.info(
                "worker %s stopping: no new jobs; letting %d running step(s) finish within %g s",
                *(self.id, len(self.running), self.options.drain_timeout),
            )
        if now >= self.leaving_at:
            logger.warning("worker %s: drain timeout over; aborting %d running step(s)", self.id, len(self.running))
            self.stopping = True

    def _turn(self) -> None:
        self._reap()
        self._dispatch()
        now = time.monotonic()
        self._check_leaving(now)
        if self.stopping:
            self._stop_all("Job aborted: the worker is shutting down.")
        elif self.running and (self._woken or self._is_due("cancel", self.options.poll_interval)):
            self._act_on_cancels()
        self._escalate(now)
        self.leftovers.drain(now)
        if self.running and self._is_due("output", steplog.LIVE_INTERVAL):
            log_output(self.store, self.running.values(), self.clock())
        if self._is_due("sweep", 1.0):
            self.leftovers.sweep_adopted(self.running)
        if self._is_due("heartbeat", self.options.heartbeat_interval):
            self.store.workers.heartbeat(self.id, self.clock())
            if self._remote.connect():  # again, if the connection broke
                self._due["claim"] = 0.0  # what it missed meanwhile: claim in the next turn, not a poll later
        if self._is_due("recover", self.options.lease / 3):
            recovery.recover(self)
        retain = self.retention.enabled and not self._leaving and self._is_due("retention", retention.INTERVAL)
        if retain and self.retention.run():
            self._due["retention"] = time.monotonic() + retention.BACKLOG_PAUSE  # a backlog: go on soon
        self._woken = False
        self._wait()

    def after_outage(self) -> None:
        """The database takes writes again: heartbeat now; give the others one lease to do so (see backoff)."""
        self._due["heartbeat"] = 0.0
        self.heartbeats_count_from = time.monotonic() + self.options.lease

    def step_tokens(self) -> set[str]:
        """The tokens of the steps this worker runs, or ended and has not recorded yet."""
        return {r.work.token for r in self.running.values()} | {e.work.token for e in self._ended}

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
        due = (self._due.get(what, now) - now for what in ("heartbeat", "recover", "claim"))
        timeout = min(self.options.poll_interval, *due) if pause is None else pause
        if self.leaving_at is not None and not self.stopping:
            timeout = max(min(timeout, self.leaving_at - now), 0.0)
        if self.leftovers.draining or any(r.kill_at for r in self.running.values()):
            timeout = DRAIN_CHECK
        for key, _ in self._selector.select(timeout):
            if isinstance(key.fileobj, output.Capture):  # a step's output: not a reason to claim or poll
                self._pump(key.fileobj)
                continue
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
        claim = not self._leaving and (poll or (self._woken and free > 0))
        if not (self._ended or claim):
            return
        limit, now = max(free, 0), self.clock()
        with self.store.jobs.batch() as batch:
            started = [w for e in self._ended if (w := self._record_end(batch, e)) is not None]
            if claim:
                started += batch.claim(self.id, limit, now, [uuid.uuid4().hex for _ in range(limit)])
                self._plan_claim(batch.next_planned_start(), now)
        self._ended = []
        for work in started:
            self._start(work)
        self._record_spawns()

    def _plan_claim(self, upcoming: dt.datetime | None, now: dt.datetime) -> None:
        """Claim again when the next planned job is due, if that comes before the next poll (a long poll interval)."""
        if upcoming is not None:
            wait = max((upcoming - now).total_seconds(), PLANNED_MIN_WAIT)
            self._due["claim"] = min(self._due["claim"], time.monotonic() + wait)

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
        now = self.clock()
        group = cgroups.create(self.tracking, work.token)
        try:
            pid, capture = self._spawn(work, group)
        except OSError as exc:
            if group is not None:
                group.remove()
            note = steps.engine_entry(work.key, work.number, now, f"Step {work.number} could not start: {exc}")
            # Recorded by the next turn, with the steps that ended: a write here that failed would
            # leave the steps claimed with this one unstarted.
            self._ended.append(Ended(work, models.JobStatus.ABORTED, None, now, [note]))
            self._due["claim"] = 0.0  # a turn at once
            return
        self._selector.register(capture, selectors.EVENT_READ)
        self.running[pid] = Running(work, pid, capture, group)
        note = steps.engine_entry(work.key, work.number, now, f"Step {work.number} started: {work.target}")
        self._spawned.append(Spawned(work, pid, processes.started_at(pid), note))

    def _spawn(self, work: StepWork, group: cgroups.StepGroup | None) -> tuple[int, output.Capture]:
        """Start *work*'s process in *group* (see :mod:`cgroups`), its output captured (see :mod:`output`)."""
        capture = output.Capture(steps.output_path(self.log_dir, work.key, work.number), self.options.max_step_output)
        try:
            argv = cgroups.wrap(steps.command(work), group)
            pid = processes.spawn(argv, steps.environment(work), capture.write_fd)
        except OSError:
            capture.close()
            raise
        capture.started()
        return pid, capture

    def _pump(self, capture: output.Capture) -> None:
        capture.pump()
        if capture.eof:  # every process holding the pipe has ended (or closed it): nothing more will come
            self._selector.unregister(capture)

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
        capture = running.output
        if not capture.eof:
            self._selector.unregister(capture)
        capture.close()
        entries = running.log.read(now, final=True)
        if capture.dropped:
            entries.append(steps.dropped_entry(work.key, work.number, now, capture))
            metrics.output_dropped(capture.dropped)
        if running.stop_reason:
            status = models.JobStatus.ABORTED
            entries.append(steps.engine_entry(work.key, None, now, running.stop_reason, models.Severity.ERROR))
        severity = SEVERITIES.get(status, models.Severity.ERROR)
        entries.append(steps.engine_entry(work.key, work.number, now, sentence, severity))
        self._tidy(running)
        return Ended(work, status, code, now, entries)

    def _tidy(self, running: Running) -> None:
        """Stop what a step left behind (in its cgroup, or its process group) once its leader has ended."""
        scan = running.stop_reason is not None
        group = running.group
        if group is not None and not group.populated():
            self.leftovers.remove(group)
            return
        if group is None and not processes.group_alive(running.pid) and not scan:
            return
        signal_step(running.pid, running.work.token if scan else None, group, signal.SIGTERM)
        kill_at = running.kill_at or time.monotonic() + self.options.grace
        self.leftovers.add(Drain(running.pid, running.work.token, kill_at, scan, group))

    def forget_group(self, group: cgroups.StepGroup) -> None:
        """Remove *group* once its members are gone (a dead worker's step's cgroup, killed by recovery)."""
        self.leftovers.forget_group(group)

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
        signal_step(running.pid, running.work.token, running.group, signal.SIGTERM)

    def _escalate(self, now: float) -> None:
        for running in self.running.values():
            if running.kill_at is not None and now >= running.kill_at:
                signal_step(running.pid, running.work.token, running.group, signal.SIGKILL)
