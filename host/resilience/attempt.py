"""The innermost filter: one attempt, bounded by its timeout, translated, and recorded."""

from __future__ import annotations

from typing import TYPE_CHECKING

from host.errors import AttemptTimeoutError, ProviderError
from host.resilience.bound import Bounded
from host.resilience.translation import translate
from host.state import CallEvent

if TYPE_CHECKING:
    from semantic_kernel.filters.functions.function_invocation_context import (
        FunctionInvocationContext,
    )
    from semantic_kernel.functions import FunctionResult

    from host.resilience.chain import Next
    from host.resilience.context import CallContext
    from host.resilience.guard import Guard, Target


class AttemptFilter:
    """Runs the call once within the policy's timeout; turns any error into the host's.

    An async call is cancelled when its timeout passes (the timer is armed once
    it first waits: see :class:`~host.resilience.bound.Bounded`). A synchronous native
    function cannot be interrupted (it holds the event loop until it returns),
    so its result is discarded as late instead, with the same timeout error.
    A model's service is built before the timeout starts (a first call imports
    its connector), and a model's reply with nothing in it is a failed attempt.
    """

    def __init__(self, guard: Guard) -> None:
        self._guard = guard

    async def __call__(
        self, context: FunctionInvocationContext, call: CallContext, next: Next
    ) -> None:
        clock = self._guard.clock
        target = call.target
        assert target is not None  # set at the top of the chain
        timeout = target.policy.timeout
        start = clock.now()
        bounded = None
        try:
            if target.model is not None:  # a first call imports the connector: not its time
                self._guard.selector.services.get(target.model)
                start = clock.now()
            if timeout is not None and context.function.metadata.is_asynchronous is not False:
                bounded = Bounded(clock, start + timeout, next(context, call))
                await bounded
            else:
                await next(context, call)
            if target.model is not None and _is_empty_completion(context.result):
                raise ProviderError(target.model, _EMPTY, retryable=True)
        except Exception as raised:  # every failure leaves this filter translated
            if bounded is not None and bounded.expired():
                raise self._timed_out(call, target, start) from None
            error = translate(raised, target.name, model=target.model)
            call.record(_event(call, target, "error", clock.now() - start, error))
            raise error from raised
        if timeout is not None and bounded is None and clock.now() - start > timeout:
            context.result = None
            raise self._timed_out(call, target, start)
        if target.side_effects:
            call.note_effect(target.name)
        if call.journal is not None:
            call.journal.append(_event(call, target, "ok", clock.now() - start))

    def _timed_out(self, call: CallContext, target: Target, start: float) -> AttemptTimeoutError:
        error = AttemptTimeoutError(target.name, target.policy.timeout or 0.0)
        call.record(_event(call, target, "timeout", self._guard.clock.now() - start, error))
        return error


_EMPTY = "empty completion: the reply has no text and no tool call"


def _is_empty_completion(result: FunctionResult | None) -> bool:
    """Whether a prompt function's reply has neither text nor anything else (a tool call)."""
    from semantic_kernel.contents import ChatMessageContent, TextContent

    value = result.value if result is not None else None
    messages = value if isinstance(value, list) else [value]
    return all(
        isinstance(message, ChatMessageContent)
        and all(isinstance(item, TextContent) and not item.text for item in message.items)
        for message in messages
    )


def _event(
    call: CallContext,
    target: Target,
    outcome: str,
    seconds: float,
    error: BaseException | None = None,
) -> CallEvent:
    attempt, latency_ms = call.attempt, seconds * 1000
    if error is None:
        return CallEvent(
            "attempt", target.name, outcome, attempt, target.model, None, None, latency_ms
        )
    return CallEvent.failed(
        "attempt",
        target.name,
        outcome,
        error,
        attempt=attempt,
        model=target.model,
        latency_ms=latency_ms,
    )
