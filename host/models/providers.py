"""One factory per ``provider:`` value, each returning an SK chat-completion service.

Config picks the provider; nothing else in the host knows which one it got.
Hosted clients are built with ``max_retries=0``: retrying is the host's job.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from host.config import ModelConfig
from host.errors import ConfigError

if TYPE_CHECKING:
    from semantic_kernel.connectors.ai.chat_completion_client_base import ChatCompletionClientBase

ServiceFactory = Callable[[str, ModelConfig, "str | None"], "ChatCompletionClientBase"]

_NO_KEY = "not-needed"
"""Sent to OpenAI-compatible servers (Ollama, llama.cpp server) that ask for no key."""


def _client_timeout(model: ModelConfig) -> float | None:
    """The client's own timeout: a backstop just beyond the attempt's, which is the one that
    fires and is recorded (equal ones would race, and either error could win)."""
    return None if model.timeout is None else model.timeout + 1.0


def _openai(name: str, model: ModelConfig, secret: str | None) -> ChatCompletionClientBase:
    from openai import AsyncOpenAI

    from host.models.openai_replies import CheckedOpenAIChatCompletion

    client = AsyncOpenAI(
        api_key=secret or _NO_KEY,
        base_url=model.base_url,
        timeout=_client_timeout(model),
        max_retries=0,
    )
    return CheckedOpenAIChatCompletion(
        ai_model_id=model.model, service_id=name, async_client=client
    )


def _azure_openai(name: str, model: ModelConfig, secret: str | None) -> ChatCompletionClientBase:
    from openai import AsyncAzureOpenAI

    from host.models.openai_replies import CheckedAzureChatCompletion

    if model.base_url is None:
        raise ConfigError([f"models.{name}.base_url: azure_openai needs the resource endpoint"])
    client = AsyncAzureOpenAI(
        api_key=secret,
        azure_endpoint=model.base_url,
        azure_deployment=model.model,
        api_version=model.api_version or "2024-10-21",
        timeout=_client_timeout(model),
        max_retries=0,
    )
    return CheckedAzureChatCompletion(
        service_id=name, deployment_name=model.model, async_client=client
    )


def _anthropic(name: str, model: ModelConfig, secret: str | None) -> ChatCompletionClientBase:
    try:
        from anthropic import AsyncAnthropic
        from semantic_kernel.connectors.ai.anthropic import AnthropicChatCompletion
    except ImportError:
        extra = "pip install 'agent-host[anthropic]'"
        raise ConfigError([f"models.{name}: provider anthropic needs an extra: {extra}"]) from None
    client = AsyncAnthropic(
        api_key=secret, base_url=model.base_url, timeout=_client_timeout(model), max_retries=0
    )
    return AnthropicChatCompletion(ai_model_id=model.model, service_id=name, async_client=client)


def _local(name: str, model: ModelConfig, secret: str | None) -> ChatCompletionClientBase:
    from host.config.schema import LocalOptions
    from host.models.local import LocalChatCompletion

    options = LocalOptions.model_validate(model.options)  # checked at load already
    return LocalChatCompletion(service_id=name, ai_model_id=model.model, options=options)


def _scripted(name: str, model: ModelConfig, secret: str | None) -> ChatCompletionClientBase:
    from host.testing.scripted import Reply, ScriptedChatCompletion

    replies = [Reply(str(text)) for text in model.options.get("replies", [])]
    return ScriptedChatCompletion(service_id=name, ai_model_id=model.model, script=replies)


FACTORIES: dict[str, ServiceFactory] = {
    "openai": _openai,
    "azure_openai": _azure_openai,
    "anthropic": _anthropic,
    "local": _local,
    "scripted": _scripted,
}
