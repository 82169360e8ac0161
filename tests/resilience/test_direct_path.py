"""A call no layer but the breaker and the attempt acts on runs both in one frame; it must
end exactly as it does through the layers: same result or error, same journal, same breaker."""

from __future__ import annotations

from typing import Any

import pytest
from semantic_kernel import Kernel
from semantic_kernel.filters.filter_types import FilterTypes
from semantic_kernel.functions import KernelArguments, kernel_function

from host.config import LoadedConfig, parse_config
from host.errors import AgentHostError, DeadlineExceededError
from host.models.selection import ModelSelector
from host.models.services import ModelServices
from host.resilience.chain import ResilienceChain
from host.resilience.context import CallContext, Entered, current
from host.resilience.guard import Guard
from host.resilience.policies import PolicyBook
from host.state import CallEvent
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


class Witness:
    """A tool that notes what a call inside it would read of the current context."""

    plugin_name = "witness"

    def __init__(self) -> None:
        self.seen: list[tuple[Any, ...]] = []

    @kernel_function(description="Note the current call context.")
    async def look(self) -> str:
        seen = current.get()
        self.seen.append(
            (seen.model, seen.route_fallbacks, seen.deadline, seen.bounded, seen.ledgers)
        )
        seen.record(CallEvent("witness", "look", "ok"))
        return "ok"


@pytest.mark.parametrize("direct", [True, False], ids=["one-frame", "layered"])
async def test_what_runs_inside_a_call_reads_the_same_context_on_either_path(
    direct: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Catches a one-frame path that leaves nested calls, the model selector or the tool
    filter a context other than the layers give them (it does not make its own current)."""
    clock, witness, one_frame = VirtualClock(), Witness(), []
    direct_call = ResilienceChain._direct
    monkeypatch.setattr(
        ResilienceChain, "_direct", lambda *a: one_frame.append(1) or direct_call(*a)
    )
    raw: dict[str, Any] = {
        "models": {"m": {"provider": "scripted", "model": "s"}},
        "tools": {"witness": {"retries": 0, "timeout": 5}},
    }
    loaded = LoadedConfig(parse_config(raw, {}, source="test"), None, {})
    guard = Guard(clock, PolicyBook(loaded.config), ModelSelector(ModelServices(loaded)))
    kernel = Kernel()
    kernel.add_plugin(witness, plugin_name=witness.plugin_name)
    kernel.add_filter(FilterTypes.FUNCTION_INVOCATION, ResilienceChain(guard, direct=direct))
    journal: list[Any] = []
    outer = CallContext(None, "m", ("n",), 1, (clock.now() + 60, 60.0), True, ([],), journal)

    with Entered(outer):
        await kernel.get_function("witness", "look").invoke(kernel, KernelArguments())

    assert bool(one_frame) is direct
    assert witness.seen == [("m", ("n",), outer.deadline, True, outer.ledgers)]
    assert [(event.kind, event.outcome) for event in journal] == [
        ("witness", "ok"),
        ("attempt", "ok"),
    ]


async def test_a_native_function_meets_a_deadline_after_calls_without_one() -> None:
    """The chain remembers per native function what its layers do, but not the deadline."""
    clock = VirtualClock()
    kernel, _ = chain_kernel(FaultyTool(Return(7), Return(8)), clock, direct=True)
    function = kernel.get_function("faulty", "count")
    first = await function.invoke(kernel, KernelArguments(query="x"))
    assert first is not None and first.value == 7
    with (
        Entered(CallContext(deadline=(clock.now() - 1, 1.0))),
        pytest.raises(DeadlineExceededError),
    ):
        await function.invoke(kernel, KernelArguments(query="x"))
