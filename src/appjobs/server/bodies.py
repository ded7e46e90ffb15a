"""``$batch`` bodies: read on the event loop before their logon is checked, so bounded, each and all together.

A ``$batch`` POST is the one request of the service whose body is read
(:mod:`.odata`); its logon runs in a worker thread, which cannot wait for
the body, so the body comes first. Each body may have at most
``MAX_BATCH_BODY`` bytes (413 past it), and all bodies being read by one
server at most a :class:`BodyBudget` (503 with ``Retry-After`` past it):
unauthenticated clients cannot make a server hold 16 MiB per connection.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import Receive

from appjobs.server.errors import BatchBodiesBusy, PayloadTooLarge


class BodyBudget:
    """Bytes of ``$batch`` bodies held at once by one server, at most *limit*; used on the event loop only.

    A body is read before its request's logon is checked (the logon runs in a
    worker thread, which cannot wait for the body), so without a bound
    unauthenticated clients could make the server hold 16 MiB per connection.
    """

    def __init__(self, limit: int) -> None:
        self.limit, self.held = limit, 0

    def take(self, size: int) -> None:
        """Hold *size* more bytes; :class:`BatchBodiesBusy` (503) when that would pass the limit."""
        if self.held + size > self.limit:
            raise BatchBodiesBusy("The server is reading as many $batch requests as it may at once; try again.")
        self.held += size

    def give_back(self, size: int) -> None:
        self.held -= size


async def read_body(receive: Receive, headers: Headers, limit: int, budget: BodyBudget) -> bytes:
    """The request's body, up to *limit* bytes, taken from *budget*; :class:`PayloadTooLarge` past *limit*.

    On an error the bytes read so far are given back; on success the caller gives back the body's length
    once the answer is sent.
    """
    length = headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise PayloadTooLarge(f"The request body has {length} bytes; a $batch request may have at most {limit}.")
    chunks, size = [], 0
    try:
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: nobody reads the answer
                budget.give_back(size)
                return b""
            chunk = message.get("body", b"")
            if size + len(chunk) > limit:
                raise PayloadTooLarge(
                    f"The request body has more than {limit} bytes, the most a $batch request may have."
                )
            budget.take(len(chunk))
            size += len(chunk)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)
    except BaseException:
        budget.give_back(size)
        raise
