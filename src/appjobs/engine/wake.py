"""Waking workers when there is work: a datagram per new job or cancel request.

Workers poll the database anyway (every ``poll_interval``), so a lost wake-up
only costs latency. Each worker binds a Unix datagram socket in the data
directory's ``run/`` folder; :class:`Waker` sends one byte to each. This keeps
schedule -> running latency at a few milliseconds without a busy poll.
"""

from __future__ import annotations

import contextlib
import pathlib
import socket

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
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / f"worker-{worker_id[:8]}.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        sock.bind(str(path))
    except OSError:  # e.g. a path longer than the 108 bytes AF_UNIX allows
        sock.close()
        return None
    sock.setblocking(False)
    return sock
