"""A team run is one trace: ``invoke_workflow {team}``, a turn ``invoke_agent {agent}`` per
step, its model calls ``chat {model}`` beneath."""

from __future__ import annotations

from pathlib import Path

from host import AgentHost
from host.agents import Resolution, Team
from host.testing import CapturedSpans, Reply, ScriptedChatCompletion, ToolCall
from tests.agents.team_kit import by_agent, write_host
from tests.tracing.span_kit import SpanTree


async def test_turns_are_agent_spans_under_the_team_run_with_their_calls_beneath(
    tmp_path: Path, traced: CapturedSpans
) -> None:
    model = ScriptedChatCompletion("local", [Reply("draft", (10, 5)), Reply("ok")])
    team = Team(name="duo", kind="sequential", agents=("writer", "critic"))
    async with AgentHost(
        write_host(tmp_path), models={"local": model}, tracer_provider=traced.provider
    ) as host:
        result = await host.run_team(team, "task")

    spans = SpanTree(traced.exporter.get_finished_spans())
    assert spans.outline() == [
        ("invoke_workflow duo", None),
        ("invoke_agent writer", "invoke_workflow duo"),
        ("chat s", "invoke_agent writer"),
        ("invoke_agent critic", "invoke_workflow duo"),
        ("chat s", "invoke_agent critic"),
    ]
    writer = spans.one("invoke_agent writer")
    assert writer.attributes is not None
    assert {key: writer.attributes[key] for key in _AGENT_KEYS} == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "writer",
        "agent_host.step.id": "turn_1_writer",
        "agent_host.function": "agent_host.agent_writer",
        "agent_host.capability": "write",
        "agent_host.route.model": "local",
        "gen_ai.usage.input_tokens": 10,
    }
    root = spans.one("invoke_workflow duo")
    assert root.attributes is not None and root.attributes["agent_host.run.status"] == "ok"
    assert result.trace_id == f"{root.context.trace_id:032x}"


_AGENT_KEYS = (
    "gen_ai.operation.name",
    "gen_ai.agent.name",
    "agent_host.step.id",
    "agent_host.function",
    "agent_host.capability",
    "agent_host.route.model",
    "gen_ai.usage.input_tokens",
)


async def test_concurrent_turns_and_the_judge_are_agent_spans_under_the_one_team_run(
    tmp_path: Path, traced: CapturedSpans
) -> None:
    model = ScriptedChatCompletion(
        "local",
        default=by_agent({"writer": Reply("w"), "critic": Reply("c"), "judge": Reply("{}")}),
    )
    team = Team(
        name="fan",
        kind="concurrent",
        agents=("writer", "critic"),
        resolve=Resolution(judge="judge"),
    )
    async with AgentHost(
        write_host(tmp_path), models={"local": model}, tracer_provider=traced.provider
    ) as host:
        result = await host.run_team(team, "task")

    spans = SpanTree(traced.exporter.get_finished_spans())
    assert sorted(spans.outline(), key=str) == sorted(
        [
            ("invoke_workflow fan", None),
            ("invoke_agent writer", "invoke_workflow fan"),
            ("chat s", "invoke_agent writer"),
            ("invoke_agent critic", "invoke_workflow fan"),
            ("chat s", "invoke_agent critic"),
            ("invoke_agent judge", "invoke_workflow fan"),
            ("chat s", "invoke_agent judge"),
        ],
        key=str,
    )
    assert {span.context.trace_id for span in traced.exporter.get_finished_spans()} == {
        int(result.trace_id or "0", 16)
    }


COUNTER = """
from semantic_kernel.functions import kernel_function

class Counter:
    plugin_name = "counter"

    @kernel_function(description="Count the words of the last reply.")
    def words(self, message: str) -> int:
        return len(message.split())
"""


async def test_an_agent_that_runs_a_function_is_one_agent_span_with_its_call_beneath(
    tmp_path: Path, traced: CapturedSpans
) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "counter.py").write_text(COUNTER)
    config = write_host(tmp_path)
    config.write_text(config.read_text() + "  counter:\n    runs: counter.words\n")
    model = ScriptedChatCompletion("local", [Reply("three words here")])
    team = Team(name="count", kind="sequential", agents=("writer", "counter"))
    async with AgentHost(
        config, models={"local": model}, tracer_provider=traced.provider, plugin_dirs=[plugins]
    ) as host:
        result = await host.run_team(team, "task")

    assert (result.status, result.output) == ("ok", "3")  # the transcript's text
    spans = SpanTree(traced.exporter.get_finished_spans())
    assert spans.outline() == [
        ("invoke_workflow count", None),
        ("invoke_agent writer", "invoke_workflow count"),
        ("chat s", "invoke_agent writer"),
        ("invoke_agent counter", "invoke_workflow count"),
        ("execute_tool counter.words", "invoke_agent counter"),
    ]
    counter = spans.one("invoke_agent counter")
    assert counter.attributes is not None
    assert counter.attributes["agent_host.function"] == "counter.words"


async def test_a_transfer_is_a_tool_span_under_the_model_call_that_made_it(
    tmp_path: Path, traced: CapturedSpans
) -> None:
    """Kills: a hand-off that the trace does not show (the transfer answered without a
    span), or one whose span is not tied to the model's tool call."""
    model = ScriptedChatCompletion(
        "local",
        default=by_agent(
            {"writer": ToolCall("agent_host.transfer_to_editor"), "editor": Reply("polished")}
        ),
    )
    team = Team(name="desk", kind="handoff", agents=("writer", "editor"), max_handoffs=2)
    async with AgentHost(
        write_host(tmp_path), models={"local": model}, tracer_provider=traced.provider
    ) as host:
        result = await host.run_team(team, "Sell lemons")

    assert (result.status, result.output) == ("ok", "polished")
    spans = SpanTree(traced.exporter.get_finished_spans())
    assert spans.outline() == [
        ("invoke_workflow desk", None),
        ("invoke_agent writer", "invoke_workflow desk"),
        ("chat s", "invoke_agent writer"),
        ("execute_tool agent_host.transfer_to_editor", "chat s"),
        ("invoke_agent editor", "invoke_workflow desk"),
        ("chat s", "invoke_agent editor"),
    ]
    transfer = spans.one("execute_tool agent_host.transfer_to_editor").attributes or {}
    assert transfer["gen_ai.tool.name"] == "agent_host.transfer_to_editor"
    assert str(transfer["gen_ai.tool.call.id"]).startswith("call_")
    writer = spans.one("invoke_agent writer")
    events = [(e.name, (e.attributes or {}).get("agent_host.target")) for e in writer.events]
    assert ("transfer", "editor") in events
