"""A guard that makes any connection beyond loopback fail loudly in tests.

Tests talk to servers they start on 127.0.0.1; a test that would reach a real
endpoint (a hosted model, a public API) is a bug. Within :func:`loopback_only`,
resolving a name other than loopback, or connecting or sending a datagram to an
address outside 127.0.0.0/8 and ::1, raises :class:`RealNetworkError` before
anything leaves the machine. Every lookup is guarded (``getaddrinfo``,
``gethostbyname``, ``gethostbyname_ex``, ``gethostbyaddr``, ``getnameinfo``), so a
refused name never reaches a resolver; a lookup may also ask for the machine's own
name (``socket.gethostname()``), as ``socket.getfqdn()`` does for ``smtplib`` and
``email.utils.make_msgid``. Connecting is guarded at ``socket.socket.connect`` and
``connect_ex``, which asyncio's ``sock_connect``, ``create_connection`` and
``open_connection`` also use, so literal IP addresses are caught as well as names;
datagrams at ``socket.socket.sendto``, which DNS clients such as dnspython use. Unix
sockets are allowed. The block gets the list of the addresses it refused, so a
caller can fail a test even when the code under test swallowed the error.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Callable, Iterator
from typing import Any, TypeVar
from unittest import mock

_LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost"})

_T = TypeVar("_T")


class RealNetworkError(RuntimeError):
    """A test tried to reach a host other than loopback."""


def _is_own_name(host: object) -> bool:
    """Whether ``host`` is this machine's own name, as ``socket.gethostname()`` gives it."""
    name = host.decode() if isinstance(host, bytes) else str(host)
    return name.lower() == socket.gethostname().lower()


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
    name_info = socket.getnameinfo
    connect = socket.socket.connect
    connect_ex = socket.socket.connect_ex
    sendto = socket.socket.sendto

    def check(host: object, port: object, *, lookup: bool = False) -> None:
        if not (_is_loopback(host) or (lookup and _is_own_name(host))):
            name = host.decode() if isinstance(host, bytes) else host
            address = f"{name!r}:{port}" if port is not None else repr(name)
            refused.append(address)
            raise RealNetworkError(f"{who} tried to reach {address}; only loopback is allowed")

    def guarded_getaddrinfo(host: Any, port: Any = None, *args: Any, **kwargs: Any) -> Any:
        check(host, port, lookup=True)
        return resolve(host, port, *args, **kwargs)

    def guarded_getnameinfo(address: Any, flags: int) -> tuple[str, str]:
        check(address[0], address[1], lookup=True)
        return name_info(address, flags)

    def guarded_by_name(lookup: Callable[[str], _T]) -> Callable[[str], _T]:
        """``gethostbyname``, ``gethostbyname_ex`` or ``gethostbyaddr``, guarded."""

        def guarded(host: str) -> _T:
            check(host, None, lookup=True)
            return lookup(host)

        return guarded

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
        mock.patch.object(socket, "getnameinfo", guarded_getnameinfo),
        mock.patch.object(socket, "gethostbyname", guarded_by_name(socket.gethostbyname)),
        mock.patch.object(socket, "gethostbyname_ex", guarded_by_name(socket.gethostbyname_ex)),
        mock.patch.object(socket, "gethostbyaddr", guarded_by_name(socket.gethostbyaddr)),
        mock.patch.object(socket.socket, "connect", guarded_connect),
        mock.patch.object(socket.socket, "connect_ex", guarded_connect_ex),
        mock.patch.object(socket.socket, "sendto", guarded_sendto),
    ):
        yield refused
