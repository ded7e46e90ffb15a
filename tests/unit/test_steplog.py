"""A step's output file read into log entries in pieces: the same lines as read whole, cut at the same limits."""

from __future__ import annotations

import datetime as dt
import pathlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appjobs import models
from appjobs.engine import steplog
from appjobs.engine.steplog import MAX_LOG_BYTES, MAX_LOG_LINES, OutputLog

KEY = models.JobKey("JOB", "00000001")
NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)


def texts(entries: list[models.LogEntry]) -> list[str]:
    return [e.text for e in entries]


def drain(log: OutputLog) -> list[str]:
    """Read and commit what the running step wrote so far."""
    entries = log.read(NOW)
    log.logged()
    return texts(entries)


def write(path: pathlib.Path, data: bytes) -> None:
    with path.open("ab") as f:
        f.write(data)


def test_only_whole_lines_are_logged_while_the_step_runs_and_the_rest_at_its_end(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "out.log"
    path.touch()
    log = OutputLog(path, KEY, 1)
    assert not log.grew()
    write(path, b"first\nhal")
    assert log.grew()
    assert drain(log) == ["first"]
    assert log.grew()  # the half line is still to come
    assert drain(log) == []
    write(path, b"f a line\nlast, no newline")
    assert drain(log) == ["half a line"]
    final = log.read(NOW, final=True)
    assert texts(final) == ["last, no newline"]
    assert [e.source for e in final] == ["stdout"]
    assert not path.exists()  # at the end the file is gone


def test_entries_not_stored_are_read_again(tmp_path: pathlib.Path) -> None:
    """A look whose write failed (a full disk) did not log anything: the next one reads the same lines."""
    path = tmp_path / "out.log"
    path.write_bytes(b"a\nb\n")
    log = OutputLog(path, KEY, 2)
    assert texts(log.read(NOW)) == ["a", "b"]  # not committed
    assert texts(log.read(NOW)) == ["a", "b"]
    log.logged()
    assert texts(log.read(NOW)) == []
    log.logged()
    assert texts(log.read(NOW, final=True)) == []


chunks = st.lists(
    st.binary(max_size=40) | st.sampled_from([b"\n", b"\r\n", b"\r", "é\n".encode(), b"\xff\n", b"\x00\n"])
)


@settings(max_examples=200, deadline=None)
@given(pieces=chunks)
def test_lines_read_in_pieces_are_the_lines_of_the_whole_file(tmp_path_factory: pytest.TempPathFactory, pieces) -> None:
    path = tmp_path_factory.mktemp("pieces") / "out.log"
    path.touch()
    log = OutputLog(path, KEY, 1)
    seen: list[str] = []
    for piece in pieces:
        write(path, piece)
        seen += drain(log)
    whole = b"".join(pieces).decode("utf-8", errors="replace").replace("\x00", "\ufffd").splitlines()
    seen += texts(log.read(NOW, final=True))
    assert seen == whole


def test_the_line_limit_holds_across_looks_and_is_noted_once(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "out.log"
    path.write_bytes(b"x\n" * (MAX_LOG_LINES - 3))
    log = OutputLog(path, KEY, 3)
    assert len(drain(log)) == MAX_LOG_LINES - 3
    write(path, b"y\n" * 5)
    got = drain(log)
    assert got == ["y"] * 3 + ["Output of step 3 was cut after 10000 lines."]
    assert path.exists()  # the step still writes into it
    write(path, b"z\n")
    assert not log.grew()
    assert drain(log) == []
    assert path.exists()  # a look after the cut leaves the file to the step too
    assert texts(log.read(NOW, final=True)) == []
    assert not path.exists()  # cut or not, the file goes when the step ends


def test_exactly_the_line_limit_is_not_cut_and_the_next_lines_are(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "out.log"
    path.write_bytes(b"x\n" * MAX_LOG_LINES)
    log = OutputLog(path, KEY, 1)
    assert len(drain(log)) == MAX_LOG_LINES
    assert not log.cut
    write(path, b"one more\nand another\n")
    assert drain(log) == ["Output of step 1 was cut after 10000 lines."]
    path.unlink()  # gone already (a cleaned-up data directory): the end of the step is no error
    assert texts(log.read(NOW, final=True)) == []


def test_a_missing_file_has_not_grown_and_logs_nothing(tmp_path: pathlib.Path) -> None:
    log = OutputLog(tmp_path / "never-made.log", KEY, 1)
    assert not log.grew()
    assert log.read(NOW) == []
    assert log.read(NOW, final=True) == []


@pytest.mark.parametrize("final", [False, True], ids=["while running", "at the end"])
def test_the_byte_limit_cuts_and_says_after_how_many_lines(tmp_path: pathlib.Path, final: bool) -> None:
    path = tmp_path / "out.log"
    line = b"x" * 1023 + b"\n"  # 1 KiB a line: 4096 lines fill the limit exactly
    path.write_bytes(line * 4096)
    log = OutputLog(path, KEY, 1)
    assert len(drain(log)) == 4096
    assert not log.cut  # exactly the limit is not over it
    write(path, b"more\n")
    got = texts(log.read(NOW, final=final))
    assert got == ["Output of step 1 was cut after 4096 lines."]
    assert log.offset == MAX_LOG_BYTES


def test_recovery_logs_only_what_the_dead_worker_had_not(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "out.log"
    path.write_bytes(b"one\ntwo\nthree\nfour")
    logged = [
        models.LogEntry(KEY, 1, NOW, models.Severity.INFO, "engine", "Step 1 started: ..."),
        models.LogEntry(KEY, 1, NOW, models.Severity.INFO, "stdout", "one"),
        models.LogEntry(KEY, 1, NOW, models.Severity.INFO, "stdout", "two"),
        models.LogEntry(KEY, 2, NOW, models.Severity.INFO, "stdout", "of another step"),
    ]
    assert texts(steplog.rest_of(path, KEY, 1, logged, NOW)) == ["three", "four"]
    assert not path.exists()


def test_recovery_adds_nothing_after_a_cut_and_nothing_for_a_missing_file(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "out.log"
    path.write_bytes(b"x\n" * 5)
    cut = models.LogEntry(KEY, 1, NOW, models.Severity.WARNING, "engine", "Output of step 1 was cut after 2 lines.")
    assert steplog.rest_of(path, KEY, 1, [cut], NOW) == []
    assert not path.exists()
    assert steplog.rest_of(path, KEY, 1, [cut], NOW) == []
    assert steplog.rest_of(path, KEY, 1, [], NOW) == []


def test_nul_and_bytes_that_are_not_utf8_become_the_replacement_character(tmp_path: pathlib.Path) -> None:
    """PostgreSQL's text holds no NUL: a step that prints one must not break the write of its log."""
    path = tmp_path / "out.log"
    path.write_bytes(b"a\x00b\n\xffc\nd\x00")
    log = OutputLog(path, KEY, 1)
    assert drain(log) == ["a\ufffdb", "\ufffdc"]
    assert texts(log.read(NOW, final=True)) == ["d\ufffd"]
