"""A guard that makes any connection beyond loopback fail loudly in tests.

Tests talk to servers they start on 127.0.0.1; a test that would reach a real
endpoint (a hosted model, a public API) is a bug, so name resolution of any
other host raises :class:`RealNetworkError` instead of leaving the machine.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import Any

_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1", "ip6-localhost"})


class RealNetworkError(RuntimeError):
    """A test tried to reach a host other than loopback."""


@contextlib.contextmanager
def loopback_only() -> Iterator[None]:
    """Within the block, resolving or connecting to a non-loopback host raises."""
    original = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in _LOOPBACK and not name.startswith("127."):
            raise RealNetworkError(f"test tried to reach {name!r}; only loopback is allowed")
        return original(host, *args, **kwargs)

    socket.getaddrinfo = guarded
    try:
        yield
    finally:
        socket.getaddrinfo = original
