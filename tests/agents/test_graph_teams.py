"""Graph teams: edges on signals and text, panels, rejected transitions, agents that run a
function, a fallback, and graphs refused at load."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from host import AgentHost
from host.agents import Team
from host.errors import TeamError
from host.testing import Reply, ScriptedChatCompletion
from tests.agents.team_kit import AGENTS, REVIEWERS, by_agent, write_host, write_team

REVIEW = {
    "name": "review",
    "kind": "graph",
    "agents": ["writer", "judge"],
    "max_rounds": 6,
    "signal_field": "verdict",
    "edges": [
        {"from": "writer", "to": "judge"},
        {"from": "judge", "to": "writer", "signal": "changes_requested"},
        {"from": "judge", "to": "end", "signal": "approved"},
    ],
}


def verdicts(*said: str) -> Iterator[Reply]:
    return iter(Reply(json.dumps({"verdict": verdict})) for verdict in said)


async def test_a_graph_follows_its_edges_on_each_signal_until_the_end(tmp_path: Path) -> None:
    judged = verdicts("changes_requested", "approved")
    drafts = iter(Reply(f"draft {n}") for n in (1, 2))
    model = ScriptedChatCompletion(
        "local",
        default=by_agent({"writer": lambda *_: next(drafts), "judge": lambda *_: next(judged)}),
    )
    async with AgentHost(write_host(tmp_path), models={"local": model}) as host:
        result = await host.run_team(Team.model_validate(REVIEW), "Sell lemons")

    assert result.status == "ok", result.error
    assert [s.step_id for s in result.steps] == [
        "turn_1_writer",
        "turn_2_judge",
        "turn_3_writer",
        "turn_4_judge",
    ]
    assert json.loads(result.output) == {"verdict": "approved"}
    # the second draft was written after the rejection, seeing it
    assert '"verdict": "changes_requested"' in str(model.requests[2].messages[-1]["content"])


async def test_a_signal_no_edge_takes_is_rejected_recorded_and_answered(tmp_path: Path) -> None:
    judged = verdicts("ship_it", "approved")
    model = ScriptedChatCompletion(
        "local", default=by_agent({"writer": Reply("draft"), "rev_a": lambda *_: next(judged)})
    )
    text = json.dumps(REVIEW).replace('"judge"', '"rev_a"')
    config = write_host(tmp_path, agents=AGENTS + REVIEWERS)
    async with AgentHost(config, models={"local": model}) as host:
        result = await host.run_team(Team.model_validate_json(text), "Sell lemons")

    assert result.status == "ok", result.error
    assert [s.step_id for s in result.steps] == ["turn_1_writer", "turn_2_rev_a", "turn_3_rev_a"]
    rejected = result.steps[1].events[-1]
    assert (rejected.kind, rejected.outcome) == ("rejected", "not_in_graph")
    assert rejected.error is not None and "rev_a gave signal 'ship_it'" in rejected.error
    assert "changes_requested → writer" in rejected.error
    retried = str(model.requests[2].messages[-1]["content"])
    assert "coordinator: Transition rejected: rev_a gave signal 'ship_it'" in retried


async def test_edges_on_text_and_an_otherwise_edge(tmp_path: Path) -> None:
    team = Team.model_validate(
        {
            "name": "routed",
            "kind": "graph",
            "agents": ["writer", "critic", "editor"],
            "edges": [
                {"from": "writer", "to": "editor", "contains": "URGENT"},
                {"from": "writer", "to": "critic"},
                {"from": "critic", "to": "end"},
                {"from": "editor", "to": "end"},
            ],
        }
    )
    model = ScriptedChatCompletion(
        "local",
        default=by_agent({"writer": Reply("plain"), "critic": Reply("ok"), "editor": Reply("e")}),
    )
    async with AgentHost(write_host(tmp_path), models={"local": model}) as host:
        plain = await host.run_team(team, "t")
        model_urgent = ScriptedChatCompletion(
            "local",
            default=by_agent(
                {"writer": Reply("URGENT"), "critic": Reply("c"), "editor": Reply("e")}
            ),
        )
    async with AgentHost(write_host(tmp_path), models={"local": model_urgent}) as host:
        urgent = await host.run_team(team, "t")

    assert [s.step_id for s in plain.steps] == ["turn_1_writer", "turn_2_critic"]
    assert [s.step_id for s in urgent.steps] == ["turn_1_writer", "turn_2_editor"]


async def test_a_graph_that_never_ends_is_capped_and_falls_back_degraded(tmp_path: Path) -> None:
    team = Team.model_validate(
        {**REVIEW, "max_rounds": 4, "fallback": {"template": "Lemons: {task}!"}}
    )
    model = ScriptedChatCompletion(
        "local",
        default=by_agent(
            {"writer": Reply("draft"), "judge": Reply('{"verdict": "changes_requested"}')}
        ),
    )
    async with AgentHost(write_host(tmp_path), models={"local": model}) as host:
        result = await host.run_team(team, "fresh today")

    assert (result.status, result.output, result.degraded) == ("ok", "Lemons: fresh today!", True)
    assert len(result.steps) == 5
    stand_in = result.steps[-1]
    assert (stand_in.step_id, stand_in.degraded) == ("fallback", True)
    assert stand_in.events[0].outcome == "alternative"
    assert stand_in.events[0].error == "reached max_rounds (4)"
    assert result.plan is not None and "fallback (reached max_rounds (4))" in result.plan


async def test_without_a_fallback_the_cap_ends_the_run_round_limit(tmp_path: Path) -> None:
    model = ScriptedChatCompletion(
        "local",
        default=by_agent(
            {"writer": Reply("draft"), "judge": Reply('{"verdict": "changes_requested"}')}
        ),
    )
    async with AgentHost(write_host(tmp_path), models={"local": model}) as host:
        result = await host.run_team(Team.model_validate(REVIEW), "t")

    assert (result.status, result.error, len(result.steps)) == (
        "round_limit",
        "reached max_rounds (6)",
        6,
    )
    assert not result.degraded


async def test_a_panel_answers_at_once_and_its_vote_picks_the_edge(tmp_path: Path) -> None:
    team = Team.model_validate(
        {
            "name": "paneled",
            "kind": "graph",
            "agents": ["writer"],
            "max_rounds": 4,
            "signal_field": "verdict",
            "panels": {
                "reviewers": {"agents": ["rev_a", "rev_b", "rev_c"], "resolve": {"vote": "verdict"}}
            },
            "edges": [
                {"from": "writer", "to": "reviewers"},
                {"from": "reviewers", "to": "writer", "signal": "no"},
                {"from": "reviewers", "to": "end", "signal": "yes"},
            ],
        }
    )
    rounds = iter(["no", "no", "yes", "yes", "yes", "no"])
    model = ScriptedChatCompletion(
        "local",
        default=by_agent(
            {
                "writer": Reply("draft"),
                **{
                    name: lambda *_: Reply(json.dumps({"verdict": next(rounds), "reason": "r"}))
                    for name in ("rev_a", "rev_b", "rev_c")
                },
            }
        ),
    )
    async with AgentHost(
        write_host(tmp_path, agents=AGENTS + REVIEWERS), models={"local": model}
    ) as host:
        result = await host.run_team(team, "t")

    assert result.status == "ok"
    ids = [s.step_id for s in result.steps]
    assert ids == [
        "turn_1_writer",
        "turn_2_rev_a",
        "turn_2_rev_b",
        "turn_2_rev_c",
        "turn_3_writer",
        "turn_4_rev_a",
        "turn_4_rev_b",
        "turn_4_rev_c",
    ]
    assert json.loads(result.output)["verdict"] == "yes"
    rewrite = str(model.requests[4].messages[-1]["content"])
    assert "coordinator: Decision: vote on verdict: no 2 of 3" in rewrite


async def test_a_vote_panel_whose_replies_agree_takes_their_edge_without_a_vote(
    tmp_path: Path,
) -> None:
    # Agreement used to be looked up as a vote's winning value: a RuntimeError
    # (StopIteration) out of run_team instead of the agreed edge.
    team = Team.model_validate(
        {
            "name": "agreed",
            "kind": "graph",
            "agents": ["writer"],
            "max_rounds": 4,
            "signal_field": "verdict",
            "panels": {"reviewers": {"agents": ["rev_a", "rev_b"], "resolve": {"vote": "verdict"}}},
            "edges": [
                {"from": "writer", "to": "reviewers"},
                {"from": "reviewers", "to": "writer", "signal": "no"},
                {"from": "reviewers", "to": "end", "signal": "yes"},
            ],
        }
    )
    yes = Reply(json.dumps({"verdict": "yes", "reason": "r"}))
    model = ScriptedChatCompletion(
        "local", default=by_agent({"writer": Reply("draft"), "rev_a": yes, "rev_b": yes})
    )
    async with AgentHost(
        write_host(tmp_path, agents=AGENTS + REVIEWERS), models={"local": model}
    ) as host:
        result = await host.run_team(team, "t")

    assert (result.status, json.loads(result.output)) == ("ok", {"verdict": "yes", "reason": "r"})
    assert [s.step_id for s in result.steps] == ["turn_1_writer", "turn_2_rev_a", "turn_2_rev_b"]
    assert result.plan is not None and result.plan.endswith("; reviewers agree: yes")


@pytest.mark.parametrize(
    "edges",
    [
        "  - {from: writer, to: end, signal: done}\n",
        "  - {from: writer, to: end, contains: DONE}\n",
        "  - {from: writer, to: end, signal: done}\n  - {from: writer, to: end}\n",
    ],
    ids=["only a signal", "only a text", "a signal and an otherwise edge"],
)
async def test_an_acyclic_graph_whose_node_can_be_rejected_needs_a_cap(
    tmp_path: Path, edges: str
) -> None:
    # A rejected transition makes the node speak again: without a cap, a model that never
    # gives a signal an edge takes looped forever (and starved the event loop).
    text = f"name: g\nkind: graph\nagents: [writer]\nedges:\n{edges}"
    model = ScriptedChatCompletion("local", [Reply('{"signal": "later"}')] * 3)
    async with AgentHost(write_host(tmp_path), models={"local": model}) as host:
        with pytest.raises(TeamError) as raised:
            await host.run_team(write_team(tmp_path, text), "t")
    assert raised.value.problems == [
        f"{tmp_path / 'team.yaml'}:2: kind: a graph whose node 'writer' speaks again on a "
        "rejected transition needs max_rounds or a budget (max_tokens, max_cost): without one "
        "it could run forever"
    ]
    assert model.requests == []


@pytest.mark.parametrize(
    ("team", "problem"),
    [
        (
            "agents: [writer, end]\nedges:\n  - {from: writer, to: end}\n",
            ":3: agents.1: 'end' is where edges end: rename the agent",
        ),
        (
            "agents: [writer]\nmax_rounds: 4\npanels:\n  p:\n    agents: [rev_a, rev_a]\n"
            "    resolve: {vote: verdict}\nedges:\n  - {from: writer, to: p}\n"
            "  - {from: p, to: end}\n",
            ":7: panels.p.agents.1: agent 'rev_a' is listed twice",
        ),
    ],
    ids=["an agent named end", "a panel listing an agent twice"],
)
async def test_a_graph_node_that_could_not_speak_as_written_is_refused(
    tmp_path: Path, team: str, problem: str
) -> None:
    # An agent named end never spoke (an edge to it ended the run); a panel agent listed
    # twice took two turns under one step id, one reply lost.
    agents = AGENTS + REVIEWERS + "  end:\n    instructions: Sum up.\n"
    path = write_team(tmp_path, f"name: g\nkind: graph\n{team}")
    async with AgentHost(write_host(tmp_path, agents=agents)) as host:
        with pytest.raises(TeamError) as raised:
            await host.run_team(path, "t")
    assert raised.value.problems == [f"{path}{problem}"]


TESTER = """
import json
from typing import Annotated
from semantic_kernel.functions import kernel_function

