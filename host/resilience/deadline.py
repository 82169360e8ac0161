"""The run's overall deadline: the outermost bound on a step and everything it calls."""

from __future__ import annotations

from typing import TYPE_CHECKING

from host.errors import DeadlineExceededError
from host.resilience.bound import Bounded
from host.resilience.optional import OptionalLayer

if TYPE_CHECKING:
    from semantic_kernel.filters.functions.function_invocation_context import (
        FunctionInvocationContext,
    )

    from host.resilience.chain import Next
    from host.resilience.context import CallContext


class DeadlineFilter(OptionalLayer):
    """Cancels the outermost call when the deadline passes; nested calls share that bound.

    A call with no deadline, or inside one that enforces it, goes straight on. A
    result that comes after the deadline (from a synchronous function, which cannot
    be interrupted, or a call that swallowed its cancellation) is discarded.
    """

    @staticmethod
    def passes(context: FunctionInvocationContext, call: CallContext) -> bool:
        """Whether ``call`` goes straight on: it has no deadline, or an outer call enforces it."""
        return call.deadline is None or call.bounded

    async def _act(self, context: FunctionInvocationContext, call: CallContext, next: Next) -> None:
        assert call.deadline is not None  # else it passes
        at, total = call.deadline
        remaining = at - self._guard.clock.now()
        if remaining <= 0:
            raise DeadlineExceededError(total)
        bounded = Bounded(self._guard.clock, at, next(context, call.but(bounded=True)))
        try:
            await bounded
        except Exception:
            if bounded.expired():
                raise DeadlineExceededError(total) from None
            raise
        if bounded.expired() or self._guard.clock.now() > at:
            context.result = None
            raise DeadlineExceededError(total)
