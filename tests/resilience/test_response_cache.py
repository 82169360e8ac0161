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


FALLBACKS: dict[str, tuple[Any, int, bool]] = {
    "fixed-value": ({"value": -1}, -1, True),
    "function": ("backup.count", 5, False),
}
"""A fallback of the cached tool, what it answers, and whether that marks the step degraded."""


@pytest.mark.parametrize(
    ("fallback", "answer", "degraded"), FALLBACKS.values(), ids=list(FALLBACKS)
)
async def test_a_fallbacks_answer_is_not_cached_as_the_functions_own(
    tmp_path: Path,
    clock: VirtualClock,
    tool_plugins: Callable[..., Path],
    fallback: Any,
    answer: int,
    degraded: bool,
) -> None:
    """Bug: the answer of the fallback was kept under the tool's key, so for ``cache_ttl``
    the recovered tool was never called and a fixed value was served as a fresh,
    undegraded cache hit."""
    tool = FaultyTool(Fail(ConnectionError("archive down")), Return(7))
    plugins = tool_plugins(faulty=tool, backup=FaultyTool(Return(5)))
    policy = {"cache_ttl": 300, "fallback": [fallback]}
    async with tool_host(tmp_path, clock, plugins, policy) as host:
        first = await host.invoke("faulty.count", query="apples")
        clock.advance(10)
        second = await host.invoke("faulty.count", query="apples")
        clock.advance(10)
        third = await host.invoke("faulty.count", query="apples")

    assert (first.output, first.degraded) == (answer, degraded)
    assert (second.output, second.cache_hit, second.degraded) == (7, False, False)
    assert (third.output, third.cache_hit) == (7, True), "the tool's own answer is cached"
    assert tool.calls == 2


OPTIONS_PLUGIN = '''\
from typing import Any

from semantic_kernel.functions import kernel_function


class Options:
    """One function taking a mapping, whose keys a caller may make of any type."""

    plugin_name = "options"
    calls = 0

    @kernel_function(description="Count the options.")
    def count(self, options: dict[Any, Any]) -> int:
        Options.calls += 1
        return len(options)
'''

UNKEYABLE = {
    "keys-of-mixed-types": {1: "one", "two": 2},
    "tuple-keys": {(1, 2): "pair"},
}
"""Arguments ``json.dumps(sort_keys=True)`` cannot write: they have no cache key."""


@pytest.mark.parametrize("options", UNKEYABLE.values(), ids=list(UNKEYABLE))
async def test_arguments_that_make_no_cache_key_are_called_uncached(
    tmp_path: Path, clock: VirtualClock, options: dict[Any, Any]
) -> None:
    """Bug: the cache's key raised ``TypeError`` before the call, so the step failed
    (``options.count failed: TypeError ...``) without the function running."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "options.py").write_text(OPTIONS_PLUGIN, encoding="utf-8")
    config = write_config(tmp_path, tools={"options": {"cache_ttl": 300}})
    async with AgentHost(config, plugin_dirs=[plugins], clock=clock, strict=True) as host:
        steps = [await host.invoke("options.count", options=options) for _ in range(2)]

    assert [(s.status, s.output, s.cache_hit) for s in steps] == [("ok", len(options), False)] * 2
