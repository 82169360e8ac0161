"""An agent's ``functions:`` are its tools: offered on its turns, run through the kernel,
and nothing else may be called."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from host import AgentHost
from host.agents import Agent, Team
from host.errors import ConfigError
from host.testing import CapturedSpans, Reply, ScriptedChatCompletion, ToolCall, ToolCalls
from tests.agents.team_kit import write_host
from tests.tracing.span_kit import SpanTree

DESK = """
from pathlib import Path
from typing import Annotated
from semantic_kernel.functions import kernel_function

CALLS = Path(__file__).with_suffix(".calls")

def _called(name: str) -> None:
    with CALLS.open("a") as calls:
        calls.write(name + "\\n")

class Desk:
    plugin_name = "desk"

    @kernel_function(description="Add two numbers.")
    def add(self, a: Annotated[int, "first"], b: Annotated[int, "second"]) -> int:
        _called("add")
        return a + b

    @kernel_function(description="Look up a word.")
    def lookup(self, word: Annotated[str, "the word"]) -> str:
        _called("lookup")
        return word.upper()

class Vault:
    plugin_name = "vault"

    @kernel_function(description="Open the safe.")
    def open_safe(self) -> str:
        _called("open_safe")
        return "open"
"""

TEAM = Team(name="solo", kind="sequential", agents=("clerk",))


def _plugins(tmp_path: Path) -> Path:
    directory = tmp_path / "plugins"
    directory.mkdir()
    (directory / "desk.py").write_text(DESK)
    return directory


def _calls(plugins: Path) -> list[str]:
    calls = plugins / "desk.calls"
    return calls.read_text().split() if calls.exists() else []


def _host(
    tmp_path: Path, model: ScriptedChatCompletion, functions: list[str], **options: object
) -> AgentHost:
    clerk = Agent(name="clerk", instructions="Keep the books.", functions=functions)
    return AgentHost(
        write_host(tmp_path, agents=""),
        models={"local": model},
        plugin_dirs=[_plugins(tmp_path)],
        agents=[clerk],
        **options,  # type: ignore[arg-type]
    )


def _offered(model: ScriptedChatCompletion, request: int = 0) -> list[str]:
    tools = model.requests[request].settings.get("tools") or []
    return sorted(tool["function"]["name"] for tool in tools)


async def test_an_allowed_call_runs_and_its_result_reaches_the_model(tmp_path: Path) -> None:
    model = ScriptedChatCompletion(
        "local", [ToolCall("desk.add", {"a": 2, "b": 3}, id="c1"), Reply("five")]
    )
    async with _host(tmp_path, model, ["desk.add"]) as host:
        result = await host.run_team(TEAM, "sum")

    assert result.status == "ok"
    assert _offered(model) == ["desk-add"]
    assert _calls(tmp_path / "plugins") == ["add"]
    answer = model.requests[1].messages[-1]
    assert (answer["role"], answer["tool_call_id"], answer["content"]) == ("tool", "c1", "5")
    events = [(e.kind, e.target, e.outcome) for e in result.steps[0].events]
    assert events == [("attempt", "desk.add", "ok"), ("attempt", "local", "ok")]


async def test_a_call_outside_the_list_is_refused_and_recorded(tmp_path: Path) -> None:
    model = ScriptedChatCompletion(  # its bad argument is not checked: the call is refused first
        "local", [ToolCall("desk.lookup", {"word": 5}, id="c1"), Reply("could not")]
    )
    async with _host(tmp_path, model, ["desk.add"]) as host:
        result = await host.run_team(TEAM, "rob it")

    assert _calls(tmp_path / "plugins") == []
    refusal = "`desk.lookup` is not one of your tools (desk.add); call one of those, or answer."
    assert model.requests[1].messages[-1]["content"] == refusal
    events = [(e.kind, e.target, e.outcome) for e in result.steps[0].events]
    assert events == [("rejected", "desk.lookup", "not_allowed"), ("attempt", "local", "ok")]


async def test_a_glob_offers_every_function_of_its_plugin(tmp_path: Path) -> None:
    model = ScriptedChatCompletion("local", [Reply("done")])
    async with _host(tmp_path, model, ["desk.*", "desk.add"]) as host:
        await host.run_team(TEAM, "task")

    assert _offered(model) == ["desk-add", "desk-lookup"]


@pytest.mark.parametrize("entry", ["desk.divide", "ledger.*"])
async def test_an_entry_naming_no_loaded_function_fails_the_team_run(
    tmp_path: Path, entry: str
) -> None:
    model = ScriptedChatCompletion("local", [Reply("never")])
    async with _host(tmp_path, model, ["desk.add", entry]) as host:
        with pytest.raises(
            ConfigError, match=re.escape(f"agents.clerk.functions: '{entry}' matches no")
        ):
            await host.run_team(TEAM, "task")
    assert model.requests == []


async def test_the_host_own_functions_are_never_tools(tmp_path: Path) -> None:
    model = ScriptedChatCompletion("local", [Reply("never")])
    async with _host(tmp_path, model, ["agent_host.*"]) as host:
        with pytest.raises(
            ConfigError, match=re.escape("'agent_host.*' matches no loaded function")
        ):
            await host.run_team(TEAM, "task")


async def test_past_max_tool_calls_the_model_is_asked_without_tools(tmp_path: Path) -> None:
    model = ScriptedChatCompletion(
        "local",
        [
            ToolCall("desk.lookup", {"word": "a"}, id="c1"),
            ToolCall("desk.lookup", {"word": "b"}, id="c2"),
            Reply("enough"),
        ],
    )
    clerk = Agent(
        name="clerk", instructions="Keep the books.", functions=["desk.*"], max_tool_calls=2
    )
    async with AgentHost(
        write_host(tmp_path, agents=""),
        models={"local": model},
        plugin_dirs=[_plugins(tmp_path)],
        agents=[clerk],
    ) as host:
        result = await host.run_team(TEAM, "task")

    assert result.steps[0].output == "enough"
    assert _calls(tmp_path / "plugins") == ["lookup", "lookup"]
    assert [_offered(model, i) for i in range(3)] == [["desk-add", "desk-lookup"]] * 2 + [[]]


async def test_an_agent_with_functions_on_a_model_without_tool_calls_fails_its_turn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ScriptedChatCompletion, "SUPPORTS_FUNCTION_CALLING", False)
    model = ScriptedChatCompletion("local", [Reply("never")])
    async with _host(tmp_path, model, ["desk.add"]) as host:
        result = await host.run_team(TEAM, "task")
    assert result.status == "failed"
    assert model.requests == []


async def test_tool_calls_are_tool_spans_under_the_agent_chat_span(
    tmp_path: Path, traced: CapturedSpans
) -> None:
    model = ScriptedChatCompletion(
        "local",
        [ToolCalls([ToolCall("desk.add", {"a": 1, "b": 1}, id="c1")]), Reply("two")],
    )
    async with _host(tmp_path, model, ["desk.add"], tracer_provider=traced.provider) as host:
        await host.run_team(TEAM, "task")

    assert SpanTree(traced.exporter.get_finished_spans()).outline() == [
        ("invoke_workflow solo", None),
        ("invoke_agent clerk", "invoke_workflow solo"),
        ("chat s", "invoke_agent clerk"),
        ("execute_tool desk.add", "chat s"),
    ]
