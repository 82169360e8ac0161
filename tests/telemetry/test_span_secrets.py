"""No registered secret reaches any exported byte, whichever exporter and wherever in a span
or a metric."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, Tracer

from host.config import LoadedConfig
from host.redaction import MASK, register
from host.telemetry import shutdown, start_tracing
from host.telemetry.redacting import redacted_span
from tests.secrets.secrets_kit import new_secret
from tests.telemetry.otlp_receivers import GrpcReceiver, HttpReceiver
from tests.telemetry.telemetry_kit import LoadTelemetry, emit_run

pytestmark = pytest.mark.reliability


def emit_secret_everywhere(tracer: Tracer, secret: str) -> None:
    """A span holding ``secret`` in its name, attributes, an event, a link, an exception's
    message and stack trace and its status description."""
    with tracer.start_as_current_span("invoke_workflow plan") as run:
        link = Link(run.get_span_context(), {"why": f"resumed with {secret}"})
    try:
        with tracer.start_as_current_span(
            f"chat {secret}",
            attributes={"gen_ai.input.messages": f"key {secret}", "tags": [secret, "plain"]},
            links=[link],
        ) as span:
            span.add_event(f"retry {secret}", {"error": f"401 for key {secret}"})
            raise PermissionError(f"Incorrect API key provided: {secret}")
    except PermissionError:
        pass


@contextmanager
def exporting(
    kind: str, load: LoadTelemetry, capsys: pytest.CaptureFixture[str]
) -> Iterator[tuple[LoadedConfig, Callable[[], bytes]]]:
    """A config exporting to ``kind``, and a function returning every byte exported so far."""
    if kind == "console":
        yield load("exporter: console"), lambda: capsys.readouterr().err.encode()
    elif kind == "jsonl":
        loaded = load("exporter: jsonl\nfile: spans.jsonl")
        yield loaded, (loaded.base_dir / "spans.jsonl").read_bytes
    else:
        with HttpReceiver() if kind == "http/protobuf" else GrpcReceiver() as receiver:
            loaded = load(f"exporter: otlp\nprotocol: {kind}\nendpoint: {receiver.base_url}")
            yield loaded, lambda: b"".join(receiver.received.bodies)


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> str:
    """A registered secret, also in the resource's attributes (``OTEL_RESOURCE_ATTRIBUTES``)."""
    value = new_secret()
    register([value])
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", f"deployment.token={value}")
    return value


@pytest.mark.parametrize("kind", ["console", "jsonl", "http/protobuf", "grpc"])
def test_secret_never_reaches_an_exported_byte(
    kind: str, secret: str, load_telemetry: LoadTelemetry, capsys: pytest.CaptureFixture[str]
) -> None:
    with exporting(kind, load_telemetry, capsys) as (loaded, exported):
        emit_secret_everywhere(start_tracing(loaded).tracer, secret)
        shutdown()
        data = exported()
    assert secret.encode() not in data
    assert f"chat {MASK}".encode() in data  # the span was exported, masked


def test_otlp_header_values_are_treated_as_secrets(
    load_telemetry: LoadTelemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = new_secret()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"authorization=Bearer {token}")
    with HttpReceiver() as receiver:
        telemetry = start_tracing(load_telemetry(f"exporter: otlp\nendpoint: {receiver.base_url}"))
        with telemetry.tracer.start_as_current_span("chat", attributes={"sent": token}):
            pass
        shutdown()
    assert receiver.received.headers[0]["authorization"] == f"Bearer {token}"
    assert token.encode() not in b"".join(receiver.received.bodies)


def test_span_without_a_secret_is_passed_on_as_it_is() -> None:
    register([new_secret()])
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    emit_run(provider.get_tracer("test"))
    spans = memory.get_finished_spans()
    assert all(redacted_span(span) is span for span in spans)


@pytest.mark.parametrize("kind", ["console", "otlp"])
def test_secret_never_reaches_an_exported_metric_byte(
    kind: str,
    secret: str,
    load_telemetry: LoadTelemetry,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", kind)
    with HttpReceiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.base_url)
        instruments = start_tracing(load_telemetry("")).instruments
        assert instruments is not None
        instruments.token_usage.record(12, {"gen_ai.request.model": secret})
        instruments.fallbacks.add(1, {"agent_host.target": f"value:{secret}"})
        shutdown()
        exported = b"".join(receiver.received.bodies) + capsys.readouterr().err.encode()
    assert b"gen_ai.client.token.usage" in exported  # the metrics were exported, masked
    assert secret.encode() not in exported
    assert MASK.encode() in exported
