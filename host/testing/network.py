"""A guard that makes any connection beyond loopback fail loudly in tests.

Tests talk to servers they start on 127.0.0.1; a test that would reach a real
endpoint (a hosted model, a public API) is a bug. Within :func:`loopback_only`,
resolving a name other than loopback, or connecting or sending a datagram to an
address outside 127.0.0.0/8 and ::1, raises :class:`RealNetworkError` before
anything leaves the machine. Connecting is guarded at ``socket.socket.connect``
and ``connect_ex``, which asyncio's ``sock_connect``, ``create_connection`` and
``open_connection`` also use, so literal IP addresses are caught as well as
names; datagrams at ``socket.socket.sendto``, which DNS clients such as dnspython
use. Unix sockets are allowed. The block gets the list of the addresses it refused,
so a caller can fail a test even when the code under test swallowed the error.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Iterator
from typing import Any
from unittest import mock

_LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost"})


class RealNetworkError(RuntimeError):
    """A test tried to reach a host other than loopback."""


def _is_loopback(host: object) -> bool:
    """Whether ``host`` (a name or an IP address, as text or bytes) is this machine."""
    name = host.decode() if isinstance(host, bytes) else str(host)
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@contextlib.contextmanager
def loopback_only(who: str = "test") -> Iterator[list[str]]:
    """Within the block, resolving, connecting or sending to a non-loopback host raises.

    ``who`` names the culprit in the error; the block receives the list of refused
    addresses (``'host':port``), in order.
    """
    refused: list[str] = []
    resolve = socket.getaddrinfo
    connect = socket.socket.connect
    connect_ex = socket.socket.connect_ex
    sendto = socket.socket.sendto

    def check(host: object, port: object) -> None:
        if not _is_loopback(host):
            name = host.decode() if isinstance(host, bytes) else host
            address = f"{name!r}:{port}" if port is not None else repr(name)
            refused.append(address)
            raise RealNetworkError(f"{who} tried to reach {address}; only loopback is allowed")

    def guarded_getaddrinfo(host: Any, port: Any = None, *args: Any, **kwargs: Any) -> Any:
        check(host, port)
        return resolve(host, port, *args, **kwargs)

    def guarded_sendto(sock: socket.socket, data: Any, *flags_and_address: Any) -> int:
        address = flags_and_address[-1] if flags_and_address else None
        if sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
            check(address[0], address[1])
        return sendto(sock, data, *flags_and_address)

    def guarded_connect(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            check(address[0], address[1])
        connect(sock, address)

    def guarded_connect_ex(sock: socket.socket, address: Any) -> int:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            check(address[0], address[1])
        return connect_ex(sock, address)

    with (
        mock.patch.object(socket, "getaddrinfo", guarded_getaddrinfo),
        mock.patch.object(socket.socket, "connect", guarded_connect),
        mock.patch.object(socket.socket, "connect_ex", guarded_connect_ex),
        mock.patch.object(socket.socket, "sendto", guarded_sendto),
    ):
        yield refused
