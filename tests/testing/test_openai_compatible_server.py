"""OpenAICompatibleServer: a loopback OpenAI API that real clients talk to over HTTP."""

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import openai
import pytest
from aiohttp import web
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam
from semantic_kernel import Kernel
from semantic_kernel.connectors.ai.function_choice_behavior import FunctionChoiceBehavior
from semantic_kernel.connectors.ai.open_ai import OpenAIChatCompletion
from semantic_kernel.connectors.ai.prompt_execution_settings import PromptExecutionSettings
from semantic_kernel.functions import KernelArguments, KernelFunctionFromPrompt

from host.testing import (
    ChatReply,
    ChatRequest,
    ChatToolCall,
    ConnectionReset,
    EmptyReply,
    Hang,
    HtmlPage,
    HttpError,
    MalformedBody,
    OpenAICompatibleServer,
    ServerResponse,
    SlowStream,
    TruncatedStream,
    VirtualClock,
    run_until,
)

HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hello"}]


@pytest.fixture
async def server() -> AsyncIterator[OpenAICompatibleServer]:
    async with OpenAICompatibleServer() as server:
        yield server


@pytest.fixture
async def client(server: OpenAICompatibleServer) -> AsyncIterator[AsyncOpenAI]:
    client = AsyncOpenAI(base_url=server.base_url, api_key="test-key", max_retries=0)
    yield client
    await client.close()


async def test_a_chat_reply_reaches_the_openai_client(
    server: OpenAICompatibleServer, client: AsyncOpenAI
) -> None:
    server.enqueue(ChatReply("Hi there", usage=(5, 2)))

    completion = await client.chat.completions.create(model="gpt-test", messages=HELLO)

    assert completion.choices[0].message.content == "Hi there"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (5, 2)


async def test_each_request_body_and_headers_are_recorded(
    server: OpenAICompatibleServer, client: AsyncOpenAI
) -> None:
    await client.chat.completions.create(model="gpt-test", messages=HELLO, temperature=0)

    assert server.requests == [{"model": "gpt-test", "messages": HELLO, "temperature": 0}]
    assert server.request_headers[0]["authorization"] == "Bearer test-key"


@pytest.mark.parametrize(
    ("arguments", "sent"),
    [
        ({"text": "milk"}, '{"text": "milk"}'),
        ('{"text": "milk"}', '{"text": "milk"}'),
        ('{"text": ', '{"text": '),
    ],
    ids=["mapping", "json-string", "malformed-string"],
)
async def test_a_chat_tool_call_reaches_the_client_with_its_arguments(
    server: OpenAICompatibleServer,
    client: AsyncOpenAI,
    arguments: dict[str, str] | str,
    sent: str,
) -> None:
    server.enqueue(ChatToolCall("notebook-write", arguments, id="call-9"))

    completion = await client.chat.completions.create(model="gpt-test", messages=HELLO)

    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls or []
    assert call.type == "function"
    assert (call.id, call.function.name, call.function.arguments) == (
        "call-9",
        "notebook-write",
        sent,
    )


async def test_a_streamed_reply_arrives_in_chunks_then_usage(
    server: OpenAICompatibleServer, client: AsyncOpenAI
) -> None:
    server.enqueue(ChatReply("one two three", usage=(4, 3)))

    stream = await client.chat.completions.create(
        model="gpt-test",
        messages=HELLO,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    usage = chunks[-1].usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (4, 3, 7)
    assert server.requests[0]["stream"] is True


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (429, openai.RateLimitError),
        (401, openai.AuthenticationError),
        (400, openai.BadRequestError),
        (500, openai.InternalServerError),
    ],
)
async def test_an_http_error_reaches_the_client_as_its_error_type(
    server: OpenAICompatibleServer,
    client: AsyncOpenAI,
    status: int,
    error_type: type[openai.APIStatusError],
) -> None:
    server.enqueue(HttpError(status, headers={"Retry-After": "7"}))

    with pytest.raises(error_type) as raised:
        await client.chat.completions.create(model="gpt-test", messages=HELLO)

    assert raised.value.status_code == status
    assert raised.value.response.headers["retry-after"] == "7"
    assert len(server.requests) == 1


async def test_an_http_error_body_reaches_the_client(
    server: OpenAICompatibleServer, client: AsyncOpenAI
) -> None:
    body = {"error": {"message": "slow down", "type": "rate_limit", "code": "rate_limit_exceeded"}}
    server.enqueue(HttpError(429, body))

    with pytest.raises(openai.RateLimitError) as raised:
        await client.chat.completions.create(model="gpt-test", messages=HELLO)

    assert raised.value.code == "rate_limit_exceeded"
    assert "slow down" in raised.value.message


