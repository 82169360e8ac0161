"""The README's examples run as written."""

from __future__ import annotations

import pytest

from host import AgentHost
from host.testing import Reply, ScriptedChatCompletion


async def test_promo_copy_states_the_temperature() -> None:
    model = ScriptedChatCompletion("local", [Reply("Iced tea for a 24°C day!")])
    async with AgentHost(models={"local": model}) as host:
        record = await host.invoke("marketing.promo_copy", input="iced tea", facts="24°C")
    assert "24°C" in record.output
    assert model.requests[0].messages[-1]["content"].count("24°C") == 1


async def test_python_api_example_runs_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_HOST_WEATHER_NETWORK", "false")
    model = ScriptedChatCompletion("local", [Reply("Cool iced tea!")])
    async with AgentHost(models={"local": model}) as host:
        day = await host.invoke("clock.yesterday", timezone="Asia/Shanghai")
        weather = await host.invoke("weather.daily_temperatures", city="Shanghai", date=day.output)
        result = await host.run("write a promotion copy for our iced tea")
    assert '"source":"offline sample (monthly normal)"' in weather.output
    assert result.status == "ok"
    assert result.steps[0].function == "marketing.promo_copy"
    assert result.output == "Cool iced tea!"
