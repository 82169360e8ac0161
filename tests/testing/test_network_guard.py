"""``loopback_only()``: loopback resolves and connects, anything else fails loudly.

Each test runs in its own ``loopback_only()`` block; the plugin's guard, which would
fail a test for the refusals these tests provoke on purpose, is opted out of.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from host.testing.network import RealNetworkError, loopback_only

pytestmark = pytest.mark.allow_network

REAL_ADDRESSES = [
    (socket.AF_INET, ("192.0.2.1", 80)),
    (socket.AF_INET, ("198.51.100.7", 443)),
    (socket.AF_INET6, ("2001:db8::1", 80, 0, 0)),
    (socket.AF_INET6, ("::ffff:192.0.2.1", 80, 0, 0)),
]
REAL_IDS = ["ipv4", "ipv4 https", "ipv6", "ipv4-mapped ipv6"]

LOOKUPS: dict[str, Callable[[str], object]] = {
    "getaddrinfo": lambda host: socket.getaddrinfo(host, 443),
    "getnameinfo": lambda host: socket.getnameinfo((host, 443), 0),
    "gethostbyname": lambda host: socket.gethostbyname(host),
    "gethostbyname_ex": lambda host: socket.gethostbyname_ex(host),
    "gethostbyaddr": lambda host: socket.gethostbyaddr(host),
}
"""Each name lookup of ``socket``, asking for one host, looked up when called."""


@pytest.fixture(autouse=True)
def refused() -> Iterator[list[str]]:
    """The addresses the test's own guard refused."""
    with loopback_only("the guarded block") as addresses:
        yield addresses


