"""A bad team or agent is refused before anything runs, every problem at once, at file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from host import AgentHost
from host.agents import Agent, Team
from host.errors import ConfigError, TeamError
from host.testing import ScriptedChatCompletion
from tests.agents.team_kit import AGENTS, REVIEWERS, write_host, write_team


async def rejected(tmp_path: Path, text: str, *, agents: str = AGENTS) -> list[str]:
    """The problems running the team file ``text`` is refused with (no model is called)."""
    file = write_team(tmp_path, text)
    model = ScriptedChatCompletion("local")
    async with AgentHost(write_host(tmp_path, agents=agents), models={"local": model}) as host:
        with pytest.raises(TeamError) as caught:
            await host.run_team(file, "task")
    assert model.requests == []
    return caught.value.problems


async def test_every_problem_is_listed_at_its_line(tmp_path: Path) -> None:
    problems = await rejected(
        tmp_path,
        "name: t\n"
        "kind: group_chat\n"
        "agents: [writer, ghost, writer]\n"
        "speaker: rules\n"
        "rules:\n"
        "  - {when: x, next: editor}\n",
    )
    file = tmp_path / "team.yaml"
    assert problems == [
        f"{file}:3: agents.1: unknown agent 'ghost' (agents: critic, editor, judge, writer)",
        f"{file}:3: agents.2: agent 'writer' is listed twice",
        f"{file}:6: rules.0.next: 'editor' is not in this team (agents: writer, ghost, writer)",
        f"{file}:2: kind: a group_chat needs max_rounds or a budget (max_tokens, max_cost): "
        "without one it could run forever",
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("max_round: 3\n", ":4: max_round: unknown key"),
        ("max_rounds: three\n", ":4: max_rounds: Input should be a valid integer"),
        ("stall_after: 1\n", ":4: stall_after: Input should be greater than or equal to 2"),
        ("speaker: rules\n", ":4: speaker: speaker rules needs a list of rules"),
        (
            "rules: [{when: x, next: critic}]\n",
            ":4: rules: rules are used only with speaker: rules",
        ),
    ],
    ids=["unknown key", "bad type", "stall of one", "rules missing", "rules unused"],
)
async def test_a_group_chat_key_problem_names_its_line(
    tmp_path: Path, text: str, problem: str
) -> None:
    head = "name: t\nkind: group_chat\nagents: [writer, critic]\n"
    problems = await rejected(tmp_path, head + text + "max_tokens: 100\n")
    assert len(problems) == 1 and problem in problems[0]


@pytest.mark.parametrize(
    ("key", "kinds"),
    [
        ("speaker: round_robin", "group_chat"),
        ("max_rounds: 2", "group_chat, handoff or graph"),
        ("rules: []", "group_chat"),
        ("edges: []", "graph"),
        ("max_handoffs: 2", "handoff"),
    ],
)
async def test_a_sequential_team_refuses_other_kinds_keys(
    tmp_path: Path, key: str, kinds: str
) -> None:
    problems = await rejected(tmp_path, f"name: t\nkind: sequential\nagents: [writer]\n{key}\n")
    assert problems == [
        f"{tmp_path / 'team.yaml'}:4: {key.split(':')[0]}: "
        f"only a {kinds} team has it (sequential: each agent once)"
    ]


async def test_a_team_in_python_is_checked_too(tmp_path: Path) -> None:
    team = Team(name="t", kind="group_chat", agents=("writer", "nobody"), max_rounds=3)
    async with AgentHost(write_host(tmp_path)) as host:
        with pytest.raises(TeamError, match=r"team 't': agents.1: unknown agent 'nobody'"):
            await host.run_team(team, "task")


@pytest.mark.parametrize(
    ("agent", "problem"),
    [
        (
            "    functions: [weather]\n",
            "agents.a.functions: 'weather' is not plugin.function or plugin.*",
        ),
        (
            "    model: local\n    capability: write\n",
            "agents.a: give capability or model, not both",
        ),
        ("    model: gone\n", "agents.a.model: 'gone' is not in models"),
        ("    output_schema: {type: 7}\n", "agents.a.output_schema: not a valid JSON Schema at"),
        ("    max_tokens: 0\n", "agents.a.max_tokens: Input should be greater than 0"),
    ],
    ids=["functions", "capability and model", "unknown model", "bad schema", "no tokens"],
)
def test_a_bad_agent_is_a_config_error_at_its_line(
    tmp_path: Path, agent: str, problem: str
) -> None:
    config = write_host(tmp_path, agents=f"agents:\n  a:\n    instructions: Do it.\n{agent}")
    with pytest.raises(ConfigError) as caught:
        AgentHost(config).start()
    (line,) = caught.value.problems
    assert line.startswith(f"{config}:") and problem in line


def test_an_agent_in_python_pinned_to_an_unknown_model_is_a_config_error(tmp_path: Path) -> None:
    agent = Agent(name="poet", instructions="Rhyme.", model="nope")
    with pytest.raises(ConfigError, match=r"agent 'poet': model 'nope' is not in models"):
        AgentHost(write_host(tmp_path), agents=[agent]).start()


def no_vote(agent: str, field: str) -> str:
    return (
        f":4: resolve.vote: agent {agent!r} has no output_schema of type object requiring {field!r}"
    )


AT_ONCE = "team has it (concurrent: each agent once, at once)"
STRATEGY = (
    ":4: resolve: give one of vote (a field), judge (an agent), coordinator (a capability) "
    "or human: true"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "resolve: {judge: ghost}\n",
            [
                ":4: resolve.judge: unknown agent 'ghost' "
                "(agents: critic, editor, judge, rev_a, rev_b, rev_c, writer)"
            ],
        ),
        ("resolve: {judge: rev_a}\n", [":4: resolve.judge: judge 'rev_a' is one of the team"]),
        ("resolve: {vote: verdict}\n", [no_vote("writer", "verdict")]),
        ("resolve: {vote: reason}\n", [no_vote("rev_a", "reason"), no_vote("writer", "reason")]),
        ("resolve: {}\n", [STRATEGY]),
        ("resolve: {vote: verdict, judge: judge}\n", [STRATEGY, no_vote("writer", "verdict")]),
        ("resolve: {coordinator: review, human: true}\n", [STRATEGY]),
        ("resolve: {poll: verdict}\n", [":4: resolve.poll: unknown key"]),
    ]
    + [
        (f"{key}\n", [f":4: {key.split(':')[0]}: only a {kinds} {AT_ONCE}"])
        for key, kinds in (
            ("speaker: round_robin", "group_chat"),
            ("rules: []", "group_chat"),
            ("max_rounds: 2", "group_chat, handoff or graph"),
            ("done_when: x", "sequential, group_chat, handoff or graph"),
            ("stall_after: 2", "sequential, group_chat, handoff or graph"),
        )
    ],
    ids=[
        "unknown judge",
        "judge in the team",
        "vote field not in a schema",
        "vote field not required",
        "no strategy",
        "two strategies",
        "coordinator and human",
        "unknown strategy",
        "speaker",
        "rules",
        "max_rounds",
        "done_when",
        "stall_after",
    ],
)
async def test_a_concurrent_team_problem_names_its_line(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    head = "name: t\nkind: concurrent\nagents: [rev_a, writer]\n"
    problems = await rejected(tmp_path, head + text, agents=AGENTS + REVIEWERS)
    file = tmp_path / "team.yaml"
    assert problems == [f"{file}{suffix}" for suffix in expected]


@pytest.mark.parametrize(
    ("head", "line", "why"),
    [
        ("kind: sequential\n", 4, " (sequential: each agent once)"),
        ("kind: group_chat\nmax_rounds: 2\n", 5, ""),
    ],
    ids=["sequential", "group_chat"],
)
async def test_resolve_is_refused_on_a_team_that_is_not_concurrent(
    tmp_path: Path, head: str, line: int, why: str
) -> None:
    text = f"name: t\n{head}agents: [writer]\nresolve: {{judge: judge}}\n"
    problems = await rejected(tmp_path, text)
    assert problems == [
        f"{tmp_path / 'team.yaml'}:{line}: resolve: only a concurrent team has it{why}"
    ]
