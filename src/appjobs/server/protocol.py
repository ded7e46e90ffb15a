"""uvicorn's httptools protocol, taught SAP's 414 and to pass the client certificate on.

httptools cannot parse a request target longer than 65,535 bytes (its URL
parser keeps offsets in 16 bits), and uvicorn then answers a bare
``400 Invalid HTTP request received.`` before our application sees the
request. SAP's gateway refuses such URLs too (at about 64,700 characters);
clients that build long JobParameterValues need to know *why*, so we send
414 with an SAP error document instead. Every other parse error keeps
uvicorn's answer.

A header value with a carriage return that does not end its line (a "bare
CR") is refused by the parser too, as RFC 9112 allows, before our application
sees the request; h11 refuses it the same way. Shell scripts make such values
when they cut a header out of curl's output and keep its CR (the SAP guide's
sample does, for the CSRF token), and the bare ``Invalid HTTP request
received.`` leaves their authors guessing, so that 400 says what is wrong.
Parsing itself is not loosened: blanks and tabs around a value were always
dropped, as HTTP says; a CR never is.

uvicorn does not fill ASGI's ``tls`` extension, so the OData endpoint could
not learn which client certificate a request came with. The TLS handshake
is over by the time a connection is made (asyncio and uvloop call
``connection_made`` after it), so the certificate is read once per
connection there, and each request's scope gets the extension.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from appjobs.server.config import MAX_URL
from appjobs.server.errors import UriTooLong, raw_error
from appjobs.server.slowclients import HeadGuard
from appjobs.server.tls import scope_extension

BARE_CR = re.compile(rb"\r(?!\n)")
BARE_CR_MESSAGE = (
    "Invalid HTTP request received: a header value contains a carriage return (CR) that does not end its line. "
    "Remove it from the value (a CSRF token cut from curl's output keeps the CR: pipe it through tr -d '\\r')."
)


class SapHttpProtocol(HeadGuard):
    """uvicorn's HttpToolsProtocol with a 414 for request targets past :data:`MAX_URL`, and the ``tls`` scope extension.

    It is a :class:`~appjobs.server.slowclients.HeadGuard` as well: late or huge request heads are refused.
    """

    tls: dict[str, Any] | None = None  #: the connection's ASGI ``tls`` extension; None on plain HTTP
    received: bytes = b""  #: the last bytes received, to explain a 400 of the parser

    def data_received(self, data: bytes) -> None:
        self.received = data
        super().data_received(data)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.tls = scope_extension(transport.get_extra_info("ssl_object"))

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.tls is not None:
            # A copy per request: the application may write into its scope, and the next request must not see it.
            self.scope["extensions"] = {"tls": dict(self.tls)}  # type: ignore[typeddict-unknown-key]

    def send_400_response(self, msg: str) -> None:
        if len(self.url) <= MAX_URL:
            head = self.received.partition(b"\r\n\r\n")[0]
            super().send_400_response(BARE_CR_MESSAGE if BARE_CR.search(head) else msg)
            return
        status, headers, body = raw_error(UriTooLong(too_long_message()))
        lines = [f"HTTP/1.1 {status} URI Too Long\r\n".encode()]
        lines += [name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers]
        lines += [f"{name}: {value}\r\n".encode() for name, value in headers.items()]
        lines += [f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode(), body]
        self.transport.write(b"".join(lines))
        self.transport.close()


def too_long_message() -> str:
    return f"The request URI is longer than {MAX_URL} characters."
