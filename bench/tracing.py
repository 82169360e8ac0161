"""Cost of tracing: the same plan run by a host that traces and by one that does not."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bench import request
from bench.executor import CONFIG, PLUGIN, UNRECORDED, _chain
from bench.timing import per_call_seconds, ratio
from host import AgentHost
from host.plans import Plan
from host.testing import ScriptedChatCompletion


async def run(quick: bool) -> dict[str, float]:
    """``tracing_overhead_ratio``: CPU time per run of a 3-step plan of native steps that
    return their argument (the executor bench's) with every span made and
    batch-exported to memory, over the same run with tracing off; the export thread's
    CPU time counts. Runs are not recorded in the run store on either side.
    ``tracing_added_us_per_span``: what that ratio adds to an untraced run, in CPU
    microseconds, over the spans one run makes (7).

    ``tracing_overhead_ratio_request``: the same for the request's plan
    (:mod:`bench.request`: two native steps and a prompt function on a scripted model
    that answers at once, run concurrently as the clause planner plans them), printed
    without a target."""
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / "plugins").mkdir()
        (root / "plugins" / "bench.py").write_text(PLUGIN)
        (root / "host.yaml").write_text(CONFIG + UNRECORDED)
        overhead, untraced, spans = await _measure(root / "host.yaml", _chain(3), quick, dict)
    with request.project() as root:
        async with AgentHost(root / "host.yaml") as planner:
            plan = planner.plan(request.REQUEST)
        on_request, _, _ = await _measure(root / "host.yaml", plan, quick, request.echo_models)
    return {
        "tracing_overhead_ratio": overhead,
        "tracing_added_us_per_span": (overhead - 1) * untraced * 1e6 / spans,
        "tracing_overhead_ratio_request": on_request,
    }


async def _measure(
    config: Path,
    plan: Plan | Mapping[str, Any],
    quick: bool,
    models: Callable[[], dict[str, ScriptedChatCompletion]],
) -> tuple[float, float, int]:
    """The ratio for ``plan`` on hosts of ``config`` (each given ``models()``), the CPU
    seconds of one untraced run, and how many spans a run makes."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=65536))
    plain_models, traced_models = models(), models()
    async with (
        AgentHost(config, models=plain_models) as plain,
        AgentHost(config, tracer_provider=provider, models=traced_models) as traced,
    ):

        async def untraced_run() -> object:
            _forget(plain_models)
            return await plain.execute(plan)

        async def traced_run() -> object:
            _forget(traced_models)
            exporter.clear()
            return await traced.execute(plan)

        result = await plain.execute(plan)
        assert result.status == "ok", result.error
        calls, rounds = (100, 3) if quick else (400, 9)
        overhead = await ratio(traced_run, untraced_run, calls=calls, rounds=rounds)
        untraced = await per_call_seconds(untraced_run, calls)
        provider.force_flush()  # what earlier runs left in the queue, then one run's
        await traced_run()
        provider.force_flush()
        spans = len(exporter.get_finished_spans())
    provider.shutdown()
    return overhead, untraced, spans


def _forget(models: Mapping[str, ScriptedChatCompletion]) -> None:
    """Drop the requests the scripted models keep (a test reads them): kept, they would
    grow the heap every garbage collection walks, on both sides alike."""
    for model in models.values():
        model.requests.clear()
