"""Cost of running plans: per-step overhead, 1000 concurrent runs, and a 10-way fan-out."""

from __future__ import annotations

import asyncio
import itertools
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from semantic_kernel import Kernel
from semantic_kernel.functions import KernelArguments

from bench.timing import ratio
from host import AgentHost

PLUGIN = """
import asyncio
from semantic_kernel.functions import kernel_function


class Bench:
    plugin_name = "bench"

    @kernel_function(description="Return the value.")
    async def noop(self, value: str = "x") -> str:
        return value

    @kernel_function(description="Return the value after yielding to the event loop once.")
    async def pause(self, value: str = "x") -> str:
        await asyncio.sleep(0)
        return value

    @kernel_function(description="Wait 100 ms.")
    async def wait(self, value: str = "x") -> str:
        await asyncio.sleep(0.1)
        return value
"""

CONFIG = "models:\n  m:\n    provider: scripted\n    model: s\nplugins:\n  directories: [plugins]\n"

UNRECORDED = "runs:\n  record: false\n"
"""Runs left out of the run store: its cost is ``run_store_overhead_ratio`` (bench.run_store)."""


def _chain(length: int, function: str = "bench.noop", first: str | None = None) -> dict[str, Any]:
    """``length`` steps, each given the one before's output; ``first`` is the first's value."""
    given = {} if first is None else {"value": first}
    steps = [{"id": "s0", "function": function, "arguments": given, "capability": "fetch"}]
    for index in range(1, length):
        reference = {"$ref": f"steps.s{index - 1}.output"}
        steps.append(
            {
                "id": f"s{index}",
                "function": function,
                "arguments": {"value": reference},
                "capability": "fetch",
            }
        )
    return {"steps": steps}


def _fan_out(width: int, function: str = "bench.wait") -> dict[str, Any]:
    steps = [
        {"id": f"w{i}", "function": function, "arguments": {}, "capability": "fetch"}
        for i in range(width)
    ]
    return {"steps": steps}


async def run(quick: bool) -> dict[str, float]:
    """``step_overhead_ratio`` (and ``…_fresh_plan``, ``…_vs_bare_sk``),
    ``concurrent_1000_wall_ms``, ``memory_per_run_kib``, ``fanout_wall_ratio``,
    ``fanout_ratio_vs_bare_sk``: each against its baseline in the same run.

    ``step_overhead_ratio`` runs the same plan data every time, as a workflow or a
    repeated request does (the host remembers it parsed and validated);
    ``…_fresh_plan`` runs data never seen before each time, as a new plan from a planner.
    Both divide by ``kernel.invoke`` on the host's own kernel, resilience chain
    included; ``…_vs_bare_sk`` divides by a plain ``Kernel()`` with the same plugin.
    ``memory_per_run_kib`` is taken while every run is suspended inside a step (its
    functions yield to the event loop once, as any I/O would), so each run is in flight.
    ``fanout_ratio_vs_bare_sk`` runs a plan of 10 independent steps of that function
    against ``asyncio.gather`` of 10 ``kernel.invoke`` of it on the plain ``Kernel()``.
    Runs are not recorded in the run store here (``runs.record: false``): what recording
    adds is ``run_store_overhead_ratio``.
    """
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / "plugins").mkdir()
        (root / "plugins" / "bench.py").write_text(PLUGIN)
        (root / "host.yaml").write_text(CONFIG + UNRECORDED)
        async with AgentHost(root / "host.yaml") as host:
            return await _measure(host, quick)


async def _measure(host: AgentHost, quick: bool) -> dict[str, float]:
    kernel = host._invoker._kernel  # type: ignore[union-attr]  # the bare baseline
    function = kernel.get_function("bench", "noop")
    arguments = KernelArguments(value="x")
    three = _chain(3)

    async def bare() -> object:
        return await kernel.invoke(function, arguments)

    plain = Kernel()  # truly bare Semantic Kernel: the same plugin, no filters
    plain.add_plugin(kernel.get_plugin("bench"))
    plain_function = plain.get_function("bench", "noop")

    async def bare_sk() -> object:
        return await plain.invoke(plain_function, arguments)

    async def planned_step() -> object:
        return await host.execute(three)

    pause = plain.get_function("bench", "pause")
    ten = _fan_out(10, "bench.pause")

    async def bare_sk_fan_out() -> object:
        return await asyncio.gather(*(plain.invoke(pause, arguments) for _ in range(10)))

    async def planned_fan_out() -> object:
        return await host.execute(ten)

    fresh = itertools.count()

    async def fresh_planned_step() -> object:
        return await host.execute(_chain(3, first=f"x{next(fresh)}"))

    calls, rounds = (100, 3) if quick else (400, 7)
    per_run = await ratio(planned_step, bare, calls=calls, rounds=rounds)
    per_fresh_run = await ratio(fresh_planned_step, bare, calls=calls, rounds=rounds)
    per_run_sk = await ratio(planned_step, bare_sk, calls=calls, rounds=rounds)
    fan_out_sk = await ratio(planned_fan_out, bare_sk_fan_out, calls=calls // 4, rounds=rounds)

    runs = 1000
    await asyncio.gather(*(host.execute(three) for _ in range(50)))
    started = time.perf_counter()
    results = await asyncio.gather(*(host.execute(three) for _ in range(runs)))
    wall_ms = (time.perf_counter() - started) * 1000
    assert all(result.status == "ok" for result in results)
    pausing = _chain(3, "bench.pause")
    await asyncio.gather(*(host.execute(pausing) for _ in range(50)))
    tracemalloc.start()  # a second round, traced: tracing slows the first's wall time
    start_memory, _ = tracemalloc.get_traced_memory()
    await asyncio.gather(*(host.execute(pausing) for _ in range(runs)))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    one_wall = await _wall(host, _fan_out(1))
    ten_wall = await _wall(host, _fan_out(10))
    return {
        "step_overhead_ratio": per_run / 3,
        "step_overhead_ratio_fresh_plan": per_fresh_run / 3,
        "step_overhead_ratio_vs_bare_sk": per_run_sk / 3,
        "concurrent_1000_wall_ms": wall_ms,
        "memory_per_run_kib": (peak - start_memory) / runs / 1024,
        "fanout_wall_ratio": ten_wall / one_wall,
        "fanout_ratio_vs_bare_sk": fan_out_sk,
    }


async def _wall(host: AgentHost, plan: dict[str, Any], rounds: int = 3) -> float:
    """Median wall seconds of running ``plan``, after one warm-up run."""
    walls = []
    for _ in range(rounds + 1):
        started = time.perf_counter()
        result = await host.execute(plan)
        assert result.status == "ok", result.error
        walls.append(time.perf_counter() - started)
    return statistics.median(walls[1:])
