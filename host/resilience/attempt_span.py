"""The span of each attempt: a model call (``chat``) or a native run (``execute_tool``)."""

from __future__ import annotations

from collections.abc import Awaitable
from contextlib import AbstractContextManager, nullcontext
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

    def scope(
        self, context: FunctionInvocationContext, call: CallContext
    ) -> AbstractContextManager[object]:
        """``with filter.scope(context, call):`` the attempt's span around the block (no
        span when tracing is off)."""
        tracing, target = self._tracing, call.target
        if tracing is None:
            return _NO_SPAN
        assert target is not None  # set on entering the chain
        asked = tool_call.get()
        call_id = asked[1] if asked is not None and asked[0] == target.name else None
        return tracing.attempt(context, target, call.attempt, call.hop, call_id)

    async def _traced(
        self, context: FunctionInvocationContext, call: CallContext, next: Next
    ) -> None:
        with self.scope(context, call):
            await next(context, call)


_NO_SPAN = nullcontext()
