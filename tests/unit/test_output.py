"""A step's captured output: the first bytes up to the cap go to the file, the rest is counted and dropped."""

from __future__ import annotations

import os
import pathlib

from appjobs.engine import output


def feed(capture: output.Capture, data: bytes) -> None:
    os.write(capture.write_fd, data)
    capture.pump()


def test_output_past_the_cap_is_counted_and_dropped(tmp_path: pathlib.Path) -> None:
    capture = output.Capture(tmp_path / "step.log", cap=1000)
    feed(capture, b"x" * 600)
    feed(capture, b"y" * 4400)
    capture.close()
    kept = (tmp_path / "step.log").read_bytes()
    assert kept.startswith(b"x" * 600 + b"y" * 400 + b"\n[appjobs: the step's output reached 1000 bytes")
    assert (capture.written, capture.dropped, capture.write_error) == (1000, 4000, None)


def test_a_file_that_cannot_be_written_drops_output_without_failing(tmp_path: pathlib.Path) -> None:
    """A full disk (here /dev/full) does not stop the worker nor block the step: the output is dropped and counted."""
    capture = output.Capture(pathlib.Path("/dev/full"), cap=1000)
    feed(capture, b"z" * 300)
    capture.close()
    assert (capture.written, capture.dropped) == (0, 300)
    assert capture.write_error == "No space left on device"
