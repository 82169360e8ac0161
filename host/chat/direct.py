"""``/chat``: talk to one model directly, the loaded functions as its tools.

The model's reply streams as it arrives (SK's streaming chat completion). With a
model that can call tools, SK runs each call through the host's kernel: the
tool-call argument check, then the resilience chain (timeouts, retries,
fallbacks, breakers) like any call. Each call is shown with its arguments,
result and latency. ``max_tool_calls`` caps a turn: past it, a call is answered
"limit reached" without running, and the model is asked once more, without
tools, to answer in words. A model without tool calling (the embedded 270M model) replies
without tools, which the chat says once.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from host.catalogue import INTERNAL_PLUGIN

if TYPE_CHECKING:
    from semantic_kernel import Kernel
    from semantic_kernel.contents import ChatMessageContent, StreamingChatMessageContent
    from semantic_kernel.filters.auto_function_invocation.auto_function_invocation_context import (
        AutoFunctionInvocationContext,
    )

    from host.models.services import ModelServices

TURNS_KEPT = 20
"""How many earlier exchanges the model is sent (oldest dropped first)."""

LIMIT_REACHED = "Tool call limit of this turn reached ({cap}); answer with what you have."
"""What the model is told instead of a call's result once a turn's cap is reached."""


@dataclass(frozen=True, slots=True)
class ToolCallShown:
    """One tool call as the chat shows it."""

    function: str
    arguments: dict[str, Any]
    result: Any
    latency_ms: float
    ran: bool = True
    """``False`` when the cap stopped it before it ran."""


class ReplyView(Protocol):
    """Where a direct reply goes as it arrives."""

    def text(self, chunk: str) -> None:
        """A piece of the model's reply."""

    def tool_call(self, call: ToolCallShown) -> None:
        """A tool call the model made, once it has run."""


@dataclass(frozen=True, slots=True)
class DirectReply:
    """A finished direct turn: the reply and what it spent."""

    model: str
    text: str
    tool_calls: int
    tools_offered: bool
    tokens_in: int | None
    tokens_out: int | None
    cost: float | None
    capped: bool
    """The model asked for more tool calls than the cap allowed."""


@dataclass(slots=True)
class _Turn:
    view: ReplyView
    cap: int
    calls: int = 0
    capped: bool = False


_turn: ContextVar[_Turn | None] = ContextVar("agent_host_direct_turn", default=None)

AutoNext = Callable[["AutoFunctionInvocationContext"], Awaitable[None]]


class ToolCallWatch:
    """An SK auto-function-invocation filter: shows each tool call of a direct turn and
    enforces its cap; outside a direct turn it only passes calls on."""

    async def __call__(self, context: AutoFunctionInvocationContext, next: AutoNext) -> None:
        turn = _turn.get()
        if turn is None:
            await next(context)
            return
        from semantic_kernel.functions import FunctionResult

        call = context.function_call_content
        name = context.function.fully_qualified_name.replace("-", ".", 1)
        arguments = dict(call.to_kernel_arguments()) if call is not None else {}
        if turn.calls >= turn.cap:
            turn.capped = True
            limit = LIMIT_REACHED.format(cap=turn.cap)
            context.function_result = FunctionResult(
                function=context.function.metadata, value=limit
            )
            context.terminate = True  # no more requests with tools: send() asks without them
            turn.view.tool_call(ToolCallShown(name, arguments, limit, 0.0, ran=False))
            return
        turn.calls += 1
        start = time.perf_counter()
        await next(context)
        result = context.function_result.value if context.function_result is not None else None
        turn.view.tool_call(ToolCallShown(name, arguments, result, _ms_since(start)))


