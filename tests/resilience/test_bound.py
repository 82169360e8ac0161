"""``Bounded``: a timeout armed only once the call waits, for the time left then.

The timer of the real clock is exercised end to end by ``test_real_clock``; here the
virtual clock shows each path of the hand-driven awaitable.
"""

from __future__ import annotations

import asyncio

import pytest

from host.clock import TimeoutScope
from host.resilience.bound import Bounded
from host.testing import VirtualClock


class CountingClock(VirtualClock):
    """A virtual clock that counts the timeout scopes it makes."""

    def __init__(self) -> None:
        super().__init__()
        self.scopes: list[float] = []

    def timeout(self, seconds: float) -> TimeoutScope:
        self.scopes.append(seconds)
        return super().timeout(seconds)


async def waits(clock: VirtualClock, seconds: float, times: int, done: list[int]) -> None:
    for _ in range(times):
        await clock.sleep(seconds)
    done.append(times)


async def _await(bounded: Bounded) -> None:
    await bounded


async def test_a_call_that_never_waits_arms_no_timer() -> None:
    clock, done = CountingClock(), []

    await Bounded(clock, clock.now() + 5, waits(clock, 1, 0, done))

    assert done == [0]
    assert clock.scopes == []


async def test_a_call_that_waits_within_its_time_finishes_and_leaves_no_timer_behind() -> None:
    clock, done = CountingClock(), []
    bounded = Bounded(clock, clock.now() + 5, waits(clock, 1, 3, done))

    await bounded
    await clock.sleep(10)  # past the due time: a timer left armed would cancel this

    assert done == [3]
    assert not bounded.expired()
    assert clock.scopes == [5.0]


async def test_a_call_still_waiting_at_its_due_time_is_cancelled_with_timeout_error() -> None:
    clock, done = VirtualClock(), []
    bounded = Bounded(clock, clock.now() + 5, waits(clock, 2, 3, done))

    with pytest.raises(TimeoutError):
        await bounded

    assert bounded.expired()
    assert (done, clock.now()) == ([], 5.0)


async def test_the_timer_gets_only_the_time_left_when_the_call_first_waits() -> None:
    clock, done = CountingClock(), []

    async def slow_start() -> None:
        clock.advance(3)  # work before the first wait uses up part of the time
        await waits(clock, 4, 1, done)

    with pytest.raises(TimeoutError):
        await Bounded(clock, clock.now() + 5, slow_start())

    assert clock.scopes == [2.0]
    assert (done, clock.now()) == ([], 5.0)


async def test_a_cancellation_from_outside_stays_a_cancellation() -> None:
    clock, done = VirtualClock(), []
    bounded = Bounded(clock, clock.now() + 60, waits(clock, 1, 100, done))
    task = asyncio.create_task(_await(bounded))
    await clock.sleep(2.5)

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert not bounded.expired()
    assert done == []


async def test_an_error_after_a_wait_leaves_unchanged() -> None:
    clock = VirtualClock()

    async def fails() -> None:
        await clock.sleep(1)
        raise LookupError("gone")

    bounded = Bounded(clock, clock.now() + 5, fails())
    with pytest.raises(LookupError, match="gone"):
        await bounded

    assert not bounded.expired()


async def test_a_call_closed_while_it_waits_leaves_no_timer_behind() -> None:
    """Catches a closed call (its coroutine dropped while it waits) whose armed timer stays:
    it would cancel whatever the task runs next."""
    clock, done = CountingClock(), []
    awaiting = _await(Bounded(clock, clock.now() + 5, waits(clock, 1, 3, done)))
    awaiting.send(None)  # the call waits: its timer is armed, in this task
    assert clock.scopes == [5.0]

    awaiting.close()
    await clock.sleep(10)  # past the due time: a timer left armed would cancel this

    assert done == []
