"""Span tests: the host's spans go to an in-memory exporter through ``tracer_provider``.

No ``OTEL_*`` variable of the machine running the tests reaches a test, and any
process-wide set-up a test made (:func:`host.telemetry.start_tracing`) is ended
after it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from host.telemetry import shutdown
from host.testing import VirtualClock
from tests.tracing.span_kit import Finished, SpanTree


@pytest.fixture(autouse=True)
def _no_otel_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in [name for name in os.environ if name.startswith("OTEL_")]:
        monkeypatch.delenv(name)
    try:
        yield
    finally:
        shutdown()


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    """Where the host's finished spans go (see :func:`provider`)."""
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    """A tracer provider exporting each span to :func:`exporter` as it ends."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider
    provider.shutdown()


@pytest.fixture
def finished(exporter: InMemorySpanExporter) -> Finished:
    """``finished()``: the spans ended so far, as a :class:`SpanTree`."""
    return lambda: SpanTree(exporter.get_finished_spans())


@pytest.fixture
def no_global_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    """OpenTelemetry's global tracer provider is the API's placeholder, as in a process
    where no application installed one (put back after the test)."""
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", None)
    monkeypatch.setattr(trace, "_PROXY_TRACER_PROVIDER", trace.ProxyTracerProvider())


@pytest.fixture
def clock() -> VirtualClock:
    """Virtual time: backoffs and cache ages take no real time."""
    return VirtualClock()
