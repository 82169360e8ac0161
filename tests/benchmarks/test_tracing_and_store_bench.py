"""``bench.tracing`` and ``bench.run_store`` in quick mode: every figure of issue #15
comes out, positive and finite, for both plans each measures."""

from __future__ import annotations

import math

from bench import run_store, tracing


async def test_the_tracing_benchmark_gives_its_figures_positive_and_finite() -> None:
    figures = await tracing.run(quick=True)

    assert set(figures) == {
        "tracing_overhead_ratio",
        "tracing_added_us_per_span",
        "tracing_overhead_ratio_request",
    }
    for name, value in figures.items():
        assert math.isfinite(value) and value > 0, (name, value)


async def test_the_run_store_benchmark_gives_its_figures_positive_and_finite() -> None:
    figures = await run_store.run(quick=True)

    assert set(figures) == {
        "run_store_overhead_ratio",
        "run_store_added_us_per_run",
        "run_store_overhead_ratio_request",
    }
    for name, value in figures.items():
        assert math.isfinite(value) and value > 0, (name, value)
