"""A layer of the chain that most calls go straight through."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from semantic_kernel.filters.functions.function_invocation_context import (
        FunctionInvocationContext,
    )

    from host.resilience.chain import Next
    from host.resilience.context import CallContext
    from host.resilience.guard import Guard


class OptionalLayer:
    """A call this layer :meth:`passes` is handed on as it is, without a coroutine of the
    layer's own (a frame fewer per call in flight); any other runs through :meth:`_act`."""

    def __init__(self, guard: Guard) -> None:
        self._guard = guard

    def __call__(
        self, context: FunctionInvocationContext, call: CallContext, next: Next
    ) -> Awaitable[None]:
        if self.passes(context, call):
            return next(context, call)
        return self._act(context, call, next)

    @staticmethod
    def passes(context: FunctionInvocationContext, call: CallContext) -> bool:
        """Whether the layer has nothing to do for ``call``."""
        raise NotImplementedError

    def _act(
        self, context: FunctionInvocationContext, call: CallContext, next: Next
    ) -> Awaitable[None]:
        """Run ``call`` through the layer's concern."""
        raise NotImplementedError
