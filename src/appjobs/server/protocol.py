"""uvicorn's httptools protocol, taught to answer an over-long URL with SAP's 414.

httptools cannot parse a request target longer than 65,535 bytes (its URL
parser keeps offsets in 16 bits), and uvicorn then answers a bare
``400 Invalid HTTP request received.`` before our application sees the
request. SAP's gateway refuses such URLs too (at about 64,700 characters);
clients that build long JobParameterValues need to know *why*, so we send
414 with an SAP error document instead. Every other parse error keeps
uvicorn's answer.
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from appjobs.server.config import MAX_URL
from appjobs.server.errors import UriTooLong, raw_error


class SapHttpProtocol(HttpToolsProtocol):
    """HttpToolsProtocol with a 414 for request targets past :data:`MAX_URL`."""

    def send_400_response(self, msg: str) -> None:
        if len(self.url) <= MAX_URL:
            super().send_400_response(msg)
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
