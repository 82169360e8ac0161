"""Specification of the ``weather`` plugin against a loopback stand-in for Open-Meteo."""

import json
import logging
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from semantic_kernel import Kernel
from semantic_kernel.functions import KernelArguments

from host import AgentHost
from host.testing import assert_event, assert_step
from plugins.weather import NORMAL, OBSERVED, WeatherPlugin
from tests.conftest import ROOT

DAY = "2024-01-15"
SHANGHAI_JANUARY_NORMAL = {"max_c": 8.4, "min_c": 2.6, "mean_c": 5.5, "source": NORMAL}
"""The bundled sample's January normal for Shanghai."""


def daily(time: list[str], high: list[Any], low: list[Any], mean: list[Any]) -> dict[str, Any]:
    """An archive reply body with the given ``daily`` series."""
    return {
        "latitude": 31.2,
        "longitude": 121.5,
        "daily": {
            "time": time,
            "temperature_2m_max": high,
            "temperature_2m_min": low,
            "temperature_2m_mean": mean,
        },
    }


class FakeArchive:
    """Answers ``GET /v1/archive`` with ``status`` and ``body``; records each query."""

    def __init__(self) -> None:
        self.status = 200
        self.body: Any = daily([DAY], [9.7], [3.1], [6.2])
        self.queries: list[dict[str, str]] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.queries.append(dict(request.query))
        if isinstance(self.body, str):
            return web.Response(status=self.status, text=self.body)
        return web.json_response(self.body, status=self.status)


@pytest.fixture
async def archive() -> AsyncIterator[FakeArchive]:
    fake = FakeArchive()
    app = web.Application()
    app.router.add_get("/v1/archive", fake.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    fake.url = str(server.make_url("/v1/archive"))
    yield fake
    await server.close()


@pytest.fixture
def weather(archive: FakeArchive) -> WeatherPlugin:
    return WeatherPlugin(endpoint=archive.url)


async def temperatures(plugin: WeatherPlugin, city: str, day: str = DAY) -> dict[str, Any]:
    """The reading without its ``summary``, after checking the summary quotes it."""
    reading: dict[str, Any] = json.loads(await plugin.daily_temperatures(city, day))
    summary = reading.pop("summary")
    assert summary == f"{reading['city']} {reading['max_c']:.0f}°C on {reading['date']}"
    return reading


async def test_observed_temperatures_come_from_the_archive(weather: WeatherPlugin) -> None:
    assert await temperatures(weather, "Shanghai") == {
        "city": "Shanghai",
        "date": DAY,
        "max_c": 9.7,
        "min_c": 3.1,
        "mean_c": 6.2,
        "source": OBSERVED,
    }


async def test_the_query_names_the_position_day_series_and_time_zone(
    weather: WeatherPlugin, archive: FakeArchive
) -> None:
    await weather.daily_temperatures("Shanghai", DAY)

    assert archive.queries == [
        {
            "latitude": "31.2304",
            "longitude": "121.4737",
            "start_date": DAY,
            "end_date": DAY,
            "daily": "temperature_2m_max,temperature_2m_min,temperature_2m_mean",
            "timezone": "Asia/Shanghai",
        }
    ]


async def test_a_missing_mean_is_the_midpoint_of_max_and_min(
    weather: WeatherPlugin, archive: FakeArchive
) -> None:
    archive.body = daily([DAY], [9.7], [3.1], [None])

    reading = await temperatures(weather, "Shanghai")

    assert (reading["mean_c"], reading["source"]) == (6.4, OBSERVED)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        pytest.param(500, "Internal Server Error", id="server error"),
        pytest.param(400, {"error": True, "reason": "start_date out of range"}, id="bad request"),
        pytest.param(200, "<html>maintenance</html>", id="not json"),
        pytest.param(200, {"hourly": {}}, id="no daily series"),
        pytest.param(200, daily([DAY], [None], [None], [None]), id="null values"),
        pytest.param(200, daily([DAY], [9.7], [None], [None]), id="null minimum"),
        pytest.param(200, daily(["2024-01-14"], [9.7], [3.1], [6.2]), id="other day"),
        pytest.param(200, daily([DAY], [], [], []), id="short series"),
    ],
)
async def test_an_unusable_reply_falls_back_to_the_monthly_normal(
    weather: WeatherPlugin, archive: FakeArchive, status: int, body: Any
) -> None:
    archive.status, archive.body = status, body

    reading = await temperatures(weather, "Shanghai")

    assert reading == {"city": "Shanghai", "date": DAY, **SHANGHAI_JANUARY_NORMAL}
    assert len(archive.queries) == 1


