"""On an OpenTelemetry SDK provider, the host's spans obey what the provider was built with,
as spans of the SDK's own tracer would: its sampler, ``OTEL_SDK_DISABLED``, its span
limits, and the ``exception`` event's conventions.

The host starts spans on an SDK provider through its own
:class:`~host.telemetry.span_recorder.SpanRecorder` rather than the SDK's tracer
(for speed); these pin that it keeps the SDK's behaviour. The provider is built in
each test, after the variables it reads are set.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, Sampler

from host import AgentHost, RunResult
from host.testing import Reply, ScriptedChatCompletion
from tests.tracing.span_kit import SpanTree, events, step, write_host


async def traced_run(
    folder: Path, *, sampler: Sampler | None = None, **telemetry: object
) -> tuple[RunResult, SpanTree]:
    """A run of a prompt step (model ``main`` replies ``a long long reply``) and a failing
    tool step, on a provider built now; the result and the spans it exported."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=sampler) if sampler is not None else TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    models = {"main": ScriptedChatCompletion("main", [Reply("a long long reply")])}
    plan = {
        "steps": [
            {**step("ask", "talk.Ask", input="a long input"), "capability": "fetch"},
            step("count", "broken.count", "ask"),
        ]
    }
    config = write_host(folder, telemetry=telemetry)
    async with AgentHost(config, tracer_provider=provider, models=models, strict=True) as host:
        result = await host.execute(plan)
    provider.shutdown()
    return result, SpanTree(exporter.get_finished_spans())


async def test_a_sampler_that_drops_every_trace_leaves_no_span(tmp_path: Path) -> None:
    """Kills: spans recorded without asking the provider's sampler."""
    result, spans = await traced_run(tmp_path, sampler=ALWAYS_OFF)

    assert result.status == "failed"  # the run itself is unchanged
    assert [s.step_id for s in result.steps] == ["ask", "count"]
    assert spans.spans == ()
    assert result.trace_id is None  # no viewer has it: `runs` and `trace` show none


async def test_a_sampled_run_names_its_trace(tmp_path: Path) -> None:
    result, spans = await traced_run(tmp_path)

    [root] = spans.roots()
    assert result.trace_id == f"{root.context.trace_id:032x}"


async def test_otel_sdk_disabled_leaves_no_span(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kills: the standard switch that turns the SDK off ignored by the host's spans."""
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    result, spans = await traced_run(tmp_path)

    assert result.status == "failed"
    assert spans.spans == ()


async def test_the_attribute_length_limit_truncates_captured_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kills: content capture writing values longer than the configured limit."""
    monkeypatch.setenv("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "12")
    _, spans = await traced_run(tmp_path, capture_content=True)

    chat = spans.one("chat scripted-1")
    assert chat.attributes is not None
    assert len(str(chat.attributes["gen_ai.output.messages"])) == 12


async def test_a_recorded_exception_names_its_fully_qualified_type(tmp_path: Path) -> None:
    """Kills: ``exception.type`` that cannot tell ``host.errors.FunctionFailedError`` from
    any other class of that name."""
    _, spans = await traced_run(tmp_path)

    (raised,) = events(spans.one("step count"), "exception")
    assert raised.attributes is not None
    assert raised.attributes["exception.type"] == "host.errors.FunctionFailedError"
    assert raised.attributes["exception.message"] == "broken.count failed: ValueError: bad query"
    assert raised.attributes["exception.escaped"] == "False"
    assert "ValueError: bad query" in str(raised.attributes["exception.stacktrace"])
