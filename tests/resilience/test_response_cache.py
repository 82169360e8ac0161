"""The response cache in a long-lived host: bounded by config, least recently used out first,
and a stale entry served only within ``stale_ttl``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from resilience_kit import tool_host, write_config

from host import AgentHost
from host.errors import ConfigError, FunctionFailedError
from host.testing import Fail, FaultyTool, Return, VirtualClock


async def test_past_cache_max_entries_the_least_recently_used_result_is_dropped(
    tmp_path: Path, clock: VirtualClock, tool_plugins: Callable[..., Path]
) -> None:
    tool = FaultyTool(Return(7))
    plugins = tool_plugins(faulty=tool)
    policy = {"cache_ttl": 300}
    async with tool_host(tmp_path, clock, plugins, policy, cache_max_entries=2) as host:
        assert host.guard is not None
        hits = []
        for query in ["a", "b", "a", "c", "a", "b"]:
            step = await host.invoke("faulty.count", query=query)
            hits.append((query, step.cache_hit))
        held = len(host.guard.cache)

    # "a" was used after "b", so "c" pushes "b" out, and "b" then pushes "c" out.
    assert hits == [
        ("a", False),
        ("b", False),
        ("a", True),
        ("c", False),
        ("a", True),
        ("b", False),
    ]
    assert tool.calls == 4
    assert held == 2


@pytest.mark.parametrize("bound", [0, -1])
def test_cache_max_entries_must_be_at_least_one(tmp_path: Path, bound: int) -> None:
    config = write_config(tmp_path, resilience={"cache_max_entries": bound})

    with pytest.raises(ConfigError) as raised:
        AgentHost(config).start()

    assert "resilience.cache_max_entries" in str(raised.value)


@pytest.mark.parametrize("set_in", ["tool", "resilience"])
@pytest.mark.parametrize(
    ("age", "served"),
    [(301, True), (360, True), (361, False), (4000, False)],
    ids=["just-expired", "at-ttl-plus-stale-ttl", "just-past-stale-ttl", "long-past-stale-ttl"],
)
async def test_a_stale_entry_is_served_when_the_source_fails_only_within_stale_ttl(
    tmp_path: Path,
    clock: VirtualClock,
    tool_plugins: Callable[..., Path],
    set_in: str,
    age: float,
    served: bool,
) -> None:
    tool = FaultyTool(Return(7), Fail(ConnectionError("archive down")))
    plugins = tool_plugins(faulty=tool)
    policy: dict[str, Any] = {"cache_ttl": 300}
    resilience: dict[str, Any] = {}
    (policy if set_in == "tool" else resilience)["stale_ttl"] = 60
    async with tool_host(tmp_path, clock, plugins, policy, **resilience) as host:
        await host.invoke("faulty.count", query="apples")
        clock.advance(age)
        if served:
            step = await host.invoke("faulty.count", query="apples")
        else:
            with pytest.raises(FunctionFailedError) as raised:
                await host.invoke("faulty.count", query="apples")
            assert raised.value.step is not None
            step = raised.value.step

    assert tool.calls == 2, "the expired entry was not served as fresh"
    kinds = [e.kind for e in step.events]
    if served:
        assert (step.output, step.degraded, kinds) == (7, True, ["attempt", "stale_served"])
    else:
        assert (step.status, step.degraded, kinds) == ("failed", False, ["attempt"])
