"""A step resolves from run state into plain data, and that data runs in another process."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from host import AgentHost
from host.errors import InvalidArgumentsError
from host.plans import Plan, Step
from host.state import RunState
from host.step_call import StepCall
from tests.executor.echo_kit import write_echo_config

STEPS = {
    "prompt": {
        "id": "copy",
        "function": "talk.Echo",
        "capability": "write",
        "arguments": {"input": {"$ref": "state.x"}},
    },
    "native": {
        "id": "weather",
        "function": "weather.daily_temperatures",
        "capability": "fetch",
        "arguments": {"city": {"$ref": "state.x"}, "date": "2026-11-24"},
    },
}

WORKER = textwrap.dedent("""\
    import asyncio, json, sys
    from host import AgentHost
    from host.step_call import StepCall

    async def main():
        async with AgentHost(sys.argv[1]) as host:
            record = await host.call(StepCall.from_json(sys.stdin.read()))
        print(json.dumps(record.to_dict(), default=str))

    asyncio.run(main())
    """)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_echo_config(
        tmp_path,
        model="    options: {replies: ['Iced tea weather!']}\n",
        extra="tools:\n  weather:\n    settings: {use_network: false}\n",
    )


READS_STATE = {"prompt": "input", "native": "city"}
"""The argument of each step that is a reference to ``state.x``."""


def plan_step(kind: str) -> Step:
    return Plan.model_validate({"steps": [STEPS[kind]]}).steps[0]


@pytest.mark.parametrize("kind", ["prompt", "native"])
async def test_a_resolved_call_runs_in_another_process_as_it_runs_here(
    config: Path, kind: str
) -> None:
    async with AgentHost(config) as host:
        call = host.resolve(plan_step(kind), RunState({"x": "Shanghai"}, run_id="r1"))
        here = await host.call(call)

    worker = subprocess.run(  # noqa: ASYNC221 - the host is closed; nothing else runs
        [sys.executable, "-c", WORKER, str(config)],
        input=call.to_json(),
        capture_output=True,
        text=True,
        check=True,
    )
    there = json.loads(worker.stdout)

    assert call.arguments[READS_STATE[kind]] == "Shanghai"
    assert there["output"] == here.output
    assert there["model"] == here.model
    assert there["route_reason"] == here.route_reason
    assert there["step_id"] == STEPS[kind]["id"]


async def test_resolving_reads_the_run_state_and_changes_nothing(config: Path) -> None:
    state = RunState({"x": "Shanghai"}, run_id="r1")
    async with AgentHost(config) as host:
        call = host.resolve(plan_step("prompt"), state)

    assert call == StepCall(
        "copy",
        "talk.Echo",
        {"input": "Shanghai"},
        model="local",
        route_reason=call.route_reason,
    )
    assert call.route_reason
    assert (state.outputs, state.records, state.completed) == ({}, {}, [])


def test_the_json_form_round_trips() -> None:
    call = StepCall("s", "a.b", {"n": 1, "t": ["x"]}, "m", ("f1", "f2"), "why", "r/s", 2.5)

    assert StepCall.from_json(call.to_json()) == call


def test_arguments_that_are_not_json_data_are_named() -> None:
    call = StepCall("s", "a.b", {"when": object()})

    with pytest.raises(InvalidArgumentsError, match=r"a\.b.*not JSON data"):
        call.to_json()


@pytest.mark.parametrize("text", ["not json", "[]", '{"step_id": "s"}', '{"bogus": 1}'])
def test_text_that_is_not_a_step_call_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="not a step call in JSON"):
        StepCall.from_json(text)
