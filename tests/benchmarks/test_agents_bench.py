"""``bench.agents`` in quick mode: both figures of issue #17 come out, positive and finite."""

from __future__ import annotations

import math

from bench import agents


async def test_the_agents_benchmark_gives_both_figures_positive_and_finite() -> None:
    figures = await agents.run(quick=True)

    assert set(figures) == {"agent_turn_overhead_ratio", "concurrent_agents_wall_ratio"}
    for name, value in figures.items():
        assert math.isfinite(value) and value > 0, (name, value)