class Teapot:
    """A response defined outside host.testing, as a later fault would be."""

    async def respond(self, request: ChatRequest) -> web.StreamResponse:
        return web.json_response({"error": {"message": f"{request.model} is a teapot"}}, status=418)


async def test_any_object_with_respond_can_be_scripted(
    server: OpenAICompatibleServer, client: AsyncOpenAI
) -> None:
    server.enqueue(Teapot())

    with pytest.raises(openai.APIStatusError, match="gpt-test is a teapot") as raised:
        await client.chat.completions.create(model="gpt-test", messages=HELLO)

    assert raised.value.status_code == 418


async def test_an_empty_queue_answers_with_the_default(
    server: OpenAICompatibleServer, client: AsyncOpenAI
) -> None:
    completion = await client.chat.completions.create(model="gpt-test", messages=HELLO)

    assert completion.choices[0].message.content == "ok"


async def test_without_a_default_an_unscripted_request_fails_with_500() -> None:
    async with OpenAICompatibleServer(default=None) as server:
        client = AsyncOpenAI(base_url=server.base_url, api_key="test-key", max_retries=0)
        with pytest.raises(openai.InternalServerError, match="no response scripted for request 1"):
            await client.chat.completions.create(model="gpt-test", messages=HELLO)
        await client.close()


async def test_the_configured_models_are_listed() -> None:
    async with OpenAICompatibleServer(models=["gpt-test", "gpt-mini"]) as server:
        client = AsyncOpenAI(base_url=server.base_url, api_key="test-key", max_retries=0)
        models = [model.id async for model in client.models.list()]
        await client.close()

    assert models == ["gpt-test", "gpt-mini"]


def test_the_base_url_exists_only_while_the_server_runs() -> None:
    with pytest.raises(RuntimeError, match="not running"):
        _ = OpenAICompatibleServer().base_url


@pytest.mark.parametrize("streaming", [False, True], ids=["invoke", "invoke_stream"])
async def test_sk_openai_connector_invokes_a_native_function_over_the_loop(
    server: OpenAICompatibleServer,
    client: AsyncOpenAI,
    kernel: Kernel,
    notes: list[str],
    stream_answer: Callable[..., Awaitable[str]],
    streaming: bool,
) -> None:
    server.enqueue(ChatToolCall("notebook-write", {"text": "milk"}), ChatReply("Noted milk."))
    kernel.add_service(
        OpenAIChatCompletion(ai_model_id="gpt-test", async_client=client, service_id="remote")
    )
    settings = PromptExecutionSettings(
        service_id="remote", function_choice_behavior=FunctionChoiceBehavior.Auto()
    )
    function = KernelFunctionFromPrompt(
        function_name="ask",
        plugin_name="chat",
        prompt="{{$request}}",
        prompt_execution_settings=settings,
    )
    arguments = KernelArguments(request="Note milk")

    if streaming:
        answer = await stream_answer(kernel, function, arguments)
    else:
        answer = str(await kernel.invoke(function, arguments))

    assert answer == "Noted milk."
    assert notes == ["milk"]
    first, second = server.requests
    assert first["model"] == "gpt-test"
    assert first["messages"] == [{"role": "user", "content": "Note milk"}]
    assert [tool["function"]["name"] for tool in first["tools"]] == ["notebook-write"]
    assert second["messages"][-1] == {
        "role": "tool",
        "content": "noted: milk",
        "tool_call_id": "call_1",
    }


async def _create(client: AsyncOpenAI, stream: bool) -> None:
    """One chat request; a streamed one is read to the end."""
    if stream:
        async for _ in await client.chat.completions.create(
            model="gpt-test", messages=HELLO, stream=True
        ):
            pass
    else:
        await client.chat.completions.create(model="gpt-test", messages=HELLO)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize(
    ("response", "error_type"),
    [
        (HttpError.rate_limited(2), openai.RateLimitError),
        (HttpError.unavailable(), openai.InternalServerError),
        (HttpError(500), openai.InternalServerError),
        (ConnectionReset(), openai.APIConnectionError),
        (MalformedBody(), json.JSONDecodeError),
    ],
    ids=["429", "503", "500", "connection-reset", "malformed-body"],
)
async def test_a_fault_reaches_the_openai_client_as_exactly_this_error(
    server: OpenAICompatibleServer,
    client: AsyncOpenAI,
    response: ServerResponse,
    error_type: type[Exception],
    stream: bool,
) -> None:
    server.enqueue(response)

    with pytest.raises(error_type) as raised:
        await _create(client, stream)

    assert raised.type is error_type
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("response", "status", "retry_after"),
    [
        (HttpError.rate_limited(7), 429, "7"),
        (HttpError.rate_limited(0.5), 429, "0.5"),
        (HttpError.unavailable(30), 503, "30"),
        (HttpError.unavailable(), 503, None),
    ],
    ids=["429-whole-seconds", "429-fraction", "503-retry-after", "503-bare"],
)
async def test_rate_limited_and_unavailable_carry_their_retry_after(
    server: OpenAICompatibleServer,
    client: AsyncOpenAI,
    response: HttpError,
    status: int,
    retry_after: str | None,
) -> None:
    server.enqueue(response)

    with pytest.raises(openai.APIStatusError) as raised:
        await client.chat.completions.create(model="gpt-test", messages=HELLO)

    assert raised.value.status_code == status
    assert raised.value.response.headers.get("retry-after") == retry_after


