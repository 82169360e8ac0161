"""A loopback server speaking enough of the OpenAI API for real clients.

:class:`OpenAICompatibleServer` listens on ``127.0.0.1`` (a free port) and
answers ``POST /v1/chat/completions`` (JSON, or SSE chunks with
``stream: true``) and ``GET /v1/models``. Each chat request takes the next
scripted :class:`ServerResponse` from a queue; when the queue is empty the
``default`` answers. Request bodies and headers are recorded in order.

A response is anything with ``async respond(request) -> web.StreamResponse``,
so a new fault is one small class. Shipped faults, and what the real
``openai.AsyncOpenAI`` client (``max_retries=0``) raises for each:

==========================  ============================================
response                    ``openai`` client raises
==========================  ============================================
``HttpError.rate_limited``  ``openai.RateLimitError`` (429, Retry-After)
``HttpError.unavailable``   ``openai.InternalServerError`` (503)
``HttpError(500)``          ``openai.InternalServerError``
``ConnectionReset()``       ``openai.APIConnectionError``
``MalformedBody()``         ``json.JSONDecodeError`` -- not an ``openai`` error
``HtmlPage()``              nothing: ``create`` returns the page as a ``str``
``TruncatedStream()``       nothing: ``create`` returns the SSE text as a ``str``
``EmptyReply()``            nothing: a completion whose content is ``None``
``Hang()``                  nothing: the request stays pending until the
                            caller gives up or the server stops
``SlowStream(...)``         nothing: a reply, late by the clock's reckoning
==========================  ============================================

A streamed ``MalformedBody`` raises the same ``json.JSONDecodeError`` while the
stream is read, not when it is opened. Streamed, an ``HtmlPage`` yields no chunk
and a ``TruncatedStream`` ends after its first piece, without a finish reason.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol

from aiohttp import web


@dataclass(frozen=True)
class ChatRequest:
    """One chat-completion request as the server received it; ``number`` counts from 1.

    ``stopping`` is set when the server begins to stop: a response that waits
    must end when it is set, or stopping waits for aiohttp's shutdown timeout.
    """

    number: int
    body: dict[str, Any]
    http: web.Request
    stopping: asyncio.Event = field(default_factory=asyncio.Event, repr=False, compare=False)

    @property
    def model(self) -> str:
        return str(self.body.get("model", ""))

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))


class Sleeper(Protocol):
    """Anything with ``async sleep(seconds)``: a :class:`host.clock.Clock`, a virtual clock."""

    async def sleep(self, seconds: float) -> None: ...


class ServerResponse(Protocol):
    """A scripted answer to one chat-completion request."""

    async def respond(self, request: ChatRequest) -> web.StreamResponse: ...


@dataclass(frozen=True)
class ChatReply:
    """An assistant text message; ``usage`` defaults to a word-count estimate."""

    text: str
    usage: tuple[int, int] | None = None
    logprobs: Sequence[float] | None = None
    """Per-token log probabilities, sent as the choice's ``logprobs.content``."""
    cached_tokens: int = 0
    """Of the prompt tokens, how many the provider's cache served
    (``usage.prompt_tokens_details.cached_tokens``; sent when not 0)."""

    async def respond(self, request: ChatRequest) -> web.StreamResponse:
        message = {"role": "assistant", "content": self.text}
        usage = self.usage or _estimated_usage(request, self.text)
        if request.stream:
            deltas = [{"role": "assistant", "content": ""}]
            deltas += [{"content": piece} for piece in _pieces(self.text)]
            return await _stream(request, deltas, "stop", usage, cached=self.cached_tokens)
        logprobs = None
        if self.logprobs is not None:
            tokens = [{"token": "t", "logprob": lp, "top_logprobs": []} for lp in self.logprobs]
            logprobs = {"content": tokens, "refusal": None}
        return _completion(request, message, "stop", usage, logprobs, self.cached_tokens)


@dataclass(frozen=True)
class ChatToolCall:
    """An assistant tool call; ``arguments`` as a string is sent verbatim (even if malformed)."""

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    id: str | None = None
    usage: tuple[int, int] | None = None

    async def respond(self, request: ChatRequest) -> web.StreamResponse:
        arguments = (
            self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments)
        )
        call_id = self.id or f"call_{request.number}"
        usage = self.usage or _estimated_usage(request, arguments)
        if request.stream:
            head = {"id": call_id, "type": "function", "function": {"name": self.name}}
            deltas: list[dict[str, Any]] = [
                {"role": "assistant", "tool_calls": [{"index": 0, **head}]},
                {"tool_calls": [{"index": 0, "function": {"arguments": arguments}}]},
            ]
            return await _stream(request, deltas, "tool_calls", usage)
        call = {
            "id": call_id,
            "type": "function",
            "function": {"name": self.name, "arguments": arguments},
        }
        message = {"role": "assistant", "content": None, "tool_calls": [call]}
        return _completion(request, message, "tool_calls", usage)


