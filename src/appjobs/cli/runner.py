"""``appjobs run`` without the command line: start a job, watch it, cancel it when told, say how it ended.

The guide's "workaround program" for schedulers that cannot call the API,
done right. Its duties, in the order they can bite:

* **Never start a job twice.** The JobText carries a run marker
  (``… [run 7Q2M4X9K]``) and the state file is written *before* JobSchedule
  is sent; if the answer is lost, the job is looked up by that text
  through JobListGet instead of being scheduled again. It is scheduled again
  only when JobListGet answered, twice, that no such job exists; if JobListGet
  cannot be read within the retry window, the run ends (exit 6) without
  scheduling. ``--resume`` reattaches to the job of a state file.
* **Tell the outcome as an exit code** (:mod:`appjobs.cli.exits`), with the
  job's key on stderr at once and each status change after.
* **Cancel the remote job when cancelled**: a signal, a timeout with
  ``--on-timeout cancel``: JobCancel, then keep polling until the job is
  final or the grace period is over.
* **Survive the network**: the client retries reads; failures that last
  less than the retry window (counted from the first call that failed)
  only delay the next poll, be they broken connections, 5xx, unreadable
  answers or a gateway's HTML page. A run that gives up names the job it leaves.

Polling starts fast (0.5 s) and doubles up to the poll interval, on one
HTTP session.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from appjobs.cli import statefile
from appjobs.cli.exits import ExitCode, for_error, for_status
from appjobs.client import (
    ClientError,
    JobInfo,
    JobKey,
    JobNotFound,
    JobStateError,
    JobStatus,
    ProtocolError,
    ScheduleOutcomeUnknown,
    ServiceUnavailable,
    TransportError,
    WrongHostError,
)

FIRST_POLL = 0.5  # seconds before the first status poll
MAX_TEXT = 120  # JobText's MaxLength
LOOKUP_PAUSE = 5.0  # longest pause between JobListGet lookups of a job whose JobSchedule answer was lost
_MARKER_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """What ``appjobs run`` was asked to do; durations in seconds."""

    template: str
    by_text: bool = False
    text: str | None = None
    job_user: str | None = None
    test_mode: bool = False
    #: JobParameterValues: ``{NAME: value}``, or the client's ParameterValue records (steps, ranges)
    parameters: Any = dataclasses.field(default_factory=dict)
    wait: bool = True
    poll_interval: float = 15.0
    show_log: bool = False  #: print the job's log lines on stderr while waiting
    timeout: float | None = None
    start_timeout: float | None = None
    on_timeout: str = "cancel"  #: "cancel" or "leave"
    strict_warnings: bool = False
    state_file: str | None = None
    resume: str | None = None
    cancel_grace: float = 60.0
    retry_window: float = 300.0


@dataclasses.dataclass
class Outcome:
    """How a run ended: the exit code, the job, its final status and what happened on the way."""

    exit_code: ExitCode
    template: str
    key: JobKey | None = None
    status: str | None = None
    status_text: str = ""
    info: JobInfo | None = None
    messages: list[str] = dataclasses.field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        info = self.info
        return {
            "job_name": self.key.name if self.key else None,
            "run_count": self.key.run_count if self.key else None,
            "template": self.template,
            "status": self.status,
            "status_text": self.status_text,
            "started_at": _iso(info.started_at) if info else None,
            "ended_at": _iso(info.ended_at) if info else None,
            "steps": [
                {"number": s.number, "status": s.status, "started_at": _iso(s.started_at), "return_code": s.return_code}
                for s in (info.steps if info else ())
            ],
            "exit_code": int(self.exit_code),
            "messages": self.messages,
        }


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


class _Stopped(Exception):
    """A signal came while the job of a lost JobSchedule answer was being looked up, and it was not found."""


class Trouble:
    """Network trouble, which the run endures for up to its retry window: since when it has lasted."""

    def __init__(self, window: float) -> None:
        self.window = window
        self.since: float | None = None  # time.monotonic() when the first call that failed was made

    def too_long(self, began: float) -> bool:
        """Note that a call made at *began* failed; True once the trouble has lasted past the window."""
        if self.since is None:
            self.since = began
        return time.monotonic() - self.since > self.window

    def over(self) -> None:
        self.since = None


def run_marker() -> str:
    """A marker that makes a JobText unique per run: ``[run 7Q2M4X9K]``."""
    return "[run " + "".join(secrets.choice(_MARKER_ALPHABET) for _ in range(8)) + "]"


def marked_text(text: str, marker: str) -> str:
    """*text* with *marker* appended, cut so that the whole stays within JobText's 120 characters."""
    room = MAX_TEXT - len(marker) - 1
    return f"{text[:room].rstrip()} {marker}"