@pytest.mark.parametrize(
    "raw", ["soon", "Wed, 21 Oct 2099 07:28:00 GMT"], ids=["malformed", "http-date"]
)
async def test_a_raw_retry_after_value_is_sent_verbatim(
    server: OpenAICompatibleServer, client: AsyncOpenAI, raw: str
) -> None:
    server.enqueue(HttpError.rate_limited(raw))

    with pytest.raises(openai.RateLimitError) as raised:
        await client.chat.completions.create(model="gpt-test", messages=HELLO)

    assert raised.value.response.headers.get("retry-after") == raw


@pytest.mark.parametrize(
    ("response", "body"),
    [
        (HtmlPage(), "<html><body><h1>Bad Gateway</h1></body></html>"),
        (TruncatedStream("partial answer"), '"content": "partial "'),
    ],
    ids=["html-page", "truncated-stream"],
)
async def test_a_200_that_is_not_json_reaches_the_client_as_its_raw_text(
    server: OpenAICompatibleServer, client: AsyncOpenAI, response: ServerResponse, body: str
) -> None:
    server.enqueue(response)

    completion: object = await client.chat.completions.create(model="gpt-test", messages=HELLO)

    assert isinstance(completion, str)
    assert body in completion
    assert "[DONE]" not in completion


@pytest.mark.parametrize(
    ("response", "texts", "finish_reasons"),
    [
        (HtmlPage(), [], []),
        (TruncatedStream("partial answer"), ["partial "], [None]),
        (EmptyReply(), [None, None], [None, "stop"]),
    ],
    ids=["html-page", "truncated-stream", "empty-reply"],
)
async def test_a_streamed_bad_200_reaches_the_client_as_these_chunks(
    server: OpenAICompatibleServer,
    client: AsyncOpenAI,
    response: ServerResponse,
    texts: list[str | None],
    finish_reasons: list[str | None],
) -> None:
    server.enqueue(response)

    stream = await client.chat.completions.create(model="gpt-test", messages=HELLO, stream=True)
    chunks = [chunk async for chunk in stream]

    assert [c.choices[0].delta.content for c in chunks] == texts
    assert [c.choices[0].finish_reason for c in chunks] == finish_reasons


async def test_an_empty_reply_has_no_content_and_no_tool_call(
    server: OpenAICompatibleServer, client: AsyncOpenAI
) -> None:
    server.enqueue(EmptyReply())

    completion = await client.chat.completions.create(model="gpt-test", messages=HELLO)

    message = completion.choices[0].message
    assert (message.content, message.tool_calls) == (None, None)
    assert completion.choices[0].finish_reason == "stop"


async def test_the_next_request_after_a_connection_reset_is_answered(
    server: OpenAICompatibleServer, client: AsyncOpenAI
) -> None:
    server.enqueue(ConnectionReset(), ChatReply("back"))

    with pytest.raises(openai.APIConnectionError):
        await client.chat.completions.create(model="gpt-test", messages=HELLO)
    completion = await client.chat.completions.create(model="gpt-test", messages=HELLO)

    assert completion.choices[0].message.content == "back"


