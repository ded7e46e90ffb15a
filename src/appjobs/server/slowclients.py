"""Slow and greedy clients: a deadline for each request head, a bound on its size, a cap on connections.

uvicorn (0.54 here) has no request-head timeout. Its keep-alive timer
(``timeout_keep_alive``, 5 s) runs only between requests and is cancelled by
the first byte a client sends, and nothing at all runs on a fresh
connection: a client that sends one byte of a request line now and then
holds its connection, and a file descriptor, for ever (a "slowloris"). Nor
does its httptools protocol bound the size of a head (h11's
``h11_max_incomplete_event_size`` applies to the h11 protocol only).

The smallest sound fix is in the protocol class that we already give
uvicorn (``http=``), rather than a reverse proxy that every installation
would have to run: :class:`HeadGuard` starts a timer when a connection is
made and again when a response ends and the connection waits for the next
request, and cancels it when a request's head is complete. A head that has
not arrived by then gets ``408 Request Timeout`` and the connection is
closed; one that grows past :data:`MAX_HEAD` bytes gets ``431``. The body of
a request is not timed here: a request is read into memory only up to the
limits the OData layer sets, and its handler waits for it in a task, not
holding the event loop.

The cap on connections is uvicorn's ``limit_concurrency``: a request that
arrives while that many connections are open is answered ``503 Service
Unavailable`` at once. Idle keep-alive connections count too, until
uvicorn's keep-alive timer (5 s without a byte) closes them; connections
that never complete a head are closed by the timer above, so neither can
hold the cap for long. The TLS handshake, which comes before
``connection_made``, has asyncio's own timeout (60 s).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

DEFAULT_HEADER_TIMEOUT = 30.0  # seconds for a request head to arrive
DEFAULT_LIMIT_CONCURRENCY = 1000  # open connections; a request beyond them is answered 503
MAX_HEAD = 256 * 1024  # bytes of request line and headers: a URL of up to 64 KiB and plenty of headers


class HeadGuard(HttpToolsProtocol):
    """Closes a connection whose request head is late (408) or too large (431); mixed into our protocol class."""

    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    _head_timer: asyncio.TimerHandle | None = None
    _head_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_arrived()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        waiting = self._head_timer is not None
        super().data_received(data)
        if waiting and self._head_timer is not None:  # still no complete head after this data
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD:
                self._refuse(431, "Request Header Fields Too Large", "The request head is too large.")

    def on_headers_complete(self) -> None:
        self._head_arrived()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # uvicorn arms its keep-alive timer exactly when the connection now waits for a new request.
        if self.timeout_keep_alive_task is not None and not self.transport.is_closing():
            self._await_head()

    def _await_head(self) -> None:
        self._head_arrived()
        self._head_bytes = 0
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_late)

    def _head_arrived(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_late(self) -> None:
        self._head_timer = None
        if self._head_bytes:
            self._refuse(408, "Request Timeout", "The request head did not arrive in time.")
        elif not self.transport.is_closing():
            self.transport.close()  # nothing sent at all: nothing to answer

    def _refuse(self, status: int, reason: str, text: str) -> None:
        """Answer *status* in plain text and close, as uvicorn answers a request it cannot parse."""
        self._head_arrived()
        if self.transport.is_closing():
            return
        body = text.encode()
        lines = [f"HTTP/1.1 {status} {reason}\r\n".encode()]
        lines += [name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers]
        lines += [b"content-type: text/plain; charset=utf-8\r\n", f"content-length: {len(body)}\r\n".encode()]
        lines += [b"connection: close\r\n\r\n", body]
        self.transport.write(b"".join(lines))
        self.transport.close()


def configured(protocol: type[HeadGuard], header_timeout: float) -> type[Any]:
    """*protocol* with its own *header_timeout*: uvicorn builds protocols from a class, without options of ours."""
    return type(protocol.__name__, (protocol,), {"header_timeout": header_timeout})


def uvicorn_limit(connections: int) -> int:
    """uvicorn's ``limit_concurrency`` for at most *connections* open connections.

    uvicorn answers 503 when the open connections, the one asking included,
    are at least its limit: so its limit is one more than the connections to serve.
    """
    return connections + 1
