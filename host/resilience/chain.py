"""The filter chain and its order — defined here and nowhere else.

Outermost to innermost for one call::

    deadline → cache → fallback → breaker → retry → attempt (timeout, translation)

So a fresh cache hit costs no call; a stale entry is served only after every
fallback failed; an open breaker sends the call straight to the next fallback;
retries stay on one target; each attempt has its own timeout.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from host.resilience.attempt import AttemptFilter
from host.resilience.breaker import BreakerFilter
from host.resilience.cache import CacheFilter
from host.resilience.deadline import DeadlineFilter
from host.resilience.fallback import FallbackFilter
from host.resilience.retry import RetryFilter

if TYPE_CHECKING:
    from semantic_kernel import Kernel
    from semantic_kernel.filters.functions.function_invocation_context import (
        FunctionInvocationContext,
    )

    from host.resilience.guard import Guard

Next = Callable[["FunctionInvocationContext"], Awaitable[None]]

ORDER = (DeadlineFilter, CacheFilter, FallbackFilter, BreakerFilter, RetryFilter, AttemptFilter)


def install(kernel: Kernel, guard: Guard) -> None:
    """Add the chain to ``kernel`` as function-invocation filters, outermost first."""
    from semantic_kernel.filters.filter_types import FilterTypes

    for filter_class in ORDER:
        kernel.add_filter(FilterTypes.FUNCTION_INVOCATION, filter_class(guard))
