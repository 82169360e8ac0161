"""``planning.planner: module:callable``: the host imports a planner by name, never by import."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from host import AgentHost, ConfigError
from host.testing import Reply, ScriptedChatCompletion
from tests.conftest import ROOT

ASKING = "tests.planners.asking_planner:plan_by_asking"
PLAN = {
    "steps": [
        {
            "id": "day",
            "function": "clock.resolve_date",
            "capability": "fetch",
            "arguments": {"expression": "yesterday"},
        }
    ]
}


def write_config(tmp_path: Path, planner: str) -> Path:
    config = tmp_path / "host.yaml"
    config.write_text(
        "models:\n  local:\n    provider: scripted\n    model: s\n"
        f"plugins:\n  directories: [{ROOT / 'plugins'}]\n"
        f"planning:\n  planner: {planner}\n"
    )
    return config


async def test_a_planner_named_module_callable_plans_with_the_planning_model(
    tmp_path: Path,
) -> None:
    model = ScriptedChatCompletion("local", [Reply(json.dumps(PLAN))])
    async with AgentHost(write_config(tmp_path, ASKING), models={"local": model}) as host:
        outcome = await host.plan_for("when was yesterday?")
    assert (outcome.source, outcome.rounds) == ("asked", 1)
    assert outcome.plan.model_dump(mode="json", exclude_defaults=True) == PLAN
    assert model.requests[0].messages[-1]["content"] == "when was yesterday?"
    [record] = outcome.records
    assert (record.function, record.model, record.status) == ("agent_host.plan", "local", "ok")


@pytest.mark.parametrize(
    ("planner", "problem"),
    [
        ("tests.planners.no_such_planner:plan", "No module named 'tests.planners.no_such_planner'"),
        ("tests.planners.asking_planner:plan_by_guessing", "has no attribute 'plan_by_guessing'"),
        ("host.planning:CLAUSE_PLAN", "'host.planning:CLAUSE_PLAN' is not callable"),
    ],
    ids=["no module", "no attribute", "not callable"],
)
def test_a_planner_that_cannot_be_loaded_is_a_config_error_at_its_key(
    tmp_path: Path, planner: str, problem: str
) -> None:
    config = write_config(tmp_path, planner)
    line = config.read_text().splitlines().index(f"  planner: {planner}") + 1
    with pytest.raises(ConfigError) as raised:
        AgentHost(config).start()
    message = str(raised.value)
    assert message.startswith(f"{config}:{line}: planning.planner: ")
    assert problem in message
