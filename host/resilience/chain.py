"""The filter chain and its order — defined here and nowhere else.

Outermost to innermost for one call::

    deadline → cache → fallback → breaker → retry → span → attempt (timeout, translation)

So a fresh cache hit costs no call; a stale entry is served only after every
fallback failed; an open breaker sends the call straight to the next fallback;
retries stay on one target; each attempt has its own timeout and, when
tracing is on, its own span.

Each concern is a ``filter(context, call, next)`` middleware like SK's own,
plus the call's :class:`~host.resilience.context.CallContext`, which a layer
passes (or a changed copy of) to the next. The chain is mounted as one SK
function-invocation filter that nests them per call, which costs less than six
SK filter slots and keeps the order in this one place.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from host.resilience.attempt import AttemptFilter
from host.resilience.attempt_span import AttemptSpanFilter
from host.resilience.breaker import BreakerFilter
from host.resilience.cache import CacheFilter
from host.resilience.context import OUTSIDE, CallContext, SKNext, current
from host.resilience.deadline import DeadlineFilter
from host.resilience.fallback import FallbackFilter
from host.resilience.retry import RetryFilter
from host.resilience.tool_calls import ToolCallArgumentsFilter, ToolOfferFilter

if TYPE_CHECKING:
    from semantic_kernel import Kernel
    from semantic_kernel.filters.functions.function_invocation_context import (
        FunctionInvocationContext,
    )
    from semantic_kernel.functions import KernelFunction

    from host.resilience.guard import Guard, Target

Next = Callable[["FunctionInvocationContext", CallContext], Awaitable[None]]
"""The rest of the chain below a layer."""


class Layer(Protocol):
    """One concern of the chain, built from the host's guard.

    A layer with nothing to do for a call returns ``next(context, call)`` itself
    rather than awaiting it, which saves a coroutine frame per layer and call.
    """

    def __call__(
        self, context: FunctionInvocationContext, call: CallContext, next: Next
    ) -> Awaitable[None]: ...


ORDER = (
    DeadlineFilter,
    CacheFilter,
    FallbackFilter,
    BreakerFilter,
    RetryFilter,
    AttemptSpanFilter,
    AttemptFilter,
)


class ResilienceChain:
    """The SK function-invocation filter that runs every concern of :data:`ORDER` around a call.

    The layers are linked once, here; a call carries what runs at the bottom
    (SK's own ``next``) in its context, so nothing is built per call but the
    context itself.

    Most calls meet no deadline in force, cache, fallback or retry: every layer but
    the breaker, the span and the attempt passes them straight on (see each layer's
    ``passes``). With the default order, such a call runs the breaker's, the span's
    and the attempt's own steps in one coroutine (:meth:`_direct`) instead of one per
    layer, which is the chain's main cost in time and in memory per call in flight;
    ``direct=False`` keeps every call on the layers (tests compare both).
    """

    def __init__(
        self,
        guard: Guard,
        order: Sequence[Callable[[Guard], Layer]] = ORDER,
        *,
        direct: bool = True,
    ) -> None:
        self._guard = guard
        layers = [layer(guard) for layer in order]
        top: Next = _function
        for layer in reversed(layers):
            top = _Link(layer, top)
        self._top = top
        self._direct_path = direct and tuple(order) == ORDER
        self._native: dict[int, tuple[KernelFunction, Target, bool]] = {}
        """Per native function (the kernel's set is fixed): its target, and whether the
        retry, fallback and cache layers pass its calls on (see :meth:`_target`)."""
        # Layers keep no state of their own (breakers and clock live in the guard), so
        # these act exactly as the chain's own breaker, span and attempt layers do.
        self._breaker, self._attempt = BreakerFilter(guard), AttemptFilter(guard)
        self._span = AttemptSpanFilter(guard)

    def __call__(self, context: FunctionInvocationContext, next: SKNext) -> Awaitable[None]:
        """Run the call under every layer, starting from the context of the call it runs in."""
        outer = current.get()
        target, steady = self._target(context, outer.model)
        call = outer.entering(target, next)
        if not self._direct_path:
            return self._layered(context, call)
        if steady is None:
            steady = _steady(context, call)
        if steady and DeadlineFilter.passes(context, call):
            return self._direct(context, call)
        return self._layered(context, call)

    def _target(
        self, context: FunctionInvocationContext, model: str | None
    ) -> tuple[Target, bool | None]:
        """The call's target and, for a native function, :func:`_steady`'s verdict on its
        calls (``None`` for a prompt function: its target and route vary per call).

        Both are remembered per native function: its target never changes, and those
        layers read nothing of its calls but the target and the function.
        """
        function = context.function
        known = self._native.get(id(function))
        if known is not None and known[0] is function:
            return known[1], known[2]
        target = self._guard.target(context, model)
        if target.model is not None:
            return target, None
        steady = _steady(context, OUTSIDE.but(target=target))
        self._native[id(function)] = (function, target, steady)
        return target, steady

    async def _layered(self, context: FunctionInvocationContext, call: CallContext) -> None:
        """``call`` down the linked layers."""
        token = current.set(call)
        try:
            await self._top(context, call)
        finally:
            current.reset(token)

    async def _direct(self, context: FunctionInvocationContext, call: CallContext) -> None:
        """What the breaker, span and attempt layers do to ``call``, in one coroutine frame.

        ``call`` is not made current: it differs from the context it entered from only
        in its target, attempt and function, which nothing below reads from ``current``
        (nested calls, the model selector and the tool filter read the rest).
        """
        attempt, target = self._attempt, call.target
        assert target is not None and call.function is not None  # set on entering the chain
        probe = self._breaker.admit(call, target)
        try:
            with self._span.scope(context, call):
                start = self._guard.clock.now()
                bounded = None
                try:
                    start = attempt.ready(target, start)
                    running = call.function(context)
                    bounded = attempt.bound(context, target, start, running)
                    await (running if bounded is None else bounded)
                    attempt.check_reply(context, target)
                except BaseException as raised:
                    attempt.failed(call, target, start, raised, bounded)
                attempt.finished(context, call, target, start, bounded)
        except BaseException as error:
            self._breaker.failed(call, target, error, probe=probe)
            raise
        self._breaker.succeeded(call, target, probe=probe)


def _steady(context: FunctionInvocationContext, call: CallContext) -> bool:
    """Whether the retry, fallback and cache layers pass ``call`` on: with the deadline's
    verdict, whether every layer of :data:`ORDER` but the breaker and the attempt does."""
    return (
        RetryFilter.passes(context, call)
        and FallbackFilter.passes(context, call)
        and CacheFilter.passes(context, call)
    )


class _Link:
    """One layer and the rest of the chain below it: ``await link(context, call)``."""

    __slots__ = ("_below", "_layer")

    def __init__(self, layer: Layer, below: Next) -> None:
        self._layer, self._below = layer, below

    def __call__(self, context: FunctionInvocationContext, call: CallContext) -> Awaitable[None]:
        return self._layer(context, call, self._below)


def _function(context: FunctionInvocationContext, call: CallContext) -> Awaitable[None]:
    """The bottom of the chain: SK runs the function, which sees ``call`` as current.

    The chain made its entry context current; only a layer that handed down a
    changed one (a fallback hop's model, a ledger, the deadline's bound) needs
    another scope, so the common path adds no coroutine frame.
    """
    assert call.function is not None  # set on entering the chain
    if current.get() is call:
        return call.function(context)
    return _function_in(call, call.function, context)


async def _function_in(call: CallContext, next: SKNext, context: FunctionInvocationContext) -> None:
    token = current.set(call)
    try:
        await next(context)
    finally:
        current.reset(token)


def install(kernel: Kernel, guard: Guard) -> None:
    """Add the chain to ``kernel``, and the vetting of the tools a model is offered and calls."""
    from semantic_kernel.filters.filter_types import FilterTypes

    kernel.add_filter(FilterTypes.FUNCTION_INVOCATION, ResilienceChain(guard))
    kernel.add_filter(FilterTypes.PROMPT_RENDERING, ToolOfferFilter())
    kernel.add_filter(FilterTypes.AUTO_FUNCTION_INVOCATION, ToolCallArgumentsFilter())