async def test_a_refused_connection_falls_back_to_the_monthly_normal(closed_port: int) -> None:
    plugin = WeatherPlugin(endpoint=f"http://127.0.0.1:{closed_port}/v1/archive")

    assert await temperatures(plugin, "Shanghai") == {
        "city": "Shanghai",
        "date": DAY,
        **SHANGHAI_JANUARY_NORMAL,
    }


async def test_an_unreachable_archive_is_warned_about_once_per_process(
    tmp_path: Path, closed_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Two hosts in one process, one call each: one WARNING, then INFO."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    shutil.copy(ROOT / "plugins" / "weather.py", plugins)  # a plugin file no host loaded yet
    config = tmp_path / "host.yaml"
    config.write_text(
        "models:\n  m:\n    provider: scripted\n    model: s\n"
        f"tools:\n  weather:\n    endpoint: http://127.0.0.1:{closed_port}/v1/archive\n"
        f"    settings: {{offline_data: {ROOT / 'plugins' / 'data' / 'weather_sample.json'}}}\n"
        "plugins:\n  directories: [plugins]\n"
    )
    caplog.set_level(logging.INFO)
    for day in ("2026-11-20", "2026-11-21"):
        async with AgentHost(config) as host:
            record = await host.invoke("weather.daily_temperatures", city="Shanghai", date=day)
        assert json.loads(record.output)["source"] == NORMAL
    weather_records = [r for r in caplog.records if r.name.endswith("_weather")]
    assert [r.levelno for r in weather_records] == [logging.WARNING, logging.INFO]


OFFLINE_HOST = {
    "models": {"m": {"provider": "scripted", "model": "m"}},
    "tools": {"weather": {"cache_ttl": 300, "settings": {"use_network": False}}},
}
"""A host whose weather plugin is told to stay offline and whose readings are cached."""


@pytest.mark.agent_host(config=OFFLINE_HOST, plugins_dir="plugins")
async def test_through_the_host_the_settings_reach_the_plugin_and_a_repeat_is_cached(
    agent_host: AgentHost,
) -> None:
    """Kills: ``tools.weather.settings`` not given to the constructor (the plugin would
    ask the real archive, which the network guard fails the test for), a reading that
    is not cacheable."""
    first = await agent_host.invoke("weather.daily_temperatures", city="上海", date=DAY)
    again = await agent_host.invoke("weather.daily_temperatures", city="上海", date=DAY)

    assert json.loads(first.output)["source"] == NORMAL
    assert_step(again, "weather.daily_temperatures", cache_hit=True, output=first.output)
    assert_event(again, "cache_hit", count=1)


async def test_without_network_the_archive_is_not_asked(archive: FakeArchive) -> None:
    plugin = WeatherPlugin(endpoint=archive.url, use_network=False)

    reading = await temperatures(plugin, "Shanghai")

    assert reading["source"] == NORMAL
    assert archive.queries == []


@pytest.mark.parametrize(
    ("name", "city", "timezone"),
    [
        ("上海", "Shanghai", "Asia/Shanghai"),
        ("  shanghai ", "Shanghai", "Asia/Shanghai"),
        ("香港", "Hong Kong", "Asia/Hong_Kong"),
        ("NYC", "New York", "America/New_York"),
        ("san  francisco", "San Francisco", "America/Los_Angeles"),
    ],
)
async def test_cities_are_found_by_name_or_alias_ignoring_case_and_spacing(
    weather: WeatherPlugin, archive: FakeArchive, name: str, city: str, timezone: str
) -> None:
    reading = await temperatures(weather, name)

    assert reading["city"] == city
    assert archive.queries[0]["timezone"] == timezone


async def test_an_unknown_city_is_rejected_with_the_known_ones(
    weather: WeatherPlugin, archive: FakeArchive
) -> None:
    with pytest.raises(
        ValueError, match=r"city 'Atlantis' is not known \(expected one of: Shanghai"
    ):
        await weather.daily_temperatures("Atlantis", DAY)
    assert archive.queries == []


@pytest.mark.parametrize("day", ["2024/01/15", "15-01-2024", "yesterday", "2024-02-30", ""])
async def test_a_date_that_is_not_iso_is_rejected(
    weather: WeatherPlugin, archive: FakeArchive, day: str
) -> None:
    with pytest.raises(ValueError, match=r"date .* expected an ISO date YYYY-MM-DD"):
        await weather.daily_temperatures("Shanghai", day)
    assert archive.queries == []


def test_known_cities_lists_the_bundled_table() -> None:
    cities = json.loads(WeatherPlugin(use_network=False).known_cities())

    assert [city["name"] for city in cities] == [
        "Shanghai",
        "Beijing",
        "Guangzhou",
        "Shenzhen",
        "Hong Kong",
        "Tokyo",
        "Singapore",
        "London",
        "Paris",
        "New York",
        "San Francisco",
        "Sydney",
    ]
    assert "上海" in cities[0]["aliases"]


@pytest.mark.parametrize(
    ("city", "yesterday"),
    [("Shanghai", "2026-11-24"), ("上海", "2026-11-24"), ("New York", "2026-11-23")],
)
def test_resolve_date_counts_days_in_the_city_s_time_zone(city: str, yesterday: str) -> None:
    """At 2026-11-24T20:00Z it is already the 25th in Shanghai, still the 24th in New York."""
    plugin = WeatherPlugin(use_network=False, now=lambda: datetime(2026, 11, 24, 20, tzinfo=UTC))

    assert plugin.resolve_date(city, "yesterday") == yesterday


def test_resolve_date_rejects_an_unknown_city() -> None:
    with pytest.raises(ValueError, match="city 'Atlantis' is not known"):
        WeatherPlugin(use_network=False).resolve_date("Atlantis", "yesterday")


def table_text(**changes: Any) -> str:
    """An offline data file with one city, Reykjavik, with ``changes`` applied."""
    city = {
        "name": "Reykjavik",
        "latitude": 64.15,
        "longitude": -21.94,
        "timezone": "Atlantic/Reykjavik",
        "max_c": [2.0] * 12,
        "min_c": [-3.0] * 12,
    } | changes
    city["normals"] = {"max_c": city.pop("max_c"), "min_c": city.pop("min_c")}
    return json.dumps({"cities": [city]})


def test_an_offline_data_file_can_replace_the_bundled_one(tmp_path: Path) -> None:
    table = tmp_path / "cities.json"
    table.write_text(table_text(), encoding="utf-8")

    plugin = WeatherPlugin(offline_data=str(table), use_network=False)

    assert [city["name"] for city in json.loads(plugin.known_cities())] == ["Reykjavik"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        pytest.param(None, "cannot be read", id="missing file"),
        pytest.param("{not json", "is not a valid city table", id="not json"),
        pytest.param('{"cities": []}', "is not a valid city table", id="no cities"),
        pytest.param(table_text(max_c=[1.0]), "is not a valid city table", id="one month"),
        pytest.param(table_text(min_c=[5.0] * 12), "is not a valid city table", id="min above max"),
        pytest.param(
            table_text(timezone="Nowhere/Land"), "is not a valid city table", id="bad zone"
        ),
        pytest.param(table_text(latitude=91.0), "is not a valid city table", id="bad latitude"),
    ],
)
def test_a_bad_offline_data_file_is_rejected_naming_the_file(
    tmp_path: Path, content: str | None, problem: str
) -> None:
    table = tmp_path / "cities.json"
    if content is not None:
        table.write_text(content, encoding="utf-8")

    with pytest.raises(ValueError, match=f"offline_data '.*cities.json' {problem}"):
        WeatherPlugin(offline_data=str(table))


@pytest.mark.parametrize("timeout", [0, -1.5])
def test_the_timeout_must_be_positive(timeout: float) -> None:
    with pytest.raises(ValueError, match="timeout must be a positive number of seconds"):
        WeatherPlugin(timeout=timeout)


async def test_the_kernel_sees_the_parameters_and_invokes_with_them(
    weather: WeatherPlugin, archive: FakeArchive
) -> None:
    kernel = Kernel()
    kernel.add_plugin(weather, WeatherPlugin.plugin_name)
    function = kernel.get_function("weather", "daily_temperatures")

    result = await kernel.invoke(
        plugin_name="weather",
        function_name="daily_temperatures",
        arguments=KernelArguments(city="上海", date=DAY),
    )

    assert result is not None and json.loads(result.value)["max_c"] == 9.7
    assert function.description and "°C" in function.description
    assert [(p.name, p.type_, p.is_required) for p in function.metadata.parameters] == [
        ("city", "str", True),
        ("date", "str", True),
    ]
    assert all(p.description for p in function.metadata.parameters)
