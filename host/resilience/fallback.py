"""Fallback chain: when the primary fails, each fallback in order — model, function or value."""

from __future__ import annotations

from typing import TYPE_CHECKING

from host.config.schema import FallbackTarget, StaticValue
from host.errors import AgentHostError, ConfigError
from host.models.selection import model_override, route_fallbacks
from host.resilience.effects_ledger import close_ledger, open_ledger
from host.resilience.journal import CallEvent, record

if TYPE_CHECKING:
    from semantic_kernel.filters.functions.function_invocation_context import (
        FunctionInvocationContext,
    )

    from host.resilience.chain import Next
    from host.resilience.guard import Guard, Target


class FallbackFilter:
    """Tries the policy's fallbacks in order after the primary fails; records every hop.

    A model fallback re-runs a prompt function on another model (a name in the
    table or ``provider/model``); a ``plugin.function`` fallback calls that
    function with the arguments it accepts; ``{value: ...}`` answers with a
    fixed value. A routed step's remaining capable models follow the policy's
    own fallbacks. If every hop fails, the last error is raised. Once a
    side-effecting tool has run (in the primary or in a hop), the call is
    neither sent elsewhere nor retried: one ledger spans them all.
    """

    def __init__(self, guard: Guard) -> None:
        self._guard = guard

    async def __call__(self, context: FunctionInvocationContext, next: Next) -> None:
        target = self._guard.target(context)
        policy = target.policy
        hops = policy.fallback
        if target.model is not None:
            routed = route_fallbacks.get()
            hops += tuple(m for m in routed if m != target.model and m not in hops)
        if not hops and not policy.retry.retries:
            await next(context)  # nothing could repeat a side effect: no ledger needed
            return
        effects, token = open_ledger()
        try:
            await self._first_success(context, next, target, hops, effects)
        finally:
            close_ledger(token)

    async def _first_success(
        self,
        context: FunctionInvocationContext,
        next: Next,
        target: Target,
        hops: tuple[FallbackTarget, ...],
        effects: list[str],
    ) -> None:
        """The primary, then each hop until one succeeds or a side effect has happened."""
        try:
            await next(context)
            return
        except AgentHostError as error:
            failure = error
        for hop in hops:
            if effects:
                break
            name = _describe(hop)
            try:
                await self._hop(context, next, target, hop)
            except AgentHostError as error:
                failure = error
                record(CallEvent.failed("fallback", name, "error", error))
                continue
            record(CallEvent(kind="fallback", target=name, outcome="ok"))
            return
        raise failure

    async def _hop(
        self, context: FunctionInvocationContext, next: Next, target: Target, hop: FallbackTarget
    ) -> None:
        from semantic_kernel.functions import FunctionResult, KernelArguments

        if isinstance(hop, StaticValue):
            context.result = FunctionResult(function=context.function.metadata, value=hop.value)
            return
        services = self._guard.selector.services
        if target.model is not None:
            services.ensure(hop)
            token = model_override.set(hop)
            try:
                await next(context)
            finally:
                model_override.reset(token)
            return
        plugin, _, name = hop.partition(".")
        if not name:
            raise ConfigError([f"{target.name}: fallback {hop!r} is not plugin.function"])
        function = context.kernel.get_function(plugin, name)
        accepted = {p.name for p in function.metadata.parameters}
        arguments = KernelArguments(**{k: v for k, v in context.arguments.items() if k in accepted})
        result = await function.invoke(context.kernel, arguments)
        context.result = result


def _describe(hop: FallbackTarget) -> str:
    return f"value:{hop.value!r}" if isinstance(hop, StaticValue) else hop
