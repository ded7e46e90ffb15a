"""File uploads on the pages (a template file, a certificate): bounded in size before they are read.

Starlette's form parser bounds the size of each plain field, but spools
an uploaded file to disk whatever its size. :class:`LimitedBody` wraps the
endpoints that take a file and refuses a body over the limit before the
form is parsed: by its Content-Length (413 and a page that says so), or,
for a body sent without one, by counting as it arrives: past the limit
the form's reader is told the client went away, and the answer is the
same 413.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from typing import Any

from starlette.datastructures import FormData, Headers, UploadFile
from starlette.requests import ClientDisconnect, Request
from starlette.routing import request_response
from starlette.types import Message, Receive, Scope, Send

from appjobs import errors
from appjobs.web.rendering import render
from appjobs.web.security import MAX_FORM

#: Room for the form's other fields and the multipart boundaries around a file of MAX_FORM bytes.
ENVELOPE = 64 * 1024


class LimitedBody:
    """An ASGI endpoint (wrapping a page function) whose request body may have at most *limit* bytes."""

    def __init__(self, endpoint: Callable[[Request], Any], limit: int = MAX_FORM + ENVELOPE) -> None:
        self.app = request_response(endpoint)
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        length = Headers(scope=scope).get("content-length", "")
        if length.isdigit() and int(length) > self.limit:
            await self._too_large(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            return {"type": "http.disconnect"} if seen > self.limit else message

        try:
            await self.app(scope, counted, send)
        except ClientDisconnect:
            if seen <= self.limit:
                raise  # the client went away by itself: nobody to answer
            await self._too_large(scope, receive, send)  # the form was being read: nothing was answered yet

    @staticmethod
    async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
        message = f"The upload is too large: a file may have at most {MAX_FORM // 1024} KiB."
        await render(Request(scope), "error.html", 413, error=message)(scope, receive, send)


def uploaded(form: FormData, field: str) -> tuple[str, bytes] | None:
    """The file uploaded as *field*: its name (without any directory) and bytes; None when none was chosen.

    :class:`~appjobs.errors.InvalidInput` when it is larger than MAX_FORM
    (the body limit leaves room for the other fields, so check the file too).
    """
    upload = form.get(field)
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    data = upload.file.read(MAX_FORM + 1)
    if len(data) > MAX_FORM:
        raise errors.InvalidInput(f"{upload.filename} is too large: a file may have at most {MAX_FORM // 1024} KiB")
    return pathlib.PurePosixPath(upload.filename.replace("\\", "/")).name, data
