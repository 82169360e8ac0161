"""SK's OpenAI and Azure OpenAI services, with each reply checked before SK reads it.

The ``openai`` client does not validate a 200 reply: a body without ``choices``, a
``message`` of ``null``, text that is a number or usage counts that are strings
reach SK, which fails on them with a bare ``TypeError`` or ``AttributeError``
naming nothing. Each reply is checked here first, where SK records its usage,
and one that does not fit is a retryable :class:`~host.errors.ProviderError`
("malformed response") saying which field is wrong.
"""

from __future__ import annotations

from typing import Any

from openai import AsyncAzureOpenAI, AsyncOpenAI, AsyncStream
from openai.types.chat import ChatCompletion, ChatCompletionMessage
from semantic_kernel.connectors.ai.open_ai import AzureChatCompletion, OpenAIChatCompletion
from semantic_kernel.contents import AuthorRole, FinishReason
from typing_extensions import override

from host.errors import ProviderError

_ROLES = frozenset(role.value for role in AuthorRole)
_FINISH_REASONS = tuple(reason.value for reason in FinishReason)


def reply_problem(response: object) -> str | None:
    """What makes ``response`` (as the ``openai`` client returned it) no chat completion
    SK can read, or ``None`` when it is one."""
    if not isinstance(response, ChatCompletion):
        return "the body is not a JSON chat completion"
    choices = getattr(response, "choices", None)
    if not isinstance(choices, list):
        return "choices is missing" if choices is None else "choices is not a list"
    if not choices:
        return "choices is empty"
    for index, choice in enumerate(choices):
        problem = _choice_problem(choice)
        if problem is not None:
            return f"choices[{index}]{problem}"
    return _usage_problem(getattr(response, "usage", None))


def _choice_problem(choice: Any) -> str | None:
    message = getattr(choice, "message", None)
    if not isinstance(message, ChatCompletionMessage):
        return ".message is missing" if message is None else ".message is not an object"
    role = getattr(message, "role", None)
    if role not in _ROLES:
        return f".message.role is {role!r}, not a chat role"
    content = getattr(message, "content", None)
    if content is not None and not isinstance(content, str):
        return f".message.content is {type(content).__name__}, not text"
    tool_calls = getattr(message, "tool_calls", None)
    if tool_calls is not None and not isinstance(tool_calls, list):
        return ".message.tool_calls is not a list"
    reason = getattr(choice, "finish_reason", None)
    if reason and reason not in _FINISH_REASONS:
        return f".finish_reason is {reason!r}, not one of {', '.join(_FINISH_REASONS)}"
    return None


def _usage_problem(usage: Any) -> str | None:
    if usage is None:
        return None
    for field in ("prompt_tokens", "completion_tokens", "total_tokens"):
        value = getattr(usage, field, None)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return f"usage.{field} is {value!r}, not a count of tokens"
    return None


def _checked(service_id: str, response: object) -> None:
    """Raise a retryable :class:`ProviderError` when ``response`` is no readable reply
    (a stream is read chunk by chunk, by SK)."""
    if isinstance(response, AsyncStream):
        return
    problem = reply_problem(response)
    if problem is not None:
        raise ProviderError(service_id, f"malformed response: {problem}", retryable=True)


class CheckedOpenAIChatCompletion(OpenAIChatCompletion):
    """SK's OpenAI service; a reply that is no readable chat completion is a ProviderError."""

    def __init__(self, *, ai_model_id: str, service_id: str, async_client: AsyncOpenAI) -> None:
        super().__init__(ai_model_id=ai_model_id, service_id=service_id, async_client=async_client)

    @override
    def store_usage(self, response: Any) -> None:
        _checked(self.service_id, response)
        super().store_usage(response)


class CheckedAzureChatCompletion(AzureChatCompletion):
    """SK's Azure OpenAI service; a reply that is no readable chat completion is a
    ProviderError."""

    def __init__(
        self, *, service_id: str, deployment_name: str, async_client: AsyncAzureOpenAI
    ) -> None:
        super().__init__(
            service_id=service_id, deployment_name=deployment_name, async_client=async_client
        )

    @override
    def store_usage(self, response: Any) -> None:
        _checked(self.service_id, response)
        super().store_usage(response)
