"""Providers end to end through AgentHost.invoke: scripted, and openai over real loopback HTTP."""

from __future__ import annotations

import asyncio
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from host import AgentHost
from host.errors import AgentHostError, MissingSecretError, ProviderError
from host.testing import (
    ChatReply,
    ChatRequest,
    ChatToolCall,
    Hang,
    HttpError,
    OpenAICompatibleServer,
    Reply,
    ScriptedChatCompletion,
    ServerResponse,
    VirtualClock,
)

PROMPT = """\
name: Shout
template: "Say {{$input}} loudly"
description: Say something loudly.
execution_settings:
  default:
    max_tokens: 20
"""

WRITER_PROMPT = """\
name: Poem
template: "A poem about {{$input}}"
description: Settings keyed by a model name send this function to that model.
execution_settings:
  writer:
    temperature: 0.0
"""

TOOL_PROMPT = """\
name: DateToday
template: "What is today's date in {{$zone}}?"
description: Ask the model, which may call clock.today.
execution_settings:
  default:
    function_choice_behavior:
      type: auto
      auto_invoke: true
"""


def write_config(tmp_path: Path, models: str) -> Path:
    prompts = tmp_path / "prompts" / "talk"
    prompts.mkdir(parents=True)
    (prompts / "shout.yaml").write_text(PROMPT)
    (prompts / "date_today.yaml").write_text(TOOL_PROMPT)
    (prompts / "poem.yaml").write_text(WRITER_PROMPT)
    config = tmp_path / "host.yaml"
    plugins = Path(__file__).resolve().parents[2] / "plugins"
    config.write_text(
        f"models:\n{models}"
        f"plugins:\n  directories: [{plugins}]\nprompts:\n  directories: [prompts]\n"
    )
    return config


SCRIPTED = (
    "  main:\n    provider: scripted\n    model: scripted-1\n    cost: {input: 1.0, output: 2.0}\n"
)


def openai_model(base_url: str) -> str:
    return (
        f"  writer:\n    provider: openai\n    model: gpt-test\n    base_url: {base_url}\n"
        "    api_key_env: TEST_OPENAI_KEY\n    cost: {input: 0.5, output: 1.5}\n"
    )


async def test_scripted_provider_through_invoke(tmp_path: Path) -> None:
    service = ScriptedChatCompletion("main", [Reply("HELLO!", usage=(10, 5))])
    async with AgentHost(write_config(tmp_path, SCRIPTED), models={"main": service}) as host:
        record = await host.invoke("talk.Shout", input="hello")
    assert record.output == "HELLO!"
    assert (record.model, record.provider, record.tokens_in, record.tokens_out) == (
        "main",
        "scripted",
        10,
        5,
    )
    assert record.cost == pytest.approx((10 * 1.0 + 5 * 2.0) / 1000)
    [request] = service.requests
    assert request.messages[-1]["content"] == "Say hello loudly"
    assert request.settings["max_tokens"] == 20


async def test_openai_provider_chat_reply_over_loopback_http(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_OPENAI_KEY", "sk-loopback")
    async with OpenAICompatibleServer([ChatReply("LOUD", usage=(8, 2))]) as server:
        config = write_config(tmp_path, openai_model(server.base_url))
        async with AgentHost(config) as host:
            record = await host.invoke("talk.Shout", input="hi")
            client = host._services.get("writer").client  # type: ignore[union-attr, attr-defined]
        assert client.is_closed()
    assert record.output == "LOUD"
    assert (record.model, record.provider, record.model_id) == ("writer", "openai", "gpt-test")
    assert (record.tokens_in, record.tokens_out) == (8, 2)
    assert record.cost == pytest.approx((8 * 0.5 + 2 * 1.5) / 1000)
    [body] = server.requests
    assert body["model"] == "gpt-test"
    assert body["messages"][-1]["content"] == "Say hi loudly"
    assert server.request_headers[0]["authorization"] == "Bearer sk-loopback"


async def test_openai_tool_call_runs_the_native_function(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_OPENAI_KEY", "sk-loopback")
    script = [ChatToolCall("clock-resolve_date", {"expression": "2026-06-21"}), ChatReply("done")]
    async with OpenAICompatibleServer(script) as server:
        config = write_config(tmp_path, openai_model(server.base_url))
        async with AgentHost(config) as host:
            record = await host.invoke("talk.DateToday", zone="UTC")
    assert record.output == "done"
    first, second = server.requests
    assert "clock-resolve_date" in {tool["function"]["name"] for tool in first["tools"]}
    tool_result = second["messages"][-1]
    assert tool_result["role"] == "tool"
    assert tool_result["content"] == "2026-06-21"


async def shout_failing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, response: ServerResponse
) -> ProviderError:
    """The error of ``talk.Shout`` on the model ``writer`` over a loopback server whose one
    answer is ``response``."""
    monkeypatch.setenv("TEST_OPENAI_KEY", "sk-loopback")
    async with OpenAICompatibleServer([response]) as server:
        config = write_config(tmp_path, openai_model(server.base_url))
        async with AgentHost(config) as host:
            with pytest.raises(ProviderError) as raised:
                await host.invoke("talk.Shout", input="hi")
    return raised.value


@pytest.mark.parametrize(
    ("status", "retryable"), [(429, True), (503, True), (401, False), (400, False)]
)
async def test_provider_errors_are_translated_with_retry_meaning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, status: int, retryable: bool
) -> None:
    error = await shout_failing(tmp_path, monkeypatch, HttpError(status))
    assert error.model == "writer"
    assert error.retryable is retryable
    assert str(status) in str(error)


