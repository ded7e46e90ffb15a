"""Request ids: every answer names its request in ``x-correlationid``, and so do its log lines and audit entries.

A scheduler that sends its own ``x-correlationid`` (a sane token: letters,
digits, ``. _ : -``, at most 64) gets it back and finds it in our logs and
audit log; otherwise the server makes one (32 hex digits). SAP's cloud
services answer with the same header. The id is bound for the request's
task (:func:`appjobs.logs.bind`), and context variables follow it into the
thread pool, so a log line or an audit entry written anywhere while the
request is served carries it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.types import Message, Send

from appjobs import logs

HEADER = "x-correlationid"


def request_id(headers: Headers) -> str:
    """The request's id: the client's when it is a sane token, else a new random one (:func:`.logs.request_id`)."""
    return logs.request_id(headers.get(HEADER))


def answering(send: Send, request_id: str, observe: Callable[[int, float], None] | None = None) -> Send:
    """*send*, adding the ``x-correlationid`` header to the answer's start.

    With *observe*, also calls ``observe(status, seconds)`` when the answer's
    last byte is handed over, for the request metrics.
    """
    header = (HEADER.encode(), request_id.encode())
    began = time.perf_counter()
    status = 0

    async def sending(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), header]
            status = message["status"]
        await send(message)
        if observe is not None and message["type"] == "http.response.body" and not message.get("more_body"):
            observe(status, time.perf_counter() - began)

    return sending
