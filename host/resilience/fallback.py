"""Fallback chain: when the primary fails, each fallback in order — model, function or value."""

from __future__ import annotations

from typing import TYPE_CHECKING

from host.config.schema import FallbackTarget, StaticValue
from host.errors import AgentHostError
from host.resilience.context import CallContext, Entered
from host.resilience.optional import OptionalLayer
from host.state import CallEvent

if TYPE_CHECKING:
    from semantic_kernel.filters.functions.function_invocation_context import (
        FunctionInvocationContext,
    )

    from host.resilience.chain import Next
    from host.resilience.guard import Target


FALLBACK = "agent_host_fallback"
"""The key of a result's metadata naming the fallback hop that answered the call: the
cache above keeps only a function's own answers."""


class FallbackFilter(OptionalLayer):
    """Tries the policy's fallbacks in order after the primary fails; records every hop.

    A model fallback re-runs a prompt function on another model (a name in the
    table or ``provider/model``); a ``plugin.function`` fallback calls that
    function with the arguments it accepts; ``{value: ...}`` answers with a
    fixed value. A routed step's remaining capable models follow the policy's
    own fallbacks. If every hop fails, the last error is raised. Once a
    side-effecting tool has run (in the primary or in a hop), the call is
    neither sent elsewhere nor retried: one ledger spans them all.
    """

    @staticmethod
    def passes(context: FunctionInvocationContext, call: CallContext) -> bool:
        """Whether ``call`` goes straight on: nowhere to fall back to, nothing retried (so
        nothing could repeat a side effect, and no ledger is needed)."""
        target = call.target
        assert target is not None  # set at the top of the chain
        return not target.policy.retry.retries and not _hops(target, call)

    async def _act(self, context: FunctionInvocationContext, call: CallContext, next: Next) -> None:
        target = call.target
        assert target is not None  # set at the top of the chain
        hops = _hops(target, call)
        effects: list[str] = []
        call = call.but(ledgers=(*call.ledgers, effects))
        try:
            await next(context, call)
            return
        except AgentHostError as error:
            failure = error
        for hop in hops:
            if effects:  # a side effect happened (in the primary or a hop): never repeat it
                break
            name = _describe(hop)
            try:
                await self._hop(context, call, next, target, hop)
            except AgentHostError as error:
                failure = error
                call.record(CallEvent.failed("fallback", name, "error", error))
                continue
            call.record(CallEvent(kind="fallback", target=name, outcome="ok"))
            if context.result is not None:
                context.result.metadata[FALLBACK] = name
            return
        raise failure

    async def _hop(
        self,
        context: FunctionInvocationContext,
        call: CallContext,
        next: Next,
        target: Target,
        hop: FallbackTarget,
    ) -> None:
        from semantic_kernel.functions import FunctionResult, KernelArguments

        from host.kernel_call import call_function

        if isinstance(hop, StaticValue):
            context.result = FunctionResult(function=context.function.metadata, value=hop.value)
            return
        guard = self._guard
        if target.model is not None:
            guard.selector.services.ensure(hop)
            await next(context, call.but(model=hop, target=guard.target(context, hop), hop=True))
            return
        plugin, _, name = hop.partition(".")  # a plugin.function: checked at load
        function = context.kernel.get_function(plugin, name)
        accepted = {p.name for p in function.metadata.parameters}
        arguments = KernelArguments(**{k: v for k, v in context.arguments.items() if k in accepted})
        with Entered(call.but(hop=True)):  # the function's chain starts from this call's
            context.result = await call_function(context.kernel, function, arguments)


def _hops(target: Target, call: CallContext) -> tuple[FallbackTarget, ...]:
    """Where ``call`` goes after its target fails: the policy's fallbacks, then (for a
    model) the route's other capable models."""
    hops = target.policy.fallback
    if target.model is not None:
        routed = call.route_fallbacks
        hops += tuple(m for m in routed if m != target.model and m not in hops)
    return hops


def _describe(hop: FallbackTarget) -> str:
    return f"value:{hop.value!r}" if isinstance(hop, StaticValue) else hop