async def test_missing_secret_fails_only_the_model_that_needs_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_OPENAI_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path, SCRIPTED + openai_model("http://127.0.0.1:9/v1"))
    scripted = ScriptedChatCompletion("main", [Reply("fine")])
    async with AgentHost(config, models={"main": scripted}) as host:
        assert (await host.invoke("talk.Shout", input="a")).output == "fine"
        with pytest.raises(MissingSecretError) as by_argument:
            await host.invoke("talk.Shout", input="a", model="writer")
        with pytest.raises(MissingSecretError) as by_settings:
            await host.invoke("talk.Poem", input="a")
    for raised in (by_argument, by_settings):
        assert (raised.value.variable, raised.value.model) == ("TEST_OPENAI_KEY", "writer")


async def test_settings_keyed_by_a_model_name_select_that_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_OPENAI_KEY", "sk-loopback")
    async with OpenAICompatibleServer([ChatReply("roses")]) as server:
        config = write_config(tmp_path, SCRIPTED + openai_model(server.base_url))
        async with AgentHost(config, models={"main": ScriptedChatCompletion("main")}) as host:
            record = await host.invoke("talk.Poem", input="June")
    assert (record.output, record.model) == ("roses", "writer")
    assert server.requests[0]["temperature"] == 0.0


async def test_azure_openai_provider_over_loopback_http(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "az-loopback")
    async with OpenAICompatibleServer([ChatReply("AZURE", usage=(3, 1))]) as server:
        azure = (
            f"  writer:\n    provider: azure_openai\n    model: my-deployment\n"
            f"    base_url: {server.origin}\n    api_version: 2024-10-21\n"
        )
        async with AgentHost(write_config(tmp_path, azure)) as host:
            record = await host.invoke("talk.Shout", input="hi")
    assert (record.output, record.provider, record.tokens_in) == ("AZURE", "azure_openai", 3)
    assert server.request_headers[0]["api-key"] == "az-loopback"
    assert server.requests[0]["messages"][-1]["content"] == "Say hi loudly"


async def test_a_call_naming_a_model_keeps_the_functions_own_settings(tmp_path: Path) -> None:
    service = ScriptedChatCompletion("main", [Reply("ok")])
    async with AgentHost(write_config(tmp_path, SCRIPTED), models={"main": service}) as host:
        record = await host.invoke("talk.Shout", input="hi", model="main")
    assert (record.model, record.route_reason) == ("main", "execution settings name model 'main'")
    assert service.requests[0].settings["max_tokens"] == 20


async def test_confidence_comes_from_the_reply_logprobs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_OPENAI_KEY", "sk-test")
    replies = [ChatReply("LOUD", logprobs=[-0.1, -0.3]), ChatReply("quiet")]
    async with OpenAICompatibleServer(replies) as server:
        config = write_config(tmp_path, openai_model(server.base_url))
        async with AgentHost(config) as host:
            sure = await host.invoke("talk.Shout", input="hi")
            unknown = await host.invoke("talk.Shout", input="hi")
    assert sure.confidence == pytest.approx(math.exp(-0.2))
    assert unknown.confidence is None


