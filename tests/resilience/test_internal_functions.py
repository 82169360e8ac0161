"""The host's own functions (the planner's ``agent_host.plan``) are never a model's tools:
not offered, and a call to one is answered as a call to an unknown function."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from resilience_kit import write_config
from semantic_kernel import Kernel
from semantic_kernel.connectors.ai.function_choice_behavior import FunctionChoiceBehavior
from semantic_kernel.contents import ChatHistory
from semantic_kernel.filters.filter_types import FilterTypes
from semantic_kernel.functions import KernelArguments

from host import AgentHost
from host.planning import add_planner_function
from host.resilience.tool_calls import ToolCallArgumentsFilter
from host.testing import RecordedRequest, Reply, ScriptedChatCompletion, ToolCall, ToolCalls
from host.testing.scripted import ScriptedPromptExecutionSettings

PLANNER_TOOL = "agent_host-plan"

CALLS = ToolCalls([ToolCall("agent_host.plan", {"prompt": "plan"}), ToolCall("nobody.nothing")])
"""The model calls the planner and a function that does not exist, side by side."""


def planner_host(tmp_path: Path, model: ScriptedChatCompletion, **behaviour: Any) -> AgentHost:
    """A host with the model planner loaded, whose ``talk.Agent`` prompt offers tools so."""
    models = {"main": {"provider": "scripted", "model": "s", "capabilities": ["plan"]}}
    config = write_config(tmp_path, models=models, planning={"planner": "model"})
    agent = tmp_path / "prompts" / "talk" / "agent.yaml"
    prompt = yaml.safe_load(agent.read_text(encoding="utf-8"))
    prompt["execution_settings"]["default"]["function_choice_behavior"].update(behaviour)
    agent.write_text(yaml.safe_dump(prompt), encoding="utf-8")
    return AgentHost(config, strict=True, models={"main": model})


def offered(request: RecordedRequest) -> list[str]:
    return [tool["function"]["name"] for tool in request.settings.get("tools") or []]


def answers(request: RecordedRequest) -> list[str]:
    """The tool results sent back to the model, with the called names taken out."""
    return [
        str(m["content"]).replace(PLANNER_TOOL, "NAME").replace("nobody-nothing", "NAME")
        for m in request.messages
        if m["role"] == "tool"
    ]


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [
        ({}, ["talk-Agent", "talk-Ask"]),
        ({"filters": {"excluded_plugins": ["nobody"]}}, ["talk-Agent", "talk-Ask"]),
        ({"filters": {"included_plugins": ["talk", "agent_host"]}}, ["talk-Agent", "talk-Ask"]),
        ({"filters": {"included_plugins": ["agent_host"]}}, []),
    ],
    ids=["all-functions", "some-excluded", "planner-included-by-name", "only-the-planner"],
)
async def test_the_planner_function_is_never_offered_to_a_model(
    tmp_path: Path, behaviour: dict[str, Any], expected: list[str]
) -> None:
    model = ScriptedChatCompletion("main", [Reply("done")])
    async with planner_host(tmp_path, model, **behaviour) as host:
        await host.invoke("talk.Agent", input="plan something")

    assert sorted(offered(model.requests[0])) == expected


async def test_a_models_call_of_the_planner_is_answered_as_an_unknown_function(
    tmp_path: Path,
) -> None:
    model = ScriptedChatCompletion("main", [CALLS, Reply("done")])
    async with planner_host(tmp_path, model) as host:
        step = await host.invoke("talk.Agent", input="plan something")

    assert step.output == "done"
    assert len(model.requests) == 2, "the planner's prompt never reached the model"
    planner, unknown = answers(model.requests[1])
    assert planner == unknown
    assert [e for e in step.events if e.target == "agent_host.plan"] == []


async def test_a_chat_call_outside_a_prompt_function_cannot_run_the_planner() -> None:
    """An SK chat call made with the kernel directly (an agent, a plugin) has no
    prompt function narrowing its tools; the tool-call filter refuses the planner."""
    model = ScriptedChatCompletion("main", [CALLS, Reply("done")])
    kernel = Kernel()
    kernel.add_service(model)
    kernel.add_filter(FilterTypes.AUTO_FUNCTION_INVOCATION, ToolCallArgumentsFilter())
    add_planner_function(kernel, [])
    settings = ScriptedPromptExecutionSettings(
        function_choice_behavior=FunctionChoiceBehavior.Auto()
    )
    history = ChatHistory()
    history.add_user_message("plan something")

    [reply] = await model.get_chat_message_contents(
        history, settings, kernel=kernel, arguments=KernelArguments()
    )

    assert reply.content == "done"
    assert len(model.requests) == 2, "the planner's prompt never reached the model"
    planner, unknown = answers(model.requests[1])
    assert planner == unknown
