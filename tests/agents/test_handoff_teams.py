"""Handoff teams: agents pass the task on with generated ``transfer_to_<agent>`` tools, capped."""

from __future__ import annotations

from pathlib import Path

import pytest

from host import AgentHost
from host.agents import Team
from host.errors import TeamError
from host.testing import Reply, ScriptedChatCompletion, ToolCall, ToolCalls
from tests.agents.team_kit import by_agent, write_host, write_team

TEAM = Team(name="desk", kind="handoff", agents=("writer", "critic", "editor"), max_handoffs=4)


def offered(request_settings: dict[str, object]) -> list[str]:
    tools = request_settings.get("tools") or []
    assert isinstance(tools, list)
    return sorted(tool["function"]["name"] for tool in tools)


async def test_a_transfer_passes_the_task_and_a_plain_reply_ends_the_run(tmp_path: Path) -> None:
    model = ScriptedChatCompletion(
        "local",
        default=by_agent(
            {"writer": ToolCall("agent_host.transfer_to_editor"), "editor": Reply("polished")}
        ),
    )
    async with AgentHost(write_host(tmp_path), models={"local": model}) as host:
        result = await host.run_team(TEAM, "Sell lemons")

    assert (result.status, result.output) == ("ok", "polished")
    assert [s.step_id for s in result.steps] == ["turn_1_writer", "turn_2_editor"]
    transfers = [(e.target, e.outcome) for e in result.steps[0].events if e.kind == "transfer"]
    assert transfers == [("editor", "ok")]
    assert offered(model.requests[0].settings) == [
        "agent_host-transfer_to_critic",
        "agent_host-transfer_to_editor",
    ]
    # the transfer ended the writer's turn: no second request; the editor sees it
    assert len(model.requests) == 2
    assert "writer: Transferred to editor." in str(model.requests[1].messages[-1]["content"])


async def test_hand_off_ping_pong_is_capped(tmp_path: Path) -> None:
    model = ScriptedChatCompletion(
        "local",
        default=by_agent(
            {
                "writer": ToolCall("agent_host.transfer_to_critic"),
                "critic": ToolCall("agent_host.transfer_to_writer"),
            }
        ),
    )
    async with AgentHost(write_host(tmp_path), models={"local": model}) as host:
        result = await host.run_team(TEAM, "Sell lemons")

    assert (result.status, result.error) == ("round_limit", "reached max_handoffs (4)")
    assert [s.step_id.split("_", 2)[2] for s in result.steps] == ["writer", "critic"] * 2 + [
        "writer"
    ]


async def test_handoffs_limit_who_an_agent_may_transfer_to(tmp_path: Path) -> None:
    team = TEAM.model_copy(update={"handoffs": {"writer": ("critic",)}})
    model = ScriptedChatCompletion("local").add(
        ToolCall("agent_host.transfer_to_editor"), Reply("kept it")
    )
    async with AgentHost(write_host(tmp_path), models={"local": model}) as host:
        result = await host.run_team(team, "Sell lemons")

    assert (result.status, result.output) == ("ok", "kept it")
    assert offered(model.requests[0].settings) == ["agent_host-transfer_to_critic"]
    refused = result.steps[0].events
    assert [(e.kind, e.target, e.outcome) for e in refused if e.kind == "rejected"] == [
        ("rejected", "agent_host.transfer_to_editor", "not_allowed")
    ]


async def test_an_agent_outside_a_handoff_team_is_offered_no_transfer(tmp_path: Path) -> None:
    model = ScriptedChatCompletion(
        "local", default=by_agent({"writer": Reply("w"), "critic": Reply("c")})
    )
    team = Team(name="pair", kind="sequential", agents=("writer", "critic"))
    async with AgentHost(write_host(tmp_path), models={"local": model}) as host:
        await host.run_team(TEAM.model_copy(update={"agents": ("critic", "writer")}), "t")
        model.requests.clear()
        result = await host.run_team(team, "t")

    assert result.status == "ok"
    assert [offered(r.settings) for r in model.requests] == [[], []]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "",
            ":2: kind: a handoff team needs max_rounds, max_handoffs or a budget "
            "(max_tokens, max_cost): without one it could run forever",
        ),
        (
            "max_handoffs: 2\nhandoffs: {writer: [writer]}\n",
            ":5: handoffs.writer.0: 'writer' is not another agent of this team",
        ),
        (
            "max_handoffs: 2\nhandoffs: {ghost: [writer]}\n",
            ":5: handoffs.ghost: 'ghost' is not in this team",
        ),
    ],
    ids=["uncapped", "to itself", "unknown agent"],
)
async def test_a_bad_handoff_team_is_refused_at_load(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = write_team(tmp_path, f"name: h\nkind: handoff\nagents: [writer, critic]\n{text}")
    async with AgentHost(write_host(tmp_path)) as host:
        with pytest.raises(TeamError) as raised:
            await host.run_team(path, "t")
    assert raised.value.problems == [f"{path}{problem}"]


async def test_a_transfer_turn_spends_its_request_tokens_against_the_budget(
    tmp_path: Path,
) -> None:
    # SK's result of a turn a transfer ends carries no usage: transfer turns recorded no
    # tokens, so a ping-pong team capped only by max_tokens never reached it.
    team = Team(name="desk", kind="handoff", agents=("writer", "critic"), max_tokens=250)
    transfers = [
        ToolCalls((ToolCall(f"agent_host.transfer_to_{to}"),), usage=(100, 10))
        for to in ("critic", "writer")
    ]
    model = ScriptedChatCompletion("local", transfers * 4)
    async with AgentHost(write_host(tmp_path), models={"local": model}) as host:
        result = await host.run_team(team, "Sell lemons")

    assert (result.status, result.error) == ("budget_exceeded", "spent 330 tokens (max_tokens 250)")
    assert [(s.tokens_in, s.tokens_out, s.cost) for s in result.steps] == [(100, 10, 0.12)] * 3
