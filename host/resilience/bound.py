"""A timeout armed only once the call it bounds waits for something.

A coroutine that finishes without yielding to the event loop cannot be
cancelled (a timer only fires while the loop runs), so arming a timer for it
is wasted work. Most calls of a quick native function are such calls.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Generator
from types import CoroutineType
from typing import Any

from host.clock import Clock, TimeoutScope


class Bounded(Generator[Any, None, None]):
    """``await Bounded(clock, due, awaitable)``: ``awaitable``, cancelled at clock time ``due``.

    Behaves as ``with clock.timeout(due - clock.now()): await awaitable`` entered
    at once, except that the scope is made and entered only when ``awaitable``
    first suspends, for the time left then. The expired scope's
    :class:`TimeoutError` leaves as from the scope; :meth:`expired` tells it apart
    from one the call raised itself. Runs in asyncio tasks, which resume an
    awaitable with ``None``.

    ``await`` drives this object itself, as the generator ``__await__`` returns:
    a generator function's frame would be one more object held by every call in flight.
    """

    __slots__ = ("_clock", "_due", "_inner", "_scope")

    def __init__(self, clock: Clock, due: float, awaitable: Awaitable[None]) -> None:
        self._clock, self._due = clock, due
        # A coroutine is driven as it is; ``__await__`` would wrap it in one more object.
        inner = awaitable if type(awaitable) is CoroutineType else awaitable.__await__()
        self._inner: Generator[Any, None, None] | Coroutine[Any, None, None] = inner
        self._scope: TimeoutScope | None = None

    def expired(self) -> bool:
        """Whether the time ran out and the call was cancelled."""
        return self._scope is not None and self._scope.expired()

    def __await__(self) -> Generator[Any, None, None]:
        return self

    def send(self, value: None = None) -> Any:
        """Run the call to its next wait (``StopIteration`` when it returns); enter the
        scope when it first waits: nothing could have cancelled it before."""
        scope = self._scope
        if scope is not None:
            return self._within(scope, self._inner.send, value)
        signal = self._inner.send(value)
        clock = self._clock
        self._scope = scope = clock.timeout(self._due - clock.now())
        scope.__enter__()
        return signal

    __next__ = send  # how ``await`` resumes with ``None``: the same step, one call fewer

    def throw(self, typ: Any, val: Any = None, tb: Any = None, /) -> Any:
        # asyncio throws the exception itself; the older (type, value) form is passed on as one
        error = typ if val is None else val
        scope = self._scope
        if scope is None:
            return self._inner.throw(error)
        return self._within(scope, self._inner.throw, error)

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            if self._scope is not None:
                self._scope.__exit__(None, None, None)

    @staticmethod
    def _within(scope: TimeoutScope, resume: Callable[[Any], Any], value: Any) -> Any:
        """``resume(value)`` inside the entered ``scope``, which the call leaves when it ends."""
        try:
            return resume(value)
        except BaseException as ended:  # a return (StopIteration) or an error: leave the scope
            scope.__exit__(type(ended), ended, ended.__traceback__)
            raise
