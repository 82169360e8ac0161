"""A virtual clock for pytest-asyncio tests: waits and timeouts take no real time.

Sleeps and timeouts park on virtual timers. Whenever every task is blocked
(nothing ready to run, no loopback I/O ready), the clock jumps to the earliest
timer and fires it, so a 30-second backoff or a 10-second timeout completes in
microseconds while keeping the order real time would give.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from host.clock import CancelScope

T = TypeVar("T")


class _Timer:
    """A callback due at ``deadline``; cancelled timers are skipped."""

    __slots__ = ("callback", "cancelled", "deadline")

    def __init__(self, deadline: float, callback: Callable[[], None]) -> None:
        self.deadline = deadline
        self.callback = callback
        self.cancelled = False


class _ThreadWork:
    """Counts a loop's executor work (``asyncio.to_thread``) from submission until the
    loop has received its result, so the clock's driver never sees a gap between."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.in_flight = 0
        self._submit = loop.run_in_executor

    def run_in_executor(
        self, executor: Any, func: Callable[..., T], *args: Any
    ) -> asyncio.Future[T]:
        future = self._submit(executor, func, *args)
        self.in_flight += 1
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _: object) -> None:
        self.in_flight -= 1


_thread_work: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _ThreadWork] = (
    weakref.WeakKeyDictionary()
)


def _watch_threads(loop: asyncio.AbstractEventLoop) -> _ThreadWork:
    """The loop's thread-work counter, installed on first use."""
    work = _thread_work.get(loop)
    if work is None:
        work = _thread_work[loop] = _ThreadWork(loop)
        loop.run_in_executor = work.run_in_executor  # type: ignore[method-assign, assignment]
    return work


_parked_drivers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[int]] = (
    weakref.WeakKeyDictionary()
)
"""Per loop, how many clock drivers are parked in ``sleep(0)`` right now."""


def _anyio_threads_busy() -> bool:
    try:
        from anyio import to_thread
    except ImportError:
        return False
    try:
        return to_thread.current_default_thread_limiter().borrowed_tokens > 0
    except RuntimeError:
        return False


class VirtualClock:
    """Deterministic time for tests; satisfies :class:`host.clock.Clock`.

    ``quiet_rounds`` is how many empty event-loop iterations count as "every
    task is blocked"; loopback I/O from servers in the same loop completes
    within a few iterations.
    """

    def __init__(self, start: float = 0.0, *, quiet_rounds: int = 20) -> None:
        self._now = start
        self._timers: list[tuple[float, int, _Timer]] = []
        self._order = itertools.count()
        self._driver: asyncio.Task[None] | None = None
        self._quiet_rounds = quiet_rounds
        self.slept: list[float] = []
        """Every requested wait, in order (tests assert backoff schedules on it)."""
        with contextlib.suppress(RuntimeError):  # outside a loop, counting starts later
            _watch_threads(asyncio.get_running_loop())

    def now(self) -> float:
        """Virtual seconds since the clock's start value.

        Inside a loop, the loop's thread work counts from here on: a call reads the
        clock before it starts, and may start thread work before it arms a timeout.
        """
        with contextlib.suppress(RuntimeError):
            _watch_threads(asyncio.get_running_loop())
        return self._now

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of virtual time."""
        self.slept.append(seconds)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        timer = self._schedule(seconds, wake)
        try:
            await future
        finally:
            timer.cancelled = True

    def timeout(self, seconds: float) -> VirtualTimeout:
        """A scope that cancels its block after ``seconds`` of virtual time."""
        return VirtualTimeout(self, seconds)

    def advance(self, seconds: float) -> None:
        """Move time forward by hand, firing every timer that falls due."""
        self._now += seconds
        self._fire_due()

    def _schedule(self, seconds: float, callback: Callable[[], None]) -> _Timer:
        timer = _Timer(self._now + max(seconds, 0.0), callback)
        heapq.heappush(self._timers, (timer.deadline, next(self._order), timer))
        if self._driver is None or self._driver.done():
            loop = asyncio.get_running_loop()
            _watch_threads(loop)
            self._driver = loop.create_task(self._drive(), name="virtual-clock")
        return timer

    async def _drive(self) -> None:
        while True:
            await self._settle()
            self._drop_cancelled()
            if not self._timers:
                return
            deadline, _, timer = heapq.heappop(self._timers)
            self._now = max(self._now, deadline)
            timer.callback()
            self._fire_due()

    async def _settle(self) -> None:
        """Yield until the loop has had ``quiet_rounds`` iterations with nothing else to do.

        Work in threads counts as something to do: the loop's executors
        (``asyncio.to_thread``) and anyio's worker threads (the openai client's
        ``asyncify``). While such work runs, the driver waits on the loop's
        selector in 1 ms steps, so the thread is not starved of the GIL.
        """
        loop = asyncio.get_running_loop()
        threads = _watch_threads(loop)
        quiet = 0
        parked = _parked_drivers.setdefault(loop, [0])
        while quiet < self._quiet_rounds:
            threads_busy = threads.in_flight > 0 or _anyio_threads_busy()
            if threads_busy:
                await asyncio.sleep(0.001)
            else:
                parked[0] += 1
                try:
                    await asyncio.sleep(0)
                finally:
                    parked[0] -= 1
            # Other clocks' drivers waiting their turn here are not work.
            busy = threads_busy or len(getattr(loop, "_ready", ())) > parked[0]
            quiet = 0 if busy else quiet + 1

    def _fire_due(self) -> None:
        while self._timers and self._timers[0][0] <= self._now:
            _, _, timer = heapq.heappop(self._timers)
            if not timer.cancelled:
                timer.callback()

    def _drop_cancelled(self) -> None:
        self._timers = [entry for entry in self._timers if not entry[2].cancelled]
        heapq.heapify(self._timers)


class VirtualTimeout(CancelScope):
    """``with clock.timeout(s):`` on virtual time, like :func:`asyncio.timeout`."""

    def __init__(self, clock: VirtualClock, seconds: float) -> None:
        super().__init__(seconds)
        self._clock = clock
        self._timer: _Timer | None = None

    def _arm(self, seconds: float) -> None:
        self._timer = self._clock._schedule(seconds, self.fire)

    def _disarm(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancelled = True


async def run_until(condition: Callable[[], bool], rounds: int = 1_000) -> None:
    """Let the event loop run (no real wait) until ``condition`` holds.

    Raises AssertionError when it still does not hold after ``rounds`` turns.
    """
    for _ in range(rounds):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition not reached while the loop ran")
