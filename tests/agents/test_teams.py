"""Teams run turn by turn: who speaks, what each sees, and how each run ends."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from host import AgentHost
from host.agents import Agent, SpeakerRule, Team
from host.progress import CallStarted, Progress, StepFinished, watching
from host.testing import Delay, Raise, Reply, ScriptedChatCompletion, run_until
from host.testing.clock import VirtualClock
from tests.agents.team_kit import write_host, write_team


def speakers(result: Any) -> list[str]:
    return [step.step_id for step in result.steps]


def prompt(model: ScriptedChatCompletion, call: int) -> str:
    return str(model.requests[call].messages[-1]["content"])


async def test_a_sequential_team_runs_each_agent_once_in_order_passing_the_transcript(
    tmp_path: Path,
) -> None:
    model = ScriptedChatCompletion("local", [Reply("draft one"), Reply("too long"), Reply("done")])
    team = Team(name="trio", kind="sequential", agents=("writer", "critic", "editor"))
    async with AgentHost(write_host(tmp_path), models={"local": model}) as host:
        result = await host.run_team(team, "Sell lemons")

    assert result.status == "ok"
    assert result.output == "done"
    assert speakers(result) == ["turn_1_writer", "turn_2_critic", "turn_3_editor"]
    assert "Write the draft." in prompt(model, 0) and "Sell lemons" in prompt(model, 0)
    assert "writer: draft one" in prompt(model, 1)
    assert "writer: draft one\n\ncritic: too long" in prompt(model, 2)
    assert "You are editor." in prompt(model, 2)


async def test_each_turn_is_a_routed_step_with_its_model_route_and_cost(tmp_path: Path) -> None:
    model = ScriptedChatCompletion("local", [Reply("a", (1000, 500)), Reply("b", (2000, 0))])
    team = Team(name="duo", kind="sequential", agents=("writer", "editor"))
    async with AgentHost(write_host(tmp_path), models={"local": model}) as host:
        result = await host.run_team(team, "task")

    writer, editor = result.steps
    assert writer.function == "agent_host.agent_writer"
    assert (writer.model, writer.tokens_in, writer.tokens_out, writer.cost) == (
        "local",
        1000,
        500,
        2.0,
    )
    assert writer.route_reason is not None and writer.route_reason.startswith("write")
    assert editor.route_reason == "agent editor → pinned: local"
    assert writer.attempts == 1


async def test_a_group_chat_goes_round_robin_until_its_cap(tmp_path: Path) -> None:
    model = ScriptedChatCompletion("local", default=Reply("more"))
    model.add(Reply("one"), Reply("two"), Reply("three"))
    team = Team(name="chat", kind="group_chat", agents=("writer", "critic"), max_rounds=5)
    async with AgentHost(write_host(tmp_path), models={"local": model}) as host:
        result = await host.run_team(team, "task")

    assert result.status == "round_limit"
    assert result.error == "reached max_rounds (5)"
    assert speakers(result) == [
        "turn_1_writer",
        "turn_2_critic",
        "turn_3_writer",
        "turn_4_critic",
        "turn_5_writer",
    ]
    assert result.output == "more"


async def test_rules_pick_the_next_speaker_and_round_robin_is_the_fallback(
    tmp_path: Path,
) -> None:
    replies = ["draft", "please polish", "polished", "fine", "x"]
    model = ScriptedChatCompletion("local", [Reply(text) for text in replies])
    team = Team(
        name="chat",
        kind="group_chat",
        agents=("writer", "critic", "editor"),
        speaker="rules",
        rules=(SpeakerRule(when="polish", next="editor"), SpeakerRule(when="draft", next="critic")),
        max_rounds=5,
    )
    async with AgentHost(write_host(tmp_path), models={"local": model}) as host:
        result = await host.run_team(team, "task")

    # draft → critic (rule); "please polish" → editor (rule); "polished" → editor by the
    # first rule; "fine" matches none → round-robin after editor: writer.
    assert speakers(result) == [
        "turn_1_writer",
        "turn_2_critic",
        "turn_3_editor",
        "turn_4_editor",
        "turn_5_writer",
    ]


def chat(**ends: Any) -> Team:
    return Team(name="chat", kind="group_chat", agents=("writer", "critic"), **ends)


@pytest.mark.parametrize(
    ("team", "replies", "status", "turns", "error"),
    [
        (chat(max_rounds=2), ["a", "b", "c"], "round_limit", 2, "reached max_rounds (2)"),
        (
            chat(max_tokens=400),
            ["a", "b", "c"],
            "budget_exceeded",
            2,
            "spent 400 tokens (max_tokens 400)",
        ),
        (chat(max_cost=0.6), ["a", "b", "c"], "budget_exceeded", 2, "spent 0.6 (max_cost 0.6)"),
        (chat(max_rounds=9, done_when="APPROVED"), ["a", "APPROVED!", "c"], "ok", 2, None),
        (
            chat(max_rounds=9, stall_after=3),
            ["a", "same", "same ", "same", "b"],
            "stalled",
            4,
            "the same message 3 times in a row",
        ),
        (
            chat(max_rounds=9, stall_after=3),
            ["a", "b", "a", "b ", "a", "c"],
            "stalled",
            5,
            "nothing new said in 3 messages (each one said before)",
        ),
    ],
    ids=["max_rounds", "token budget", "cost budget", "done_when", "stall", "no progress"],
)
async def test_each_ending_has_its_own_status_and_keeps_every_turn(
    tmp_path: Path, team: Team, replies: list[str], status: str, turns: int, error: str | None
) -> None:
    model = ScriptedChatCompletion("local", [Reply(text, (100, 100)) for text in replies])
    async with AgentHost(write_host(tmp_path), models={"local": model}) as host:
        result = await host.run_team(team, "task")
        host.run_store.flush()
        stored = host.run_store.get(result.run_id)

    assert (result.status, len(result.steps), result.error) == (status, turns, error)
    assert result.output == replies[turns - 1]
    assert stored is not None
    assert (stored.status, stored.kind, stored.name, len(stored.steps)) == (
        status,
        "team",
        "chat",
        turns,
    )


async def test_the_deadline_ends_the_run_deadline_exceeded_keeping_every_turn(
    tmp_path: Path,
) -> None:
    clock = VirtualClock()
    model = ScriptedChatCompletion("local", default=Delay(10, Reply("late")), clock=clock)
    team = chat(max_rounds=5)
    async with AgentHost(write_host(tmp_path), models={"local": model}, clock=clock) as host:
        result = await host.run_team(team, "task", deadline=15)

    assert result.status == "deadline_exceeded"
    assert result.error is not None and "deadline of 15s exceeded" in result.error
    assert [(s.step_id, s.status) for s in result.steps] == [
        ("turn_1_writer", "ok"),
        ("turn_2_critic", "failed"),
    ]
    failed = result.steps[1]
    assert failed.error_type == "DeadlineExceededError"
    assert failed.route_reason is not None and failed.route_reason.startswith("review")


async def test_a_team_file_runs_by_its_path(tmp_path: Path) -> None:
    file = write_team(tmp_path, "name: pair\nkind: sequential\nagents: [writer, critic]\n")
    model = ScriptedChatCompletion("local", [Reply("a"), Reply("b")])
    async with AgentHost(write_host(tmp_path), models={"local": model}) as host:
        result = await host.run_team(file, "task")
    assert (result.status, result.output, result.plan) == (
        "ok",
        "b",
        "team pair (sequential): 2 turn(s)",
    )


async def test_an_agent_defined_in_python_replaces_the_configured_one(tmp_path: Path) -> None:
    model = ScriptedChatCompletion("local", [Reply("a")])
    agent = Agent(name="writer", instructions="Write in verse.", model="local")
    team = Team(name="solo", kind="sequential", agents=("writer",))
    async with AgentHost(write_host(tmp_path), models={"local": model}, agents=[agent]) as host:
        result = await host.run_team(team, "task")
    assert "Write in verse." in prompt(model, 0)
    assert result.steps[0].route_reason == "agent writer → pinned: local"


async def test_turn_functions_are_not_in_the_catalogue(tmp_path: Path) -> None:
    async with AgentHost(write_host(tmp_path)) as host:
        assert not [info for info in host.catalogue if info.name.startswith("agent_host.")]


async def test_a_cancelled_team_is_recorded_with_its_turns_so_far(tmp_path: Path) -> None:
    clock = VirtualClock()
    model = ScriptedChatCompletion(
        "local", [Reply("a")], default=Delay(10, Reply("b")), clock=clock
    )
    async with AgentHost(write_host(tmp_path), models={"local": model}, clock=clock) as host:
        run = asyncio.create_task(host.run_team(chat(max_rounds=5), "task"))
        await run_until(lambda: len(model.requests) == 2)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        host.run_store.flush()
        (stored,) = host.run_store.runs()

    assert (stored.status, stored.kind, [s.step_id for s in stored.steps]) == (
        "cancelled",
        "team",
        ["turn_1_writer"],
    )


async def test_a_turn_is_retried_by_the_resilience_chain(tmp_path: Path) -> None:
    config = write_host(tmp_path)
    config.write_text(config.read_text().replace("    cost:", "    retries: 1\n    cost:", 1))
    model = ScriptedChatCompletion("local", [Raise(ConnectionError("down")), Reply("a")])
    team = Team(name="solo", kind="sequential", agents=("writer",))
    async with AgentHost(config, models={"local": model}) as host:
        result = await host.run_team(team, "task")

    assert (result.status, result.output, result.steps[0].attempts) == ("ok", "a", 2)


async def test_live_progress_tells_each_turn_as_a_step(tmp_path: Path) -> None:
    model = ScriptedChatCompletion("local", [Reply("a"), Reply("b")])
    team = Team(name="duo", kind="sequential", agents=("writer", "critic"))
    events: list[Progress] = []
    async with AgentHost(write_host(tmp_path), models={"local": model}) as host:
        with watching(events.append):
            await host.run_team(team, "task")

    told = [
        (type(e).__name__, e.step_id if isinstance(e, CallStarted) else e.record.step_id)
        for e in events
        if isinstance(e, CallStarted | StepFinished)
    ]
    assert told == [
        ("CallStarted", "turn_1_writer"),
        ("StepFinished", "turn_1_writer"),
        ("CallStarted", "turn_2_critic"),
        ("StepFinished", "turn_2_critic"),
    ]
