"""A deterministic SK chat-completion service that plays back a script.

Each model call consumes one step of the script, in order. A step is a
:class:`Reply`, a :class:`ToolCall` / :class:`ToolCalls`, a :class:`Delay`
before another step, a :class:`Raise`, or a callable
``(ChatHistory, PromptExecutionSettings) -> Step`` that decides at call time.
Every call is recorded in :attr:`ScriptedChatCompletion.requests`, whether or
not a step was left for it.

The service declares function-calling support, so SK's automatic function
invocation loop runs exactly as it does for the OpenAI connector: with
``FunctionChoiceBehavior.Auto()`` a tool-call step makes SK invoke the kernel
function and call the model again with the result.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeAlias

from pydantic import PrivateAttr
from semantic_kernel.connectors.ai.chat_completion_client_base import ChatCompletionClientBase
from semantic_kernel.connectors.ai.completion_usage import CompletionUsage
from semantic_kernel.connectors.ai.function_call_choice_configuration import (
    FunctionCallChoiceConfiguration,
)
from semantic_kernel.connectors.ai.function_calling_utils import (
    kernel_function_metadata_to_function_call_format,
)
from semantic_kernel.connectors.ai.function_choice_type import FunctionChoiceType
from semantic_kernel.connectors.ai.prompt_execution_settings import PromptExecutionSettings
from semantic_kernel.contents import (
    AuthorRole,
    ChatHistory,
    ChatMessageContent,
    FinishReason,
    FunctionCallContent,
    StreamingChatMessageContent,
    StreamingTextContent,
    TextContent,
)

from host.clock import Clock, SystemClock


@dataclass(frozen=True)
class Reply:
    """An assistant text message; ``usage`` is ``(prompt_tokens, completion_tokens)``."""

    text: str
    usage: tuple[int, int] | None = None


@dataclass(frozen=True)
class ToolCall:
    """One function call; ``function`` is ``plugin.function`` or SK's ``plugin-function``.

    ``arguments`` may be a JSON string, e.g. a malformed one.
    """

    function: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    id: str | None = None


@dataclass(frozen=True)
class ToolCalls:
    """Several function calls in one assistant message (parallel tool calls)."""

    calls: Sequence[ToolCall]
    usage: tuple[int, int] | None = None


@dataclass(frozen=True)
class Delay:
    """Wait ``seconds`` on the service's clock, then play ``then``."""

    seconds: float
    then: Step


@dataclass(frozen=True)
class Raise:
    """Raise ``error`` from the model call."""

    error: BaseException


Responder: TypeAlias = Callable[[ChatHistory, PromptExecutionSettings], "Step"]
Step: TypeAlias = Reply | ToolCall | ToolCalls | Delay | Raise | Responder


class ScriptExhaustedError(AssertionError):
    """The scripted model was called more often than its script allows."""


@dataclass(frozen=True)
class RecordedRequest:
    """One model call as the service saw it.

    ``messages`` are OpenAI-shaped dicts (``role``, ``content``, ``tool_calls``,
    ``tool_call_id``); ``settings`` holds the execution settings, including the
    ``tools`` and ``tool_choice`` SK derived from the function choice behaviour.
    ``model`` is the service id that took the call: the configured model name when a
    host was given the service (see :meth:`ScriptedChatCompletion.serving`).
    """

    messages: list[dict[str, Any]]
    settings: dict[str, Any]
    model: str | None = None


class ScriptedPromptExecutionSettings(PromptExecutionSettings):
    """Execution settings carrying the tools SK offers, as the OpenAI ones do."""

    tools: list[dict[str, Any]] | None = None
    tool_choice: str | None = None


