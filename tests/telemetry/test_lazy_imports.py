"""Tracing costs no import it does not use: none loads no SDK, each exporter only its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.telemetry.telemetry_kit import write_config

SCRIPT = """
import json, sys
from host.config import load_config
from host.telemetry import start_tracing
{set_up}
watched = ("opentelemetry", "grpc")
print(json.dumps(sorted(name for name in sys.modules if name.startswith(watched))))
"""


def loaded_modules(folder: Path, telemetry: str | None) -> list[str]:
    """The OpenTelemetry and gRPC modules a fresh process holds after setting ``telemetry`` up
    (after only importing ``host.telemetry`` when ``None``)."""
    set_up = "" if telemetry is None else "start_tracing(load_config(sys.argv[1]))"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            SCRIPT.format(set_up=set_up),
            str(write_config(folder, telemetry or "")),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    modules: list[str] = json.loads(result.stdout)
    return modules


def test_importing_telemetry_loads_no_opentelemetry_module(tmp_path: Path) -> None:
    assert loaded_modules(tmp_path, None) == []


GRPC_EXPORTER = "opentelemetry.exporter.otlp.proto.grpc"
HTTP_EXPORTER = "opentelemetry.exporter.otlp.proto.http"


@pytest.mark.parametrize(
    ("telemetry", "loaded", "not_loaded"),
    [
        ("", [], ["opentelemetry.sdk", "opentelemetry.exporter", "grpc"]),
        ("exporter: console", ["opentelemetry.sdk.trace"], ["opentelemetry.exporter", "grpc"]),
        (
            "exporter: jsonl\nfile: spans.jsonl",
            ["opentelemetry.sdk.trace"],
            ["opentelemetry.exporter", "grpc"],
        ),
        ("exporter: otlp", [HTTP_EXPORTER], [GRPC_EXPORTER, "grpc"]),
        ("exporter: otlp\nprotocol: grpc", [GRPC_EXPORTER], [HTTP_EXPORTER]),
    ],
    ids=["none", "console", "jsonl", "otlp http", "otlp grpc"],
)
def test_set_up_imports_only_the_chosen_exporter(
    tmp_path: Path, telemetry: str, loaded: list[str], not_loaded: list[str]
) -> None:
    modules = loaded_modules(tmp_path, telemetry)
    for prefix in loaded:
        assert any(name.startswith(prefix) for name in modules), prefix
    for prefix in not_loaded:
        assert not any(name.startswith(prefix) for name in modules), prefix
