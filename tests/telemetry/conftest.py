"""Each telemetry test starts with no global provider, no ``OTEL_*`` variable and no set-up.

The host never installs global providers, but an application may (one test does),
and a provider installed elsewhere in the session would send every set-up down
the application's path. :func:`_fresh_globals` clears OpenTelemetry's globals
before a test and puts back what was there after it, as OpenTelemetry's own test
utilities do; it also ends any set-up and keeps loopback off any proxy.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.metrics import _internal as metrics_internal
from opentelemetry.util._once import Once

from host.config import LoadedConfig, load_config
from host.telemetry import shutdown
from tests.telemetry.telemetry_kit import LoadTelemetry, write_config


@pytest.fixture(autouse=True)
def _fresh_globals(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in [name for name in os.environ if name.startswith("OTEL_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    saved = (
        trace._TRACER_PROVIDER_SET_ONCE,
        trace._TRACER_PROVIDER,
        trace._PROXY_TRACER_PROVIDER,
        metrics_internal._METER_PROVIDER_SET_ONCE,
        metrics_internal._METER_PROVIDER,
        metrics_internal._PROXY_METER_PROVIDER,
    )
    _set_globals(
        Once(),
        None,
        trace.ProxyTracerProvider(),
        Once(),
        None,
        metrics_internal._ProxyMeterProvider(),
    )
    try:
        yield
    finally:
        shutdown()
        _set_globals(*saved)


def _set_globals(*values: object) -> None:
    (
        trace._TRACER_PROVIDER_SET_ONCE,
        trace._TRACER_PROVIDER,
        trace._PROXY_TRACER_PROVIDER,
        metrics_internal._METER_PROVIDER_SET_ONCE,
        metrics_internal._METER_PROVIDER,
        metrics_internal._PROXY_METER_PROVIDER,
    ) = values


@pytest.fixture
def load_telemetry(tmp_path: Path) -> LoadTelemetry:
    """Load a config of one scripted model and the given ``telemetry:`` section body."""

    def load(telemetry: str) -> LoadedConfig:
        return load_config(write_config(tmp_path, telemetry), dotenv=tmp_path / ".env")

    return load