def _ipv6_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.fixture(params=[(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")], ids=["v4", "v6"])
def listener(request: pytest.FixtureRequest) -> Iterator[tuple[socket.AddressFamily, str, int]]:
    """A loopback socket listening on a free port: its family, host and port."""
    family, host = request.param
    if family == socket.AF_INET6 and not _ipv6_available():
        pytest.skip("no IPv6 loopback on this machine")
    with socket.socket(family, socket.SOCK_STREAM) as server:
        server.bind((host, 0))
        server.listen()
        yield family, host, server.getsockname()[1]


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Each lookup answered by a fake that lists its own name, under a guard of its own:
    which lookups would have reached the resolver, none reaching a real one."""
    asked: list[str] = []
    for name in LOOKUPS:
        monkeypatch.setattr(socket, name, lambda *_, name=name, **__: asked.append(name))
    with loopback_only("the guarded block"):
        yield asked


@pytest.mark.parametrize("host", ["example.invalid", "pypi.org", "192.0.2.1"])
@pytest.mark.parametrize("lookup", LOOKUPS)
def test_looking_up_another_host_fails_before_the_resolver(
    lookup: str, host: str, resolver: list[str]
) -> None:
    """Kills: a lookup left unguarded (the name leaks to a DNS server, and the test hangs
    offline), the host checked after resolving, a message without the host."""
    with pytest.raises(RealNetworkError, match=f"tried to reach {re.escape(repr(host))}"):
        LOOKUPS[lookup](host)
    assert resolver == []


@pytest.mark.parametrize(
    "host", ["localhost", "127.0.0.1", "::1", socket.gethostname(), socket.gethostname().upper()]
)
@pytest.mark.parametrize("lookup", LOOKUPS)
def test_looking_up_this_machine_reaches_the_resolver(
    lookup: str, host: str, resolver: list[str]
) -> None:
    """Kills: the machine's own name refused (``socket.getfqdn()`` asks for it, so
    ``smtplib`` and ``make_msgid`` broke), a guarded lookup calling another one."""
    LOOKUPS[lookup](host)
    assert resolver == [lookup]


def test_connecting_by_the_machine_s_own_name_is_refused() -> None:
    """Kills: the own name let through for connections too (only lookups may name the
    machine; in a container the name is an interface's address, not loopback)."""
    if socket.gethostname() in ("localhost", "ip6-localhost"):
        pytest.skip("this machine's name is a loopback name")
    with socket.socket() as sock, pytest.raises(RealNetworkError, match="only loopback"):
        sock.settimeout(1)
        sock.connect((socket.gethostname(), 80))


@pytest.mark.parametrize("host", ["example.com", "api.openai.com", b"archive-api.open-meteo.com"])
def test_resolving_a_real_host_fails(host: str | bytes) -> None:
    with pytest.raises(RealNetworkError, match="only loopback"):
        socket.getaddrinfo(host, 443)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_resolves(host: str) -> None:
    assert socket.getaddrinfo(host, 80)


@pytest.mark.parametrize(("family", "address"), REAL_ADDRESSES, ids=REAL_IDS)
def test_sending_a_datagram_to_a_literal_real_address_fails(
    family: socket.AddressFamily, address: tuple[object, ...]
) -> None:
    """Kills: ``sendto`` left unguarded: a DNS client (dnspython) queries a resolver so."""
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        with pytest.raises(RealNetworkError, match="only loopback"):
            sock.sendto(b"x", address)
        with pytest.raises(RealNetworkError, match="only loopback"):
            sock.sendto(b"x", 0, address)


def test_a_datagram_to_loopback_is_sent() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock,
    ):
        server.bind(("127.0.0.1", 0))
        sock.sendto(b"ping", server.getsockname())
        assert server.recv(4) == b"ping"


@pytest.mark.parametrize(("family", "address"), REAL_ADDRESSES, ids=REAL_IDS)
@pytest.mark.parametrize("method", ["connect", "connect_ex"])
def test_connecting_to_a_literal_real_address_fails(
    family: socket.AddressFamily, address: tuple[object, ...], method: str
) -> None:
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)  # bounds the attempt if the guard ever lets it through
        with pytest.raises(RealNetworkError, match="only loopback"):
            getattr(sock, method)(address)


def test_connecting_by_a_real_name_fails() -> None:
    """``connect`` resolves names in C, past ``socket.getaddrinfo``; the name is checked."""
    with socket.socket() as sock:
        sock.settimeout(1)
        with pytest.raises(RealNetworkError, match="only loopback"):
            sock.connect(("example.invalid", 80))


@pytest.mark.parametrize("host", ["192.0.2.1", "2001:db8::1"])
async def test_asyncio_open_connection_to_a_literal_real_address_fails(host: str) -> None:
    with pytest.raises(RealNetworkError, match="only loopback"):
        await asyncio.wait_for(asyncio.open_connection(host, 80), timeout=5)


async def test_asyncio_sock_connect_to_a_literal_real_address_fails() -> None:
    with socket.socket() as sock:
        sock.setblocking(False)
        with pytest.raises(RealNetworkError, match="only loopback"):
            await asyncio.wait_for(
                asyncio.get_running_loop().sock_connect(sock, ("192.0.2.1", 80)), timeout=5
            )


def test_loopback_connects(listener: tuple[socket.AddressFamily, str, int]) -> None:
    family, host, port = listener
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.connect((host, port))
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        assert sock.connect_ex((host, port)) == 0


async def test_loopback_connects_with_asyncio(
    listener: tuple[socket.AddressFamily, str, int],
) -> None:
    _, host, port = listener
    _, writer = await asyncio.open_connection(host, port)
    writer.close()
    await writer.wait_closed()


def test_unix_sockets_connect(tmp_path: Path) -> None:
    path = str(tmp_path / "socket")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(path)


def test_each_refusal_is_listed_and_names_the_culprit_and_address(refused: list[str]) -> None:
    """Kills: a refusal not recorded (a caught one would then pass unseen), a message
    without the culprit or the port."""
    with pytest.raises(RealNetworkError) as raised:
        socket.getaddrinfo("api.openai.com", 443)
    with socket.socket() as sock, pytest.raises(RealNetworkError):
        sock.connect(("192.0.2.1", 80))

    assert str(raised.value) == (
        "the guarded block tried to reach 'api.openai.com':443; only loopback is allowed"
    )
    assert refused == ["'api.openai.com':443", "'192.0.2.1':80"]


def test_loopback_is_not_listed(refused: list[str]) -> None:
    socket.getaddrinfo("localhost", 80)

    assert refused == []