class Runner:
    """One run. :meth:`stop` (from a signal handler) makes it cancel the job and end with exit code 3."""

    def __init__(self, client: Any, options: RunOptions, report: Callable[[str], None]) -> None:
        self.client = client
        self.options = options
        self.report = report
        self.stopping = threading.Event()
        self.messages: list[str] = []
        self.key: JobKey | None = None  #: the job, once it is known
        self.last: str | None = None  #: its status letter when last seen
        self._began = time.monotonic()
        self._template = options.template
        self._existed = False  #: the service has told that the job exists: it scheduled it, or listed it
        self._log: Callable[[], None] | None = None  #: prints the log lines not shown yet (--show-log)

    def stop(self) -> None:
        self.stopping.set()

    def say(self, message: str) -> None:
        self.messages.append(message)
        self.report(message)

    def failed(self, exc: Exception) -> Outcome:
        """How a run that ended with *exc* (an appjobs or client error) ended: its exit code, and the job it leaves."""
        self.say(f"error: {exc}")
        key = self.key
        if key is not None and self.last not in _FINAL:
            see_to_it = (
                f"appjobs run {self._template} --resume {self.options.state_file}"
                if self.options.state_file
                else f"appjobs status {key.name} {key.run_count}"
            )
            self.say(f"job {key} is left as it is (status {self.last or 'not seen'}); see to it with: {see_to_it}")
        return Outcome(for_error(exc), self._template, key, messages=self.messages)

    # --- starting ---------------------------------------------------------------------

    def run(self) -> Outcome:
        try:
            key = self.key = self._attach() if self.options.resume else self._schedule()
        except _Stopped:
            self.say("stopped by a signal before the job was found")
            return Outcome(ExitCode.CANCELLED, self._template, messages=self.messages)
        if not self.options.wait:
            return Outcome(ExitCode.OK, self._template, key, messages=self.messages)
        return self._watch(key)

    def _attach(self) -> JobKey:
        state = statefile.read(self.options.resume or "")
        self._template = state.template
        key = state.key or self._look_up(state.text, state.sent_at)
        if key is None:
            raise JobNotFound(f"no job with the text {state.text!r} exists; it was never scheduled")
        self._existed = state.key is None  # found in the job list; a key from a file is taken on trust only
        self.say(f"reattached to job {key} ({state.template})")
        return key

    def _schedule(self) -> JobKey:
        name, text = self._template_and_text()
        state = statefile.State(self.client.service_url, name, text, dt.datetime.now(dt.UTC))
        self._save(state)  # before JobSchedule: a crash in between leaves something to --resume
        try:
            key = self._send_schedule(name, text)
        except ScheduleOutcomeUnknown as lost:
            key = self._find_lost(name, text, lost)
        self.key = key
        self._save(dataclasses.replace(state, key=key))
        self._existed = True  # so a JobNotFound from now on means deleted (D), even before the first poll saw it
        self.say(f"job {key.name} {key.run_count} scheduled from {name} as {text!r}")
        return key

    def _template_and_text(self) -> tuple[str, str]:
        name, text = self.options.template, self.options.text
        if self.options.by_text:
            template = self.client.find_template(self.options.template)
            name, text = template.name, text or template.text
        self._template = name
        return name, marked_text(text or name, run_marker())

    def _find_lost(self, name: str, text: str, lost: ScheduleOutcomeUnknown) -> JobKey:
        """The job whose JobSchedule answer was lost, found by its text; scheduled again only if it surely is not."""
        self.say(f"the answer to JobSchedule was lost ({lost.__cause__ or lost}); looking the job up")
        try:
            found = self._look_up(text, lost.sent_at)
        except (TransportError, ServiceUnavailable, _Stopped):
            resume = f" or reattach with --resume {self.options.state_file}" if self.options.state_file else ""
            self.say(f"cannot tell whether the job exists, so it is not scheduled again: look for {text!r}{resume}")
            raise
        return found or self._schedule_again(name, text)

    def _look_up(self, text: str, sent_at: dt.datetime) -> JobKey | None:
        """The key of the job with *text*, which was scheduled at about *sent_at*.

        None only when JobListGet answered, twice, that there is no such job.
        When it cannot be read for longer than the retry window, its error is
        raised: whether the job exists is unknown, so it must not be scheduled again.
        A stop signal ends the search (:class:`_Stopped`) unless the job is found first.
        """
        since = sent_at - dt.timedelta(minutes=10)  # room for the tenant's clock
        trouble, answers, pause = Trouble(self.options.retry_window), 0, 1.0
        while True:
            asked = time.monotonic()
            try:
                found = self.client.find_jobs(text, created_from=since)
            except (TransportError, ServiceUnavailable) as exc:
                if trouble.too_long(asked):
                    raise
                self.say(f"cannot look the job up ({exc}); still trying")
            else:
                if found:
                    return found[0].key
                answers += 1
                if answers >= 2:
                    return None  # asked twice, answered twice: there is no such job
            if self.stopping.wait(pause):
                raise _Stopped
            pause = min(pause * 2, LOOKUP_PAUSE)

    def _schedule_again(self, name: str, text: str) -> JobKey:
        # JobListGet answered, twice, that no job has this text: the first JobSchedule never took effect.
        self.say("no job was created; scheduling it again")
        return self._send_schedule(name, text)

    def _send_schedule(self, name: str, text: str) -> JobKey:
        """JobSchedule with the run's JobUser, test mode and parameters; the new job's key."""
        options = self.options
        parameters = options.parameters or None
        job = self.client.schedule(
            name, text, job_user=options.job_user, test_mode=options.test_mode, parameters=parameters
        )
        return job.key

    def _save(self, state: statefile.State) -> None:
        if self.options.state_file:
            statefile.write(self.options.state_file, state)

    # --- watching ---------------------------------------------------------------------

    def _watch(self, key: JobKey) -> Outcome:
        delay, trouble = FIRST_POLL, Trouble(self.options.retry_window)
        while True:
            if self.stopping.is_set():
                return self._cancel(key, ExitCode.CANCELLED, "cancelled by a signal")
            expired = self._expired(self.last)
            if expired:
                return self._timed_out(key, expired)
            letter = self._poll(key, trouble)
            self._show_log(key)
            if letter != self.last and letter is not None:
                self.say(f"status {letter} ({_text(letter)})")
                self.last = letter
            if letter in _FINAL:
                return self._finish(key, letter, for_status(letter, strict_warnings=self.options.strict_warnings))
            self.stopping.wait(delay)
            delay = min(delay * 2, self.options.poll_interval)

    def _show_log(self, key: JobKey) -> None:
        """With --show-log, the job's log lines that arrived since the last poll, on stderr (see cli/logs.py)."""
        if self.options.show_log:
            if self._log is None:
                from appjobs.cli.logs import show_log_while_waiting

                self._log = show_log_while_waiting(self.client, key, self.say)
            self._log()

    def _poll(self, key: JobKey, trouble: Trouble) -> str | None:
        """The job's status letter; None when there is no usable answer, until that lasts past the retry window.

        Besides the network and 5xx, that is an answer that cannot be read, or an
        HTML page: the service answered on this very URL before (JobSchedule, or the
        run that wrote the --resume state file), so this is a gateway in between that
        misbehaves for a while. No redirect is followed meanwhile.
        """
        asked = time.monotonic()
        try:
            letter = self._status(key, seen=self._existed or self.last is not None)
        except _ENDURED as exc:
            if trouble.too_long(asked):
                raise
            self.say(f"cannot read the job's status ({exc}); still trying")
            return None
        trouble.over()
        return letter

    def _status(self, key: JobKey, *, seen: bool = True) -> str | None:
        """The job's status letter; ``D`` when a job seen before has gone (JobCancel deletes unstarted jobs)."""
        try:
            state = self.client.status(key)
        except JobNotFound:
            if not seen:
                raise
            return "D"
        return None if state.status is None else str(state.status)

    def _expired(self, last: str | None) -> str | None:
        elapsed = time.monotonic() - self._began
        if self.options.timeout is not None and elapsed > self.options.timeout:
            return "--timeout"
        waiting = last is None or last in _NOT_STARTED
        if self.options.start_timeout is not None and waiting and elapsed > self.options.start_timeout:
            return "--start-timeout"
        return None

    def _timed_out(self, key: JobKey, which: str) -> Outcome:
        if self.options.on_timeout == "leave":
            self.say(f"{which} reached; the job is left running")
            return self._finish(key, None, ExitCode.TIMEOUT)
        return self._cancel(key, ExitCode.TIMEOUT, f"{which} reached")

    def _cancel(self, key: JobKey, code: ExitCode, why: str) -> Outcome:
        """Cancel the job, then wait up to the grace period for it to be final."""
        self.say(f"{why}: cancelling job {key}")
        try:
            self.client.cancel(key)
        except (JobStateError, JobNotFound):
            pass  # it ended, or was deleted, meanwhile: nothing left to cancel
        except ClientError as exc:
            self.say(f"JobCancel failed: {exc}")
        deadline = time.monotonic() + self.options.cancel_grace
        letter = None
        while time.monotonic() < deadline:
            try:
                letter = self._status(key)
            except ClientError as exc:
                self.say(f"cannot read the job's status: {exc}")
            if letter in _FINAL:
                break
            time.sleep(min(1.0, max(deadline - time.monotonic(), 0)))
        self.say(f"job {key} is {letter or 'unknown'} after the cancel")
        return self._finish(key, letter, code)

    def _finish(self, key: JobKey, letter: str | None, code: ExitCode) -> Outcome:
        info = None
        if letter not in (None, "D"):
            try:
                info = self.client.info(key)
            except ClientError as exc:
                self.say(f"cannot read the job's steps: {exc}")
        return Outcome(code, self._template, key, letter, _text(letter), info, self.messages)


_FINAL = frozenset({"F", "W", "A", "U", "C", "D", "K"})
#: What the watch endures for the retry window; past it, the last one decides the exit code (6, 8, or 2).
_ENDURED = (TransportError, ServiceUnavailable, ProtocolError, WrongHostError)
_NOT_STARTED = frozenset({"S", "Y", "P"})


def _text(letter: str | None) -> str:
    status = JobStatus.from_letter(letter)
    return "" if status is None else status.text
