"""Set-up: spans made through the handle reach the chosen exporter, once per process."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanContext

from host.errors import ConfigError
from host.telemetry import setup, shutdown, start_tracing
from host.telemetry.jsonl import JsonLinesSpanExporter
from tests.telemetry.otlp_receivers import GrpcReceiver, HttpReceiver, attributes
from tests.telemetry.telemetry_kit import LoadTelemetry, emit_run, read_jsonl

RECEIVERS = {"http/protobuf": HttpReceiver, "grpc": GrpcReceiver}


def test_console_exporter_prints_spans(
    load_telemetry: LoadTelemetry, capsys: pytest.CaptureFixture[str]
) -> None:
    telemetry = start_tracing(load_telemetry("exporter: console"))
    emit_run(telemetry.tracer)
    shutdown()
    printed = capsys.readouterr()
    assert '"name": "step s1"' in printed.err
    assert '"name": "invoke_workflow plan"' in printed.err
    assert printed.out == ""  # stdout stays the command's answer (``run --json`` parses)


def test_jsonl_exporter_appends_one_record_per_span(load_telemetry: LoadTelemetry) -> None:
    loaded = load_telemetry("exporter: jsonl\nfile: spans.jsonl\nservice_name: shop")
    telemetry = start_tracing(loaded)
    emit_run(telemetry.tracer)
    shutdown()
    step, run = read_jsonl(loaded.base_dir / "spans.jsonl")
    assert (step["name"], run["name"]) == ("step s1", "invoke_workflow plan")
    assert step["trace_id"] == run["trace_id"] and len(step["trace_id"]) == 32
    assert (step["parent_id"], run["parent_id"]) == (run["span_id"], None)
    assert step["kind"] == "INTERNAL"
    assert step["status"] == {"code": "ERROR", "description": "the tool failed"}
    assert step["attributes"] == {"agent_host.step.id": "s1"}
    assert [(e["name"], e["attributes"]) for e in step["events"]] == [
        ("retry", {"agent_host.attempt": 1})
    ]
    assert step["start_time_unix_nano"] <= step["end_time_unix_nano"]
    assert step["resource"]["service.name"] == "shop"
    assert step["scope"] == "agent_host"


def test_jsonl_exporter_appends_to_what_is_there(load_telemetry: LoadTelemetry) -> None:
    loaded = load_telemetry("exporter: jsonl\nfile: spans.jsonl")
    (loaded.base_dir / "spans.jsonl").write_text('{"earlier": true}\n', encoding="utf-8")
    emit_run(start_tracing(loaded).tracer)
    shutdown()
    assert len(read_jsonl(loaded.base_dir / "spans.jsonl")) == 3


@pytest.mark.parametrize("protocol", list(RECEIVERS))
def test_environment_selects_otlp_endpoint_protocol_and_service(
    load_telemetry: LoadTelemetry, monkeypatch: pytest.MonkeyPatch, protocol: str
) -> None:
    with RECEIVERS[protocol]() as receiver:
        monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.base_url)
        monkeypatch.setenv("OTEL_SERVICE_NAME", "shop")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=acme")
        emit_run(start_tracing(load_telemetry("")).tracer)
        shutdown()
    spans = {span.name: span for span in receiver.received.spans()}
    assert set(spans) == {"step s1", "invoke_workflow plan"}
    assert spans["step s1"].parent_span_id == spans["invoke_workflow plan"].span_id
    assert attributes(spans["step s1"]) == {"agent_host.step.id": "s1"}
    assert receiver.received.service_names() == {"shop"}
    assert receiver.received.headers[0]["x-tenant"] == "acme"


@pytest.mark.parametrize("protocol", list(RECEIVERS))
def test_config_selects_otlp_endpoint_and_protocol(
    load_telemetry: LoadTelemetry, protocol: str
) -> None:
    with RECEIVERS[protocol]() as receiver:
        loaded = load_telemetry(
            f"exporter: otlp\nprotocol: {protocol}\nendpoint: {receiver.base_url}"
        )
        emit_run(start_tracing(loaded).tracer)
        shutdown()
    assert {span.name for span in receiver.received.spans()} == {"step s1", "invoke_workflow plan"}
    assert receiver.received.service_names() == {"agent-host"}


def test_metrics_reach_an_otlp_receiver_when_asked(
    load_telemetry: LoadTelemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    with HttpReceiver() as receiver:
        monkeypatch.setenv("OTEL_METRICS_EXPORTER", "otlp")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.base_url)
        instruments = start_tracing(load_telemetry("")).instruments
        instruments.token_usage.record(12, {"gen_ai.token.type": "input"})
        instruments.operation_duration.record(0.3)
        instruments.attempts.add(1)
        shutdown()
    assert {"gen_ai.client.token.usage", "gen_ai.client.operation.duration"} <= (
        receiver.received.metric_names()
    )
    assert receiver.received.spans() == []


def test_sampler_variables_are_honoured(
    load_telemetry: LoadTelemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
    loaded = load_telemetry("exporter: jsonl\nfile: spans.jsonl")
    emit_run(start_tracing(loaded).tracer)
    shutdown()
    assert read_jsonl(loaded.base_dir / "spans.jsonl") == []


@pytest.mark.parametrize(
    ("variables", "problem"),
    [
        ({"OTEL_TRACES_SAMPLER": "sometimes"}, "OTEL_TRACES_SAMPLER: 'sometimes' is not a sampler"),
        (
            {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "half"},
            "OTEL_TRACES_SAMPLER_ARG: 'half' is not a ratio (expected 0 to 1)",
        ),
        (
            {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"},
            "OTEL_TRACES_SAMPLER_ARG: '2' is not a ratio (expected 0 to 1)",
        ),
    ],
)
def test_a_bad_sampler_variable_is_a_config_error(
    load_telemetry: LoadTelemetry,
    monkeypatch: pytest.MonkeyPatch,
    variables: dict[str, str],
    problem: str,
) -> None:
    """Kills: the SDK's own handling, a warning and every trace sampled."""
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=re.escape(problem)):
        start_tracing(load_telemetry("exporter: jsonl\nfile: spans.jsonl"))


