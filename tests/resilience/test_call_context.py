"""One per-call context travels down the chain; one more layer slots into the order alone."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from semantic_kernel import Kernel
from semantic_kernel.filters.filter_types import FilterTypes
from semantic_kernel.filters.functions.function_invocation_context import (
    FunctionInvocationContext,
)

from host.clock import SystemClock
from host.config import LoadedConfig, parse_config
from host.models.selection import ModelSelector
from host.models.services import ModelServices
from host.resilience.chain import ORDER, Next, ResilienceChain
from host.resilience.context import OUTSIDE, CallContext, Entered, current
from host.resilience.guard import Guard
from host.resilience.policies import PolicyBook
from host.testing.faults import fails_then_succeeds


@dataclass
class Spy:
    """A layer that notes the context it is given, as tracing will."""

    guard: Guard
    seen: list[tuple[str, int]] = field(default_factory=list)

    async def __call__(
        self, context: FunctionInvocationContext, call: CallContext, next: Next
    ) -> None:
        assert call.target is not None
        self.seen.append((call.target.name, call.attempt))
        await next(context, call)


def guarded_kernel(spy: list[Spy], position: int) -> tuple[Kernel, Any]:
    raw: dict[str, Any] = {
        "models": {"m": {"provider": "scripted", "model": "s"}},
        "tools": {"faulty": {"retries": 2}},
        "resilience": {"backoff_initial": 0, "backoff_max": 0},
    }
    loaded = LoadedConfig(parse_config(raw, {}, source="test"), None, {})
    guard = Guard(SystemClock(), PolicyBook(loaded.config), ModelSelector(ModelServices(loaded)))

    def make_spy(guard: Guard) -> Spy:
        spy.append(Spy(guard))
        return spy[-1]

    order = [*ORDER]
    order.insert(position, make_spy)
    kernel = Kernel()
    tool = fails_then_succeeds(2, ConnectionError("flaky"), value=7)
    kernel.add_plugin(tool, plugin_name=tool.plugin_name)
    kernel.add_filter(FilterTypes.FUNCTION_INVOCATION, ResilienceChain(guard, order))
    return kernel, tool


@pytest.mark.parametrize(
    ("position", "expected"),
    [
        (0, [("faulty.count", 1)]),
        (len(ORDER) - 1, [("faulty.count", n) for n in (1, 2, 3)]),
    ],
    ids=["outermost", "between-retry-and-attempt"],
)
async def test_an_added_layer_sees_each_calls_context_where_it_stands(
    position: int, expected: list[tuple[str, int]]
) -> None:
    spies: list[Spy] = []
    kernel, tool = guarded_kernel(spies, position)

    result = await kernel.invoke(kernel.get_function("faulty", "count"), query="x")

    assert result is not None and result.value == 7
    assert tool.calls == 3
    assert spies[0].seen == expected


async def test_the_context_is_current_only_while_the_function_runs() -> None:
    spies: list[Spy] = []
    kernel, _ = guarded_kernel(spies, len(ORDER))
    outer = CallContext(journal=[])

    with Entered(outer):
        await kernel.invoke(kernel.get_function("faulty", "count"), query="x")

    assert current.get() is OUTSIDE
    events = [(event.attempt, event.outcome) for event in outer.journal or []]
    assert events == [(1, "error"), (2, "error"), (3, "ok")]


async def test_a_side_effect_noted_deep_down_reaches_every_enclosing_ledger() -> None:
    mine: list[str] = []
    enclosing: list[str] = []
    call = CallContext(ledgers=(enclosing, mine))

    call.but(attempt=2).note_effect("email.send")

    assert (mine, enclosing) == (["email.send"], ["email.send"])
    assert call.effects_done() == ["email.send"]
