"""Tools that misbehave in ways the chain must still bound and translate: a plugin's own
``BaseException``, an awaitable from a synchronous function, a swallowed cancellation, a
synchronous result past the run's deadline, and a run of retries long enough to overflow
the backoff's growth. Each fails the call with the host's error, in virtual time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

import pytest
from resilience_kit import tool_host
from semantic_kernel.functions import kernel_function

from host.errors import (
    AttemptTimeoutError,
    DeadlineExceededError,
    FunctionFailedError,
    RetriesExhaustedError,
)
from host.testing import Fail, FaultyTool, Stall, VirtualClock, fails_then_succeeds


class Abort(BaseException):
    """A library's own ``BaseException`` subclass, not an ``Exception``."""


class Misbehaving(FaultyTool):
    """``count`` plays its script; the other functions misbehave on every call."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__(Stall())
        self._clock = clock

    @kernel_function(description="Return an awaitable that never resolves, synchronously.")
    def later(self, query: Annotated[str, "What to count."]) -> Awaitable[int]:
        return asyncio.get_running_loop().create_future()

    @kernel_function(description="Answer even when cancelled.")
    async def stubborn(self, query: Annotated[str, "What to count."]) -> int:
        try:
            await asyncio.get_running_loop().create_future()
        except asyncio.CancelledError:
            return -1
        raise AssertionError("only a cancellation ends the wait")

    @kernel_function(description="Hold the event loop for 10 seconds.")
    def blocking(self, query: Annotated[str, "What to count."]) -> int:
        self._clock.advance(10)  # as a synchronous call that takes 10 s does
        return 10


async def test_a_plugins_own_base_exception_fails_the_attempt_and_falls_back(
    tmp_path: Path, clock: VirtualClock, tool_plugins: Callable[..., Path]
) -> None:
    """Bug: only ``Exception`` was translated, so ``Abort`` skipped the fallback and left
    ``invoke`` (and the CLI, with a traceback) as it was."""
    tool = FaultyTool(Fail(Abort("stopped by the library")))
    plugins = tool_plugins(faulty=tool)
    async with tool_host(tmp_path, clock, plugins, {"fallback": [{"value": 0}]}) as host:
        step = await host.invoke("faulty.count", query="apples")

    assert (step.output, step.degraded) == (0, True)
    failed = step.events[0]
    assert (failed.kind, failed.outcome, failed.error_type) == (
        "attempt",
        "error",
        "FunctionFailedError",
    )
    assert failed.error is not None and "Abort: stopped by the library" in failed.error


async def test_a_plugins_own_base_exception_without_fallback_is_a_function_failure(
    tmp_path: Path, clock: VirtualClock, tool_plugins: Callable[..., Path]
) -> None:
    plugins = tool_plugins(faulty=FaultyTool(Fail(Abort("stopped by the library"))))
    async with tool_host(tmp_path, clock, plugins, {}) as host:
        with pytest.raises(FunctionFailedError, match=r"faulty\.count failed: Abort"):
            await host.invoke("faulty.count", query="apples")


async def test_an_awaitable_a_synchronous_function_returns_is_bounded_by_its_timeout(
    tmp_path: Path, clock: VirtualClock, tool_plugins: Callable[..., Path]
) -> None:
    """Bug: a synchronous function was never bounded, but SK awaits what it returns; the
    call hung (here, until the run's deadline of 60 s)."""
    plugins = tool_plugins(faulty=Misbehaving(clock))
    async with tool_host(tmp_path, clock, plugins, {"timeout": 5}) as host:
        with pytest.raises(AttemptTimeoutError):
            await host.invoke("faulty.later", {"query": "apples"}, deadline=60)

    assert clock.now() == 5


async def test_a_result_given_after_swallowing_the_timeout_is_discarded_and_later_timeouts_hold(
    tmp_path: Path, clock: VirtualClock, tool_plugins: Callable[..., Path]
) -> None:
    """Bug: the late answer was returned as the call's, and the task stayed cancelling,
    so the next call's timeout left ``invoke`` as a bare ``CancelledError``."""
    plugins = tool_plugins(faulty=Misbehaving(clock))
    async with tool_host(tmp_path, clock, plugins, {"timeout": 5}) as host:
        with pytest.raises(AttemptTimeoutError) as stubborn:
            await host.invoke("faulty.stubborn", query="apples")
        with pytest.raises(AttemptTimeoutError):
            await host.invoke("faulty.count", query="apples")

    assert stubborn.value.step is not None and stubborn.value.step.output is None
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0


@pytest.mark.parametrize("function", ["blocking", "stubborn"])
async def test_a_result_that_comes_after_the_run_deadline_is_discarded(
    tmp_path: Path, clock: VirtualClock, tool_plugins: Callable[..., Path], function: str
) -> None:
    """Bug: a synchronous function that returned past the deadline (or a call that
    swallowed the deadline's cancellation) ended the step as a success."""
    plugins = tool_plugins(faulty=Misbehaving(clock))
    async with tool_host(tmp_path, clock, plugins, {"timeout": 100}) as host:
        with pytest.raises(DeadlineExceededError):
            await host.invoke(f"faulty.{function}", {"query": "apples"}, deadline=5)


async def test_a_long_run_of_retries_waits_at_most_backoff_max(
    tmp_path: Path, clock: VirtualClock, tool_plugins: Callable[..., Path]
) -> None:
    """Bug: ``backoff_multiplier ** attempt`` overflowed a float (here at the 310th
    attempt), and the call failed with ``OverflowError``."""
    tool = fails_then_succeeds(350, ConnectionError("down"), 7)
    plugins = tool_plugins(faulty=tool)
    resilience = {"backoff_multiplier": 10, "backoff_max": 1}
    async with tool_host(tmp_path, clock, plugins, {"retries": 400}, **resilience) as host:
        step = await host.invoke("faulty.count", query="apples")

    assert (step.output, step.attempts) == (7, 351)
    assert max(clock.slept) <= 1


async def test_an_error_after_hundreds_of_attempts_stays_one_short_line(
    tmp_path: Path, clock: VirtualClock, tool_plugins: Callable[..., Path]
) -> None:
    """Attempts that failed alike are one run (``#1-#351``): the CLI's one-line error
    listed every attempt, kilobytes of the same words."""
    plugins = tool_plugins(faulty=FaultyTool(Fail(ConnectionError("down"))))
    resilience = {"backoff_max": 1}
    async with tool_host(tmp_path, clock, plugins, {"retries": 350}, **resilience) as host:
        with pytest.raises(RetriesExhaustedError) as raised:
            await host.invoke("faulty.count", query="apples")

    message = str(raised.value)
    assert message.startswith("faulty.count failed after 351 attempt(s): #1-#351 ")
    assert len(message) < 300 and message.count("down") == 1
