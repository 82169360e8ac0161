"""The run's overall deadline: the outermost bound on a step and everything it calls."""

from __future__ import annotations

from typing import TYPE_CHECKING

from host.errors import DeadlineExceededError

if TYPE_CHECKING:
    from semantic_kernel.filters.functions.function_invocation_context import (
        FunctionInvocationContext,
    )

    from host.resilience.chain import Next
    from host.resilience.context import CallContext
    from host.resilience.guard import Guard


class DeadlineFilter:
    """Cancels the outermost call when the deadline passes; nested calls share that bound."""

    def __init__(self, guard: Guard) -> None:
        self._guard = guard

    async def __call__(
        self, context: FunctionInvocationContext, call: CallContext, next: Next
    ) -> None:
        if call.deadline is None or call.bounded:
            await next(context, call)
            return
        at, total = call.deadline
        remaining = at - self._guard.clock.now()
        if remaining <= 0:
            raise DeadlineExceededError(total)
        scope = self._guard.clock.timeout(remaining)
        try:
            with scope:
                await next(context, call.but(bounded=True))
        except Exception:
            if scope.expired():
                raise DeadlineExceededError(total) from None
            raise
