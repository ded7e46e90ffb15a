"""A running step's stdout and stderr: a pipe the worker empties into a file, up to a cap.

Why a pipe and not the file itself: a step that writes straight into a
file can fill the disk before it ends (a runaway loop wrote 7.6 GB in 11
minutes), and nothing short of stopping the step bounds it. A size limit on
the step (``RLIMIT_FSIZE``) would bound every file the step writes, not just
its log, and kill it with SIGXFSZ (or, with SIGXFSZ ignored, fail its writes
with EFBIG, which most programs take as an error). So the step writes into a
pipe; the worker moves what arrives into the output file with ``splice``
(no copy through the worker's memory) until the file holds ``cap`` bytes,
and from then on splices into ``/dev/null``, counting what it drops. The
step is never blocked for long: the worker empties the pipe (1 MiB where the
kernel allows) whenever it waits, and never stops reading.

The file keeps the first ``cap`` bytes and a line saying that output was
dropped from there; the worker adds how much to the job log when the step ends.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import pathlib

DEFAULT_CAP = 64 * 1024 * 1024  #: bytes of a step's output kept on disk (``--max-step-output``)
PIPE_SIZE = 1024 * 1024  # bytes the pipe holds while the worker is busy elsewhere
CHUNK = 1024 * 1024  # bytes moved by one splice
ROUNDS = 16  # chunks moved at most per call, so that a flood cannot hold up the worker's loop
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


class Capture:
    """The output of one step: the pipe's write end goes to the step, its read end stays with the worker."""

    def __init__(self, path: pathlib.Path, cap: int = DEFAULT_CAP) -> None:
        self.path, self.cap = path, cap
        self.written = 0  #: bytes in the file
        self.dropped = 0  #: bytes read past the cap and thrown away
        self.eof = False
        self.write_error: str | None = None  #: why the file could not be written, if it could not
        self._splice = hasattr(os, "splice")
        self.file_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        self.read_fd = self.write_fd = self._null_fd = -1
        try:
            self.read_fd, self.write_fd = os.pipe()  # both close-on-exec: no other step inherits them
            self._null_fd = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
        except OSError:
            self.close()
            raise
        with contextlib.suppress(OSError):
            fcntl.fcntl(self.read_fd, _F_SETPIPE_SZ, PIPE_SIZE)
        os.set_blocking(self.read_fd, False)

    def fileno(self) -> int:
        """The read end, for the worker's selector."""
        return self.read_fd

    def started(self) -> None:
        """The step has its copy of the write end: close ours, so that the pipe ends when the step's processes do."""
        os.close(self.write_fd)
        self.write_fd = -1

    def pump(self, rounds: int = ROUNDS) -> None:
        """Move what the pipe holds into the file (or past the cap, nowhere); sets :attr:`eof` when it is closed.

        A file that cannot be written (a full disk) is treated as a cap reached early: the output
        is dropped and counted, and :attr:`write_error` says why. The step is never held up.
        """
        for _ in range(rounds):
            room = self.cap - self.written if self.write_error is None else 0
            try:
                moved = self._move(self.file_fd if room > 0 else self._null_fd, min(CHUNK, room) if room > 0 else CHUNK)
            except BlockingIOError:
                return
            except OSError as exc:
                if room <= 0:
                    raise  # /dev/null or the pipe itself failed: nothing sensible left to do
                self.write_error = exc.strerror or str(exc)
                continue
            if moved < 0:
                continue
            if moved == 0:
                self.eof = True
                return
            if room > 0:
                self.written += moved
                if self.written >= self.cap:
                    note = f"\n[appjobs: the step's output reached {self.cap} bytes; what follows is dropped]\n"
                    with contextlib.suppress(OSError):
                        os.write(self.file_fd, note.encode())
            else:
                self.dropped += moved

    def _move(self, target: int, count: int) -> int:
        if self._splice:
            try:
                return os.splice(self.read_fd, target, count, flags=getattr(os, "SPLICE_F_NONBLOCK", 0))
            except OSError as exc:
                if exc.errno not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
                    raise
                self._splice = False  # a file system that cannot splice: copy instead
        data = os.read(self.read_fd, count)
        if data and target != self._null_fd:
            try:
                done = os.write(target, data)
            except OSError as exc:  # what was read is gone: count it as dropped
                done, self.write_error = 0, exc.strerror or str(exc)
            if done < len(data):
                self.dropped += len(data) - done
                self.write_error = self.write_error or "short write"
                return done or -1  # -1: nothing written, but not the end of the pipe either
        return len(data)

    def close(self) -> None:
        """Take what is left in the pipe (a bounded amount: leftovers may still write) and close everything."""
        if not self.eof and self.read_fd >= 0:
            with contextlib.suppress(OSError):
                self.pump(rounds=4 * ROUNDS)
        for fd in (self.read_fd, self.write_fd, self.file_fd, self._null_fd):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.read_fd = self.write_fd = self.file_fd = self._null_fd = -1
