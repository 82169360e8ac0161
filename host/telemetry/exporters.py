"""The exporter each setting names, imported only when it is chosen (the gRPC one is heavy)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from host.errors import ConfigError

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import MetricReader
    from opentelemetry.sdk.trace.export import SpanExporter

    from host.telemetry.settings import TracingSettings


def span_exporter(settings: TracingSettings, where: str = "telemetry.file") -> SpanExporter:
    """The exporter for ``settings.exporter`` (not ``none``), wrapped so no secret leaves.

    A ``jsonl`` file that cannot be opened is a :class:`ConfigError` at ``where``.
    """
    from host.telemetry.redacting import RedactingSpanExporter

    exporter: SpanExporter
    if settings.exporter == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        exporter = ConsoleSpanExporter(out=sys.stderr, service_name=settings.service_name)
    elif settings.exporter == "jsonl" and settings.file is not None:
        from host.telemetry.jsonl import JsonLinesSpanExporter

        try:
            exporter = JsonLinesSpanExporter(settings.file)
        except OSError as problem:
            raise ConfigError(
                [f"{where}: cannot open {settings.file} ({problem.strerror})"]
            ) from None
    elif settings.exporter == "otlp" and settings.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcSpanExporter,
        )

        exporter = GrpcSpanExporter(endpoint=settings.endpoint, headers=dict(settings.headers))
    elif settings.exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=settings.endpoint, headers=dict(settings.headers))
    else:
        raise ValueError(f"no span exporter for {settings.exporter!r}")
    return RedactingSpanExporter(exporter)


def metric_reader(settings: TracingSettings) -> MetricReader:
    """A periodic reader over the exporter ``settings.metrics`` names (not ``none``),
    wrapped so no secret leaves."""
    from opentelemetry.sdk.metrics.export import (
        ConsoleMetricExporter,
        MetricExporter,
        PeriodicExportingMetricReader,
    )

    from host.telemetry.redacting import RedactingMetricExporter

    exporter: MetricExporter
    if settings.metrics == "console":
        exporter = ConsoleMetricExporter(out=sys.stderr)
    elif settings.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
            OTLPMetricExporter as GrpcMetricExporter,
        )

        exporter = GrpcMetricExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        exporter = OTLPMetricExporter()
    return PeriodicExportingMetricReader(RedactingMetricExporter(exporter))
