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
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
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


class _CountingExecutor(ThreadPoolExecutor):
    """The loop's default executor, counting the work in flight for the clock's driver."""

    def __init__(self) -> None:
        super().__init__(thread_name_prefix="virtual-clock-worker")
        self.in_flight = 0
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        with self._lock:
            self.in_flight += 1
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._done)
        return future

    def _done(self, _: Future[Any]) -> None:
        with self._lock:
            self.in_flight -= 1


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
            self._counting_executor(asyncio.get_running_loop())

    def now(self) -> float:
        """Virtual seconds since the clock's start value."""
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
            self._counting_executor(loop)
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

        Work in threads counts as something to do: the loop's default executor
        (``asyncio.to_thread``) and anyio's worker threads (the openai client's
        ``asyncify``). While such work runs, the driver waits on the loop's
        selector in 1 ms steps, so the thread is not starved of the GIL.
        """
        loop = asyncio.get_running_loop()
        executor = self._counting_executor(loop)
        quiet = 0
        while quiet < self._quiet_rounds:
            threads_busy = executor.in_flight > 0 or _anyio_threads_busy()
            await asyncio.sleep(0.001 if threads_busy else 0)
            busy = threads_busy or len(getattr(loop, "_ready", ())) > 0
            quiet = 0 if busy else quiet + 1

    def _counting_executor(self, loop: asyncio.AbstractEventLoop) -> _CountingExecutor:
        executor = getattr(loop, "_default_executor", None)
        if not isinstance(executor, _CountingExecutor):
            executor = _CountingExecutor()
            loop.set_default_executor(executor)
        return executor

    def _fire_due(self) -> None:
        while self._timers and self._timers[0][0] <= self._now:
            _, _, timer = heapq.heappop(self._timers)
            if not timer.cancelled:
                timer.callback()

    def _drop_cancelled(self) -> None:
        self._timers = [entry for entry in self._timers if not entry[2].cancelled]
        heapq.heapify(self._timers)


class VirtualTimeout(CancelScope):
    """``async with clock.timeout(s):`` on virtual time, like :func:`asyncio.timeout`."""

    def __init__(self, clock: VirtualClock, seconds: float) -> None:
        super().__init__(seconds)
        self._clock = clock

    def _arm(self, seconds: float, fire: Callable[[], None]) -> Callable[[], None]:
        timer = self._clock._schedule(seconds, fire)

        def disarm() -> None:
            timer.cancelled = True

        return disarm
