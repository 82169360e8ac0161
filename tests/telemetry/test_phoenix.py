"""The main job, run by the CLI as the README's first command runs it, watched in Arize Phoenix.

``phoenix serve`` runs on free loopback ports in a temporary folder
(:mod:`tests.telemetry.phoenix_kit`); ``agent-host run`` is a process of its own
that exports over OTLP/HTTP with nothing but the standard ``OTEL_*`` variables,
and exits: what Phoenix holds afterwards is what the exit's flush sent. The
embedded model writes the copy, so this takes seconds.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.telemetry.phoenix_kit import phoenix_command, read_spans, running_phoenix

pytestmark = pytest.mark.slow

PROJECT = "agent-host-main-job"


def readme_request() -> str:
    """The request of the README's first ``agent-host run "..."`` command."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r'agent-host run "([^"]+)"', readme)
    assert found is not None, "the README shows no agent-host run command"
    return found.group(1)


def run_main_job(tmp_path: Path, endpoint: str) -> dict[str, Any]:
    """``agent-host run --json`` of the README's request on the shipped config, exporting to
    ``endpoint``; its result. Offline: the weather comes from the bundled sample."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PHOENIX_"))}
    environment |= {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_RESOURCE_ATTRIBUTES": f"openinference.project.name={PROJECT}",
        "AGENT_HOST_WEATHER_NETWORK": "false",
        "AGENT_HOST_RUNS_DB": str(tmp_path / "runs.sqlite3"),
        "NO_PROXY": "127.0.0.1,localhost",
    }
    command = [
        str(Path(sys.executable).with_name("agent-host")),
        "run",
        "--config",
        str(ROOT / "config" / "host.yaml"),
        "--json",
        readme_request(),
    ]
    done = subprocess.run(
        command,
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_the_main_job_shows_in_phoenix_as_one_trace_of_run_steps_and_model_call(
    tmp_path: Path,
) -> None:
    with running_phoenix(phoenix_command(), tmp_path / "phoenix") as phoenix:
        result = run_main_job(tmp_path, phoenix.base_url)
        steps = result["steps"]
        # The run and its planning, each step, and each of a step's attempts.
        expected = 2 + len(steps) + sum(step["attempts"] for step in steps)
        spans = read_spans(phoenix.base_url, PROJECT, min_count=expected)

    assert result["status"] == "ok", result["error"]
    by_id = {span["context"]["span_id"]: span for span in spans}
    runs = [span for span in spans if span["name"] == "invoke_workflow plan"]
    assert len(runs) == 1, sorted(span["name"] for span in spans)
    root = runs[0]
    assert root["parent_id"] is None
    assert root["attributes"]["agent_host.run.id"] == result["run_id"]
    assert root["attributes"]["agent_host.run.status"] == "ok"

    step_spans = [span for span in spans if span["name"].startswith("step ")]
    assert sorted(span["name"] for span in step_spans) == sorted(
        f"step {step['step_id']}" for step in steps
    )
    assert all(span["parent_id"] == root["context"]["span_id"] for span in step_spans)
    planning = [span for span in spans if span["name"].startswith("plan ")]
    assert [span["parent_id"] for span in planning] == [root["context"]["span_id"]]

    copy = steps[-1]
    chats = [span for span in spans if span["name"].startswith("chat ")]
    assert len(chats) == copy["attempts"] >= 1  # a validation retry asks the model again
    for chat in chats:
        attributes = chat["attributes"]
        assert chat["span_kind"] == "LLM"
        assert by_id[chat["parent_id"]]["name"] == f"step {copy['step_id']}"
        assert attributes["gen_ai.request.model"] == "gemma-3-270m-q4_k_m"
        assert attributes["llm.model_name"] == "gemma-3-270m-q4_k_m"
        assert attributes["llm.token_count.prompt"] == attributes["gen_ai.usage.input_tokens"] > 0
        assert (
            attributes["llm.token_count.completion"] == attributes["gen_ai.usage.output_tokens"] > 0
        )

    assert {span["context"]["trace_id"] for span in spans} == {root["context"]["trace_id"]}
