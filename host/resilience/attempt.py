"""The innermost filter: one attempt, bounded by its timeout, translated, and recorded."""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

from host.errors import AttemptTimeoutError
from host.resilience.effects_ledger import note_effect
from host.resilience.journal import CallEvent, current_journal, record
from host.resilience.translation import translate

if TYPE_CHECKING:
    from semantic_kernel.filters.functions.function_invocation_context import (
        FunctionInvocationContext,
    )

    from host.resilience.chain import Next
    from host.resilience.guard import Guard, Target

attempt_number: ContextVar[int] = ContextVar("agent_host_attempt", default=1)
"""Which attempt of the current call this is; set by the retry filter."""


class AttemptFilter:
    """Runs the call once within the policy's timeout; turns any error into the host's.

    An async call is cancelled when its timeout passes. A synchronous native
    function cannot be interrupted (it holds the event loop until it returns),
    so its result is discarded as late instead, with the same timeout error.
    """

    def __init__(self, guard: Guard) -> None:
        self._guard = guard

    async def __call__(self, context: FunctionInvocationContext, next: Next) -> None:
        clock = self._guard.clock
        target = self._guard.target(context)
        timeout = target.policy.timeout
        start = clock.now()
        scope = None
        if timeout is not None and context.function.metadata.is_asynchronous is not False:
            scope = clock.timeout(timeout)
        try:
            if scope is None:
                await next(context)
            else:
                with scope:
                    await next(context)
        except Exception as raised:  # every failure leaves this filter translated
            if scope is not None and scope.expired():
                raise self._timed_out(target, start) from None
            error = translate(raised, target.name, model=target.model)
            record(_event(target, "error", clock.now() - start, error))
            raise error from raised
        if timeout is not None and scope is None and clock.now() - start > timeout:
            context.result = None
            raise self._timed_out(target, start)
        if target.side_effects:
            note_effect(target.name)
        journal = current_journal()
        if journal is not None:
            journal.events.append(_event(target, "ok", clock.now() - start))

    def _timed_out(self, target: Target, start: float) -> AttemptTimeoutError:
        error = AttemptTimeoutError(target.name, target.policy.timeout or 0.0)
        record(_event(target, "timeout", self._guard.clock.now() - start, error))
        return error


def _event(
    target: Target, outcome: str, seconds: float, error: BaseException | None = None
) -> CallEvent:
    attempt, latency_ms = attempt_number.get(), seconds * 1000
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
