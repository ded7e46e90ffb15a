"""A step cgroup that another worker removes while this one reads it: empty, not a crash of the worker.

Workers of several installations may share one cgroup base; recovery lists every step cgroup under it
and reads each one's ``cgroup.events``. The kernel answers ENODEV for a cgroup in the middle of its
removal (seen in CI: the worker exited at start).
"""

from __future__ import annotations

import errno
import pathlib

import pytest

from appjobs.engine import cgroups


def test_a_cgroup_being_removed_is_empty(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cgroup.events").write_text("populated 1\n")
    (tmp_path / "cgroup.procs").write_text("4242\n")
    group = cgroups.StepGroup(tmp_path)
    assert group.populated()
    real = pathlib.Path.read_text

    def removed(path: pathlib.Path, *args: object, **kwargs: object) -> str:
        if path.name in ("cgroup.events", "cgroup.procs"):
            raise OSError(errno.ENODEV, "No such device")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "read_text", removed)
    assert not group.populated()
    assert group.pids() == []


def test_other_errors_still_raise(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(path: pathlib.Path, *args: object, **kwargs: object) -> str:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(pathlib.Path, "read_text", denied)
    with pytest.raises(PermissionError):
        cgroups.StepGroup(tmp_path).populated()
