"""An agent's output_schema: the request carries it, and a reply that does not fit fails."""

from __future__ import annotations

from pathlib import Path

from host import AgentHost
from host.agents import Team
from host.testing import Reply, ScriptedChatCompletion
from tests.agents.team_kit import write_host

VERDICT = {
    "type": "object",
    "properties": {"verdict": {"type": "string", "enum": ["approved", "changes_requested"]}},
    "required": ["verdict"],
}
TEAM = Team(name="verdict", kind="sequential", agents=("writer", "judge"))


async def test_the_request_carries_the_schema_and_the_agents_max_tokens(tmp_path: Path) -> None:
    model = ScriptedChatCompletion("local", [Reply("draft"), Reply('{"verdict": "approved"}')])
    async with AgentHost(write_host(tmp_path), models={"local": model}) as host:
        result = await host.run_team(TEAM, "task")

    assert result.status == "ok"
    assert result.output == '{"verdict": "approved"}'
    settings = model.requests[1].settings
    assert settings["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "judge", "schema": VERDICT},
    }
    assert settings["max_tokens"] == 50
    assert "response_format" not in model.requests[0].settings


async def test_a_reply_that_is_not_json_fails_the_turn_and_the_run(tmp_path: Path) -> None:
    model = ScriptedChatCompletion("local", [Reply("draft"), Reply("Looks good to me")])
    async with AgentHost(write_host(tmp_path), models={"local": model}) as host:
        result = await host.run_team(TEAM, "task")

    assert result.status == "failed"
    assert result.output is None
    judged = result.steps[1]
    assert (judged.status, judged.error_type, judged.output) == (
        "failed",
        "ValidationFailedError",
        "Looks good to me",
    )
    assert result.error == (
        "agent 'judge': step 'turn_2_judge' failed validation: "
        "output is not JSON (Expecting value at position 0)"
    )


async def test_json_outside_the_schema_fails_naming_the_field(tmp_path: Path) -> None:
    model = ScriptedChatCompletion("local", [Reply("draft"), Reply('{"verdict": "maybe"}')])
    async with AgentHost(write_host(tmp_path), models={"local": model}) as host:
        result = await host.run_team(TEAM, "task")

    assert result.status == "failed"
    assert result.error is not None and "output['verdict']: 'maybe' is not one of" in result.error