@dataclass(slots=True)
class DirectChat:
    """A direct conversation with a model over one host's kernel and models."""

    kernel: Kernel
    services: ModelServices
    max_tool_calls: int
    _exchanges: deque[list[ChatMessageContent]] = field(
        default_factory=lambda: deque(maxlen=TURNS_KEPT)
    )

    def __post_init__(self) -> None:
        # SK nests these filters so that the last in its list runs outermost (add_filter
        # puts a new one first): appended, the watch also sees calls the argument check
        # answers without running them.
        watch = ToolCallWatch()
        self.kernel.auto_function_invocation_filters.append((id(watch), watch))

    def remember(self, request: str, reply: str) -> None:
        """An earlier exchange of the session (a continued one), sent with later messages."""
        from semantic_kernel.contents import AuthorRole, ChatMessageContent

        self._exchanges.append(
            [
                ChatMessageContent(role=AuthorRole.USER, content=request),
                ChatMessageContent(role=AuthorRole.ASSISTANT, content=reply),
            ]
        )

    def forget(self) -> None:
        """Start afresh (``/new``)."""
        self._exchanges.clear()

    async def send(self, message: str, model: str, view: ReplyView) -> DirectReply:
        """Send ``message`` to ``model`` with the conversation so far; the reply streams
        into ``view``. Cancelled, the exchange is not kept."""
        from semantic_kernel.connectors.ai.function_choice_behavior import (
            FunctionChoiceBehavior,
        )
        from semantic_kernel.contents import ChatHistory

        service = self.services.get(model)
        settings = service.get_prompt_execution_settings_class()()
        offered = service.SUPPORTS_FUNCTION_CALLING
        if offered:
            settings.function_choice_behavior = FunctionChoiceBehavior.Auto(
                filters={"excluded_plugins": [INTERNAL_PLUGIN]},
                maximum_auto_invoke_attempts=self.max_tool_calls + 1,
            )
        history = ChatHistory(messages=[m for exchange in self._exchanges for m in exchange])
        sent = len(history.messages)
        history.add_user_message(message)
        turn = _Turn(view, self.max_tool_calls)
        reply = _Streamed(view)
        token = _turn.set(turn)
        try:
            await reply.read(
                service.get_streaming_chat_message_contents(history, settings, kernel=self.kernel)
            )
            if turn.capped:  # the cap ended the tool calls: one more request, without tools
                plain = service.get_prompt_execution_settings_class()()
                await reply.read(service.get_streaming_chat_message_contents(history, plain))
        except Exception as error:  # as a step's call fails: the model named, one line
            from host.resilience.translation import translate

            raise translate(error, model, model=model) from error
        finally:
            _turn.reset(token)
        text = "".join(reply.pieces)
        if text:
            history.add_assistant_message(text)
        self._exchanges.append(list(history.messages[sent:]))
        row = self.services.config(model)
        tokens_in, tokens_out = reply.usage if reply.usage is not None else (None, None)
        cost = None
        if reply.usage is not None:
            cost = row.cost.of(*reply.usage)
        return DirectReply(
            model, text, turn.calls, offered, tokens_in, tokens_out, cost, turn.capped
        )


class _Streamed:
    """A reply as it streams in: its text, into ``view`` too, and the tokens reported."""

    def __init__(self, view: ReplyView) -> None:
        self._view = view
        self.pieces: list[str] = []
        self.usage: tuple[int, int] | None = None

    async def read(self, stream: AsyncIterator[list[StreamingChatMessageContent]]) -> None:
        """Take the assistant's chunks of ``stream`` (tool results are shown by the watch)."""
        from semantic_kernel.contents import AuthorRole, StreamingTextContent

        async for chunks in stream:
            for chunk in chunks:
                if chunk.role != AuthorRole.ASSISTANT:
                    continue
                spent = chunk.metadata.get("usage")
                if spent is not None:
                    before = self.usage or (0, 0)
                    self.usage = (
                        before[0] + int(spent.prompt_tokens or 0),
                        before[1] + int(spent.completion_tokens or 0),
                    )
                for item in chunk.items:
                    if isinstance(item, StreamingTextContent) and item.text:
                        self.pieces.append(item.text)
                        self._view.text(item.text)


def _ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1000
