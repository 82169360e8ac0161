"""Cost of recording runs: a plan's run recorded in the run store against the same run not."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from bench import request
from bench.executor import CONFIG, PLUGIN, _chain
from bench.timing import per_call_seconds, ratio
from host import AgentHost
from host.plans import Plan
from host.run_ids import new_run_id
from host.runs import Runs
from host.state import RunState

BATCH = 50
"""Runs between two flushes of the store on the recorded side."""


async def run(quick: bool) -> dict[str, float]:
    """``run_store_overhead_ratio``: CPU time of a three-step plan's run of no-op native
    steps (the executor bench's) recorded in a file database over the same run not
    recorded, alternated in one run; ``run_store_added_us_per_run``: what that ratio adds
    to a run, in CPU microseconds. ``run_store_overhead_ratio_request``: the same for the
    request's plan (:mod:`bench.request`: two native steps and a prompt function on a
    scripted model that answers at once), printed without a target.

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
            overhead, unrecorded = await _measure(host, Runs.parse(_chain(3)), quick)
    with request.project() as root:
        models = request.echo_models()
        async with AgentHost(root / "host.yaml", models=models) as host:
            forget = models["m"].requests.clear  # kept for tests: a growing heap to collect
            plan = Runs.parse(host.plan(request.REQUEST))
            on_request, _ = await _measure(host, plan, quick, forget)
    return {
        "run_store_overhead_ratio": overhead,
        "run_store_added_us_per_run": (overhead - 1) * unrecorded * 1e6,
        "run_store_overhead_ratio_request": on_request,
    }


async def _measure(
    host: AgentHost, plan: Plan, quick: bool, between: Callable[[], None] = lambda: None
) -> tuple[float, float]:
    """The ratio for ``plan``, and the CPU seconds of one unrecorded run it multiplies;
    ``between`` is called before each batch of runs, on both sides."""
    steps, paused, store = host._step_runner(), host._paused, host.run_store
    assert paused is not None
    recorded, unrecorded = Runs(steps, paused, store), Runs(steps, paused)

    async def runs(over: Runs) -> None:
        between()
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
