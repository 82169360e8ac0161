"""The suite's network guard: loopback resolves, anything else fails loudly."""

from __future__ import annotations

import socket

import pytest

from host.testing.network import RealNetworkError


@pytest.mark.parametrize("host", ["example.com", "api.openai.com", b"archive-api.open-meteo.com"])
def test_resolving_a_real_host_fails(host: str | bytes) -> None:
    with pytest.raises(RealNetworkError, match="only loopback"):
        socket.getaddrinfo(host, 443)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_resolves(host: str) -> None:
    assert socket.getaddrinfo(host, 80)
