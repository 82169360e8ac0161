"""The main job end to end: date → weather → copy, on a hosted writer and on the embedded model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from semantic_kernel.connectors.ai.prompt_execution_settings import PromptExecutionSettings
from semantic_kernel.contents import ChatHistory

from host import AgentHost
from host.testing import ChatReply, OpenAICompatibleServer, Reply, ScriptedChatCompletion
from tests.conftest import ROOT

MAIN_JOB = "check yesterday's Shanghai temperature and write a promotion copy"


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_HOST_WEATHER_NETWORK", "false")
    monkeypatch.setenv("TEST_OPENAI_KEY", "sk-test")


def hosted_config(tmp_path: Path, base_url: str) -> Path:
    """config/examples/openai.yaml with the writer at ``base_url`` and a scripted cheap model."""
    text = (ROOT / "config" / "examples" / "openai.yaml").read_text()
    text = text.replace("provider: local", "provider: scripted", 1)
    text = text.replace("${OPENAI_BASE_URL:-https://api.openai.com/v1}", base_url)
    text = text.replace("api_key_env: OPENAI_API_KEY", "api_key_env: TEST_OPENAI_KEY")
    text = text.replace("../../", f"{ROOT}/")
    config = tmp_path / "host.yaml"
    config.write_text(text)
    return config


def _stating(history: ChatHistory, settings: PromptExecutionSettings) -> Reply:
    """Copy that states what the prompt's "Must mention:" line asks for."""
    facts = str(history.messages[-1].content).rsplit("Must mention: ", 1)[1]
    return Reply(f"{facts}: grab an iced tea!")


async def expected(config: Path, cheap: ScriptedChatCompletion) -> tuple[str, ChatReply]:
    """Yesterday's weather summary, and the clause planner's plan as the writer's planning reply."""
    async with AgentHost(config, models={"local": cheap}) as host:
        day = await host.invoke("weather.resolve_date", city="Shanghai", expression="yesterday")
        weather = await host.invoke("weather.daily_temperatures", city="Shanghai", date=day.output)
        plan = host.plan(MAIN_JOB).model_dump_json(by_alias=True, exclude_none=True)
    return str(json.loads(weather.output)["summary"]), ChatReply(plan)


async def test_the_writer_route_serves_the_copy_over_real_http(tmp_path: Path) -> None:
    cheap = ScriptedChatCompletion("local")  # no script: any call to it fails the test
    async with OpenAICompatibleServer(default=None) as server:
        config = hosted_config(tmp_path, server.base_url)
        summary, plan = await expected(config, cheap)
        server.enqueue(plan, ChatReply(f"{summary}! Iced tea is on.", usage=(120, 14)))
        async with AgentHost(config, models={"local": cheap}) as host:
            result = await host.run(MAIN_JOB)
    assert result.status == "ok", result.error
    assert [s.function for s in result.steps] == [
        "weather.resolve_date",
        "weather.daily_temperatures",
        "marketing.promo_copy",
    ]
    copy = result.steps[-1]
    assert result.output == f"{summary}! Iced tea is on." and not result.degraded
    assert (copy.model, copy.provider, copy.tokens_in, copy.tokens_out) == (
        "writer",
        "openai",
        120,
        14,
    )
    assert copy.cost == pytest.approx((120 * 0.00015 + 14 * 0.0006) / 1000)
    assert copy.route_reason is not None and "strongest capable: writer" in copy.route_reason
    assert copy.confidence == 1.0
    assert summary in server.requests[1]["messages"][-1]["content"]
    assert cheap.requests == []
    assert result.plan is not None and result.plan.startswith("planned by model;")
    (planning,) = result.planning
    assert (planning.model, planning.status) == ("writer", "ok")


async def test_a_writer_that_ignores_the_facts_is_downgraded(tmp_path: Path) -> None:
    cheap = ScriptedChatCompletion("local")
    async with OpenAICompatibleServer(default=None) as server:
        config = hosted_config(tmp_path, server.base_url)
        summary, plan = await expected(config, cheap)
        server.enqueue(plan, ChatReply("Buy iced tea!"), ChatReply("Iced tea, now!"))
        async with AgentHost(config, models={"local": cheap}) as host:
            result = await host.run(MAIN_JOB)
    assert result.status == "ok"
    assert result.output == f"{summary}. Come and enjoy it at our shop!"
    assert result.degraded
    assert "previous answer was rejected" in server.requests[2]["messages"][-1]["content"]


@pytest.mark.slow
async def test_the_main_job_on_the_embedded_model() -> None:
    async with AgentHost() as host:
        result = await host.run(MAIN_JOB)
    assert result.status == "ok", result.error
    date, weather, copy = result.steps
    observed = json.loads(weather.output)
    assert observed["date"] == date.output
    assert f"{observed['max_c']:.0f}°C" in result.output  # validated, or the template states it
    assert (copy.model, copy.provider) == ("local", "local")
    assert copy.tokens_out is not None and copy.tokens_out > 0
    assert copy.degraded == (copy.confidence is None)


async def test_setting_the_key_moves_the_copy_to_the_shipped_writer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cheap = ScriptedChatCompletion("local")
    async with OpenAICompatibleServer(default=None) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        async with AgentHost(models={"local": cheap}) as host:  # the shipped config/host.yaml
            day = await host.invoke("weather.resolve_date", city="Shanghai", expression="yesterday")
            weather = await host.invoke(
                "weather.daily_temperatures", city="Shanghai", date=day.output
            )
            summary = json.loads(weather.output)["summary"]
            server.enqueue(ChatReply(f"{summary}: iced tea time!"))
            result = await host.run(MAIN_JOB)
    assert result.status == "ok", result.error
    copy = result.steps[-1]
    assert (copy.model, copy.provider) == ("writer", "openai")
    assert result.output == f"{summary}: iced tea time!"
    assert cheap.requests == []


async def test_without_the_key_the_embedded_model_writes_and_the_reason_says_why() -> None:
    local = ScriptedChatCompletion("local", [_stating])
    async with AgentHost(models={"local": local}) as host:  # OPENAI_API_KEY is empty in tests
        result = await host.run(MAIN_JOB)
    assert result.status == "ok", result.error
    copy = result.steps[-1]
    assert copy.model == "local"
    assert copy.route_reason is not None
    assert "skipped writer: OPENAI_API_KEY not set" in copy.route_reason
