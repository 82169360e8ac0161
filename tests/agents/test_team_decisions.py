"""Conflicts settled by the coordinating model or by a person, whose answer resumes the team
(in another process too)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from semantic_kernel.connectors.ai.prompt_execution_settings import PromptExecutionSettings
from semantic_kernel.contents import ChatHistory

from host import AgentHost
from host.agents import Resolution, Team
from host.errors import TeamError
from host.paused_runs import PausedRuns
from host.run_store import RunStore
from host.testing import Reply, ScriptedChatCompletion
from host.testing.scripted import Step
from tests.agents.team_kit import AGENTS, REVIEWERS, by_agent, write_host
from tests.agents.test_team_cli import agent_host

REVIEWS = {name: Reply(json.dumps({"verdict": name[-1]})) for name in ("rev_a", "rev_b", "rev_c")}
PANEL = Team(
    name="panel",
    kind="concurrent",
    agents=("rev_a", "rev_b", "rev_c"),
    resolve=Resolution(coordinator="review"),
)


def with_coordinator(reply: Step) -> object:
    agents = by_agent(REVIEWS)

    def respond(history: ChatHistory, settings: PromptExecutionSettings) -> Step:
        if "You are coordinator_" in str(history.messages[-1].content):
            return reply
        return agents(history, settings)

    return respond


async def test_the_coordinator_picks_a_reply_and_says_why(tmp_path: Path) -> None:
    choice = Reply('{"choice": "rev_b", "reason": "the clearest"}')
    model = ScriptedChatCompletion("local", default=with_coordinator(choice))  # type: ignore[arg-type]
    config = write_host(tmp_path, agents=AGENTS + REVIEWERS)
    async with AgentHost(config, models={"local": model}) as host:
        result = await host.run_team(PANEL, "Review the copy")

    assert (result.status, result.output) == ("ok", '{"verdict": "b"}')
    assert [s.step_id for s in result.steps][-1] == "turn_2_coordinator"
    assert result.plan is not None and "coordinator chose rev_b: the clearest" in result.plan
    asked = model.requests[-1]
    schema = asked.settings["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["choice"]["enum"] == ["rev_a", "rev_b", "rev_c"]
    assert '{"verdict": "c"}' in str(asked.messages[-1]["content"])


async def test_a_coordinator_naming_no_agent_fails_the_run(tmp_path: Path) -> None:
    model = ScriptedChatCompletion(
        "local",
        default=with_coordinator(Reply('{"choice": "nobody", "reason": "x"}')),  # type: ignore[arg-type]
    )
    config = write_host(tmp_path, agents=AGENTS + REVIEWERS)
    async with AgentHost(config, models={"local": model}) as host:
        result = await host.run_team(PANEL, "Review the copy")

    assert result.status == "failed"
    assert result.error is not None and result.error.startswith("the coordinator: step ")


async def test_a_person_decides_and_a_resume_in_another_process_finishes_the_team(
    tmp_path: Path,
) -> None:
    team = PANEL.model_copy(update={"resolve": Resolution(human=True)})
    model = ScriptedChatCompletion("local", default=by_agent(REVIEWS))
    config = write_host(tmp_path, agents=AGENTS + REVIEWERS)
    async with AgentHost(config, models={"local": model}) as host:
        paused = await host.run_team(team, "Review the copy")

    assert (paused.status, paused.waiting_step) == ("needs_human", "decide_1")
    assert paused.question is not None and "(rev_a, rev_b, rev_c)" in paused.question
    assert '- rev_c: {"verdict": "c"}' in paused.question

    done = agent_host("resume", paused.run_id, "rev_c", "--config", str(config), "--json")

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["status"], result["output"]) == ("ok", '{"verdict": "c"}')
    assert [s["step_id"] for s in result["steps"]] == [
        "turn_1_rev_a",
        "turn_1_rev_b",
        "turn_1_rev_c",
        "decide_1",
    ]
    assert "a person chose rev_c" in result["plan"]
    recorded = RunStore(tmp_path / "runs.sqlite3").get(paused.run_id)
    assert recorded is not None and recorded.status == "ok"


async def test_a_person_deciding_a_panel_resumes_the_graph(tmp_path: Path) -> None:
    team = Team.model_validate(
        {
            "name": "reviewed",
            "kind": "graph",
            "agents": ["writer"],
            "max_rounds": 4,
            "signal_field": "verdict",
            "panels": {"reviewers": {"agents": ["rev_a", "rev_b"], "resolve": {"human": True}}},
            "edges": [
                {"from": "writer", "to": "reviewers"},
                {"from": "reviewers", "to": "end", "signal": "b"},
                {"from": "reviewers", "to": "writer", "signal": "a"},
            ],
        }
    )
    model = ScriptedChatCompletion("local", default=by_agent({"writer": Reply("w"), **REVIEWS}))
    config = write_host(tmp_path, agents=AGENTS + REVIEWERS)
    async with AgentHost(config, models={"local": model}) as host:
        paused = await host.run_team(team, "t")
        assert (paused.status, paused.waiting_step) == ("needs_human", "decide_2")
        again = await host.resume(paused.run_id, "rev_a")  # back to the writer, asked again
        assert (again.status, again.waiting_step) == ("needs_human", "decide_4")
        result = await host.resume(again.run_id, "rev_b")

    assert (result.status, result.output) == ("ok", '{"verdict": "b"}')
    assert [s.step_id for s in result.steps] == [
        "turn_1_writer",
        "turn_2_rev_a",
        "turn_2_rev_b",
        "decide_2",
        "turn_3_writer",
        "turn_4_rev_a",
        "turn_4_rev_b",
        "decide_4",
    ]


async def test_a_model_picks_each_next_speaker_of_a_group_chat(tmp_path: Path) -> None:
    team = Team(
        name="chat",
        kind="group_chat",
        agents=("writer", "critic", "editor"),
        speaker="model",
        coordinator="review",
        max_rounds=3,
    )
    picks = iter(
        [
            Reply('{"choice": "editor", "reason": "needs polish"}'),
            Reply('{"choice": "writer", "reason": "rewrite"}'),
        ]
    )
    agents = by_agent({"writer": Reply("w"), "critic": Reply("c"), "editor": Reply("e")})

    def respond(history: ChatHistory, settings: PromptExecutionSettings) -> Step:
        if "You are coordinator_" in str(history.messages[-1].content):
            return next(picks)
        return agents(history, settings)

    model = ScriptedChatCompletion("local", default=respond)
    async with AgentHost(write_host(tmp_path), models={"local": model}) as host:
        result = await host.run_team(team, "t")

    assert (result.status, result.error) == ("round_limit", "reached max_rounds (3)")
    assert [s.step_id for s in result.steps] == [
        "turn_1_writer",
        "pick_1",
        "turn_2_editor",
        "pick_2",
        "turn_3_writer",
    ]
    asked = model.requests[1]
    schema = asked.settings["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["choice"]["enum"] == ["writer", "critic", "editor"]
    assert "Choose the agent who should speak next" in str(asked.messages[-1]["content"])


JUDGE_PLUGIN = """
from typing import Annotated
from semantic_kernel.functions import kernel_function

