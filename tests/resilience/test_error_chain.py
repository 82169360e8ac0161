"""A plugin's own error is what the host reports, not a library internal it chose to hide."""

from __future__ import annotations

import socket

import httpx
import pytest

from host.errors import FunctionFailedError
from host.resilience.translation import translate

pytestmark = pytest.mark.reliability


def raise_hiding_the_lookup() -> None:
    try:
        {}["tzdata.zoneinfo.Mars"]
    except KeyError:
        raise ValueError("timezone 'Mars/Phobos' is not a known IANA time zone") from None


def raise_keeping_the_lookup() -> None:
    try:
        {}["tzdata.zoneinfo.Mars"]
    except KeyError as error:
        raise ValueError("timezone 'Mars/Phobos' is not a known IANA time zone") from error


@pytest.mark.parametrize(
    ("raiser", "named"),
    [(raise_hiding_the_lookup, "ValueError"), (raise_keeping_the_lookup, "KeyError")],
    ids=["from-None-hides-the-context", "from-error-keeps-the-cause"],
)
def test_the_reported_error_follows_causes_but_not_hidden_contexts(
    raiser: object, named: str
) -> None:
    try:
        raiser()  # type: ignore[operator]
    except ValueError as raised:
        error = translate(raised, "clock.today", model=None)

    assert isinstance(error, FunctionFailedError)
    assert named in str(error)


@pytest.mark.parametrize(("status", "retryable"), [(503, True), (429, True), (404, False)], ids=str)
def test_an_httpx_status_error_of_a_tool_is_retried_by_its_status(
    status: int, retryable: bool
) -> None:
    """Kills: httpx's ``HTTPStatusError`` (its status on ``.response``) read as a plain
    error, so a tool's 503 was never retried."""
    response = httpx.Response(status, request=httpx.Request("GET", "http://127.0.0.1:9/x"))
    with pytest.raises(httpx.HTTPStatusError) as raised:
        response.raise_for_status()

    error = translate(raised.value, "stock.units", model=None)

    assert isinstance(error, FunctionFailedError) and error.retryable is retryable
    assert f"{status}" in str(error)


async def test_an_httpx_connection_error_of_a_tool_is_retryable() -> None:
    """Kills: httpx's ``ConnectError`` (a ``TransportError``, not a ``ConnectionError``)
    treated as final."""
    with socket.socket() as closed:  # a loopback port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError) as raised:
            await client.get(f"http://127.0.0.1:{port}/")

    error = translate(raised.value, "stock.units", model=None)

    assert isinstance(error, FunctionFailedError) and error.retryable
