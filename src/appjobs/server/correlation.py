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

from starlette.datastructures import Headers

from appjobs import logs

HEADER = "x-correlationid"
HEADER_BYTES = HEADER.encode()


def request_id(headers: Headers) -> str:
    """The request's id: the client's when it is a sane token, else a new random one (:func:`.logs.request_id`)."""
    return logs.request_id(headers.get(HEADER))
