"""The innermost filter: one attempt, bounded by its timeout, translated, and recorded."""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

from host.errors import AttemptTimeoutError, describe_error
from host.resilience.journal import CallEvent, record, recording
from host.resilience.translation import translate

if TYPE_CHECKING:
    from semantic_kernel.filters.functions.function_invocation_context import (
        FunctionInvocationContext,
    )

    from host.resilience.chain import Next
    from host.resilience.guard import Guard

attempt_number: ContextVar[int] = ContextVar("agent_host_attempt", default=1)
"""Which attempt of the current call this is; set by the retry filter."""


class AttemptFilter:
    """Runs the call once, cancels it at the policy's timeout, turns any error into the host's."""

    def __init__(self, guard: Guard) -> None:
        self._guard = guard

    async def __call__(self, context: FunctionInvocationContext, next: Next) -> None:
        guard = self._guard
        target = guard.target(context)
        timeout = target.policy.timeout
        start = guard.clock.now()

        def event(outcome: str, error: BaseException | None = None) -> CallEvent:
            return CallEvent(
                kind="attempt",
                target=target.name,
                outcome=outcome,
                attempt=attempt_number.get(),
                model=target.model,
                error_type=type(error).__name__ if error else None,
                error=describe_error(error) if error else None,
                latency_ms=(guard.clock.now() - start) * 1000,
            )

        scope = guard.clock.timeout(timeout) if timeout is not None else None
        try:
            if scope is None:
                await next(context)
            else:
                async with scope:
                    await next(context)
        except Exception as raised:  # every failure leaves this filter translated
            if scope is not None and scope.expired():
                timed_out = AttemptTimeoutError(target.name, timeout or 0.0)
                record(event("timeout", timed_out))
                raise timed_out from None
            error = translate(raised, target.name, model=target.model)
            record(event("error", error))
            raise error from raised
        if recording():
            record(event("ok"))
