"""The state file of ``appjobs run``: which job this run started, written before and after JobSchedule.

It is JSON, replaced atomically (write a temporary file, then rename), so a
crash never leaves half a file::

    {"url": "https://…;v=0002", "template": "/APPJOBS/DEMO_CHAIN",
     "text": "Nightly load [run 7Q2M4X9K]", "sent_at": "2026-11-28T12:00:00+00:00",
     "job_name": "38EAA71741401EE6BEA162EB5331DF9C", "run_count": "JtUpUsyH"}

``job_name`` and ``run_count`` are null until JobSchedule has answered; a
run resumed from such a file looks the job up by its ``text``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import pathlib

from appjobs import errors
from appjobs.client import JobKey


@dataclasses.dataclass(frozen=True)
class State:
    url: str
    template: str
    text: str
    sent_at: dt.datetime
    key: JobKey | None = None


def write(path: str, state: State) -> None:
    target = pathlib.Path(path)
    document = {
        "url": state.url,
        "template": state.template,
        "text": state.text,
        "sent_at": state.sent_at.isoformat(),
        "job_name": state.key.name if state.key else None,
        "run_count": state.key.run_count if state.key else None,
    }
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(json.dumps(document, indent=2) + "\n")
        os.replace(temporary, target)
    except OSError as exc:
        raise errors.ConfigurationError(f"cannot write the state file {path}: {exc.strerror}") from exc


def read(path: str) -> State:
    try:
        document = json.loads(pathlib.Path(path).read_text())
        key = JobKey(document["job_name"], document["run_count"]) if document.get("job_name") else None
        sent_at = dt.datetime.fromisoformat(document["sent_at"])
        return State(document["url"], document["template"], document["text"], sent_at, key)
    except OSError as exc:
        raise errors.ConfigurationError(f"cannot read the state file {path}: {exc.strerror}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise errors.ConfigurationError(f"{path} is not a state file of appjobs run: {exc}") from exc
