"""The deterministic clause planner, and run() executing its plans."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from semantic_kernel.connectors.ai.prompt_execution_settings import PromptExecutionSettings
from semantic_kernel.contents import ChatHistory

from host import AgentHost
from host.errors import CannotPlanError
from host.testing import Reply, ScriptedChatCompletion
from tests.conftest import ROOT

MAIN_JOB = "check yesterday's Shanghai temperature and write a promotion copy"


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_HOST_WEATHER_NETWORK", "false")
    monkeypatch.chdir(ROOT)


def dumped(host: AgentHost, request: str) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = host.plan(request).model_dump(mode="json", by_alias=True)["steps"]
    return steps


@pytest.mark.usefixtures("offline")
def test_the_main_job_plans_date_weather_and_copy() -> None:
    steps = dumped(AgentHost(), MAIN_JOB)
    assert [(s["function"], s["capability"]) for s in steps] == [
        ("weather.resolve_date", "fetch"),
        ("weather.daily_temperatures", "fetch"),
        ("marketing.promo_copy", "write"),
    ]
    date, weather, copy = steps
    assert date["arguments"] == {"city": "Shanghai", "expression": "yesterday"}
    assert weather["arguments"] == {
        "city": "Shanghai",
        "date": {"$ref": f"steps.{date['id']}.output"},
    }
    assert copy["arguments"] == {
        "input": "write a promotion copy",
        "facts": {"$ref": f"steps.{weather['id']}.output.summary"},
    }


@pytest.mark.parametrize(
    ("request_text", "fragment"),
    [
        ("frobnicate the zorblax", "no loaded function matches it"),
        ("check the temperature", "needs 'city'"),
        ("", "empty request"),
    ],
    ids=["nothing matches", "missing argument", "empty"],
)
@pytest.mark.usefixtures("offline")
def test_what_cannot_be_planned_says_what_is_missing(request_text: str, fragment: str) -> None:
    with pytest.raises(CannotPlanError, match=fragment):
        AgentHost().plan(request_text)


@pytest.mark.parametrize(
    ("request_text", "city"),
    [
        ("check yesterday's Zürich temperature", "Zürich"),
        ("check the São Paulo temperature for 2026-06-21", "São Paulo"),
        ("check the New York temperature for 2026-06-21", "New York"),
    ],
    ids=["accented", "accented-two-words", "two-words"],
)
@pytest.mark.usefixtures("offline")
def test_a_capitalised_name_in_any_alphabet_fills_the_city(request_text: str, city: str) -> None:
    """Bug: names were ``[A-Z][a-zA-Z]+``, so Zürich was no name at all (the city was
    "not said") and São Paulo was planned as Paulo."""
    steps = dumped(AgentHost(), request_text)
    assert {s["arguments"]["city"] for s in steps} == {city}


def _stating_the_facts(history: ChatHistory, settings: PromptExecutionSettings) -> Reply:
    """Copy that states what the prompt's "Must mention:" line asks for."""
    facts = str(history.messages[-1].content).rsplit("Must mention: ", 1)[1]
    return Reply(f"{facts}: grab an iced tea!")


FIXED_WEATHER = """\
from datetime import UTC, datetime

from plugins.weather import WeatherPlugin


class FixedWeather(WeatherPlugin):
    \"\"\"The shipped weather plugin at 2026-11-24T20:00Z, already 2026-11-25 in Shanghai.\"\"\"

    def __init__(self, **settings: object) -> None:
        super().__init__(now=lambda: datetime(2026, 11, 24, 20, tzinfo=UTC), **settings)
"""


async def test_yesterday_in_the_main_job_is_counted_in_shanghai(tmp_path: Path) -> None:
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "weather.py").write_text(FIXED_WEATHER)
    config = tmp_path / "host.yaml"
    config.write_text(
        "models:\n  local:\n    provider: scripted\n    model: s\n"
        "tools:\n  weather:\n    settings: {use_network: false}\n"
        "plugins:\n  directories: [plugins]\n  modules: [plugins.clock]\n"
        f"prompts:\n  directories: [{ROOT / 'prompts'}]\n"
    )
    model = ScriptedChatCompletion("local", [_stating_the_facts])
    async with AgentHost(config, models={"local": model}) as host:
        result = await host.run(MAIN_JOB)
    assert result.status == "ok", result.error
    date, weather, _ = result.steps
    assert date.output == "2026-11-24"  # UTC's yesterday would be 2026-11-23
    assert json.loads(weather.output)["summary"] == "Shanghai 18°C on 2026-11-24"


@pytest.mark.usefixtures("offline")
async def test_run_states_the_observed_temperature_from_the_weather_step() -> None:
    model = ScriptedChatCompletion("local", [_stating_the_facts])
    async with AgentHost(models={"local": model}) as host:
        result = await host.run(MAIN_JOB)
    assert result.status == "ok", result.error
    date, weather, copy = result.steps
    summary = json.loads(weather.output)["summary"]
    assert summary == f"Shanghai {json.loads(weather.output)['max_c']:.0f}°C on {date.output}"
    assert copy.arguments["facts"] == summary
    assert summary in model.requests[0].messages[-1]["content"]
    assert result.output == f"{summary}: grab an iced tea!"
    assert copy.confidence == 1.0 and not result.degraded
    assert copy.route_reason is not None and copy.route_reason.startswith("write →")


@pytest.mark.usefixtures("offline")
async def test_copy_without_the_temperature_is_retried_then_downgraded_to_the_template() -> None:
    model = ScriptedChatCompletion("local", [Reply("Shanghai is warm!"), Reply("So warm!")])
    async with AgentHost(models={"local": model}) as host:
        result = await host.run(MAIN_JOB)
    assert result.status == "ok", result.error
    summary = json.loads(result.steps[1].output)["summary"]
    assert result.output == f"{summary}. Come and enjoy it at our shop!"
    assert result.degraded and result.steps[-1].degraded
    assert (
        "The previous answer was rejected: output does not state"
        in (model.requests[1].messages[-1]["content"])
    )


def test_plan_cli_prints_the_steps(tmp_path: Path) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "host", "plan", MAIN_JOB, "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["source"] == "clauses"
    steps = shown["plan"]["steps"]
    assert [s["function"] for s in steps][-1] == "marketing.promo_copy"