def _completion(choice: dict[str, Any], *, latin_1: bool = False, **envelope: Any) -> bytes:
    """A chat-completion body with one ``choice`` (``envelope`` replaces top-level fields),
    in UTF-8 or, with ``latin_1``, in Latin-1."""
    usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    body = {"id": "c1", "object": "chat.completion", "created": 0, "model": "gpt-test"}
    text = json.dumps({**body, "choices": [choice], "usage": usage, **envelope}, ensure_ascii=False)
    return text.encode("latin-1" if latin_1 else "utf-8")


ANSWER = {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}


@dataclass(frozen=True)
class RawBody:
    """200 OK with ``body`` sent as it is, bytes and all, as ``application/json``."""

    body: bytes

    async def respond(self, request: ChatRequest) -> web.StreamResponse:
        return web.Response(body=self.body, content_type="application/json")


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (_completion(ANSWER, choices=[]), "choices is empty"),
        (_completion(ANSWER, choices=None), "choices is missing"),
        (b"{}", "choices is missing"),
        (b"[1, 2]", "the body is not a JSON chat completion"),
        (b"null", "the body is not a JSON chat completion"),
        (_completion({**ANSWER, "message": None}), "choices[0].message is missing"),
        (
            _completion({**ANSWER, "message": {"role": "assistant", "content": 5}}),
            "choices[0].message.content is int, not text",
        ),
        (
            _completion({**ANSWER, "finish_reason": "halted"}),
            "choices[0].finish_reason is 'halted'",
        ),
        (
            _completion(ANSWER, usage={"prompt_tokens": -5, "completion_tokens": 2}),
            "usage.prompt_tokens is -5, not a count of tokens",
        ),
        (
            _completion(ANSWER, usage={"prompt_tokens": None, "completion_tokens": None}),
            "usage.prompt_tokens is None",
        ),
        (
            _completion(
                {**ANSWER, "message": {"role": "assistant", "content": "café"}}, latin_1=True
            ),
            "the body is not UTF-8 text (byte 0xe9 at ",
        ),
    ],
    ids=[
        "choices-empty",
        "choices-null",
        "no-fields",
        "json-list",
        "json-null",
        "message-null",
        "content-number",
        "finish-reason-unknown",
        "usage-negative",
        "usage-null-counts",
        "not-utf-8",
    ],
)
async def test_a_reply_that_is_no_chat_completion_is_a_malformed_response_naming_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: bytes, problem: str
) -> None:
    error = await shout_failing(tmp_path, monkeypatch, RawBody(body))
    assert error.model == "writer"
    assert error.reason.startswith(f"malformed response: {problem}")
    assert error.retryable
    assert error.step is not None and error.step.tokens_in is None


async def test_an_azure_reply_that_is_no_chat_completion_is_a_malformed_response(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "az-loopback")
    async with OpenAICompatibleServer([RawBody(b'{"choices": null}')]) as server:
        azure = (
            f"  writer:\n    provider: azure_openai\n    model: my-deployment\n"
            f"    base_url: {server.origin}\n    api_version: 2024-10-21\n"
        )
        async with AgentHost(write_config(tmp_path, azure)) as host:
            with pytest.raises(ProviderError, match="malformed response: choices is missing"):
                await host.invoke("talk.Shout", input="hi")


@dataclass(frozen=True)
class ArriveAndHang:
    """Tell ``arrived`` the request came, then never answer (drop it when the server stops)."""

    arrived: asyncio.Event

    async def respond(self, request: ChatRequest) -> web.StreamResponse:
        self.arrived.set()
        return await Hang().respond(request)


async def test_a_call_in_flight_when_the_host_closes_builds_no_new_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_OPENAI_KEY", "sk-loopback")
    arrived = asyncio.Event()
    async with OpenAICompatibleServer([ArriveAndHang(arrived)]) as server:
        config = write_config(tmp_path, openai_model(server.base_url) + "    retries: 1\n")
        host = AgentHost(config, clock=VirtualClock())
        host.start()
        calling = asyncio.create_task(host.invoke("talk.Shout", input="hi"))
        await arrived.wait()
        await host.close()
        with pytest.raises(AgentHostError) as raised:
            await calling
    assert "the host was closed while this call was in flight" in str(raised.value)
    assert len(server.requests) == 1  # the retry sent nothing: no client was rebuilt
