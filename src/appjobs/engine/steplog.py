"""A step's output file, turned into job log entries while the step runs and once more when it ends.

The worker captures a step's stdout and stderr into a file (:mod:`appjobs.engine.output`).
An :class:`OutputLog` reads that file as it grows: about once a second the worker
logs the whole lines written since the last look (:data:`LIVE_INTERVAL`), so that a
scheduler following the job (``appjobs log --follow``, the job page, JobLogs) sees
them while the step runs; when the step ends, the rest, an unfinished last line
included, is logged with the step's end and the file removed.

Lines are cut from the file only after a newline, so the lines logged in pieces are
exactly the lines of the whole file read at once (``str.splitlines``), and a line is
never logged half. Whatever a step writes is stored as text on both databases: bytes
that are not UTF-8, and NUL, become U+FFFD. A step's log keeps at most :data:`MAX_LOG_LINES` lines and
:data:`MAX_LOG_BYTES` bytes of its output, with a warning where it was cut.

Reading is split from committing (:meth:`OutputLog.read`, :meth:`OutputLog.logged`):
entries that could not be written (a full disk) are read again next time, not lost.
Crash recovery logs what a dead worker's step wrote and had not logged yet by
skipping the lines already in the log (:func:`rest_of`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import pathlib

from appjobs import models
from appjobs.models import JobKey, Severity

MAX_LOG_LINES = 10_000  #: lines of a step's output kept in the job log
MAX_LOG_BYTES = 4 * 1024 * 1024  #: bytes of a step's output read into the job log
LIVE_INTERVAL = 1.0  #: seconds between the worker's looks at its running steps' output


@dataclasses.dataclass
class OutputLog:
    """How far a step's output file has been logged: bytes read, lines logged, whether it was cut."""

    path: pathlib.Path
    key: JobKey
    number: int
    offset: int = 0  #: bytes of the file logged (always just after a newline while the step runs)
    lines: int = 0  #: lines logged
    cut: bool = False  #: a limit was reached: nothing more is logged
    _pending: tuple[int, int, bool] | None = dataclasses.field(default=None, repr=False)

    def read(self, now: dt.datetime, *, final: bool = False) -> list[models.LogEntry]:
        """The entries for what the file gained since the last :meth:`logged`.

        While the step runs (*final* False) only whole lines; at its end everything,
        and the file is removed. Call :meth:`logged` once the entries are stored.
        """
        if self.cut:
            if final:
                self.path.unlink(missing_ok=True)
            return []
        room = MAX_LOG_BYTES - self.offset
        try:
            with self.path.open("rb") as f:
                f.seek(self.offset)
                data = f.read(room + 1)
            if final:
                self.path.unlink()
        except FileNotFoundError:
            return []
        over = len(data) > room
        data = data[:room]
        if not final and not over:
            data = data[: data.rfind(b"\n") + 1]  # whole lines only: the rest may still be being written
        # Bytes that are no UTF-8 and NULs (which PostgreSQL's text refuses) become U+FFFD; neither splits a line.
        texts = data.decode("utf-8", errors="replace").replace("\x00", "\ufffd").splitlines()
        keep = texts[: max(MAX_LOG_LINES - self.lines, 0)]
        cut = over or len(keep) < len(texts)
        entries = [models.LogEntry(self.key, self.number, now, Severity.INFO, "stdout", t) for t in keep]
        if cut:
            note = f"{cut_note(self.number)} {self.lines + len(keep)} lines."
            entries.append(models.LogEntry(self.key, self.number, now, Severity.WARNING, "engine", note))
        self._pending = (self.offset + len(data), self.lines + len(keep), cut)
        return entries

    def logged(self) -> None:
        """The entries of the last :meth:`read` are stored: the next read begins after them."""
        if self._pending is not None:
            self.offset, self.lines, self.cut = self._pending
            self._pending = None

    def grew(self) -> bool:
        """Whether the file holds more than has been logged (a cheap check before :meth:`read`)."""
        if self.cut:
            return False
        try:
            return self.path.stat().st_size > self.offset
        except FileNotFoundError:
            return False


def cut_note(number: int) -> str:
    """The start of the warning that step *number*'s output was cut (the line count follows)."""
    return f"Output of step {number} was cut after"


def rest_of(
    path: pathlib.Path, key: JobKey, number: int, log: list[models.LogEntry], now: dt.datetime
) -> list[models.LogEntry]:
    """What step *number* wrote to *path* that *log* (the job's log so far) does not hold yet; removes the file.

    For crash recovery: the dead worker logged the step's first lines while it ran.
    """
    own = [e for e in log if e.step_number == number]
    if any(e.source == "engine" and e.text.startswith(cut_note(number)) for e in own):
        path.unlink(missing_ok=True)
        return []  # cut while it ran: nothing more belongs in the log
    done = sum(1 for e in own if e.source == "stdout")  # the file's first lines: they were logged from it
    return OutputLog(path, key, number).read(now, final=True)[done:]