class ScriptedChatCompletion(ChatCompletionClientBase):
    """A chat-completion service whose answers are a script, one step per call."""

    SUPPORTS_FUNCTION_CALLING: ClassVar[bool] = True

    _script: deque[Step] = PrivateAttr()
    _default: Step | None = PrivateAttr()
    _clock: Clock = PrivateAttr()
    _requests: list[RecordedRequest] = PrivateAttr(default_factory=list)
    _exhausted: list[str] = PrivateAttr(default_factory=list)

    def __init__(
        self,
        service_id: str,
        script: Iterable[Step] = (),
        *,
        ai_model_id: str = "scripted",
        default: Step | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(service_id=service_id, ai_model_id=ai_model_id)
        self._script = deque(script)
        self._default = default
        self._clock = clock or SystemClock()

    @classmethod
    def echo(cls, service_id: str, **options: Any) -> ScriptedChatCompletion:
        """A service that answers every call with the last user message."""
        return cls(service_id, default=_echo_last_user_message, **options)

    def add(self, *steps: Step) -> ScriptedChatCompletion:
        """Script more steps, after those not played yet; returns the service."""
        self._script.extend(steps)
        return self

    def serving(self, service_id: str, *, ai_model_id: str | None = None) -> ScriptedChatCompletion:
        """This service under another id, sharing its script, default, clock and requests.

        One script can then answer for several configured models, in call order,
        while each request records which model it asked.
        """
        twin = ScriptedChatCompletion(
            service_id,
            ai_model_id=ai_model_id or self.ai_model_id,
            default=self._default,
            clock=self._clock,
        )
        twin._script = self._script
        twin._requests = self._requests
        twin._exhausted = self._exhausted
        return twin

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every call so far, oldest first."""
        return self._requests

    @property
    def exhausted(self) -> list[str]:
        """The message of each call the script had no step for, even if its caller
        caught the :class:`ScriptExhaustedError`."""
        return self._exhausted

    @property
    def clock(self) -> Clock:
        """The clock :class:`Delay` steps wait on."""
        return self._clock

    def get_prompt_execution_settings_class(self) -> type[PromptExecutionSettings]:
        return ScriptedPromptExecutionSettings

    async def _inner_get_chat_message_contents(
        self, chat_history: ChatHistory, settings: PromptExecutionSettings
    ) -> list[ChatMessageContent]:
        step = await self._play(chat_history, settings)
        return [
            ChatMessageContent(
                role=AuthorRole.ASSISTANT,
                items=self._items(step),
                ai_model_id=self.ai_model_id,
                metadata={"usage": _usage(step, chat_history)},
                finish_reason=_finish_reason(step),
            )
        ]

    async def _inner_get_streaming_chat_message_contents(
        self,
        chat_history: ChatHistory,
        settings: PromptExecutionSettings,
        function_invoke_attempt: int = 0,
    ) -> AsyncGenerator[list[StreamingChatMessageContent], Any]:
        step = await self._play(chat_history, settings)
        pieces: list[list[Any]]
        if isinstance(step, Reply):
            pieces = [[StreamingTextContent(choice_index=0, text=word)] for word in _words(step)]
        else:
            pieces = [[item] for item in self._items(step)]
        for index, items in enumerate(pieces, start=1):
            last = index == len(pieces)
            yield [
                StreamingChatMessageContent(
                    role=AuthorRole.ASSISTANT,
                    choice_index=0,
                    items=items,
                    ai_model_id=self.ai_model_id,
                    metadata={"usage": _usage(step, chat_history)} if last else {},
                    finish_reason=_finish_reason(step) if last else None,
                    function_invoke_attempt=function_invoke_attempt,
                )
            ]

    def _update_function_choice_settings_callback(
        self,
    ) -> Callable[
        [FunctionCallChoiceConfiguration, PromptExecutionSettings, FunctionChoiceType], None
    ]:
        return _offer_tools

    def _reset_function_choice_settings(self, settings: PromptExecutionSettings) -> None:
        if isinstance(settings, ScriptedPromptExecutionSettings):
            settings.tools = None
            settings.tool_choice = None

    async def _play(
        self, chat_history: ChatHistory, settings: PromptExecutionSettings
    ) -> Reply | ToolCalls:
        """Record the call, then resolve the next step into a reply or tool calls."""
        self._requests.append(_record(chat_history, settings, self.service_id))
        if self._script:
            step = self._script.popleft()
        elif self._default is not None:
            step = self._default
        else:
            self._exhausted.append(
                f"scripted model {self.service_id!r}: no reply scripted for call "
                f"{len(self._requests)}"
            )
            raise ScriptExhaustedError(self._exhausted[-1])
        while True:
            if isinstance(step, Reply | ToolCalls):
                return step
            if isinstance(step, ToolCall):
                return ToolCalls([step])
            if isinstance(step, Delay):
                await self._clock.sleep(step.seconds)
                step = step.then
            elif isinstance(step, Raise):
                raise step.error
            else:
                step = step(chat_history, settings)

    def _items(self, step: Reply | ToolCalls) -> list[Any]:
        if isinstance(step, Reply):
            return [TextContent(text=step.text, ai_model_id=self.ai_model_id)]
        number = len(self._requests)
        return [
            FunctionCallContent(
                id=call.id or f"call_{number}_{index}",
                index=index,
                name=call.function.replace(".", "-", 1),
                arguments=call.arguments
                if isinstance(call.arguments, str)
                else json.dumps(call.arguments),
            )
            for index, call in enumerate(step.calls)
        ]


def _offer_tools(
    configuration: FunctionCallChoiceConfiguration,
    settings: PromptExecutionSettings,
    choice: FunctionChoiceType,
) -> None:
    if isinstance(settings, ScriptedPromptExecutionSettings) and configuration.available_functions:
        settings.tool_choice = choice.value
        settings.tools = [
            kernel_function_metadata_to_function_call_format(function)
            for function in configuration.available_functions
        ]


def _record(
    chat_history: ChatHistory, settings: PromptExecutionSettings, model: str
) -> RecordedRequest:
    """Copy the call into plain data; the behaviour object is represented by tools/tool_choice."""
    extra = {k: v for k, v in settings.extension_data.items() if k != "function_choice_behavior"}
    options = settings.model_dump(exclude={"extension_data"}, exclude_none=True)
    return RecordedRequest(
        messages=[message.to_dict() for message in chat_history.messages],
        settings={**extra, **options},
        model=model,
    )


def _usage(step: Reply | ToolCalls, chat_history: ChatHistory) -> CompletionUsage:
    """The scripted usage, else an estimate by words, so cost accounting always has figures."""
    if step.usage is not None:
        prompt, completion = step.usage
    else:
        prompt = sum(len(str(message.content or "").split()) for message in chat_history.messages)
        completion = len(step.text.split()) if isinstance(step, Reply) else len(step.calls)
    return CompletionUsage(prompt_tokens=prompt, completion_tokens=completion)


def _finish_reason(step: Reply | ToolCalls) -> FinishReason:
    return FinishReason.STOP if isinstance(step, Reply) else FinishReason.TOOL_CALLS


def _words(reply: Reply) -> list[str]:
    """Split a reply into stream chunks that concatenate back to the text."""
    words = reply.text.split(" ")
    return [word + " " for word in words[:-1]] + [words[-1]]


def _echo_last_user_message(chat_history: ChatHistory, settings: PromptExecutionSettings) -> Reply:
    users = [m for m in chat_history.messages if m.role == AuthorRole.USER]
    return Reply(users[-1].content if users else "")