def test_a_ratio_sampler_takes_its_ratio(
    load_telemetry: LoadTelemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "TraceIdRatio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0")
    loaded = load_telemetry("exporter: jsonl\nfile: spans.jsonl")
    emit_run(start_tracing(loaded).tracer)
    shutdown()
    assert read_jsonl(loaded.base_dir / "spans.jsonl") == []


def test_application_provider_is_used_and_nothing_added(
    load_telemetry: LoadTelemetry, capsys: pytest.CaptureFixture[str]
) -> None:
    memory = InMemorySpanExporter()
    application = TracerProvider()
    application.add_span_processor(SimpleSpanProcessor(memory))
    trace.set_tracer_provider(application)
    telemetry = start_tracing(load_telemetry("exporter: console"))
    emit_run(telemetry.tracer)
    shutdown()
    assert telemetry.tracer_provider is application and telemetry.built == ()
    assert [span.name for span in memory.get_finished_spans()] == [
        "step s1",
        "invoke_workflow plan",
    ]
    assert capsys.readouterr() == ("", "")


def test_tracing_off_installs_nothing(load_telemetry: LoadTelemetry) -> None:
    telemetry = start_tracing(load_telemetry(""))
    with telemetry.tracer.start_as_current_span("step s1") as span:
        assert not span.is_recording()
    assert telemetry.built == ()
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def test_same_settings_share_one_set_up(load_telemetry: LoadTelemetry) -> None:
    loaded = load_telemetry("exporter: console")
    assert start_tracing(loaded) is start_tracing(loaded)


def test_other_settings_after_set_up_are_refused(load_telemetry: LoadTelemetry) -> None:
    start_tracing(load_telemetry("exporter: console"))
    with pytest.raises(ConfigError, match="tracing is already set up in this process"):
        start_tracing(load_telemetry("exporter: console\nservice_name: other"))


def test_tracing_starts_afresh_after_shutdown(load_telemetry: LoadTelemetry) -> None:
    loaded = load_telemetry("exporter: jsonl\nfile: spans.jsonl")
    first = start_tracing(loaded)
    shutdown()
    second = start_tracing(loaded)
    emit_run(second.tracer)
    shutdown()
    assert second is not first
    assert len(read_jsonl(loaded.base_dir / "spans.jsonl")) == 2


def test_set_up_leaves_the_global_providers_alone(load_telemetry: LoadTelemetry) -> None:
    telemetry = start_tracing(load_telemetry("exporter: console"))
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    assert trace.get_tracer_provider() is not telemetry.tracer_provider


def test_unopenable_jsonl_file_is_a_config_error_at_its_line(
    load_telemetry: LoadTelemetry,
) -> None:
    loaded = load_telemetry("exporter: jsonl\nfile: host.yaml/spans.jsonl")
    with pytest.raises(ConfigError) as raised:
        start_tracing(loaded)
    assert f"{loaded.path}:7: telemetry.file: cannot open" in str(raised.value)
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_jsonl_batch_that_cannot_be_written_is_one_warning_naming_the_file(
    caplog: pytest.LogCaptureFixture,
) -> None:
    exporter = JsonLinesSpanExporter(Path("/dev/full"))
    span = ReadableSpan("step s1", context=SpanContext(1, 2, is_remote=False))
    try:
        assert exporter.export([span]) is SpanExportResult.FAILURE
    finally:
        exporter.shutdown()
    assert [record.getMessage() for record in caplog.records] == [
        "telemetry: 1 span(s) not written to /dev/full (No space left on device)"
    ]


def test_the_exit_waits_a_bounded_time_for_an_endpoint_that_never_answers(
    load_telemetry: LoadTelemetry,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Kills: :func:`shutdown` waiting for every batch's export (about 10 s each, retries
    included) when the collector accepts connections but never answers."""
    with socket.create_server(("127.0.0.1", 0)) as silent:  # listens, never accepts
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "2")  # the export thread gives up
        monkeypatch.setattr(setup, "EXIT_WAIT_SECONDS", 0.2)
        loaded = load_telemetry(f"exporter: otlp\nendpoint: {endpoint}")
        emit_run(start_tracing(loaded).tracer)
        shutdown()
    assert f"did not reach {endpoint}/v1/traces within 0.2 s" in caplog.text