@dataclass(frozen=True)
class HttpError:
    """An HTTP error; ``body`` defaults to an OpenAI-shaped error, a string is sent verbatim."""

    status: int
    body: Mapping[str, Any] | str | None = None
    headers: Mapping[str, str] | None = None

    async def respond(self, request: ChatRequest) -> web.StreamResponse:
        headers = dict(self.headers or {})
        if isinstance(self.body, str):
            return web.Response(status=self.status, text=self.body, headers=headers)
        error = {"message": f"scripted HTTP {self.status}", "type": "scripted_error", "code": None}
        body = self.body if self.body is not None else {"error": error}
        return web.json_response(dict(body), status=self.status, headers=headers)

    @classmethod
    def rate_limited(cls, retry_after: float | str) -> HttpError:
        """429 Too Many Requests, asking the client to wait ``retry_after`` seconds.

        A string is sent verbatim: an HTTP date, or a value no server should send.
        """
        return cls(429, headers={"Retry-After": _seconds(retry_after)})

    @classmethod
    def unavailable(cls, retry_after: float | None = None) -> HttpError:
        """503 Service Unavailable, with a Retry-After header when ``retry_after`` is given."""
        headers = None if retry_after is None else {"Retry-After": _seconds(retry_after)}
        return cls(503, headers=headers)


@dataclass(frozen=True)
class Hang:
    """Never answer; when the server stops, drop the connection.

    The client sees nothing until it gives up (a timeout on the caller's
    clock) or the server stops, when it gets a connection error.
    """

    async def respond(self, request: ChatRequest) -> web.StreamResponse:
        await request.stopping.wait()
        return _drop_connection(request)


@dataclass(frozen=True)
class SlowStream:
    """An assistant text message that takes ``chunk_delay`` seconds per piece on ``clock``.

    Streamed, the headers and the role chunk go out at once and each piece of
    text (a word) follows ``chunk_delay`` later. Not streamed, the whole reply
    comes after ``chunk_delay`` times the number of pieces.
    """

    text: str
    chunk_delay: float
    clock: Sleeper

    async def respond(self, request: ChatRequest) -> web.StreamResponse:
        pieces = _pieces(self.text)
        if not request.stream:
            await self.clock.sleep(self.chunk_delay * len(pieces))
            return await ChatReply(self.text).respond(request)
        deltas = [{"role": "assistant", "content": ""}, *({"content": p} for p in pieces)]
        usage = _estimated_usage(request, self.text)
        return await _stream(request, deltas, "stop", usage, self._pause)

    async def _pause(self, index: int) -> None:
        if index > 0:
            await self.clock.sleep(self.chunk_delay)


@dataclass(frozen=True)
class ConnectionReset:
    """Reset the TCP connection without sending any HTTP response."""

    async def respond(self, request: ChatRequest) -> web.StreamResponse:
        return _drop_connection(request)


@dataclass(frozen=True)
class MalformedBody:
    """200 OK whose body is not JSON: ``application/json``, or one SSE event when streamed."""

    body: str = "{not json"

    async def respond(self, request: ChatRequest) -> web.StreamResponse:
        if not request.stream:
            return web.Response(text=self.body, content_type="application/json")
        return await _events(request, [self.body])


@dataclass(frozen=True)
class HtmlPage:
    """200 OK with an HTML page instead of the API's JSON, as a proxy or captive portal answers."""

    body: str = "<html><body><h1>Bad Gateway</h1></body></html>"

    async def respond(self, request: ChatRequest) -> web.StreamResponse:
        return web.Response(text=self.body, content_type="text/html")


@dataclass(frozen=True)
class TruncatedStream:
    """200 OK with an SSE stream cut off after the first piece of ``text``.

    No finish reason and no ``[DONE]`` follow. It is sent whether or not the
    request asked to stream, as a proxy that buffers nothing might.
    """

    text: str = "partial answer"

    async def respond(self, request: ChatRequest) -> web.StreamResponse:
        delta = {"role": "assistant", "content": _pieces(self.text)[0]}
        choice = {"index": 0, "delta": delta, "finish_reason": None}
        chunk = {**_envelope(request, "chat.completion.chunk"), "choices": [choice]}
        return await _events(request, [json.dumps(chunk)])


@dataclass(frozen=True)
class EmptyReply:
    """An assistant message whose content is ``null``: no text and no tool call."""

    async def respond(self, request: ChatRequest) -> web.StreamResponse:
        message = {"role": "assistant", "content": None}
        usage = _estimated_usage(request, "")
        if request.stream:
            return await _stream(request, [message], "stop", usage)
        return _completion(request, message, "stop", usage)


