"""Time as an injected dependency: every wait, timeout and latency goes through a clock."""

from __future__ import annotations

import asyncio
import contextvars
import math
import time
from types import TracebackType
from typing import Any, Protocol


class TimeoutScope(Protocol):
    """``with clock.timeout(s):`` cancels the block after ``s`` seconds (inside a task).

    The block then raises :class:`TimeoutError`; ``expired()`` tells that timeout
    apart from a ``TimeoutError`` the code inside raised itself.
    """

    def __enter__(self) -> object: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None: ...

    def expired(self) -> bool:
        """Whether this scope's time ran out."""
        ...


class Clock(Protocol):
    """What the host needs of time: a monotonic reading, waiting, and timeouts."""

    def now(self) -> float:
        """Monotonic seconds; only differences are meaningful."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (a virtual clock advances instead of waiting)."""
        ...

    def timeout(self, seconds: float) -> TimeoutScope:
        """A scope that cancels its block after ``seconds``."""
        ...


class CancelScope:
    """A timeout scope: arm a timer on entry; if it fires, cancel the task, raise TimeoutError.

    A plain (not async) context manager, like trio's cancel scopes: entering and
    leaving need no awaiting, which keeps it cheap on every call's path.

    Subclasses say how to arm the timer and disarm it (:meth:`_arm`, :meth:`_disarm`):
    the event loop's for real time, a virtual clock's in tests. The timer calls
    :meth:`fire`.
    """

    __slots__ = ("_expired", "_seconds", "_task")

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._expired = False
        self._task: asyncio.Task[Any] | None = None

    def expired(self) -> bool:
        """Whether the time ran out and the block was cancelled."""
        return self._expired

    def _arm(self, seconds: float) -> None:
        """Have :meth:`fire` called after ``seconds``."""
        raise NotImplementedError

    def _disarm(self) -> None:
        """Let go of the timer armed by :meth:`_arm` (it holds this scope): called once."""
        raise NotImplementedError

    def fire(self) -> None:
        """The time ran out: cancel the block's task."""
        self._expired = True
        if self._task is not None:
            self._task.cancel()

    def __enter__(self) -> CancelScope:
        self._task = asyncio.current_task()
        self._arm(self._seconds)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # The timer and the task are dropped, not kept: the timer holds this scope, a cycle
        # that would keep it and its task (with the task's result) alive until a collection.
        self._disarm()
        task, self._task = self._task, None
        if not self._expired or task is None:
            return
        # Our cancel is taken back even when the block swallowed it (as asyncio.timeout
        # does from 3.12): left counted, it would turn every later timeout of the task
        # into a cancellation of the task.
        if task.uncancel() == 0 and exc_type is asyncio.CancelledError:
            raise TimeoutError from exc


class _TimerBuckets:
    """Loop timers shared by every timeout due in the same 10 ms (timer coalescing).

    Arming a timeout is then a set insertion, not a timer of its own; a call
    timeout fires at most 10 ms late. A bucket holds the scopes themselves, so
    arming makes no callback object.
    """

    resolution = 0.01

    def __init__(self) -> None:
        self._buckets: dict[tuple[int, int], set[CancelScope]] = {}

    def arm(self, seconds: float, scope: CancelScope) -> set[CancelScope]:
        """Have ``scope.fire()`` called after ``seconds``; return the bucket to
        :meth:`disarm` it from."""
        loop = asyncio.get_running_loop()
        tick = math.ceil((loop.time() + seconds) / self.resolution)
        key = (id(loop), tick)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = set()
            loop.call_at(tick * self.resolution, self._fire, key, context=_BARE_CONTEXT)
        bucket.add(scope)
        return bucket

    @staticmethod
    def disarm(bucket: set[CancelScope], scope: CancelScope) -> None:
        """Take ``scope`` out of ``bucket``, which waits for its timer however long."""
        bucket.discard(scope)
        if not bucket:
            bucket.clear()  # an emptied set keeps its grown table; clearing frees it

    def _fire(self, key: tuple[int, int]) -> None:
        for scope in self._buckets.pop(key, ()):
            scope.fire()


_BARE_CONTEXT = contextvars.Context()
"""Bucket callbacks need no context variables; skipping the copy makes arming cheap."""


class _LoopTimeout(CancelScope):
    """Real time on the running loop, through the clock's shared timer buckets."""

    __slots__ = ("_bucket", "_buckets")

    def __init__(self, seconds: float, buckets: _TimerBuckets) -> None:
        super().__init__(seconds)
        self._buckets = buckets
        self._bucket: set[CancelScope] | None = None

    def _arm(self, seconds: float) -> None:
        self._bucket = self._buckets.arm(seconds, self)

    def _disarm(self) -> None:
        bucket, self._bucket = self._bucket, None
        if bucket is not None:
            self._buckets.disarm(bucket, self)


class SystemClock:
    """The real clock: ``time.monotonic``, ``asyncio.sleep``, and coalesced loop timers."""

    def __init__(self) -> None:
        self._buckets = _TimerBuckets()

    now = staticmethod(time.monotonic)
    """Monotonic seconds: ``time.monotonic`` itself, no method around it (every call's
    path reads it several times)."""

    async def sleep(self, seconds: float) -> None:
        """Really wait."""
        await asyncio.sleep(seconds)

    def timeout(self, seconds: float) -> TimeoutScope:
        """A loop timer that cancels the block: no extra task, real cancellation."""
        return _LoopTimeout(seconds, self._buckets)
