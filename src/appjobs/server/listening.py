"""The listening sockets of ``appjobs serve``, bound before anything else is set up.

uvicorn binds its port only once it starts, after the data directory has
been created and the one-time password printed; on a busy port it then
exits with a bare errno, and the password shown is for a server that never
ran. So :func:`bind` takes the port first, and uvicorn is handed the bound
sockets: no other process can take the port in between, and a busy port is
a usage error that names the option to change.

The addresses are resolved as asyncio's ``create_server`` does for uvicorn
(every address of the host name; IPv6 sockets IPv6 only, so that an IPv4
socket on the same port can sit beside them).
"""

from __future__ import annotations

import contextlib
import errno
import socket

from appjobs import errors


def bind(host: str, port: int) -> list[socket.socket]:
    """Bound sockets for every address of *host* on *port*; ConfigurationError when the port is taken.

    With *port* 0 the system picks a free port for the first address and the
    others use the same one, so the server is at one port whatever its host.
    """
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise errors.ConfigurationError(f"cannot listen on host {host!r}: {exc.strerror}; check --host") from exc
    bound: list[socket.socket] = []
    try:
        for family, kind, proto, _name, address in dict.fromkeys(infos):
            chosen = (address[0], bound[0].getsockname()[1], *address[2:]) if bound and port == 0 else address
            bound.append(_bind_one(family, kind, proto, chosen))
    except OSError as exc:
        for sock in bound:
            sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise errors.ConfigurationError(f"port {port} is in use; choose another with --port") from exc
        raise errors.ConfigurationError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return bound


def is_loopback(host: str) -> bool:
    """Whether *host* (``--host``) is reachable from this machine only: 127.0.0.0/8, ::1 or localhost."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def port_of(sockets: list[socket.socket]) -> int:
    """The port the server listens on (the one the system chose, for ``--port 0``)."""
    return int(sockets[0].getsockname()[1])


def _bind_one(family: int, kind: int, proto: int, address: tuple[object, ...]) -> socket.socket:
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart need not wait out TIME_WAIT
        if family == socket.AF_INET6:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)  # not listen() yet: until uvicorn serves, a client is refused rather than left waiting
    except BaseException:
        sock.close()
        raise
    sock.set_inheritable(False)
    return sock
