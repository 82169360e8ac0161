"""Helpers the telemetry tests share: loading a ``telemetry:`` section, reading JSON lines."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from host.config import LoadedConfig

MODEL = "models:\n  main:\n    provider: scripted\n    model: scripted-1\n"

LoadTelemetry = Callable[[str], LoadedConfig]
"""Load a config of one scripted model and the given ``telemetry:`` section body."""


def write_config(folder: Path, telemetry: str) -> Path:
    """``host.yaml`` in ``folder``: one scripted model and ``telemetry`` (the section's body)."""
    path = folder / "host.yaml"
    body = "".join(f"  {line}\n" for line in telemetry.splitlines())
    path.write_text(MODEL + (f"telemetry:\n{body}" if body else ""), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every record of a JSON-lines file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def emit_run(tracer: Tracer) -> None:
    """A run span with one step under it; the step has an event and fails."""
    with (
        tracer.start_as_current_span("invoke_workflow plan"),
        tracer.start_as_current_span(
            "step s1", kind=SpanKind.INTERNAL, attributes={"agent_host.step.id": "s1"}
        ) as step,
    ):
        step.add_event("retry", {"agent_host.attempt": 1})
        step.set_status(Status(StatusCode.ERROR, "the tool failed"))
