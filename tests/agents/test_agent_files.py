"""Agents in files: each ``<name>.yaml`` of a configured directory is one agent."""

from __future__ import annotations

from pathlib import Path

import pytest

from host import AgentHost
from host.agents import Team
from host.errors import ConfigError
from host.testing import Reply, ScriptedChatCompletion
from tests.agents.team_kit import by_agent, write_host


def with_agent_files(tmp_path: Path, files: dict[str, str]) -> Path:
    directory = tmp_path / "agents"
    directory.mkdir()
    for name, text in files.items():
        (directory / name).write_text(text)
    config = write_host(tmp_path)
    config.write_text(config.read_text() + "agent_directories: [agents]\n")
    return config


async def test_an_agent_file_adds_an_agent_named_by_its_file(tmp_path: Path) -> None:
    config = with_agent_files(
        tmp_path, {"poet.yaml": "description: Rhymes.\ninstructions: Write a rhyme.\n"}
    )
    model = ScriptedChatCompletion("local", default=by_agent({"poet": Reply("moon, June")}))
    async with AgentHost(config, models={"local": model}) as host:
        result = await host.run_team(Team(name="t", kind="sequential", agents=("poet",)), "t")

    assert (result.status, result.output) == ("ok", "moon, June")
    assert "Write a rhyme." in str(model.requests[0].messages[-1]["content"])


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        (
            {"writer.yaml": "instructions: again\n"},
            "agent 'writer' is defined in the agents: section and in an agent file",
        ),
        (
            {"bad-name.yaml": "instructions: x\n"},
            "bad-name.yaml: an agent's name is letters, digits and _ (got 'bad-name')",
        ),
        (
            {"poet.yaml": "instructions: x\nmodel: gone\n"},
            "agent 'poet': model 'gone' is not in models",
        ),
        ({"poet.yaml": "instructions: x\nvoice: loud\n"}, "poet.yaml:2: voice: unknown key"),
        (
            {"poet.yaml": "runs: desk.add\ninstructions: x\nmodel: local\n"},
            "an agent that runs a function has no instructions, model",
        ),
        ({"poet.yaml": "instructions: x\narguments: {a: b}\n"}, "arguments are given only to"),
    ],
    ids=["twice", "bad name", "unknown model", "unknown key", "runs and a model", "arguments"],
)
async def test_a_bad_agent_file_is_a_config_error_naming_it(
    tmp_path: Path, files: dict[str, str], problem: str
) -> None:
    config = with_agent_files(tmp_path, files)
    with pytest.raises(ConfigError) as raised:
        AgentHost(config).start()
    assert any(problem in line for line in raised.value.problems), raised.value.problems
