"""The real clock's timers end hanging calls: the per-attempt timeout and the run deadline,
for a model on a loopback server that never answers and for a native tool that never returns.

Every other resilience test runs on virtual time; these are the ones that fail if
``SystemClock`` never arms its timer or never fires it. Bounds are short (0.2 s);
``asyncio.timeout(30)`` turns a broken timer into a failure instead of a hang.
Only outcomes are asserted, never the elapsed time.
"""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from resilience_kit import openai_model, write_config

from host import AgentHost
from host.clock import CancelScope, SystemClock
from host.errors import AgentHostError, AttemptTimeoutError, DeadlineExceededError
from host.testing import Hang, OpenAICompatibleServer, hangs

SHORT = 0.2
"""Seconds the bound under test allows."""

LONG = 30.0
"""Seconds the other bound allows: it must not be the one that fires."""

BOUNDS = {
    "attempt-timeout": (AttemptTimeoutError, SHORT, None),
    "run-deadline": (DeadlineExceededError, LONG, SHORT),
}
"""Which bound fires: the error it raises, the target's ``timeout``, the call's ``deadline``."""


async def hanging_model(
    tmp_path: Path, serve: Callable[..., Awaitable[OpenAICompatibleServer]], seconds: float
) -> tuple[AgentHost, str, dict[str, str]]:
    server = await serve(default=Hang())
    row = openai_model(server, "gpt-a", timeout=seconds, retries=0)
    config = write_config(tmp_path, models={"primary": row})
    return AgentHost(config, strict=True), "talk.Ask", {"input": "why"}


def hanging_tool(
    tmp_path: Path, tool_plugins: Callable[..., Path], seconds: float
) -> tuple[AgentHost, str, dict[str, str]]:
    plugins = tool_plugins(faulty=hangs())
    config = write_config(tmp_path, tools={"faulty": {"timeout": seconds, "retries": 0}})
    return AgentHost(config, plugin_dirs=[plugins], strict=True), "faulty.count", {"query": "x"}


@pytest.mark.usefixtures("openai_key")
@pytest.mark.parametrize("bound", list(BOUNDS))
@pytest.mark.parametrize("kind", ["model", "tool"])
async def test_the_real_clock_ends_a_hanging_call(
    tmp_path: Path,
    serve: Callable[..., Awaitable[OpenAICompatibleServer]],
    tool_plugins: Callable[..., Path],
    kind: str,
    bound: str,
) -> None:
    error, timeout, deadline = BOUNDS[bound]
    if kind == "model":
        host, function, arguments = await hanging_model(tmp_path, serve, timeout)
    else:
        host, function, arguments = hanging_tool(tmp_path, tool_plugins, timeout)
    async with asyncio.timeout(30), host:
        with pytest.raises(AgentHostError) as raised:
            await host.invoke(function, arguments, deadline=deadline)

    assert type(raised.value) is error
    step = raised.value.step
    assert step is not None
    assert (step.status, step.error_type) == ("failed", error.__name__)
    events = [(e.kind, e.outcome, e.error_type) for e in step.events]
    if error is AttemptTimeoutError:
        assert events == [("attempt", "timeout", "AttemptTimeoutError")]
    else:
        assert events == [], "the deadline cancelled the attempt before its own timeout"


async def test_a_left_timeout_scope_is_freed_without_the_garbage_collector() -> None:
    """Catches a scope whose disarm (holding the scope's own ``_fire``) outlives the block:
    a cycle that kept every finished step's scope, and its task, until a collection."""
    clock = SystemClock()
    gc.collect()
    gc.disable()
    try:
        before = {id(o) for o in gc.get_objects() if isinstance(o, CancelScope)}
        for _ in range(3):
            with clock.timeout(LONG):
                await asyncio.sleep(0)  # waits: the timer is armed
        alive = [o for o in gc.get_objects() if isinstance(o, CancelScope) and id(o) not in before]
    finally:
        gc.enable()

    assert alive == []


async def test_a_timer_bucket_every_scope_left_lets_go_of_its_grown_table() -> None:
    """Catches a bucket kept at the size of its busiest moment: a set keeps its grown table
    after discards, and a bucket waits for its timer (a timeout's length) before it goes,
    so every step's burst of timeouts would stay allocated that long."""
    clock = SystemClock()
    scopes = [clock.timeout(LONG) for _ in range(1000)]
    for scope in scopes:  # entered and left within one 10 ms tick: one shared bucket
        scope.__enter__()
    for scope in scopes:
        scope.__exit__(None, None, None)

    buckets = list(clock._buckets._buckets.values())
    assert all(not bucket for bucket in buckets)
    assert max(sys.getsizeof(bucket) for bucket in buckets) == sys.getsizeof(set())
