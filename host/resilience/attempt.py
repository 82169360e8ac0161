"""The innermost filter: one attempt, bounded by its timeout, translated, and recorded."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TYPE_CHECKING, NoReturn

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
    it first waits: see :class:`~host.resilience.bound.Bounded`), and so is the
    awaitable a synchronous function returns, which SK awaits. A synchronous native
    function cannot be interrupted (it holds the event loop until it returns),
    so its result is discarded as late instead, with the same timeout error, as is
    the result of a call that swallowed its cancellation. A plugin's own
    ``BaseException`` subclass fails the attempt like any error; cancellation,
    ``KeyboardInterrupt``, ``SystemExit`` and ``GeneratorExit`` pass through.
    A model's service is built before the timeout starts (a first call imports
    its connector), and a model's reply with nothing in it is a failed attempt.
    """

    def __init__(self, guard: Guard) -> None:
        self._guard = guard

    async def __call__(
        self, context: FunctionInvocationContext, call: CallContext, next: Next
    ) -> None:
        target = call.target
        assert target is not None  # set at the top of the chain
        start = self._guard.clock.now()
        bounded = None
        try:
            start = self.ready(target, start)
            running = next(context, call)
            bounded = self.bound(context, target, start, running)
            await (running if bounded is None else bounded)
            self.check_reply(context, target)
        except BaseException as raised:
            self.failed(call, target, start, raised, bounded)
        self.finished(context, call, target, start, bounded)

    def ready(self, target: Target, start: float) -> float:
        """When the attempt's time starts: a model's service is built first (a first call
        imports its connector, which is not the attempt's time)."""
        if target.model is None:
            return start
        self._guard.selector.services.get(target.model)
        return self._guard.clock.now()

    def bound(
        self,
        context: FunctionInvocationContext,
        target: Target,
        start: float,
        running: Awaitable[None],
    ) -> Bounded | None:
        """``running`` bounded by the timeout, to be awaited instead; ``None`` when there is
        no timeout. A synchronous function is bounded too: it arms no timer unless it
        returns an awaitable, which SK then awaits."""
        timeout = target.policy.timeout
        if timeout is None:
            return None
        return Bounded(self._guard.clock, start + timeout, running)

    @staticmethod
    def check_reply(context: FunctionInvocationContext, target: Target) -> None:
        """Raise a retryable :class:`ProviderError` for a model's reply with nothing in it."""
        if target.model is not None and _is_empty_completion(context.result):
            raise ProviderError(target.model, _EMPTY, retryable=True)

    def failed(
        self,
        call: CallContext,
        target: Target,
        start: float,
        raised: BaseException,
        bounded: Bounded | None,
    ) -> NoReturn:
        """Record the failed attempt and raise its error as the host's: a timeout if the
        bound expired, else ``raised`` translated (what stops a call, such as a
        cancellation, is raised as it is)."""
        if _stops(raised):
            raise raised
        if bounded is not None and bounded.expired():
            raise self._timed_out(call, target, start) from None
        error = translate(raised, target.name, model=target.model)
        call.record(_event(call, target, "error", self._guard.clock.now() - start, error))
        raise error from raised

    def finished(
        self,
        context: FunctionInvocationContext,
        call: CallContext,
        target: Target,
        start: float,
        bounded: Bounded | None,
    ) -> None:
        """Record the attempt that returned, or raise a timeout for a call that returned too
        late (a synchronous function, or one that swallowed its cancellation): its result
        is discarded."""
        now = self._guard.clock.now()
        timeout = target.policy.timeout
        expired = bounded is not None and bounded.expired()
        if timeout is not None and (expired or now - start > timeout):
            context.result = None
            raise self._timed_out(call, target, start)
        if target.side_effects:
            call.note_effect(target.name)
        if call.journal is not None:
            call.journal.append(_event(call, target, "ok", now - start))

    def _timed_out(self, call: CallContext, target: Target, start: float) -> AttemptTimeoutError:
        error = AttemptTimeoutError(target.name, target.policy.timeout or 0.0)
        call.record(_event(call, target, "timeout", self._guard.clock.now() - start, error))
        return error


_STOPPING = (asyncio.CancelledError, KeyboardInterrupt, SystemExit, GeneratorExit)
"""What stops a call rather than fails it: never translated into the host's errors."""


def _stops(raised: BaseException) -> bool:
    """Whether ``raised`` stops the call (alone, or in a group) rather than fails it."""
    if isinstance(raised, BaseExceptionGroup):
        return raised.subgroup(_STOPPING) is not None
    return isinstance(raised, _STOPPING)


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
