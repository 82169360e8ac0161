"""A timeout armed only once the call it bounds waits for something.

A coroutine that finishes without yielding to the event loop cannot be
cancelled (a timer only fires while the loop runs), so arming a timer for it
is wasted work. Most calls of a quick native function are such calls.
"""

from __future__ import annotations

from collections.abc import Awaitable, Generator
from typing import Any

from host.clock import Clock, TimeoutScope


class Bounded:
    """``await Bounded(clock, due, awaitable)``: ``awaitable``, cancelled at clock time ``due``.

    Behaves as ``with clock.timeout(due - clock.now()): await awaitable`` entered
    at once, except that the scope is made and entered only when ``awaitable``
    first suspends, for the time left then. The expired scope's
    :class:`TimeoutError` leaves as from the scope; :meth:`expired` tells it apart
    from one the call raised itself. Runs in asyncio tasks, which resume an
    awaitable with ``None``.
    """

    __slots__ = ("_awaitable", "_clock", "_due", "_scope")

    def __init__(self, clock: Clock, due: float, awaitable: Awaitable[None]) -> None:
        self._clock, self._due, self._awaitable = clock, due, awaitable
        self._scope: TimeoutScope | None = None

    def expired(self) -> bool:
        """Whether the time ran out and the call was cancelled."""
        return self._scope is not None and self._scope.expired()

    def __await__(self) -> Generator[Any, None, None]:
        inner = self._awaitable.__await__()
        try:
            signal = inner.send(None)
        except StopIteration:
            return  # finished without waiting: nothing could have cancelled it
        clock = self._clock
        self._scope = scope = clock.timeout(self._due - clock.now())
        with scope:
            while True:
                try:
                    yield signal
                except GeneratorExit:
                    inner.close()
                    raise
                except BaseException as thrown:  # e.g. the scope's cancellation
                    try:
                        signal = inner.throw(thrown)
                    except StopIteration:
                        return
                else:
                    yield from inner
                    return
