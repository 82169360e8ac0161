"""Cost of recording runs: a plan's run recorded in the run store against the same run not."""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.executor import CONFIG, PLUGIN, _chain
from bench.timing import per_call_seconds, ratio
from host import AgentHost
from host.run_ids import new_run_id
from host.runs import Runs
from host.state import RunState

BATCH = 50
"""Runs between two flushes of the store on the recorded side."""


async def run(quick: bool) -> dict[str, float]:
    """``run_store_overhead_ratio``: CPU time of a three-step plan's run recorded in a
    file database over the same run not recorded, alternated in one run;
    ``run_store_added_us_per_run``: what that ratio adds to a run, in CPU microseconds.

    Both sides run the same parsed plan through the host's own step runner; only the
    recorded side has a store. CPU time counts every thread, and the recorded side
    flushes the store after each :data:`BATCH` runs, so the writer thread's work is
    counted where it belongs rather than in whichever side runs while it writes.
    """
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / "plugins").mkdir()
        (root / "plugins" / "bench.py").write_text(PLUGIN)
        (root / "host.yaml").write_text(CONFIG + "runs:\n  database: runs.sqlite3\n")
        async with AgentHost(root / "host.yaml") as host:
            overhead, unrecorded = await _measure(host, quick)
    return {
        "run_store_overhead_ratio": overhead,
        "run_store_added_us_per_run": (overhead - 1) * unrecorded * 1e6,
    }


async def _measure(host: AgentHost, quick: bool) -> tuple[float, float]:
    """The ratio, and the CPU seconds of one unrecorded run it multiplies."""
    steps, paused, store = host._step_runner(), host._paused, host.run_store
    assert paused is not None
    recorded, unrecorded = Runs(steps, paused, store), Runs(steps, paused)
    plan = Runs.parse(_chain(3))

    async def runs(over: Runs) -> None:
        for _ in range(BATCH):
            state = RunState(run_id=new_run_id())
            result = await over.plan(plan, "", state, None)
            assert result.status == "ok", result.error

    async def recorded_runs() -> None:
        await runs(recorded)
        store.flush()

    async def unrecorded_runs() -> None:
        await runs(unrecorded)

    calls, rounds = (4, 3) if quick else (16, 7)
    overhead = await ratio(recorded_runs, unrecorded_runs, calls=calls, rounds=rounds)
    return overhead, await per_call_seconds(unrecorded_runs, calls) / BATCH
