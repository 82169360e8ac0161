"""Loopback OTLP receivers a test starts: HTTP/protobuf and gRPC, keeping what they receive.

Each listens on 127.0.0.1 at a free port, decodes every export request with the
OTLP protobuf messages, and keeps the raw request bytes (to search for secrets),
the request headers and the decoded spans and metrics. Use them as context
managers: the server stops when the block ends.
"""

from __future__ import annotations

import threading
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import grpc
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span


@dataclass
class Received:
    """What a receiver has been sent so far."""

    bodies: list[bytes] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    traces: list[ExportTraceServiceRequest] = field(default_factory=list)
    metrics: list[ExportMetricsServiceRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def spans(self) -> list[Span]:
        """Every span received, in arrival order."""
        with self.lock:
            return [
                span
                for request in self.traces
                for resource in request.resource_spans
                for scope in resource.scope_spans
                for span in scope.spans
            ]

    def service_names(self) -> set[str]:
        """The ``service.name`` of every resource spans came from."""
        with self.lock:
            return {
                attribute.value.string_value
                for request in self.traces
                for resource in request.resource_spans
                for attribute in resource.resource.attributes
                if attribute.key == "service.name"
            }

    def metric_names(self) -> set[str]:
        """The name of every metric received."""
        with self.lock:
            return {
                metric.name
                for request in self.metrics
                for resource in request.resource_metrics
                for scope in resource.scope_metrics
                for metric in scope.metrics
            }


class HttpReceiver:
    """OTLP/HTTP protobuf: ``POST /v1/traces`` and ``POST /v1/metrics``."""

    def __init__(self) -> None:
        self.received = Received()
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path == "/v1/traces":
                    traces = ExportTraceServiceRequest.FromString(body)
                    reply = ExportTraceServiceResponse().SerializeToString()
                    with received.lock:
                        received.traces.append(traces)
                elif self.path == "/v1/metrics":
                    metrics = ExportMetricsServiceRequest.FromString(body)
                    reply = ExportMetricsServiceResponse().SerializeToString()
                    with received.lock:
                        received.metrics.append(metrics)
                else:
                    self.send_error(404)
                    return
                with received.lock:
                    received.bodies.append(body)
                    received.headers.append({k.lower(): v for k, v in self.headers.items()})
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: a test asserts on what was received, not on a log."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``, without a path."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> HttpReceiver:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, received: Received) -> None:
        self._received = received

    def Export(
        self, request: ExportTraceServiceRequest, context: grpc.ServicerContext
    ) -> ExportTraceServiceResponse:
        with self._received.lock:
            self._received.traces.append(request)
            self._received.bodies.append(request.SerializeToString())
            self._received.headers.append(dict(context.invocation_metadata()))
        return ExportTraceServiceResponse()


class GrpcReceiver:
    """OTLP/gRPC: the ``TraceService/Export`` method."""

    def __init__(self) -> None:
        self.received = Received()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(
            _TraceService(self.received), self._server
        )
        self._port = self._server.add_insecure_port("127.0.0.1:0")

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (``http`` makes the exporter connect without TLS)."""
        return f"http://127.0.0.1:{self._port}"

    def __enter__(self) -> GrpcReceiver:
        self._server.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.stop(grace=None).wait()


def attributes(span: Span) -> dict[str, Any]:
    """The attributes of a received span, each value unwrapped from its ``AnyValue``."""
    return {
        attribute.key: getattr(attribute.value, attribute.value.WhichOneof("value"))
        for attribute in span.attributes
    }
