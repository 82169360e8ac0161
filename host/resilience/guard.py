"""What every resilience filter shares: clock, policies, breakers, cache, and target lookup."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from host.clock import Clock
from host.effects import has_side_effects
from host.resilience.breaker_board import BreakerBoard
from host.resilience.policies import Policy, PolicyBook
from host.resilience.response_cache import ResponseCache

if TYPE_CHECKING:
    from semantic_kernel.filters.functions.function_invocation_context import (
        FunctionInvocationContext,
    )
    from semantic_kernel.functions import KernelFunction

    from host.models.selection import ModelSelector
    from host.telemetry.genai import Tracing


@dataclass(frozen=True)
class Target:
    """Who a call goes to: a configured model (prompt functions) or a native function."""

    name: str
    policy: Policy
    model: str | None
    side_effects: bool = False


@dataclass
class Guard:
    """Shared state of one host's filter chain; breakers and cache outlive single runs."""

    clock: Clock
    policies: PolicyBook
    selector: ModelSelector
    breakers: BreakerBoard = field(default_factory=BreakerBoard)
    cache: ResponseCache = field(init=False)
    """Bounded by ``resilience.cache_max_entries``."""
    rng: random.Random = field(default_factory=random.Random)
    tracing: Tracing | None = None
    """The host's spans, when tracing is on."""
    _native: dict[int, tuple[KernelFunction, Target]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.cache = ResponseCache(self.policies.config.resilience.cache_max_entries)

    def target(self, context: FunctionInvocationContext, model: str | None = None) -> Target:
        """The target of the call in ``context`` and its policy.

        ``model`` is the model a fallback hop chose for a prompt function. A
        native function's target never changes, so it is looked up once; a prompt
        function's depends on its arguments and on ``model``.
        """
        function = context.function
        known = self._native.get(id(function))
        if known is not None and known[0] is function:
            return known[1]
        if function.is_prompt:
            name = self.selector.model_for(function, context.arguments, model).name
            return Target(name, self.policies.for_model(name), name)
        policy = self.policies.for_tool(function.plugin_name or "", function.name)
        target = Target(policy.target, policy, None, has_side_effects(function))
        self._native[id(function)] = (function, target)
        return target