class Checks:
    plugin_name = "checks"

    @kernel_function(description="Check the code.")
    def check(self, code: Annotated[str, "the code"], task: Annotated[str, "the task"]) -> str:
        ok = "return" in code
        return json.dumps({"signal": "passed" if ok else "failed", "seen": [code, task]})
"""


async def test_an_agent_that_runs_a_function_is_given_the_latest_fields(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "checks.py").write_text(TESTER)
    agents = AGENTS + "  tester:\n    runs: checks.check\n"
    team = Team.model_validate(
        {
            "name": "tested",
            "kind": "graph",
            "agents": ["writer", "critic", "tester"],
            "max_rounds": 6,
            "edges": [
                {"from": "writer", "to": "critic"},
                {"from": "critic", "to": "tester"},
                {"from": "tester", "to": "writer", "signal": "failed"},
                {"from": "tester", "to": "end", "signal": "passed"},
            ],
        }
    )
    code = iter(['{"code": "pass"}', '{"code": "return 1"}'])
    model = ScriptedChatCompletion(
        "local", default=by_agent({"writer": lambda *_: Reply(next(code)), "critic": Reply("fine")})
    )
    host = AgentHost(
        write_host(tmp_path, agents=agents), models={"local": model}, plugin_dirs=[plugins]
    )
    async with host:
        result = await host.run_team(team, "add one")

    assert result.status == "ok"
    tested = [s for s in result.steps if s.step_id.endswith("_tester")]
    assert [(s.function, s.model) for s in tested] == [("checks.check", None)] * 2
    assert [json.loads(s.output)["seen"] for s in tested] == [
        ["pass", "add one"],
        ["return 1", "add one"],
    ]


@pytest.mark.parametrize(
    ("edges", "problem"),
    [
        (
            "  - {from: writer, to: critic}\n  - {from: critic, to: writer}\n",
            "edges: the cycle critic → writer has no edge out of it: it could never end",
        ),
        (
            "  - {from: writer, to: writer, signal: again}\n",
            "edges: 'critic' is never reached from 'writer'",
        ),
        (
            "  - {from: writer, to: critic}\n  - {from: writer, to: ghost}\n",
            "edges.1.to: 'ghost' is not a node of this graph (nor 'end')",
        ),
        (
            "  - {from: writer, to: critic}\n  - {from: writer, to: end}\n",
            "edges.1: 'writer' has two edges without a condition",
        ),
    ],
    ids=["cycle without exit", "unreached", "unknown node", "two otherwise edges"],
)
async def test_a_bad_graph_is_refused_at_load_naming_its_line(
    tmp_path: Path, edges: str, problem: str
) -> None:
    text = f"name: g\nkind: graph\nagents: [writer, critic]\nmax_rounds: 5\nedges:\n{edges}"
    path = write_team(tmp_path, text)
    async with AgentHost(write_host(tmp_path)) as host:
        with pytest.raises(TeamError) as raised:
            await host.run_team(path, "t")
    assert any(line.endswith(problem) for line in raised.value.problems), raised.value.problems


async def test_a_cyclic_graph_without_a_cap_or_budget_is_refused(tmp_path: Path) -> None:
    edges = (
        "  - {from: writer, to: critic}\n  - {from: critic, to: writer, signal: again}\n"
        "  - {from: critic, to: end, signal: done}\n"
    )
    text = f"name: g\nkind: graph\nagents: [writer, critic]\nedges:\n{edges}"
    async with AgentHost(write_host(tmp_path)) as host:
        with pytest.raises(TeamError) as raised:
            await host.run_team(write_team(tmp_path, text), "t")
    assert raised.value.problems == [
        f"{tmp_path / 'team.yaml'}:2: kind: a cyclic graph needs max_rounds or a budget "
        "(max_tokens, max_cost): without one it could run forever"
    ]


async def test_an_acyclic_graph_needs_no_cap(tmp_path: Path) -> None:
    text = (
        "name: g\nkind: graph\nagents: [writer, critic]\nedges:\n  - {from: writer, to: critic}\n"
    )
    model = ScriptedChatCompletion(
        "local", default=by_agent({"writer": Reply("w"), "critic": Reply("c")})
    )
    async with AgentHost(write_host(tmp_path), models={"local": model}) as host:
        result = await host.run_team(write_team(tmp_path, text), "t")
    assert (result.status, result.output) == ("ok", "c")


async def test_a_reply_that_looks_like_a_reference_is_data_for_a_function(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "checks.py").write_text(TESTER)
    agents = AGENTS + "  tester:\n    runs: checks.check\n"
    team = Team(name="t", kind="sequential", agents=("writer", "tester"))
    model = ScriptedChatCompletion("local", [Reply('{"code": {"$ref": "steps.x.output"}}')])
    host = AgentHost(
        write_host(tmp_path, agents=agents), models={"local": model}, plugin_dirs=[plugins]
    )
    async with host:
        result = await host.run_team(team, "add one")

    assert (result.status, result.error) == (
        "failed",
        "agent 'tester': checks.check: argument 'code': expected str, "
        "got {'$ref': 'steps.x.output'}",
    )
    assert [s.step_id for s in result.steps] == ["turn_1_writer"]
