"""Request bodies on the pages: bounded in size before they are read, and the files uploaded in them.

Starlette's form parser bounds the size of each plain field, but spools an
uploaded file to disk whatever its size, and a multipart body may carry a
file to any form, the logon form too. :class:`BodyLimit` sits in front of
every page and refuses a body over the limit before the form is parsed: by
its Content-Length (413 and a page that says so), or, for a body sent
without one, by counting as it arrives: past the limit the form's reader is
told the client went away, and the answer is the same 413. The logon form,
which anybody may post to, gets a small limit; the forms of logged-on users
room for one uploaded file of :data:`MAX_FORM` bytes.
"""

from __future__ import annotations

import pathlib

from starlette.datastructures import FormData, Headers, UploadFile
from starlette.requests import ClientDisconnect, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from appjobs import errors
from appjobs.web.rendering import PREFIX, render
from appjobs.web.security import MAX_FORM

#: Room for the form's other fields and the multipart boundaries around a file of MAX_FORM bytes.
ENVELOPE = 64 * 1024
LOGON_LIMIT = 16 * 1024  #: a user name, a password and two tokens: far less than this


class BodyLimit:
    """ASGI middleware: a request body may have at most *limit* bytes (the logon form's: *logon_limit*)."""

    def __init__(self, app: ASGIApp, limit: int = MAX_FORM + ENVELOPE, logon_limit: int = LOGON_LIMIT) -> None:
        self.app = app
        self.limit = limit
        self.logon_limit = logon_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        limit = self.logon_limit if scope["path"] == PREFIX + "/logon" else self.limit
        length = Headers(scope=scope).get("content-length", "")
        if length.isdigit() and int(length) > limit:
            await _too_large(scope, receive, send, limit)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            return {"type": "http.disconnect"} if seen > limit else message

        try:
            await self.app(scope, counted, send)
        except ClientDisconnect:
            if seen <= limit:
                raise  # the client went away by itself: nobody to answer
            await _too_large(scope, receive, send, limit)  # the form was being read: nothing was answered yet


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    message = f"The request is too large: a form may have at most {limit // 1024} KiB (a file {MAX_FORM // 1024} KiB)."
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
