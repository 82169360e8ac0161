"""Racing a call against a clock: the one timeout mechanism the deadline and timeout filters use."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Any, TypeVar

from host.clock import Clock

T = TypeVar("T")


class TimedOut(Exception):
    """The awaited call did not finish in time; it has been cancelled."""


async def within(clock: Clock, call: Awaitable[T], seconds: float) -> T:
    """Await ``call``, cancelling it (really) if ``seconds`` pass first on ``clock``.

    A result that arrives after the timer fired is discarded. Cancelling the
    caller cancels both the call and the timer, leaving no task behind.
    """
    work = asyncio.ensure_future(call)
    timer = asyncio.ensure_future(clock.sleep(seconds))
    try:
        done, _ = await asyncio.wait({work, timer}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        work.cancel()
        timer.cancel()
        await _settle(work, timer)
        raise
    if work in done:
        timer.cancel()
        await _settle(timer)
        return work.result()
    work.cancel()
    await _settle(work)
    raise TimedOut


async def _settle(*tasks: asyncio.Future[Any]) -> None:
    for task in tasks:
        with contextlib.suppress(BaseException):
            await task
