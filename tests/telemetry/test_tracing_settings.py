"""Settings: the config's ``telemetry`` wins, the standard ``OTEL_*`` variables fill the rest."""

from __future__ import annotations

import os

import pytest

from host.errors import ConfigError
from host.telemetry.settings import TracingSettings, tracing_settings
from tests.telemetry.telemetry_kit import LoadTelemetry


def settings(load: LoadTelemetry, telemetry: str = "", **env: str) -> TracingSettings:
    loaded = load(telemetry)
    return tracing_settings(loaded, {**os.environ, **env})


def test_nothing_set_means_no_tracing(load_telemetry: LoadTelemetry) -> None:
    assert settings(load_telemetry) == TracingSettings(exporter="none", service_name="agent-host")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"OTEL_TRACES_EXPORTER": "console"}, {"exporter": "console"}),
        ({"OTEL_TRACES_EXPORTER": "OTLP"}, {"exporter": "otlp"}),
        ({"OTEL_TRACES_EXPORTER": "none"}, {"exporter": "none"}),
        ({"OTEL_TRACES_EXPORTER": ""}, {"exporter": "none"}),
        ({"OTEL_SERVICE_NAME": "shop"}, {"service_name": "shop"}),
        (
            {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "True"},
            {"capture_content": True},
        ),
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, {"protocol": "grpc"}),
        (
            {
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
            },
            {"protocol": "http/protobuf"},
        ),
    ],
)
def test_environment_decides_what_config_leaves_out(
    load_telemetry: LoadTelemetry, env: dict[str, str], expected: dict[str, object]
) -> None:
    resolved = settings(load_telemetry, **env)
    assert {key: getattr(resolved, key) for key in expected} == expected


@pytest.mark.parametrize(
    ("telemetry", "env", "expected"),
    [
        ("exporter: console", {"OTEL_TRACES_EXPORTER": "otlp"}, {"exporter": "console"}),
        ("service_name: billing", {"OTEL_SERVICE_NAME": "shop"}, {"service_name": "billing"}),
        (
            "exporter: otlp\nprotocol: grpc",
            {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"},
            {"protocol": "grpc"},
        ),
        (
            "capture_content: true",
            {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "false"},
            {"capture_content": True},
        ),
        ("enabled: false", {"OTEL_TRACES_EXPORTER": "otlp"}, {"exporter": "none"}),
    ],
)
def test_config_wins_over_environment(
    load_telemetry: LoadTelemetry, telemetry: str, env: dict[str, str], expected: dict[str, object]
) -> None:
    resolved = settings(load_telemetry, telemetry, **env)
    assert {key: getattr(resolved, key) for key in expected} == expected


@pytest.mark.parametrize(
    ("telemetry", "env", "endpoint"),
    [
        ("exporter: otlp", {}, "http://localhost:4318/v1/traces"),
        ("exporter: otlp\nprotocol: grpc", {}, "http://localhost:4317"),
        ("exporter: otlp\nendpoint: http://127.0.0.1:6006", {}, "http://127.0.0.1:6006/v1/traces"),
        ("exporter: otlp\nendpoint: http://h:1/custom/path", {}, "http://h:1/custom/path"),
        (
            "exporter: otlp\nprotocol: grpc\nendpoint: https://h:4317",
            {},
            "https://h:4317",
        ),
        (
            "exporter: otlp\nendpoint: http://from-config:1",
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://from-env:2"},
            "http://from-config:1/v1/traces",
        ),
        ("exporter: otlp", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://h:2/"}, "http://h:2/v1/traces"),
        (
            "exporter: otlp",
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://base:2",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://traces:3/exact",
            },
            "http://traces:3/exact",
        ),
        (
            "exporter: otlp\nprotocol: grpc",
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://h:4317"},
            "http://h:4317",
        ),
    ],
)
def test_otlp_endpoint(
    load_telemetry: LoadTelemetry, telemetry: str, env: dict[str, str], endpoint: str
) -> None:
    assert settings(load_telemetry, telemetry, **env).endpoint == endpoint


def test_headers_come_from_the_environment_and_are_never_shown(
    load_telemetry: LoadTelemetry,
) -> None:
    env = {"OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer%20tok-123456789,x-team=ai"}
    resolved = settings(load_telemetry, "exporter: otlp", **env)
    assert resolved.headers == (("authorization", "Bearer tok-123456789"), ("x-team", "ai"))
    assert "tok-123456789" not in repr(resolved)


def test_jsonl_file_is_relative_to_the_config_file(load_telemetry: LoadTelemetry) -> None:
    loaded = load_telemetry("exporter: jsonl\nfile: traces/spans.jsonl")
    assert loaded.path is not None
    resolved = tracing_settings(loaded, {})
    assert resolved.file == loaded.path.parent / "traces" / "spans.jsonl"


@pytest.mark.parametrize(
    ("env", "fragments"),
    [
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, ["OTEL_TRACES_EXPORTER", "'zipkin'", "otlp"]),
        ({"OTEL_TRACES_EXPORTER": "otlp,console"}, ["OTEL_TRACES_EXPORTER", "'otlp,console'"]),
        ({"OTEL_TRACES_EXPORTER": "jsonl"}, ["OTEL_TRACES_EXPORTER", "telemetry.exporter: jsonl"]),
        (
            {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
            ["OTEL_EXPORTER_OTLP_PROTOCOL", "'http/json'", "grpc"],
        ),
        (
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317"},
            ["OTEL_EXPORTER_OTLP_ENDPOINT", "'collector:4317'", "http://"],
        ),
        (
            {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "yes"},
            ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "'yes'", "true or false"],
        ),
        ({"OTEL_METRICS_EXPORTER": "prometheus"}, ["OTEL_METRICS_EXPORTER", "'prometheus'"]),
    ],
)
def test_bad_variable_is_named_with_what_was_expected(
    load_telemetry: LoadTelemetry, env: dict[str, str], fragments: list[str]
) -> None:
    with pytest.raises(ConfigError) as raised:
        settings(load_telemetry, **env)
    for fragment in fragments:
        assert fragment in str(raised.value)