class OpenAICompatibleServer:
    """A scripted OpenAI-compatible HTTP server; use as ``async with``."""

    def __init__(
        self,
        responses: Iterable[ServerResponse] = (),
        *,
        default: ServerResponse | None = ChatReply("ok"),
        models: Sequence[str] = ("scripted",),
    ) -> None:
        self.requests: list[dict[str, Any]] = []
        """Bodies of the chat-completion requests, oldest first."""
        self.request_headers: list[dict[str, str]] = []
        """Headers of those requests, names lower-cased."""
        self._responses: deque[ServerResponse] = deque(responses)
        self._default = default
        self._models = list(models)
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()
        self._port = 0

    def enqueue(self, *responses: ServerResponse) -> None:
        """Script more answers, after those already queued."""
        self._responses.extend(responses)

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT``: the endpoint an Azure OpenAI client is given."""
        return self.base_url.removesuffix("/v1")

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``; only while the server runs."""
        if self._runner is None:
            raise RuntimeError("OpenAICompatibleServer is not running; use `async with`")
        return f"http://127.0.0.1:{self._port}/v1"

    async def start(self) -> None:
        self._stopping = asyncio.Event()
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat_completions)
        # Azure OpenAI's path for the same call; the deployment name is in the URL.
        app.router.add_post(
            "/openai/deployments/{deployment}/chat/completions", self._chat_completions
        )
        app.router.add_get("/v1/models", self._list_models)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(runner.addresses[0][1])
        self._runner = runner

    async def stop(self) -> None:
        """Stop listening; responses still waiting (a :class:`Hang`) drop their connection."""
        if self._runner is not None:
            self._stopping.set()
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> OpenAICompatibleServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _chat_completions(self, http: web.Request) -> web.StreamResponse:
        try:
            body = await http.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            error = {
                "message": "request body must be a JSON object",
                "type": "invalid_request_error",
            }
            return web.json_response({"error": error}, status=400)
        self.requests.append(body)
        self.request_headers.append({k.lower(): v for k, v in http.headers.items()})
        request = ChatRequest(len(self.requests), body, http, self._stopping)
        if self._responses:
            return await self._responses.popleft().respond(request)
        if self._default is not None:
            return await self._default.respond(request)
        missing = f"no response scripted for request {request.number}"
        return await HttpError(500, {"error": {"message": missing}}).respond(request)

    async def _list_models(self, http: web.Request) -> web.StreamResponse:
        data = [
            {"id": m, "object": "model", "created": 0, "owned_by": "agent-host"}
            for m in self._models
        ]
        return web.json_response({"object": "list", "data": data})


def _envelope(request: ChatRequest, kind: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{request.number}",
        "object": kind,
        "created": int(time.time()),
        "model": request.model,
    }


def _usage(usage: tuple[int, int], cached: int = 0) -> dict[str, Any]:
    prompt, completion = usage
    body: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if cached:
        body["prompt_tokens_details"] = {"cached_tokens": cached}
    return body


def _completion(
    request: ChatRequest,
    message: dict[str, Any],
    finish_reason: str,
    usage: tuple[int, int],
    logprobs: dict[str, Any] | None = None,
    cached: int = 0,
) -> web.Response:
    choice = {"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": logprobs}
    envelope = _envelope(request, "chat.completion")
    body = {**envelope, "choices": [choice], "usage": _usage(usage, cached)}
    return web.json_response(body)


async def _stream(
    request: ChatRequest,
    deltas: list[dict[str, Any]],
    finish_reason: str,
    usage: tuple[int, int],
    pause: Callable[[int], Awaitable[None]] | None = None,
    *,
    cached: int = 0,
) -> web.StreamResponse:
    """Send deltas as SSE chunks, then the finish reason, usage if asked for, and ``[DONE]``.

    ``pause(i)`` is awaited before the i-th delta is sent.
    """
    envelope = _envelope(request, "chat.completion.chunk")
    chunks = [
        {**envelope, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
        for delta in deltas
    ]
    chunks.append(
        {**envelope, "choices": [{"index": 0, "delta": {}, "finish_reason": finish_reason}]}
    )
    if request.body.get("stream_options", {}).get("include_usage"):
        chunks.append({**envelope, "choices": [], "usage": _usage(usage, cached)})
    data = [*(json.dumps(chunk) for chunk in chunks), "[DONE]"]

    async def before(index: int) -> None:
        if pause is not None and index < len(deltas):
            await pause(index)

    return await _events(request, data, before)


async def _events(
    request: ChatRequest,
    data: Sequence[str],
    before: Callable[[int], Awaitable[None]] | None = None,
) -> web.StreamResponse:
    """A 200 ``text/event-stream``, one ``data:`` event per item; ``before(i)`` precedes item i."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request.http)
    for index, item in enumerate(data):
        if before is not None:
            await before(index)
        await response.write(f"data: {item}\n\n".encode())
    await response.write_eof()
    return response


def _drop_connection(request: ChatRequest) -> web.StreamResponse:
    """Abort the connection with a TCP reset; the returned response is never sent."""
    transport = request.http.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    return web.Response()


def _seconds(seconds: float | str) -> str:
    """A Retry-After value: whole seconds as an integer, else the decimal; a string verbatim."""
    return seconds if isinstance(seconds, str) else f"{seconds:g}"


def _pieces(text: str) -> list[str]:
    """Split text into stream pieces that concatenate back to it."""
    words = text.split(" ")
    return [word + " " for word in words[:-1]] + [words[-1]]


def _estimated_usage(request: ChatRequest, completion: str) -> tuple[int, int]:
    messages = request.body.get("messages") or []
    prompt = sum(len(str(m.get("content") or "").split()) for m in messages if isinstance(m, dict))
    return prompt, len(completion.split())
