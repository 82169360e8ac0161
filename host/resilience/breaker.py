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
    from host.resilience.guard import Guard, Target


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
        target = call.target
        assert target is not None  # set at the top of the chain
        probe = self.admit(call, target)
        try:
            await next(context, call)
        except BaseException as error:
            self.failed(call, target, error, probe=probe)
            raise
        self.succeeded(call, target, probe=probe)

    def admit(self, call: CallContext, target: Target) -> bool:
        """Let ``call`` through (``True`` if it is the probe) or raise :class:`CircuitOpenError`."""
        guard = self._guard
        wait, probe = guard.breakers.admit(target.name, target.policy.breaker, guard.clock.now())
        if wait is not None:
            raise CircuitOpenError(target.name, wait)
        if probe:
            call.record(CallEvent(kind="breaker", target=target.name, outcome="half_open"))
        return probe

    def failed(
        self, call: CallContext, target: Target, error: BaseException, *, probe: bool
    ) -> None:
        """Learn from an admitted call that raised ``error``: a host error counts against
        the target, bad arguments and cancellation only free the probe."""
        board, now = self._guard.breakers, self._guard.clock.now()
        if isinstance(error, InvalidArgumentsError) or not isinstance(error, AgentHostError):
            board.release(target.name, probe=probe)
        elif board.failed(target.name, target.policy.breaker, now, probe=probe) == "open":
            call.record(CallEvent(kind="breaker", target=target.name, outcome="open"))

    def succeeded(self, call: CallContext, target: Target, *, probe: bool) -> None:
        """Learn from an admitted call that succeeded."""
        if self._guard.breakers.succeeded(target.name, probe=probe) == "closed":
            call.record(CallEvent(kind="breaker", target=target.name, outcome="closed"))
