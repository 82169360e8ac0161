"""A process's spans are exported when it ends, however it ends, without anyone calling shutdown.

The batch processor is told to wait ten minutes before exporting, so whatever
arrives was sent by the flush at exit.
"""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.telemetry.otlp_receivers import GrpcReceiver, HttpReceiver
from tests.telemetry.telemetry_kit import read_jsonl, write_config

SCRIPT = """
import sys
from host.config import load_config
from host.telemetry import start_tracing

tracer = start_tracing(load_config(sys.argv[1])).tracer
with tracer.start_as_current_span("step s1"):
    pass
{ending}
"""


def run_script(config: Path, ending: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT.format(ending=ending), str(config)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "OTEL_BSP_SCHEDULE_DELAY": "600000"},
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_otlp_receiver_gets_spans_of_a_process_that_ended(tmp_path: Path, protocol: str) -> None:
    receiver: AbstractContextManager[HttpReceiver | GrpcReceiver]
    receiver = HttpReceiver() if protocol == "http/protobuf" else GrpcReceiver()
    with receiver as server:
        config = write_config(
            tmp_path, f"exporter: otlp\nprotocol: {protocol}\nendpoint: {server.base_url}"
        )
        result = run_script(config)
    assert result.returncode == 0, result.stderr
    assert [span.name for span in server.received.spans()] == ["step s1"]


@pytest.mark.parametrize(
    ("ending", "code"),
    [("", 0), ("raise SystemExit(3)", 3), ("raise RuntimeError('boom')", 1)],
    ids=["normal end", "sys.exit", "uncaught error"],
)
def test_jsonl_file_gets_spans_of_a_process_that_ended(
    tmp_path: Path, ending: str, code: int
) -> None:
    config = write_config(tmp_path, "exporter: jsonl\nfile: spans.jsonl")
    result = run_script(config, ending)
    assert result.returncode == code, result.stderr
    assert [record["name"] for record in read_jsonl(tmp_path / "spans.jsonl")] == ["step s1"]


def test_without_the_exit_flush_the_span_would_be_lost(tmp_path: Path) -> None:
    """The control: ending the process before the flush loses the span."""
    config = write_config(tmp_path, "exporter: jsonl\nfile: spans.jsonl")
    result = run_script(config, "import os; os._exit(0)")
    assert result.returncode == 0, result.stderr
    assert read_jsonl(tmp_path / "spans.jsonl") == []
