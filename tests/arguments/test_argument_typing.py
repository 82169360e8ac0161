"""One set of argument-typing rules, whichever way a call arrives: invoke, a plan, a workflow
or a model's tool call accepts, converts and rejects the same values."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from host import AgentHost
from host.errors import InvalidArgumentsError, WorkflowError
from host.testing import Reply, ScriptedChatCompletion, ToolCall
from host.workflows import WorkflowBuilder

UNITS = """\
import json

from semantic_kernel.functions import kernel_function


class Units:
    @kernel_function(description="Answer the values received, as JSON.")
    def take(
        self,
        count: int = 0,
        ratio: float = 0.0,
        flag: bool = False,
        label: str = "",
        limit: int | None = None,
    ) -> str:
        received = {"count": count, "ratio": ratio, "flag": flag, "label": label, "limit": limit}
        return json.dumps(received)
"""

AGENT = """\
name: Agent
template: "Do {{$input}}"
description: Let the model call tools.
execution_settings:
  default:
    function_choice_behavior: {type: auto, auto_invoke: true}
"""

REJECTED = object()

TABLE = [
    pytest.param("count", 50, 50, id="int"),
    pytest.param("count", "50", 50, id="numeric text to int"),
    pytest.param("count", 50.0, 50, id="whole float to int"),
    pytest.param("count", 50.5, REJECTED, id="fractional float for int"),
    pytest.param("count", "fifty", REJECTED, id="words for int"),
    pytest.param("count", True, REJECTED, id="bool for int"),
    pytest.param("count", None, REJECTED, id="null for a defaulted int"),
    pytest.param("ratio", "2.5", 2.5, id="numeric text to float"),
    pytest.param("ratio", 3, 3.0, id="int to float"),
    pytest.param("ratio", False, REJECTED, id="bool for float"),
    pytest.param("flag", "true", True, id="true text to bool"),
    pytest.param("flag", "maybe", REJECTED, id="other text for bool"),
    pytest.param("label", "5", "5", id="text"),
    pytest.param("label", 5, REJECTED, id="number for text"),
    pytest.param("limit", None, REJECTED, id="null for an optional int"),
]

Outcome = tuple[str, Any]
"""``("ok", values the function received)`` or ``("rejected", the problems reported)``;
``("failed", error)`` when a value got past the checks and failed later."""


def write_config(tmp_path: Path) -> Path:
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "units.py").write_text(UNITS)
    (tmp_path / "prompts" / "talk").mkdir(parents=True)
    (tmp_path / "prompts" / "talk" / "agent.yaml").write_text(AGENT)
    config = tmp_path / "host.yaml"
    config.write_text(
        "models:\n  main:\n    provider: scripted\n    model: s\n"
        "plugins:\n  directories: [plugins]\nprompts:\n  directories: [prompts]\n"
    )
    return config


async def via_invoke(config: Path, arguments: dict[str, Any]) -> Outcome:
    async with AgentHost(config, strict=True) as host:
        try:
            record = await host.invoke("units.take", arguments)
        except InvalidArgumentsError as error:
            return "rejected", error.problems
    return "ok", json.loads(record.output)


async def via_plan(config: Path, arguments: dict[str, Any]) -> Outcome:
    step = {"id": "take", "function": "units.take", "arguments": arguments, "capability": "fetch"}
    async with AgentHost(config, strict=True) as host:
        result = await host.execute({"steps": [step]})
    if result.status == "ok":
        return "ok", json.loads(result.output)
    checked = (result.error or "").startswith("invalid plan")  # PlanError: nothing ran
    return ("rejected" if checked else "failed"), result.error


async def via_workflow(config: Path, arguments: dict[str, Any]) -> Outcome:
    workflow = WorkflowBuilder("typed").step("take", "units.take", arguments).build()
    async with AgentHost(config, strict=True) as host:
        try:
            result = await host.run_workflow(workflow)
        except WorkflowError as error:
            return "rejected", error.problems
    if result.status == "ok":
        return "ok", json.loads(result.output)
    return "failed", result.error


async def via_tool_call(config: Path, arguments: dict[str, Any]) -> Outcome:
    model = ScriptedChatCompletion("main", [ToolCall("units-take", arguments), Reply("done")])
    async with AgentHost(config, strict=True, models={"main": model}) as host:
        record = await host.invoke("talk.Agent", input="take these")
    answer = model.requests[1].messages[-1]["content"]
    if any(event.kind == "rejected" for event in record.events):
        return "rejected", answer
    return "ok", json.loads(answer)


ENTRY_POINTS = [via_invoke, via_plan, via_workflow, via_tool_call]


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=lambda entry: entry.__name__)
@pytest.mark.parametrize(("parameter", "value", "expected"), TABLE)
async def test_every_entry_point_types_arguments_by_the_same_rules(
    tmp_path: Path,
    entry: Callable[[Path, dict[str, Any]], Awaitable[Outcome]],
    parameter: str,
    value: Any,
    expected: Any,
) -> None:
    outcome, detail = await entry(write_config(tmp_path), {parameter: value})

    if expected is REJECTED:
        assert outcome == "rejected", detail
        assert f"argument {parameter!r}: expected" in str(detail)
    else:
        assert outcome == "ok", detail
        received = detail[parameter]
        assert (type(received), received) == (type(expected), expected)
