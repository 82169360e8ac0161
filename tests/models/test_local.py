"""The embedded model as an SK chat service: settings, errors, and real JSON replies."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict
from semantic_kernel import Kernel
from semantic_kernel.connectors.ai.completion_usage import CompletionUsage
from semantic_kernel.connectors.ai.prompt_execution_settings import PromptExecutionSettings
from semantic_kernel.contents import AuthorRole, ChatHistory, FinishReason
from semantic_kernel.functions import KernelArguments, KernelFunctionFromPrompt

from host.config.schema import LocalOptions
from host.errors import ProviderError, describe_error
from host.models.local import (
    LocalChatCompletion,
    LocalExecutionSettings,
    _llama_messages,
    load_count,
)


class Weather(BaseModel):
    model_config = ConfigDict(extra="forbid")

    city: str
    temperature_c: int


WEATHER_SCHEMA = Weather.model_json_schema()

EXTRACT_WEATHER = """Extract the city and the temperature in Celsius as JSON.
Sentence: Oslo had 5°C this morning.
JSON: {"city": "Oslo", "temperature_c": 5}
Sentence: {{$input}}
JSON:"""


@pytest.mark.parametrize(
    ("response_format", "expected"),
    [
        (None, None),
        ({"type": "text"}, None),
        ({"type": "json_object"}, {"type": "json_object"}),
        (
            {"type": "json_object", "schema": WEATHER_SCHEMA},
            {"type": "json_object", "schema": WEATHER_SCHEMA},
        ),
        (
            {"type": "json_schema", "json_schema": {"name": "weather", "schema": WEATHER_SCHEMA}},
            {"type": "json_object", "schema": WEATHER_SCHEMA},
        ),
    ],
)
def test_response_format_becomes_llama_cpp_shape(
    response_format: dict[str, Any] | None, expected: dict[str, Any] | None
) -> None:
    settings = LocalExecutionSettings(response_format=response_format)

    assert settings.llama_response_format() == expected


@pytest.mark.parametrize(
    "response_format",
    [
        {"type": "xml"},
        {"type": "json_schema", "json_schema": {"name": "no schema"}},
        {"type": "json_object", "schema": "not an object"},
    ],
)
def test_unknown_response_format_is_rejected(response_format: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="response_format"):
        LocalExecutionSettings(response_format=response_format)


def test_grammar_and_json_format_together_are_rejected() -> None:
    with pytest.raises(ValueError, match="either grammar or a JSON response_format"):
        LocalExecutionSettings(grammar='root ::= "a"', response_format={"type": "json_object"})


def test_invalid_prompt_settings_are_a_provider_error() -> None:
    service = LocalChatCompletion(service_id="local")

    with pytest.raises(ProviderError, match="invalid execution settings") as caught:
        service.get_prompt_execution_settings_from_settings(
            PromptExecutionSettings(response_format={"type": "xml"})
        )

    assert caught.value.model == "local"


def test_an_invalid_setting_is_named_in_one_line() -> None:
    """Kills: pydantic's paragraph cut to its first line by ``describe_error``, which said
    ``1 validation error for LocalExecutionSettings`` and named no field."""
    service = LocalChatCompletion(service_id="local")
    with pytest.raises(ProviderError) as caught:
        service.get_prompt_execution_settings_from_settings(
            PromptExecutionSettings(extension_data={"max_tokens": 0})
        )

    assert describe_error(caught.value) == (
        "ProviderError: model 'local': invalid execution settings: LocalExecutionSettings: "
        "max_tokens: Input should be greater than 0"
    )


def test_prompt_settings_carry_over_to_local_settings() -> None:
    service = LocalChatCompletion(service_id="local")
    generic = PromptExecutionSettings(
        max_tokens=12, temperature=0.5, stop=["\n"], response_format={"type": "json_object"}
    )

    settings = service.get_prompt_execution_settings_from_settings(generic)

    assert isinstance(settings, LocalExecutionSettings)
    assert (settings.max_tokens, settings.temperature, settings.stop) == (12, 0.5, ["\n"])
    assert settings.llama_response_format() == {"type": "json_object"}


def test_defaults_are_short_and_greedy() -> None:
    settings = LocalExecutionSettings()

    assert (settings.max_tokens, settings.temperature) == (256, 0.0)


def test_system_text_is_folded_into_the_first_user_turn() -> None:
    history = ChatHistory(system_message="Reply in JSON.")
    history.add_user_message("Name a city.")
    history.add_assistant_message('{"city": "Rome"}')
    history.add_user_message("Another.")

    assert _llama_messages(history) == [
        {"role": "user", "content": "Reply in JSON.\n\nName a city."},
        {"role": "assistant", "content": '{"city": "Rome"}'},
        {"role": "user", "content": "Another."},
    ]


def test_system_text_alone_becomes_a_user_turn() -> None:
    history = ChatHistory(system_message="Say hello.")

    assert _llama_messages(history) == [{"role": "user", "content": "Say hello."}]


async def test_missing_model_file_is_a_provider_error(tmp_path: Path) -> None:
    missing = tmp_path / "missing.gguf"
    service = LocalChatCompletion(
        service_id="offline", options=LocalOptions(model_path=str(missing))
    )

    with pytest.raises(ProviderError) as caught:
        await service.get_chat_message_content(_ask("hi"), LocalExecutionSettings())

    assert caught.value.model == "offline"
    assert str(missing) in caught.value.reason
    assert not caught.value.retryable


async def test_file_that_is_not_gguf_is_a_provider_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a model")
    service = LocalChatCompletion(service_id="offline", options=LocalOptions(model_path=str(junk)))

    with pytest.raises(ProviderError, match="GGUF") as caught:
        await service.get_chat_message_content(_ask("hi"), LocalExecutionSettings())

    assert str(junk) in caught.value.reason
    assert not caught.value.retryable


@pytest.mark.slow
async def test_prompt_function_reply_follows_the_json_schema() -> None:
    kernel = Kernel()
    kernel.add_service(LocalChatCompletion(service_id="local"))
    extract = KernelFunctionFromPrompt(
        function_name="extract_weather",
        prompt=EXTRACT_WEATHER,
        prompt_execution_settings=PromptExecutionSettings(
            max_tokens=24,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "weather", "schema": WEATHER_SCHEMA},
            },
        ),
    )

    result = await kernel.invoke(
        extract, KernelArguments(input="It was 24°C in Shanghai yesterday.")
    )

    assert result is not None
    reply = result.value[0]
    weather = Weather.model_validate_json(str(reply))
    assert weather.city == "Shanghai"
    assert reply.role == AuthorRole.ASSISTANT
    assert reply.ai_model_id == "gemma-3-270m"
    usage = reply.metadata["usage"]
    assert isinstance(usage, CompletionUsage)
    assert usage.prompt_tokens and 0 < (usage.completion_tokens or 0) <= 24


@pytest.mark.slow
async def test_grammar_bounds_a_free_text_reply() -> None:
    service = LocalChatCompletion(service_id="local")
    settings = LocalExecutionSettings(max_tokens=8, grammar='root ::= "Yes." | "No."')

    reply = await service.get_chat_message_content(_ask("Is water wet?"), settings)

    assert reply is not None
    assert str(reply) in {"Yes.", "No."}
    assert reply.finish_reason == FinishReason.STOP


@pytest.mark.slow
async def test_invalid_grammar_is_a_provider_error() -> None:
    service = LocalChatCompletion(service_id="local")
    settings = LocalExecutionSettings(max_tokens=8, grammar="root ::= [a-")

    with pytest.raises(ProviderError, match="not a valid GBNF grammar"):
        await service.get_chat_message_content(_ask("hi"), settings)


@pytest.mark.slow
async def test_concurrent_requests_share_one_loaded_model() -> None:
    # n_ctx=512 is used by no other test, so this test owns the first load of that model.
    first, second = (
        LocalChatCompletion(service_id=name, options=LocalOptions(n_ctx=512)) for name in ("a", "b")
    )
    settings = LocalExecutionSettings(max_tokens=8, response_format={"type": "json_object"})
    loads_before = load_count()

    replies = await asyncio.gather(
        first.get_chat_message_content(_ask("Reply with a JSON object."), settings),
        second.get_chat_message_content(_ask("Reply with an empty JSON object."), settings),
    )

    assert all(reply is not None and str(reply).startswith("{") for reply in replies)
    assert load_count() == loads_before + 1


@pytest.mark.slow
async def test_usage_counts_the_prompt_tokens_a_kept_prefix_served() -> None:
    service = LocalChatCompletion(service_id="local")
    settings = LocalExecutionSettings(max_tokens=4)
    facts = " ".join(f"Fact {n}: tea number {n} is green." for n in range(40))

    first, second = [
        await service.get_chat_message_content(_ask(f"{facts}\nQuestion {n}: which tea?"), settings)
        for n in (1, 2)
    ]

    assert first is not None and second is not None
    usage = second.metadata["usage"]
    assert isinstance(usage, CompletionUsage) and usage.prompt_tokens_details is not None
    cached = usage.prompt_tokens_details.cached_tokens or 0
    assert 256 <= cached < (usage.prompt_tokens or 0)  # the shared facts, not the question


def _ask(text: str) -> ChatHistory:
    history = ChatHistory()
    history.add_user_message(text)
    return history