class Desk:
    plugin_name = "desk"

    @kernel_function(description="Pick the longest reply.")
    def longest(self, task: Annotated[str, "task"], transcript: Annotated[str, "replies"]) -> str:
        replies = [block.split(": ", 1)[1] for block in transcript.split("\\n\\n")]
        return task + " -> " + max(replies, key=len)
"""


async def test_a_function_can_judge(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "desk.py").write_text(JUDGE_PLUGIN)
    team = Team(
        name="judged",
        kind="concurrent",
        agents=("writer", "critic"),
        resolve=Resolution(judge="desk.longest"),
    )
    model = ScriptedChatCompletion(
        "local", default=by_agent({"writer": Reply("short"), "critic": Reply("much longer")})
    )
    host = AgentHost(write_host(tmp_path), models={"local": model}, plugin_dirs=[plugins])
    async with host:
        result = await host.run_team(team, "pick")
        file = tmp_path / "judged.yaml"
        file.write_text(
            "name: judged\nkind: concurrent\nagents: [writer, critic]\n"
            "resolve: {judge: desk.nothing}\n"
        )
        with pytest.raises(TeamError) as raised:  # before anything runs
            await host.run_team(file, "pick")
        asked = len(model.requests)

    assert (result.status, result.output) == ("ok", "pick -> much longer")
    assert [(s.step_id, s.function) for s in result.steps][-1] == ("turn_2_judge", "desk.longest")
    assert result.plan is not None and "judge desk.longest: pick -> much longer" in result.plan
    assert raised.value.problems == [
        f"{file}:4: resolve.judge: 'desk.nothing' is not a loaded function"
    ]
    assert asked == 2  # the first team's two turns only


async def test_a_resumed_team_that_ends_short_of_ok_is_no_longer_waiting(tmp_path: Path) -> None:
    team = PANEL.model_copy(update={"resolve": Resolution(human=True), "max_tokens": 10})
    model = ScriptedChatCompletion("local", default=by_agent(REVIEWS))
    config = write_host(tmp_path, agents=AGENTS + REVIEWERS)
    waiting = PausedRuns(tmp_path / "runs.sqlite3")
    async with AgentHost(config, models={"local": model}) as host:
        paused = await host.run_team(team, "Review the copy")
        assert [w.run_id for w in waiting.waiting()] == [paused.run_id]
        result = await host.resume(paused.run_id, "rev_a")

    assert (result.status, result.error) == ("budget_exceeded", "spent 60 tokens (max_tokens 10)")
    assert waiting.waiting() == []
