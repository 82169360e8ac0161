"""``bench.tracing`` and ``bench.run_store`` in quick mode: every figure of issue #15
comes out, positive and finite, for both plans each measures."""

from __future__ import annotations

import math
from types import ModuleType

import pytest

from bench import run_store, tracing


@pytest.mark.parametrize(
    ("bench", "prefix", "absolute"),
    [(tracing, "tracing", "added_us_per_span"), (run_store, "run_store", "added_us_per_run")],
    ids=["tracing", "run store"],
)
async def test_the_benchmark_gives_its_figures_positive_and_finite(
    bench: ModuleType, prefix: str, absolute: str
) -> None:
    figures = await bench.run(quick=True)

    assert set(figures) == {
        f"{prefix}_overhead_ratio",
        f"{prefix}_{absolute}",
        f"{prefix}_overhead_ratio_request",
    }
    for name, value in figures.items():
        assert math.isfinite(value) and value > 0, (name, value)
