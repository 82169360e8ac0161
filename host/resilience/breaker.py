"""Circuit breaker: a target that keeps failing is skipped until a probe succeeds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from host.errors import AgentHostError, CircuitOpenError, InvalidArgumentsError
from host.resilience.journal import CallEvent, record

if TYPE_CHECKING:
    from semantic_kernel.filters.functions.function_invocation_context import (
        FunctionInvocationContext,
    )

    from host.resilience.chain import Next
    from host.resilience.guard import Guard


class BreakerFilter:
    """While a target's breaker is open, fail at once with :class:`CircuitOpenError`.

    The fallback filter above then moves to the next target without waiting.
    Bad arguments are the caller's fault and do not count against a target.
    """

    def __init__(self, guard: Guard) -> None:
        self._guard = guard

    async def __call__(self, context: FunctionInvocationContext, next: Next) -> None:
        guard = self._guard
        target = guard.target(context)
        board, policy = guard.breakers, target.policy.breaker
        wait, half_opened = board.admit(target.name, policy, guard.clock.now())
        if half_opened:
            record(CallEvent(kind="breaker", target=target.name, outcome="half_open"))
        if wait is not None:
            raise CircuitOpenError(target.name, wait)
        try:
            await next(context)
        except InvalidArgumentsError:
            board.release(target.name)
            raise
        except AgentHostError:
            if board.failed(target.name, policy, guard.clock.now()) == "open":
                record(CallEvent(kind="breaker", target=target.name, outcome="open"))
            raise
        except BaseException:
            board.release(target.name)
            raise
        if board.succeeded(target.name) == "closed":
            record(CallEvent(kind="breaker", target=target.name, outcome="closed"))
