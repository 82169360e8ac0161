"""What every resilience filter shares: clock, policies, breakers, cache, and target lookup."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from host.clock import Clock
from host.resilience.breaker_board import BreakerBoard
from host.resilience.policies import Policy, PolicyBook
from host.resilience.response_cache import ResponseCache

if TYPE_CHECKING:
    from semantic_kernel.filters.functions.function_invocation_context import (
        FunctionInvocationContext,
    )

    from host.models.selection import ModelSelector


@dataclass(frozen=True)
class Target:
    """Who a call goes to: a configured model (prompt functions) or a native function."""

    name: str
    policy: Policy
    model: str | None


@dataclass
class Guard:
    """Shared state of one host's filter chain; breakers and cache outlive single runs."""

    clock: Clock
    policies: PolicyBook
    selector: ModelSelector
    breakers: BreakerBoard = field(default_factory=BreakerBoard)
    cache: ResponseCache = field(default_factory=ResponseCache)
    rng: random.Random = field(default_factory=random.Random)

    def target(self, context: FunctionInvocationContext) -> Target:
        """The target of the call in ``context`` and its policy."""
        function = context.function
        if function.is_prompt:
            name = self.selector.model_for(function, context.arguments).name
            return Target(name, self.policies.for_model(name), name)
        plugin = function.plugin_name or ""
        policy = self.policies.for_tool(plugin, function.name)
        return Target(policy.target, policy, None)
