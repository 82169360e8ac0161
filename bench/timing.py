"""Timing helpers: CPU time of this process, interleaved rounds and medians.

CPU time (not wall time) leaves out the time other processes on a shared
machine take; alternating the two variants lets both see the same conditions.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable


async def per_call_seconds(call: Callable[[], Awaitable[object]], calls: int) -> float:
    """CPU seconds per call of ``call`` over ``calls`` sequential calls.

    The event loop gets a turn every 100 calls, as it would in a server, so
    its housekeeping (e.g. dropping cancelled timers) is part of the cost.
    """
    start = time.process_time()
    for index in range(calls):
        await call()
        if index % 100 == 99:
            await asyncio.sleep(0)
    return (time.process_time() - start) / calls


async def ratio(
    subject: Callable[[], Awaitable[object]],
    baseline: Callable[[], Awaitable[object]],
    *,
    calls: int,
    rounds: int,
) -> float:
    """Median over ``rounds`` of subject/baseline time per call, alternating the two."""
    await per_call_seconds(subject, max(calls // 10, 1))
    await per_call_seconds(baseline, max(calls // 10, 1))
    ratios = []
    for _ in range(rounds):
        base = await per_call_seconds(baseline, calls)
        measured = await per_call_seconds(subject, calls)
        ratios.append(measured / base)
    return statistics.median(ratios)


def sync_ratio(
    subject: Callable[[], object], baseline: Callable[[], object], *, calls: int, rounds: int
) -> float:
    """The synchronous twin of :func:`ratio`."""

    def per_call(call: Callable[[], object]) -> float:
        start = time.process_time()
        for _ in range(calls):
            call()
        return (time.process_time() - start) / calls

    return statistics.median(per_call(subject) / per_call(baseline) for _ in range(rounds))
