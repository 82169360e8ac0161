"""The filter chain and its order — defined here and nowhere else.

Outermost to innermost for one call::

    deadline → cache → fallback → breaker → retry → attempt (timeout, translation)

So a fresh cache hit costs no call; a stale entry is served only after every
fallback failed; an open breaker sends the call straight to the next fallback;
retries stay on one target; each attempt has its own timeout.

Each concern is a ``filter(context, next)`` middleware like SK's own; the chain
is mounted as one SK function-invocation filter that nests them per call, which
costs less than six SK filter slots and keeps the order in this one place.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING

from host.resilience.attempt import AttemptFilter
from host.resilience.breaker import BreakerFilter
from host.resilience.cache import CacheFilter
from host.resilience.deadline import DeadlineFilter
from host.resilience.fallback import FallbackFilter
from host.resilience.retry import RetryFilter
from host.resilience.tool_calls import ToolCallArgumentsFilter, ToolOfferFilter

if TYPE_CHECKING:
    from semantic_kernel import Kernel
    from semantic_kernel.filters.functions.function_invocation_context import (
        FunctionInvocationContext,
    )

    from host.resilience.guard import Guard

Next = Callable[["FunctionInvocationContext"], Awaitable[None]]

ORDER = (DeadlineFilter, CacheFilter, FallbackFilter, BreakerFilter, RetryFilter, AttemptFilter)


class ResilienceChain:
    """The SK function-invocation filter that runs every concern of :data:`ORDER` around a call."""

    def __init__(self, guard: Guard) -> None:
        self._filters = [filter_class(guard) for filter_class in reversed(ORDER)]

    async def __call__(self, context: FunctionInvocationContext, next: Next) -> None:
        for middleware in self._filters:
            next = partial(middleware, next=next)
        await next(context)


def install(kernel: Kernel, guard: Guard) -> None:
    """Add the chain to ``kernel``, and the vetting of the tools a model is offered and calls."""
    from semantic_kernel.filters.filter_types import FilterTypes

    kernel.add_filter(FilterTypes.FUNCTION_INVOCATION, ResilienceChain(guard))
    kernel.add_filter(FilterTypes.PROMPT_RENDERING, ToolOfferFilter())
    kernel.add_filter(FilterTypes.AUTO_FUNCTION_INVOCATION, ToolCallArgumentsFilter())
