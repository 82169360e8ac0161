"""OpenTelemetry tracing and metrics for the host: set up once per process, flushed at exit.

The public surface::

    from host.telemetry import start_tracing, shutdown, Telemetry

:func:`start_tracing` reads the config's ``telemetry`` section over the standard
``OTEL_*`` variables (:mod:`host.telemetry.settings`) and returns a
:class:`Telemetry` handle: tracer and meter for scope ``agent_host``, the
instruments (:mod:`host.telemetry.metrics`) and whether content may be captured.
Exporters — console, OTLP over HTTP/protobuf or gRPC, a JSON-lines file
(:mod:`host.telemetry.jsonl`) — are imported only when chosen, and each is
wrapped so that no registered secret is exported (:mod:`host.telemetry.redacting`).
Importing this package loads no OpenTelemetry module.
"""

from host.telemetry.setup import Telemetry, shutdown, start_tracing

__all__ = ["Telemetry", "shutdown", "start_tracing"]
