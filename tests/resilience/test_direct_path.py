"""A call no layer but the breaker and the attempt acts on runs both in one frame; it must
end exactly as it does through the layers: same result or error, same journal, same breaker."""

from __future__ import annotations

from typing import Any

import pytest
from semantic_kernel import Kernel
from semantic_kernel.filters.filter_types import FilterTypes
from semantic_kernel.functions import KernelArguments

from host.config import LoadedConfig, parse_config
from host.errors import AgentHostError
from host.models.selection import ModelSelector
from host.models.services import ModelServices
from host.resilience.chain import ResilienceChain
from host.resilience.context import CallContext, Entered
from host.resilience.guard import Guard
from host.resilience.policies import PolicyBook
from host.testing import Fail, FaultyTool, Return, Stall, VirtualClock

Outcome = tuple[Any, list[tuple[str, str, int | None]], str]
"""A call's value (or its error's class name), its journal and the breaker's state after."""

SCENARIOS: dict[str, tuple[tuple[Any, ...], float, list[Outcome]]] = {
    "succeeds": ((Return(7),), 0, [(7, [("attempt", "ok", 1)], "closed")]),
    "fails, opens the breaker, is refused": (
        (Fail(ConnectionError("down")),),
        0,
        [
            ("FunctionFailedError", [("attempt", "error", 1)], "closed"),
            ("FunctionFailedError", [("attempt", "error", 1), ("breaker", "open", None)], "open"),
            ("CircuitOpenError", [], "open"),
        ],
    ),
    "times out": ((Stall(),), 0, [("AttemptTimeoutError", [("attempt", "timeout", 1)], "closed")]),
    "a probe after the cool-down closes it": (
        (Fail(ConnectionError("down")), Fail(ConnectionError("down")), Return(7)),
        31,
        [
            ("FunctionFailedError", [("attempt", "error", 1)], "closed"),
            ("FunctionFailedError", [("attempt", "error", 1), ("breaker", "open", None)], "open"),
            (
                7,
                [("breaker", "half_open", None), ("attempt", "ok", 1), ("breaker", "closed", None)],
                "closed",
            ),
        ],
    ),
}
"""Per scenario: the tool's script, the seconds between calls (the breaker's cool-down is
30), and each call's expected outcome in turn."""


def chain_kernel(tool: FaultyTool, clock: VirtualClock, *, direct: bool) -> tuple[Kernel, Guard]:
    raw: dict[str, Any] = {
        "models": {"m": {"provider": "scripted", "model": "s"}},
        "tools": {"faulty": {"retries": 0, "timeout": 5}},
        "resilience": {"breaker_failures": 2, "breaker_cooldown": 30},
    }
    loaded = LoadedConfig(parse_config(raw, {}, source="test"), None, {})
    guard = Guard(clock, PolicyBook(loaded.config), ModelSelector(ModelServices(loaded)))
    kernel = Kernel()
    kernel.add_plugin(tool, plugin_name=tool.plugin_name)
    kernel.add_filter(FilterTypes.FUNCTION_INVOCATION, ResilienceChain(guard, direct=direct))
    return kernel, guard


async def outcomes(
    script: tuple[Any, ...], gap: float, calls: int, *, direct: bool
) -> list[Outcome]:
    clock = VirtualClock()
    kernel, guard = chain_kernel(FaultyTool(*script), clock, direct=direct)
    function = kernel.get_function("faulty", "count")
    seen: list[Outcome] = []
    for _ in range(calls):
        journal: list[Any] = []
        with Entered(CallContext(journal=journal)):
            try:
                result = await function.invoke(kernel, KernelArguments(query="x"))
                value: Any = result.value if result is not None else None
            except AgentHostError as error:
                value = type(error).__name__
        events = [(event.kind, event.outcome, event.attempt) for event in journal]
        seen.append((value, events, guard.breakers.state("faulty.count")))
        clock.advance(gap)
    return seen


@pytest.mark.parametrize("direct", [True, False], ids=["one-frame", "layered"])
@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_a_plain_call_ends_the_same_on_either_path(scenario: str, direct: bool) -> None:
    """Catches a one-frame path that drops what a layer does: a breaker that never opens or
    stays half-open, an untranslated error, a lost timeout or a missing journal event."""
    script, gap, expected = SCENARIOS[scenario]

    assert await outcomes(script, gap, len(expected), direct=direct) == expected
