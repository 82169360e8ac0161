"""What tracing does in this process: the config's ``telemetry`` over the ``OTEL_*`` variables.

A field the config sets wins; a field it leaves out is taken from the standard
variable of the process environment (not ``.env``: every OpenTelemetry SDK reads
these from the process, and the SDK itself reads the sampler, batch and timeout
variables there). An empty variable counts as unset. A value that no exporter
here understands is a :class:`~host.errors.ConfigError` naming the variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, cast, get_args
from urllib.parse import urlsplit

from host.config.schema import OtlpProtocol, TraceExporter
from host.errors import ConfigError

if TYPE_CHECKING:
    from host.config import LoadedConfig

MetricExporter = Literal["none", "console", "otlp"]

DEFAULT_SERVICE_NAME = "agent-host"
DEFAULT_ENDPOINTS: dict[OtlpProtocol, str] = {
    "http/protobuf": "http://localhost:4318/v1/traces",
    "grpc": "http://localhost:4317",
}
"""Where OTLP goes when neither config nor environment names an endpoint (the OTLP defaults)."""

TRACES_PATH = "/v1/traces"
CAPTURE_CONTENT = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"


@dataclass(frozen=True)
class TracingSettings:
    """The resolved settings; two set-ups are the same when these are equal."""

    exporter: TraceExporter = "none"
    service_name: str = DEFAULT_SERVICE_NAME
    capture_content: bool = False
    protocol: OtlpProtocol = "http/protobuf"
    endpoint: str | None = None
    """The full OTLP traces endpoint, for ``otlp``."""
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    """OTLP headers from ``OTEL_EXPORTER_OTLP_[TRACES_]HEADERS``: credentials, never shown."""
    file: Path | None = None
    """The absolute path ``jsonl`` appends to."""
    metrics: MetricExporter = "none"
    """Where metrics go, from ``OTEL_METRICS_EXPORTER`` (nowhere unless it is set). OTLP
    metrics use :attr:`protocol` and read their endpoint and headers from the
    ``OTEL_EXPORTER_OTLP_[METRICS_]*`` variables themselves."""


def tracing_settings(loaded: LoadedConfig, environment: Mapping[str, str]) -> TracingSettings:
    """Resolve ``loaded.config.telemetry`` against ``environment`` (the process's)."""
    config = loaded.config.telemetry
    env = {name: value.strip() for name, value in environment.items() if value.strip()}
    protocols = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
    protocol = config.protocol or cast(
        OtlpProtocol, _choice(env, protocols, get_args(OtlpProtocol), "http/protobuf")
    )
    exporter = (config.exporter or _environment_exporter(env)) if config.enabled else "none"
    metrics = _choice(env, ("OTEL_METRICS_EXPORTER",), get_args(MetricExporter), "none")
    otlp = exporter == "otlp"
    if exporter != "none":
        _check_sampler(env)
    return TracingSettings(
        exporter=exporter,
        service_name=config.service_name or env.get("OTEL_SERVICE_NAME", DEFAULT_SERVICE_NAME),
        capture_content=config.capture_content or _flag(env, CAPTURE_CONTENT),
        protocol=protocol,
        endpoint=_endpoint(config.endpoint, env, protocol) if otlp else None,
        headers=_headers(env) if otlp or metrics == "otlp" else (),
        file=loaded.resolve(config.file) if exporter == "jsonl" and config.file else None,
        metrics=cast(MetricExporter, metrics) if config.enabled else "none",
    )


def _environment_exporter(env: Mapping[str, str]) -> TraceExporter:
    if env.get("OTEL_TRACES_EXPORTER", "").lower() == "jsonl":
        raise ConfigError(
            [
                "OTEL_TRACES_EXPORTER: 'jsonl' is chosen in config only "
                "(telemetry.exporter: jsonl, with telemetry.file)"
            ]
        )
    allowed = ("none", "console", "otlp")
    return cast(TraceExporter, _choice(env, ("OTEL_TRACES_EXPORTER",), allowed, "none"))


def _choice(
    env: Mapping[str, str], names: tuple[str, ...], allowed: tuple[str, ...], default: str
) -> str:
    """The value of the first of ``names`` that is set, which must be one of ``allowed``."""
    for name in names:
        if name in env:
            value = env[name].lower()
            if value not in allowed:
                expected = ", ".join(allowed)
                raise ConfigError([f"{name}: {env[name]!r} is not supported (expected {expected})"])
            return value
    return default


_SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)
"""The SDK's own ``OTEL_TRACES_SAMPLER`` names (a package may add more by entry point)."""


def _check_sampler(env: Mapping[str, str]) -> None:
    """``OTEL_TRACES_SAMPLER`` names a sampler the SDK has, and a ratio sampler's
    ``OTEL_TRACES_SAMPLER_ARG`` is a number from 0 to 1 (the SDK would warn and trace
    every run instead)."""
    name = env.get("OTEL_TRACES_SAMPLER", "parentbased_always_on").lower()
    if name not in _SAMPLERS:
        from importlib.metadata import entry_points

        added = tuple(point.name for point in entry_points(group="opentelemetry_traces_sampler"))
        if name not in added:
            expected = ", ".join((*_SAMPLERS, *added))
            value = env["OTEL_TRACES_SAMPLER"]
            raise ConfigError(
                [f"OTEL_TRACES_SAMPLER: {value!r} is not a sampler (expected {expected})"]
            )
    argument = env.get("OTEL_TRACES_SAMPLER_ARG")
    if argument is None or not name.endswith("traceidratio"):
        return
    try:
        ratio = float(argument)
    except ValueError:
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:
        raise ConfigError(
            [f"OTEL_TRACES_SAMPLER_ARG: {argument!r} is not a ratio (expected 0 to 1)"]
        )


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = env.get(name, "false").lower()
    if value not in ("true", "false"):
        raise ConfigError([f"{name}: {env[name]!r} is not a boolean (expected true or false)"])
    return value == "true"


def _endpoint(configured: str | None, env: Mapping[str, str], protocol: OtlpProtocol) -> str:
    """The traces endpoint: the config's (a path-less http/protobuf URL gets ``/v1/traces``),
    else ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` as it is, else ``OTEL_EXPORTER_OTLP_ENDPOINT``
    as a base (http/protobuf appends ``/v1/traces``), else the OTLP default."""
    http = protocol == "http/protobuf"
    if configured is not None:
        bare = urlsplit(configured).path in ("", "/")
        return configured.rstrip("/") + TRACES_PATH if http and bare else configured
    for name, is_base in (
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", False),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", True),
    ):
        if name in env:
            value = env[name]
            if not value.startswith(("http://", "https://")):
                raise ConfigError(
                    [f"{name}: {value!r} is not an endpoint (expected an http:// or https:// URL)"]
                )
            return value.rstrip("/") + TRACES_PATH if http and is_base else value
    return DEFAULT_ENDPOINTS[protocol]


def _headers(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """OTLP headers from the environment (W3C baggage format, as the OTLP exporters parse it)."""
    from opentelemetry.util.re import parse_env_headers

    for name in ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS"):
        if name in env:
            return tuple(sorted(parse_env_headers(env[name], liberal=True).items()))
    return ()