class Outcome:
    """Wraps a response and records how its ``respond`` ended."""

    def __init__(self, inner: ServerResponse) -> None:
        self.inner = inner
        self.ended: str | None = None

    async def respond(self, request: ChatRequest) -> web.StreamResponse:
        try:
            response = await self.inner.respond(request)
        except asyncio.CancelledError:
            self.ended = "cancelled"
            raise
        self.ended = "returned"
        return response


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_a_hung_request_stays_pending_until_the_caller_cancels_it(
    client: AsyncOpenAI, server: OpenAICompatibleServer, stream: bool
) -> None:
    hang = Outcome(Hang())
    server.enqueue(hang)

    request = asyncio.create_task(_create(client, stream))
    await run_until(lambda: len(server.requests) == 1, rounds=10_000)
    for _ in range(100):
        await asyncio.sleep(0)
    done, _ = await asyncio.wait({request}, timeout=0)
    request.cancel()
    with pytest.raises(asyncio.CancelledError):
        await request
    await server.stop()

    assert done == set()
    assert hang.ended == "returned"
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_stopping_the_server_drops_a_hung_request_with_a_connection_error(
    client: AsyncOpenAI, server: OpenAICompatibleServer
) -> None:
    hang = Outcome(Hang())
    server.enqueue(hang)
    request = asyncio.create_task(_create(client, stream=False))
    await run_until(lambda: len(server.requests) == 1, rounds=10_000)

    await server.stop()

    with pytest.raises(openai.APIConnectionError):
        await request
    assert hang.ended == "returned"


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize(
    ("arguments", "sent"),
    [
        ({"days": "many"}, '{"days": "many"}'),
        ({"days": 2.5, "city": ["Oslo"]}, '{"days": 2.5, "city": ["Oslo"]}'),
        ({}, "{}"),
    ],
    ids=["string-for-int", "float-and-list", "missing-required"],
)
async def test_tool_call_arguments_of_the_wrong_type_arrive_unchanged(
    server: OpenAICompatibleServer,
    client: AsyncOpenAI,
    arguments: dict[str, object],
    sent: str,
    stream: bool,
) -> None:
    server.enqueue(ChatToolCall("weather-forecast", arguments))

    if stream:
        chunks = [
            chunk
            async for chunk in await client.chat.completions.create(
                model="gpt-test", messages=HELLO, stream=True
            )
        ]
        deltas = [d for c in chunks if c.choices for d in c.choices[0].delta.tool_calls or []]
        received = "".join(d.function.arguments or "" for d in deltas if d.function)
    else:
        completion = await client.chat.completions.create(model="gpt-test", messages=HELLO)
        [call] = completion.choices[0].message.tool_calls or []
        assert call.type == "function"
        received = call.function.arguments

    assert received == sent
    assert json.loads(received) == arguments


async def test_a_tool_call_may_name_a_function_that_does_not_exist(
    server: OpenAICompatibleServer, client: AsyncOpenAI
) -> None:
    server.enqueue(ChatToolCall("nowhere-nothing", {"x": 1}))

    completion = await client.chat.completions.create(
        model="gpt-test",
        messages=HELLO,
        tools=[{"type": "function", "function": {"name": "notebook-write"}}],
    )

    [call] = completion.choices[0].message.tool_calls or []
    assert call.type == "function"
    assert call.function.name == "nowhere-nothing"


@pytest.mark.parametrize(("text", "pieces"), [("one two three", 3), ("single", 1)])
async def test_a_slow_stream_waits_its_delay_on_the_clock_before_each_piece(
    server: OpenAICompatibleServer, client: AsyncOpenAI, text: str, pieces: int
) -> None:
    clock = VirtualClock()
    server.enqueue(SlowStream(text, chunk_delay=2.0, clock=clock))

    stream = await client.chat.completions.create(model="gpt-test", messages=HELLO, stream=True)
    received = [(c.choices[0].delta.content, clock.now()) async for c in stream if c.choices]

    assert "".join(content or "" for content, _ in received) == text
    assert clock.slept == [2.0] * pieces
    assert [at for content, at in received if content] == [2.0 * i for i in range(1, pieces + 1)]


async def test_a_slow_reply_not_streamed_comes_after_the_whole_delay(
    server: OpenAICompatibleServer, client: AsyncOpenAI
) -> None:
    clock = VirtualClock()
    server.enqueue(SlowStream("one two three", chunk_delay=2.0, clock=clock))

    completion = await client.chat.completions.create(model="gpt-test", messages=HELLO)

    assert completion.choices[0].message.content == "one two three"
    assert clock.slept == [6.0]
    assert clock.now() == 6.0


async def test_a_shorter_timeout_on_the_same_clock_overtakes_a_slow_stream(
    server: OpenAICompatibleServer, client: AsyncOpenAI
) -> None:
    clock = VirtualClock()
    server.enqueue(SlowStream("one two three", chunk_delay=2.0, clock=clock))
    received: list[str] = []

    async def read() -> None:
        stream = await client.chat.completions.create(model="gpt-test", messages=HELLO, stream=True)
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)

    reading = asyncio.create_task(read())
    timeout = asyncio.create_task(clock.sleep(3.0))
    done, _ = await asyncio.wait({reading, timeout}, return_when=asyncio.FIRST_COMPLETED)
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading

    assert done == {timeout}
    assert received == ["one "]
