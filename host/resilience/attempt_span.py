"""The span of each attempt: a model call (``chat``) or a native run (``execute_tool``)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING

from host.resilience.context import tool_call

if TYPE_CHECKING:
    from semantic_kernel.filters.functions.function_invocation_context import (
        FunctionInvocationContext,
    )

    from host.resilience.chain import Next
    from host.resilience.context import CallContext
    from host.resilience.guard import Guard


class AttemptSpanFilter:
    """Wraps each attempt (every retry and fallback hop) in its own span, when tracing is on.

    It sits right above the attempt, so the span covers the attempt's timeout and
    records its translated error; with tracing off it hands calls straight on.
    """

    def __init__(self, guard: Guard) -> None:
        self._tracing = guard.tracing

    def __call__(
        self, context: FunctionInvocationContext, call: CallContext, next: Next
    ) -> Awaitable[None]:
        if self._tracing is None:
            return next(context, call)
        return self._traced(context, call, next)

    async def _traced(
        self, context: FunctionInvocationContext, call: CallContext, next: Next
    ) -> None:
        target = call.target
        assert self._tracing is not None and target is not None  # see __call__
        asked = tool_call.get()
        call_id = asked[1] if asked is not None and asked[0] == target.name else None
        with self._tracing.attempt(context, target, call.attempt, call.hop, call_id):
            await next(context, call)
