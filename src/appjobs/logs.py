"""Log lines for people and for log stacks: text or JSON, naming the request, user and job they concern.

``appjobs serve`` and ``appjobs worker`` take ``--log-format text|json`` and
``--log-level``. In JSON every line is one object::

    {"time": "2026-12-06T08:00:00.123456Z", "level": "INFO", "logger": "appjobs.engine.worker",
     "message": "…", "request_id": "…", "user": "JOBSCHEDULERUSER", "job": "NAME/RUNCOUNT"}

``request_id``, ``user`` and ``job`` appear where they apply: the code that
serves a request or runs a job binds them (:func:`bound`) for everything
logged meanwhile, in context variables, so they follow the request into the
thread pool and never leak into another request. A record may also carry
them itself (``logger.info(…, extra={"job": "…"})``).
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import itertools
import json
import logging
import os
import re
import sys
from collections.abc import Iterator
from typing import IO

FORMATS = ("text", "json")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
FIELDS = ("request_id", "user", "job")

_ID_PREFIX = os.urandom(8).hex()
_ID_COUNTER = itertools.count(1)
_SANE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")

_context: dict[str, contextvars.ContextVar[str | None]] = {
    name: contextvars.ContextVar(f"appjobs_log_{name}", default=None) for name in FIELDS
}


@contextlib.contextmanager
def bound(**values: str | None) -> Iterator[None]:
    """Name *values* (request_id, user, job) in every line logged inside the block."""
    tokens = [(_context[name], _context[name].set(value)) for name, value in values.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def request_id(given: str | None) -> str:
    """A request's id: *given* (the client's ``x-correlationid``) when it is a sane token, else a new random one.

    Sane: letters, digits, ``. _ : -``, at most 64 characters; anything else
    could forge log lines or fill the logs, so it is replaced, not escaped.
    """
    if given and _SANE_ID.match(given):
        return given
    # A random prefix per process and a counter: unique, and a tenth of the cost of 16 random bytes a request.
    return f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"


def bind(**values: str | None) -> None:
    """Like :func:`bound`, for the rest of the current context (a request's task or thread)."""
    for name, value in values.items():
        _context[name].set(value)


def current(name: str) -> str | None:
    """The value bound for *name* here, or None."""
    return _context[name].get()


def _fields(record: logging.LogRecord) -> dict[str, str]:
    found = {}
    for name in FIELDS:
        value = getattr(record, name, None) or _context[name].get()
        if value:
            found[name] = str(value)
    return found


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, and the bound fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message [request_id=… user=… job=…]``, for people reading a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = _fields(record)
        if not fields:
            return text
        head, newline, rest = text.partition("\n")  # after the message, before a traceback
        return head + " [" + " ".join(f"{k}={v}" for k, v in fields.items()) + "]" + newline + rest


def is_json() -> bool:
    """Whether the logs are configured as JSON lines (then stderr must carry nothing else)."""
    return any(isinstance(h.formatter, JsonFormatter) for h in logging.getLogger().handlers)


def configure(log_format: str = "text", level: str = "INFO", stream: IO[str] | None = None) -> None:
    """Send appjobs' logs (and every library's) to *stream* (stderr) in *log_format* at *level*."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Alembic narrates every migration check at INFO; only its warnings matter to an operator.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
