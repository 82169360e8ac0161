"""Cache: fresh hits skip the call; when every call below fails, a stale entry is served."""

from __future__ import annotations

from typing import TYPE_CHECKING

from host.effects import has_side_effects
from host.errors import AgentHostError
from host.resilience.fallback import FALLBACK
from host.resilience.optional import OptionalLayer
from host.resilience.response_cache import ResponseCache
from host.state import CallEvent

if TYPE_CHECKING:
    from semantic_kernel.filters.functions.function_invocation_context import (
        FunctionInvocationContext,
    )

    from host.resilience.chain import Next
    from host.resilience.context import CallContext


class CacheFilter(OptionalLayer):
    """Opt-in per tool (``cache_ttl``); off for model calls and side-effecting functions.

    A stale serve (the source failing, an entry within ``ttl + stale_ttl``) is
    recorded as ``stale_served`` and makes the step degraded. Only the function's own
    answers are kept, not a fallback's (see :data:`~host.resilience.fallback.FALLBACK`),
    and a call whose arguments make no key (:meth:`ResponseCache.key`) is not cached.
    """

    @staticmethod
    def passes(context: FunctionInvocationContext, call: CallContext) -> bool:
        """Whether ``call`` goes straight on: no cache for its target, a model call or a
        side-effecting function."""
        target = call.target
        assert target is not None  # set at the top of the chain
        policy = target.policy.cache
        return policy is None or target.model is not None or has_side_effects(context.function)

    async def _act(self, context: FunctionInvocationContext, call: CallContext, next: Next) -> None:
        target = call.target
        assert target is not None  # set at the top of the chain
        policy = target.policy.cache
        assert policy is not None  # else it passes
        from semantic_kernel.functions import FunctionResult

        guard = self._guard
        key = ResponseCache.key(target.name, dict(context.arguments))
        if key is None:
            await next(context, call)
            return
        fresh = guard.cache.get(key, guard.clock.now(), policy.ttl)
        if fresh is not None:
            context.result = FunctionResult(function=context.function.metadata, value=fresh[0])
            call.record(CallEvent(kind="cache_hit", target=target.name, outcome="ok"))
            return
        try:
            await next(context, call)
        except AgentHostError as error:
            stale = guard.cache.get(key, guard.clock.now(), policy.ttl + policy.stale_ttl)
            if stale is None:
                raise
            context.result = FunctionResult(function=context.function.metadata, value=stale[0])
            call.record(CallEvent.failed("stale_served", target.name, "degraded", error))
            return
        result = context.result
        if result is not None and FALLBACK not in result.metadata:
            guard.cache.put(key, result.value, guard.clock.now())
