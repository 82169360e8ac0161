"""Errors from the openai client, aiohttp, httpx, SK and plugins, translated into the host's tree.

Translation happens once, at the edge of each attempt, so everything above it
(retry, breaker, fallback, the caller) sees only :class:`AgentHostError` and its
``retryable`` flag.
"""

from __future__ import annotations

import email.utils
import json
import math
import time
from typing import Any

from host.errors import (
    AgentHostError,
    FunctionFailedError,
    InvalidArgumentsError,
    ProviderError,
    describe_error,
)

_RETRYABLE_STATUS = frozenset({408, 409, 429})
_TRANSIENT = (ConnectionError, TimeoutError)


def translate(error: BaseException, target: str, *, model: str | None) -> AgentHostError:
    """The host's error for ``error`` raised by a call to ``target`` (a model when ``model``)."""
    for cause in _chain(error):
        if isinstance(cause, AgentHostError):
            return cause
        status = _status(cause)
        if status is not None or _is_connection_error(cause):
            retryable = status is None or status in _RETRYABLE_STATUS or status >= 500
            reason = describe_error(cause)
            if model is not None:
                return ProviderError(
                    model,
                    reason,
                    retryable=retryable,
                    status=status,
                    retry_after=_retry_after(cause),
                )
            return FunctionFailedError(target, reason, retryable=retryable)
        if _is_argument_error(cause):
            return InvalidArgumentsError(target, [str(cause)])
    root = list(_chain(error))[-1]
    retryable = isinstance(root, _TRANSIENT)
    if model is not None:
        malformed = _malformed_reply(root)
        if malformed is not None:
            # A reply that cannot be read is a glitch of that response, not of the request.
            return ProviderError(model, f"malformed response: {malformed}", retryable=True)
        return ProviderError(model, describe_error(root), retryable=retryable)
    return FunctionFailedError(target, describe_error(root), retryable=retryable)


def _chain(error: BaseException) -> list[BaseException]:
    """``error`` and its causes, outermost first; a context hidden by ``from None`` is not one."""
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        hidden = current.__suppress_context__
        current = current.__cause__ or (None if hidden else current.__context__)
    return seen


def _status(error: BaseException) -> int | None:
    """The HTTP status of an openai/anthropic ``APIStatusError``, an aiohttp response error,
    or an error carrying its ``response`` (httpx's ``HTTPStatusError``, requests' ``HTTPError``)."""
    response = getattr(error, "response", None)
    for holder, attribute in ((error, "status_code"), (error, "status"), (response, "status_code")):
        value = getattr(holder, attribute, None)
        if isinstance(value, int) and 100 <= value < 600:
            return value
    return None


_CONNECTION_ERRORS = frozenset(
    {"APIConnectionError", "ClientConnectionError", "ServerDisconnectedError", "TransportError"}
)
"""Network failures of the openai client, aiohttp and httpx (``TransportError``: connect,
read and write errors, timeouts), whatever their exact class."""


def _is_connection_error(error: BaseException) -> bool:
    return not _CONNECTION_ERRORS.isdisjoint(cls.__name__ for cls in type(error).__mro__)


_ARGUMENT_PROBLEMS = ("is expected to be parsed", "is required but not provided")
"""How SK words a native function's arguments that do not fit, before the function runs."""


def _is_argument_error(error: BaseException) -> bool:
    if type(error).__name__ != "FunctionExecutionException":
        return False
    return any(problem in str(error) for problem in _ARGUMENT_PROBLEMS)


def _malformed_reply(root: BaseException) -> str | None:
    """Why a model's reply could not be read, when ``root`` says it could not."""
    if isinstance(root, json.JSONDecodeError):
        return describe_error(root)
    if isinstance(root, UnicodeDecodeError):
        return f"the body is not UTF-8 text (byte {root.object[root.start]:#04x} at {root.start})"
    if isinstance(root, AttributeError) and isinstance(root.obj, str):
        # The openai client hands back the raw text of a 200 that is not JSON (an HTML
        # page, an SSE stream to a plain request); the connector then trips over it.
        return "the body is not a JSON chat completion"
    return None


def _retry_after(error: BaseException) -> float | None:
    """Seconds from a ``Retry-After`` header: delta seconds or an HTTP date, from now.

    Any other value (``soon``, a negative or non-finite number) counts as absent.
    """
    response: Any = getattr(error, "response", None)
    headers: Any = getattr(response, "headers", None) or getattr(error, "headers", None)
    value = headers.get("retry-after") if headers is not None else None
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return _seconds_until(value)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _seconds_until(http_date: str) -> float | None:
    """Seconds from now until ``http_date`` (0 if past), or ``None`` if it is no date."""
    try:
        when = email.utils.parsedate_to_datetime(http_date)
    except ValueError:
        return None
    return max(when.timestamp() - time.time(), 0.0)
