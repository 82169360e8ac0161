"""Cost of tracing: the same plan run by a host that traces and by one that does not."""

from __future__ import annotations

import tempfile
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bench.executor import CONFIG, PLUGIN, UNRECORDED, _chain
from bench.timing import per_call_seconds, ratio
from host import AgentHost


async def run(quick: bool) -> dict[str, float]:
    """``tracing_overhead_ratio``: CPU time per run of a 3-step plan (the executor bench's
    no-op steps) with every span made and batch-exported to memory, over the same run
    with tracing off; the export thread's CPU time counts. Runs are not recorded in the
    run store on either side. ``tracing_added_us_per_span``: what that ratio adds to an
    untraced run, in CPU microseconds, over the spans one run makes (7)."""
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / "plugins").mkdir()
        (root / "plugins" / "bench.py").write_text(PLUGIN)
        (root / "host.yaml").write_text(CONFIG + UNRECORDED)
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=65536))
        three = _chain(3)
        async with (
            AgentHost(root / "host.yaml") as plain,
            AgentHost(root / "host.yaml", tracer_provider=provider) as traced,
        ):

            async def untraced_run() -> object:
                return await plain.execute(three)

            async def traced_run() -> object:
                exporter.clear()
                return await traced.execute(three)

            calls, rounds = (100, 3) if quick else (400, 7)
            overhead = await ratio(traced_run, untraced_run, calls=calls, rounds=rounds)
            untraced = await per_call_seconds(untraced_run, calls)
            provider.force_flush()  # what earlier runs left in the queue, then one run's
            await traced_run()
            provider.force_flush()
            spans = len(exporter.get_finished_spans())
        provider.shutdown()
        added = (overhead - 1) * untraced * 1e6 / spans
        return {"tracing_overhead_ratio": overhead, "tracing_added_us_per_span": added}
