"""Waking workers when there is work: a datagram per new job or cancel request.

Workers poll the database anyway (every ``poll_interval``), so a lost wake-up
only costs latency. Each worker binds a Unix datagram socket in the data
directory's ``run/`` folder; :class:`Waker` sends one byte to each. This keeps
schedule -> running latency at a few milliseconds without a busy poll.

A socket reaches only the workers of the server's own host. On PostgreSQL the
writing transaction also notifies the workers of every host, and each worker
hears it through :class:`RemoteWakeups`, on the same selector as its socket.
"""

from __future__ import annotations

import contextlib
import logging
import pathlib
import selectors
import socket

from appjobs import errors
from appjobs.storage.database import Database
from appjobs.storage.listen import Listener

logger = logging.getLogger(__name__)

SOCKET_DIR = "run"


class Waker:
    """Wakes every worker that listens in *run_dir*."""

    def __init__(self, run_dir: pathlib.Path | None) -> None:
        self.run_dir = run_dir

    def __call__(self) -> None:
        if self.run_dir is None:
            return
        try:
            paths = list(self.run_dir.glob("worker-*.sock"))
        except OSError:
            return
        if not paths:
            return
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)
            for path in paths:
                try:
                    sock.sendto(b"!", str(path))
                except (ConnectionRefusedError, FileNotFoundError):
                    with contextlib.suppress(OSError):
                        path.unlink()  # its worker is gone
                except OSError:
                    continue  # buffer full: that worker has wake-ups pending anyway


def listen(run_dir: pathlib.Path, worker_id: str) -> socket.socket | None:
    """Bind this worker's wake-up socket; None when the path is unusable (then polling alone serves)."""
    run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = run_dir / f"worker-{worker_id[:8]}.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        sock.bind(str(path))
        path.chmod(0o600)  # bind makes it 0777 less the umask; the folder is private anyway
    except OSError:  # e.g. a path longer than the 108 bytes AF_UNIX allows
        sock.close()
        return None
    sock.setblocking(False)
    return sock


class RemoteWakeups:
    """Wake-ups sent from other hosts: a LISTEN connection on the worker's *selector* (PostgreSQL only).

    The selector's key carries :meth:`drain` as its data, so the worker calls it
    when the connection is readable. A broken connection is closed and polling
    finds the work until :meth:`connect` succeeds again.
    """

    def __init__(self, selector: selectors.BaseSelector, db: Database) -> None:
        self._selector, self._db = selector, db
        self._listener: Listener | None = None
        self._lost = False  # the connection broke: say so in the log when it is back

    def connect(self) -> bool:
        """Listen, unless this is SQLite or we already do; cheap to call on every heartbeat.

        True when it has just started listening: then the worker should look for work at once.
        A wake-up sent while the connection was down is lost, and so is one that arrives while
        ``LISTEN`` itself runs: psycopg reads it with the command's answer and it never makes the
        socket readable.
        """
        if self._listener is not None:
            return False
        try:
            self._listener = self._db.listen()
        except errors.StorageError as exc:
            logger.warning("%s; polling for work from other hosts until it can", exc)
            return False
        if self._listener is None:
            return False
        self._selector.register(self._listener, selectors.EVENT_READ, self.drain)
        if self._lost:
            logger.warning("listening for wake-ups from other hosts again")
            self._lost = False
        return True

    def drain(self) -> None:
        if self._listener is None:
            return
        try:
            self._listener.drain()
        except errors.StorageError as exc:
            logger.warning("%s; polling for work from other hosts until it is back", exc)
            self._lost = True
            self.close()

    def close(self) -> None:
        if self._listener is not None:
            self._selector.unregister(self._listener)
            self._listener.close()
            self._listener = None
