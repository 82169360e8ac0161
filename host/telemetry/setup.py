"""Tracing and metrics set up once per process, and flushed before it ends.

The providers built here are the host's own and are not installed as
OpenTelemetry's global ones. Semantic Kernel starts an ``execute_tool
<plugin>-<function>`` span on the global tracer around every
``KernelFunction.invoke``. The host's steps and fallback hops do not go through
that wrapper (:mod:`host.kernel_call`), but SK's own calls do (a model's tool
calls through SK's function calling), so a global provider would record an
extra, misnamed span between such a call and its attempts. Left on the API's
no-op global, SK's span records nothing and passes the current span on
unchanged, so the host's spans keep their parents in one trace. An application
that installed its own global providers keeps them; the host uses them as they
are and adds nothing (SK's spans for its tool calls then appear there).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from host.errors import ConfigError
from host.telemetry.settings import TracingSettings, tracing_settings

if TYPE_CHECKING:
    from opentelemetry.metrics import Meter, MeterProvider
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.trace import Tracer, TracerProvider

    from host.config import LoadedConfig
    from host.telemetry.metrics import Instruments

_log = logging.getLogger(__name__)

SCOPE = "agent_host"
"""The instrumentation scope of the host's tracer and meter."""

_APPLICATION_PROVIDER = (
    "telemetry: %s not added: the application installed a global %s provider, "
    "which the host uses as it is"
)


EXIT_WAIT_SECONDS = 5.0
"""How long :func:`shutdown` waits for what is held to be exported: an OTLP exporter
whose endpoint is down retries a batch for about 10 s, and there may be several."""


class _Provider(Protocol):
    def force_flush(self, timeout_millis: int = 30000) -> bool: ...

    def shutdown(self) -> None: ...


@dataclass(frozen=True)
class Telemetry:
    """Where the host's spans and measurements go in this process.

    ``tracer_provider`` and ``meter_provider`` are the ones :func:`start_tracing`
    built (listed in ``built``, which :func:`shutdown` flushes and ends), else the
    global ones: the application's, or OpenTelemetry's no-op proxies when tracing is
    off (which follow a provider the application installs later).
    """

    settings: TracingSettings
    tracer_provider: TracerProvider
    tracer: Tracer
    meter_provider: MeterProvider
    meter: Meter
    instruments: Instruments
    built: tuple[_Provider, ...] = ()
    traces_masked: bool = False
    """Whether the tracer provider is one built here, whose exporters mask secrets."""

    @property
    def recording(self) -> bool:
        """Whether spans go anywhere: a provider was built here or the application's is real."""
        return not _is_placeholder(self.tracer_provider)

    @property
    def capture_content(self) -> bool:
        """Whether prompts, completions and tool arguments and results may be recorded."""
        return self.settings.capture_content


_lock = threading.Lock()
_current: Telemetry | None = None
_exit_hook = False


def start_tracing(loaded: LoadedConfig) -> Telemetry:
    """Set tracing up for this process from ``loaded.config.telemetry`` and the ``OTEL_*``
    variables, and return the handle.

    Once providers are built the process traces to one place: a later call with the
    same settings returns the same handle, one with other settings raises
    :class:`ConfigError`, until :func:`shutdown`. Raises :class:`ConfigError` for a bad
    ``OTEL_*`` value or a ``jsonl`` file that cannot be opened.
    """
    global _current, _exit_hook
    settings = tracing_settings(loaded, os.environ)
    with _lock:
        if _current is not None and _current.settings == settings:
            return _current
        if _current is not None and _current.built:
            raise ConfigError(
                [
                    f"{loaded.locate('telemetry')}: tracing is already set up in this process "
                    f"as {_current.settings}; one process traces to one place"
                ]
            )
        from host.redaction import register

        register(part for _, value in settings.headers for part in (value, *value.split()))
        _current = _build(settings, loaded.locate("telemetry.file"))
        if _current.built and not _exit_hook:
            atexit.register(shutdown)
            _exit_hook = True
        return _current


def shutdown() -> None:
    """Export every span and measurement still held, then end the providers built here,
    waiting :data:`EXIT_WAIT_SECONDS` at most (a warning then says where the rest was
    going; the process may end without it).

    Safe to call more than once; also called when the process exits.
    """
    global _current
    with _lock:
        telemetry, _current = _current, None
    if telemetry is None or not telemetry.built:
        return
    ended = threading.Event()
    providers = telemetry.built

    def end() -> None:
        for provider in providers:
            provider.force_flush()
            provider.shutdown()
        ended.set()

    threading.Thread(target=end, name="telemetry-shutdown", daemon=True).start()
    if not ended.wait(EXIT_WAIT_SECONDS):
        where = telemetry.settings.endpoint or telemetry.settings.exporter
        _log.warning(
            "telemetry: what was left to export did not reach %s within %g s; not waiting for it",
            where,
            EXIT_WAIT_SECONDS,
        )


def _build(settings: TracingSettings, file_key: str) -> Telemetry:
    from opentelemetry import metrics, trace

    from host import __version__
    from host.telemetry.metrics import create_instruments

    tracer_provider = trace.get_tracer_provider()
    meter_provider = metrics.get_meter_provider()
    built: list[_Provider] = []
    traces_masked = False
    if settings.exporter != "none" and _is_placeholder(tracer_provider):
        from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        from host.telemetry.exporters import span_exporter

        exporter = span_exporter(settings, file_key)
        sdk_tracer_provider = SdkTracerProvider(
            resource=_resource(settings), shutdown_on_exit=False
        )
        sdk_tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
        built.append(sdk_tracer_provider)
        tracer_provider = sdk_tracer_provider
        traces_masked = True  # its exporter is wrapped
    elif settings.exporter != "none":
        _log.warning(_APPLICATION_PROVIDER, f"exporter {settings.exporter}", "tracer")
    if settings.metrics != "none" and _is_placeholder(meter_provider):
        from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider

        from host.telemetry.exporters import metric_reader

        sdk_meter_provider = SdkMeterProvider(
            [metric_reader(settings)], _resource(settings), shutdown_on_exit=False
        )
        built.append(sdk_meter_provider)
        meter_provider = sdk_meter_provider
    elif settings.metrics != "none":
        _log.warning(_APPLICATION_PROVIDER, f"metrics exporter {settings.metrics}", "meter")
    meter = meter_provider.get_meter(SCOPE, __version__)
    return Telemetry(
        settings=settings,
        tracer_provider=tracer_provider,
        tracer=tracer_provider.get_tracer(SCOPE, __version__),
        meter_provider=meter_provider,
        meter=meter,
        instruments=create_instruments(meter),
        built=tuple(built),
        traces_masked=traces_masked,
    )


def _is_placeholder(provider: object) -> bool:
    """Whether ``provider`` is the OpenTelemetry API's own proxy or no-op provider, which
    stands in until an SDK provider is installed (SDK classes live in ``opentelemetry.sdk``)."""
    return type(provider).__module__.startswith(("opentelemetry.trace", "opentelemetry.metrics"))


def _resource(settings: TracingSettings) -> Resource:
    """``service.name`` over what ``OTEL_RESOURCE_ATTRIBUTES`` and the SDK detect."""
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource

    return Resource.create({SERVICE_NAME: settings.service_name})
