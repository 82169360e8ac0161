"""Circuit breakers under concurrency: one probe at a time once the cool-down has passed,
only the probe's verdict moves a half-open breaker, and bad arguments never count."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from resilience_kit import write_config

from host import AgentHost
from host.errors import AgentHostError, CircuitOpenError, InvalidArgumentsError, ProviderError
from host.testing import (
    Delay,
    Fail,
    FaultyTool,
    Raise,
    Reply,
    Return,
    ScriptedChatCompletion,
    Step,
    VirtualClock,
    run_until,
)

BREAKER = {"breaker_failures": 1, "breaker_cooldown": 30, "timeout": 5000}
"""Opens on the first failure; a probe may go after 30 s; no attempt times out in these tests."""

STRICT_PLUGIN = '''\
from semantic_kernel.functions import kernel_function


class Strict:
    """Functions that a fallback from ``faulty.count(query="apples")`` calls with bad arguments."""

    plugin_name = "strict"

    @kernel_function(description="Count up to a limit.")
    def limited(self, query: str, limit: int) -> int:
        return limit

    @kernel_function(description="Square a number.")
    def square(self, query: int) -> int:
        return query * query
'''


def scripted_host(
    tmp_path: Path, clock: VirtualClock, script: list[Step]
) -> tuple[AgentHost, ScriptedChatCompletion]:
    """A host whose one model plays ``script``, then answers ``admitted`` to any later call."""
    model = ScriptedChatCompletion("main", script, default=Reply("admitted"), clock=clock)
    config = write_config(tmp_path, resilience=BREAKER)
    return AgentHost(config, clock=clock, strict=True, models={"main": model}), model


async def open_breaker(host: AgentHost) -> None:
    """Fail one call, which opens the breaker of ``main``."""
    with pytest.raises(ProviderError):
        await host.invoke("talk.Ask", input="fails")


async def test_after_the_cooldown_concurrent_calls_send_one_probe_and_the_rest_are_refused(
    tmp_path: Path, clock: VirtualClock
) -> None:
    script: list[Step] = [Raise(ConnectionError("down")), Delay(10, Reply("probed"))]
    host, model = scripted_host(tmp_path, clock, script)
    async with host:
        assert host.guard is not None
        await open_breaker(host)
        await clock.sleep(31)
        calls = [host.invoke("talk.Ask", input=f"call {n}") for n in range(4)]
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        state = host.guard.breakers.state("main")

    probes = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, CircuitOpenError)]
    assert [p.output for p in probes] == ["probed"]
    assert len(refused) == 3
    assert len(model.requests) == 2, "only the probe reached the model"
    assert [(e.kind, e.outcome) for e in probes[0].events] == [
        ("breaker", "half_open"),
        ("attempt", "ok"),
        ("breaker", "closed"),
    ]
    assert state == "closed"


EARLY_ENDINGS: dict[str, Step] = {
    "cancelled": Delay(1000, Reply("never")),
    "succeeds-late": Delay(40, Reply("late")),
    "fails-late": Delay(40, Raise(ConnectionError("late"))),
}
"""How a call admitted while the breaker was closed ends, during the half-open probe."""


@pytest.mark.parametrize("ending", list(EARLY_ENDINGS))
async def test_a_call_admitted_before_the_breaker_opened_does_not_decide_the_probe(
    tmp_path: Path, clock: VirtualClock, ending: str
) -> None:
    probe_step = Delay(100, Reply("probed"))
    script = [EARLY_ENDINGS[ending], Raise(ConnectionError("down")), probe_step]
    host, model = scripted_host(tmp_path, clock, script)
    async with host:
        assert host.guard is not None
        breakers = host.guard.breakers
        early = asyncio.create_task(host.invoke("talk.Ask", input="early"))
        await run_until(lambda: len(model.requests) == 1)
        await open_breaker(host)
        await clock.sleep(31)
        probe = asyncio.create_task(host.invoke("talk.Ask", input="probe"))
        await run_until(lambda: len(model.requests) == 3)
        if ending == "cancelled":
            early.cancel()
        await asyncio.gather(early, return_exceptions=True)
        state_while_probing = breakers.state("main")
        with pytest.raises(CircuitOpenError):
            await host.invoke("talk.Ask", input="while the probe is out")
        probed = await probe

    assert state_while_probing == "half_open"
    assert len(model.requests) == 3, "no second probe reached the model"
    assert probed.output == "probed"
    assert breakers.state("main") == "closed"


def bad_arguments_cases() -> list[Any]:
    """How bad arguments reach a target: ``(target, tool script, tools config)``."""
    down = Fail(ConnectionError("down"))
    return [
        pytest.param(
            "faulty.count",
            Fail(InvalidArgumentsError("faulty.count", ["query: too long"])),
            {},
            id="the-tool-rejects-its-arguments",
        ),
        pytest.param(
            "strict.limited",
            down,
            {"faulty": {"fallback": ["strict.limited"]}},
            id="a-fallback-call-lacks-a-required-argument",
        ),
        pytest.param(
            "strict.square",
            down,
            {"faulty": {"fallback": ["strict.square"]}},
            id="a-fallback-call-has-an-argument-of-the-wrong-type",
        ),
    ]


GOOD_CALLS: dict[str, tuple[dict[str, Any], int]] = {
    "faulty.count": ({"query": "apples"}, 3),
    "strict.limited": ({"query": "apples", "limit": 2}, 2),
    "strict.square": ({"query": 3}, 9),
}


@pytest.mark.parametrize(("target", "failure", "tools"), bad_arguments_cases())
async def test_bad_arguments_do_not_count_against_the_targets_breaker(
    tmp_path: Path,
    clock: VirtualClock,
    tool_plugins: Callable[..., Path],
    target: str,
    failure: Fail,
    tools: dict[str, Any],
) -> None:
    plugins = tool_plugins(faulty=FaultyTool(failure, Return(3)))
    (plugins / "strict.py").write_text(STRICT_PLUGIN, encoding="utf-8")
    config = write_config(tmp_path, tools=tools, resilience=BREAKER)
    async with AgentHost(config, plugin_dirs=[plugins], clock=clock, strict=True) as host:
        assert host.guard is not None
        with pytest.raises(AgentHostError) as raised:
            await host.invoke("faulty.count", query="apples")
        state = host.guard.breakers.state(target)
        arguments, answer = GOOD_CALLS[target]
        good = await host.invoke(target, arguments)

    assert isinstance(raised.value, InvalidArgumentsError)
    assert raised.value.step is not None
    recorded = {e.error_type for e in raised.value.step.events if e.target == target}
    assert recorded == {"InvalidArgumentsError"}
    assert state == "closed"
    assert good.output == answer
