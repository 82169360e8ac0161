"""A run waiting for a person is kept in SQLite: another host (or process) resumes it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from echo_kit import write_echo_config

from host import AgentHost
from host.errors import UnknownRunError
from host.workflows import WorkflowBuilder, ref


def write_config(tmp_path: Path, replies: list[str]) -> Path:
    return write_echo_config(
        tmp_path,
        model=f"    options: {{replies: {replies}}}\n",
        extra="runs:\n  database: runs.sqlite3\n"
        "validation:\n  talk.Echo:\n    regex: '^OK'\n    on_fail: [human]\n"
        "    question: 'What should {input} say?'\n",
    )


PLAN = {
    "steps": [
        {
            "id": "greet",
            "function": "talk.Echo",
            "arguments": {"input": "hi"},
            "capability": "write",
        },
        {
            "id": "later",
            "function": "clock.resolve_date",
            "arguments": {"expression": "2026-06-21"},
            "depends_on": ["greet"],
            "capability": "fetch",
        },
    ],
    "output": "greet",
}


async def test_another_host_resumes_a_paused_plan(tmp_path: Path) -> None:
    config = write_config(tmp_path, ["hello"])
    async with AgentHost(config) as host:
        paused = await host.execute(PLAN, "greet")
    assert paused.status == "needs_human" and paused.question == "What should hi say?"
    async with AgentHost(config) as other:
        resumed = await other.resume(paused.run_id, "OK, hi")
        with pytest.raises(UnknownRunError, match="waiting: none"):
            await other.resume(paused.run_id, "again")
    assert resumed.status == "ok" and resumed.output == "OK, hi"
    greet, later = resumed.steps
    assert greet.events[-1].kind == "answered" and greet.output == "OK, hi"
    assert later.output == "2026-06-21"


async def test_another_host_resumes_a_paused_workflow(tmp_path: Path) -> None:
    config = write_config(tmp_path, [])
    workflow = (
        WorkflowBuilder("approve", inputs=["day"])
        .step("date", "clock.resolve_date", {"expression": ref("state.day")})
        .ask("approval", "Is {{ steps.date.output }} right?")
        .step("again", "clock.resolve_date", {"expression": ref("steps.date.output")})
        .edge("date", "approval")
        .edge("approval", "again", when="steps.approval.output == 'yes'")
        .build()
    )
    async with AgentHost(config) as host:
        paused = await host.run_workflow(workflow, {"day": "2026-06-21"})
    assert paused.question == "Is 2026-06-21 right?"
    async with AgentHost(config) as other:
        resumed = await other.resume(paused.run_id, "yes")
    assert resumed.status == "ok", resumed.error
    assert [s.step_id for s in resumed.steps] == ["date", "approval", "again"]
    assert resumed.output == "2026-06-21"


def test_the_cli_resumes_a_run_another_command_paused(tmp_path: Path) -> None:
    config = write_config(tmp_path, ["hello"])
    base = [sys.executable, "-m", "host"]
    options = ["--config", str(config)]
    paused = subprocess.run(
        [*base, "run", "say hi", *options], capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    assert paused.returncode == 3, paused.stderr
    found = re.search(r"agent-host resume (\w+) ANSWER", paused.stderr)
    assert found is not None, paused.stderr
    resumed = subprocess.run(
        [*base, "resume", found.group(1), "OK then", *options],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.strip() == "OK then"
