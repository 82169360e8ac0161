"""Circuit breaker: a target that keeps failing is skipped until a probe succeeds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from host.errors import AgentHostError, CircuitOpenError, InvalidArgumentsError
from host.state import CallEvent

if TYPE_CHECKING:
    from semantic_kernel.filters.functions.function_invocation_context import (
        FunctionInvocationContext,
    )

    from host.resilience.chain import Next
    from host.resilience.context import CallContext
    from host.resilience.guard import Guard


class BreakerFilter:
    """While a target's breaker is open, fail at once with :class:`CircuitOpenError`.

    The fallback filter above then moves to the next target without waiting.
    After the cool-down one probe at a time is let through; the others are
    refused as above. Bad arguments are the caller's fault and do not count
    against a target.
    """

    def __init__(self, guard: Guard) -> None:
        self._guard = guard

    async def __call__(
        self, context: FunctionInvocationContext, call: CallContext, next: Next
    ) -> None:
        guard = self._guard
        target = call.target
        assert target is not None  # set at the top of the chain
        board, policy = guard.breakers, target.policy.breaker
        wait, probe = board.admit(target.name, policy, guard.clock.now())
        if wait is not None:
            raise CircuitOpenError(target.name, wait)
        if probe:
            call.record(CallEvent(kind="breaker", target=target.name, outcome="half_open"))
        try:
            await next(context, call)
        except InvalidArgumentsError:
            board.release(target.name, probe=probe)
            raise
        except AgentHostError:
            if board.failed(target.name, policy, guard.clock.now(), probe=probe) == "open":
                call.record(CallEvent(kind="breaker", target=target.name, outcome="open"))
            raise
        except BaseException:
            board.release(target.name, probe=probe)
            raise
        if board.succeeded(target.name, probe=probe) == "closed":
            call.record(CallEvent(kind="breaker", target=target.name, outcome="closed"))
