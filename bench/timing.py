"""Timing helpers: interleaved rounds, medians, so two variants see the same machine load."""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable


async def per_call_seconds(call: Callable[[], Awaitable[object]], calls: int) -> float:
    """Seconds per call of ``call`` over ``calls`` sequential calls."""
    start = time.perf_counter()
    for _ in range(calls):
        await call()
    return (time.perf_counter() - start) / calls


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
        start = time.perf_counter()
        for _ in range(calls):
            call()
        return (time.perf_counter() - start) / calls

    return statistics.median(per_call(subject) / per_call(baseline) for _ in range(rounds))
