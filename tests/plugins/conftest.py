"""Fixtures shared by the native plugin specifications."""

import socket

import pytest


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on, so connecting to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
