"""The run's overall deadline: the outermost bound on a step and everything it calls."""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

from host.errors import DeadlineExceededError

if TYPE_CHECKING:
    from semantic_kernel.filters.functions.function_invocation_context import (
        FunctionInvocationContext,
    )

    from host.resilience.chain import Next
    from host.resilience.guard import Guard

run_deadline: ContextVar[tuple[float, float] | None] = ContextVar(
    "agent_host_deadline", default=None
)
"""``(absolute clock time, total seconds)`` of the running step's deadline, if any."""

_bounded: ContextVar[bool] = ContextVar("agent_host_deadline_bounded", default=False)


class DeadlineFilter:
    """Cancels the outermost call when the deadline passes; nested calls share that bound."""

    def __init__(self, guard: Guard) -> None:
        self._guard = guard

    async def __call__(self, context: FunctionInvocationContext, next: Next) -> None:
        deadline = run_deadline.get()
        if deadline is None or _bounded.get():
            await next(context)
            return
        at, total = deadline
        remaining = at - self._guard.clock.now()
        if remaining <= 0:
            raise DeadlineExceededError(total)
        token = _bounded.set(True)
        scope = self._guard.clock.timeout(remaining)
        try:
            with scope:
                await next(context)
        except Exception:
            if scope.expired():
                raise DeadlineExceededError(total) from None
            raise
        finally:
            _bounded.reset(token)
