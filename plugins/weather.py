"""Observed daily temperatures from the Open-Meteo archive, with an offline fallback.

Cities are geocoded from a bundled table (``data/weather_sample.json``) that
also holds monthly climate normals. When the archive cannot answer — no
network, an HTTP error, a timeout, a malformed reply, or no values yet for a
very recent day — the plugin answers with the normal for that month and says
so in ``source``, so a plan never stops for want of a weather service. The
first failure per process is a WARNING; later ones are INFO, since offline
every call fails the same way.

The table also gives each city's time zone, so ``resolve_date`` counts
"yesterday" by the city's own calendar rather than UTC's.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, ClassVar, Self

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from semantic_kernel.functions import kernel_function

from host.errors import describe_error
from plugins.clock import ClockPlugin, parse_iso_date, zone

logger = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://archive-api.open-meteo.com/v1/archive"
DEFAULT_OFFLINE_DATA = Path(__file__).with_name("data") / "weather_sample.json"
OBSERVED = "open-meteo"
NORMAL = "offline sample (monthly normal)"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MonthlyNormals(_Frozen):
    """Mean daily maximum and minimum temperature (°C), January to December."""

    max_c: list[float] = Field(min_length=12, max_length=12)
    min_c: list[float] = Field(min_length=12, max_length=12)

    @model_validator(mode="after")
    def _max_not_below_min(self) -> Self:
        if any(high < low for high, low in zip(self.max_c, self.min_c, strict=True)):
            raise ValueError("each month's max_c must be at least its min_c")
        return self


class City(_Frozen):
    """One row of the city table: names, position, local time zone, normals."""

    name: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    timezone: str
    normals: MonthlyNormals

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone(value)
        return value


class CityTable(_Frozen):
    """The bundled offline data file."""

    about: str = ""
    cities: list[City] = Field(min_length=1)


def load_city_table(path: Path) -> CityTable:
    """Read and validate a city table; a ValueError names the file and the problem."""
    try:
        return CityTable.model_validate_json(path.read_bytes())
    except OSError as error:
        raise ValueError(f"offline_data {str(path)!r} cannot be read: {error.strerror}") from None
    except ValidationError as error:
        raise ValueError(f"offline_data {str(path)!r} is not a valid city table: {error}") from None


@dataclass(frozen=True)
class DailyTemperatures:
    """One day's temperatures (°C) for a city, and where they came from."""

    city: str
    date: str
    max_c: float
    min_c: float
    mean_c: float
    source: str

    @property
    def summary(self) -> str:
        """One line a writing step can quote, whole degrees: ``Shanghai 24°C on 2026-06-21``."""
        return f"{self.city} {self.max_c:.0f}°C on {self.date}"

    def to_json(self) -> str:
        """Compact JSON with the field names above, plus ``summary``."""
        data = {**asdict(self), "summary": self.summary}
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


class _ArchiveDaily(BaseModel):
    time: list[str]
    temperature_2m_max: list[float | None]
    temperature_2m_min: list[float | None]
    temperature_2m_mean: list[float | None] | None = None


class _ArchiveReply(BaseModel):
    daily: _ArchiveDaily


def _observed(payload: bytes, city: City, day: date) -> DailyTemperatures | None:
    """The day's values in an archive reply, or None when the reply lacks them."""
    daily = _ArchiveReply.model_validate_json(payload).daily
    try:
        index = daily.time.index(day.isoformat())
        high = daily.temperature_2m_max[index]
        low = daily.temperature_2m_min[index]
        mean = daily.temperature_2m_mean[index] if daily.temperature_2m_mean else None
    except (ValueError, IndexError):
        return None
    if high is None or low is None:
        return None
    if mean is None:
        mean = round((high + low) / 2, 1)
    return DailyTemperatures(city.name, day.isoformat(), high, low, mean, OBSERVED)


def _normal(city: City, day: date) -> DailyTemperatures:
    high = city.normals.max_c[day.month - 1]
    low = city.normals.min_c[day.month - 1]
    return DailyTemperatures(
        city.name, day.isoformat(), high, low, round((high + low) / 2, 1), NORMAL
    )


class WeatherPlugin:
    """Daily temperatures for the cities in the offline data file.

    ``endpoint`` is the Open-Meteo archive URL (or a stand-in speaking its
    protocol); ``use_network=False`` answers from the offline normals only.
    ``now`` is as for :class:`~plugins.clock.ClockPlugin` (tests and Python callers).
    """

    plugin_name: ClassVar[str] = "weather"
    _warned: ClassVar[bool] = False
    """Whether this process has warned that the archive is unreachable."""

    def __init__(
        self,
        *,
        endpoint: str = DEFAULT_ENDPOINT,
        offline_data: str | None = None,
        timeout: float = 10.0,
        use_network: bool = True,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self._endpoint = endpoint
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._use_network = use_network
        self._clock = ClockPlugin(now=now)
        self._table = load_city_table(Path(offline_data) if offline_data else DEFAULT_OFFLINE_DATA)
        self._by_name: dict[str, City] = {}
        for city in self._table.cities:
            for key in (city.name, *city.aliases):
                self._by_name[key.casefold()] = city

    def city(self, name: str) -> City:
        """The table row for ``name`` or one of its aliases, ignoring case."""
        found = self._by_name.get(" ".join(name.split()).casefold())
        if found is None:
            known = ", ".join(city.name for city in self._table.cities)
            raise ValueError(f"city {name!r} is not known (expected one of: {known})")
        return found

    @kernel_function(
        name="daily_temperatures",
        description=(
            "Get a city's observed daily temperatures (max/min/mean, °C) for a past date. "
            "Returns JSON {city, date, max_c, min_c, mean_c, source, summary}; source is "
            "'open-meteo' for an observation, or 'offline sample (monthly normal)' when "
            "the archive is unreachable or has no data yet and the month's climate "
            "normal is given instead."
        ),
    )
    async def daily_temperatures(
        self,
        city: Annotated[str, "city name, e.g. 'Shanghai', '上海' or 'New York'"],
        date: Annotated[str, "the day as YYYY-MM-DD (see clock.resolve_date)"],
    ) -> Annotated[str, "JSON {city, date, max_c, min_c, mean_c, source, summary}"]:
        """The day's temperatures, observed if possible, else the monthly normal."""
        place = self.city(city)
        day = parse_iso_date(date, "date")
        observed = await self._fetch(place, day) if self._use_network else None
        return (observed or _normal(place, day)).to_json()

    @kernel_function(
        name="resolve_date",
        description=(
            "Turn a date expression into a date (YYYY-MM-DD) counted in a city's own time "
            "zone; it takes the expressions clock.resolve_date takes."
        ),
    )
    def resolve_date(
        self,
        city: Annotated[str, "city name, one of known_cities"],
        expression: Annotated[str, "a date expression, as clock.resolve_date takes it"],
    ) -> Annotated[str, "the date as YYYY-MM-DD"]:
        """The date ``expression`` denotes, relative to today in ``city``'s time zone."""
        resolved: str = self._clock.resolve_date(expression, self.city(city).timezone)
        return resolved  # a kernel_function's return type is not kept by its decorator

    @kernel_function(
        name="known_cities",
        description=(
            "List the cities daily_temperatures knows. Returns JSON [{name, aliases, timezone}]."
        ),
    )
    def known_cities(self) -> Annotated[str, "JSON [{name, aliases, timezone}]"]:
        """Every city in the table, in file order."""
        rows = [
            {"name": city.name, "aliases": city.aliases, "timezone": city.timezone}
            for city in self._table.cities
        ]
        return json.dumps(rows, ensure_ascii=False, separators=(",", ":"))

    async def _fetch(self, city: City, day: date) -> DailyTemperatures | None:
        """Ask the archive for one day; None (and a warning) when it cannot answer."""
        params = {
            "latitude": str(city.latitude),
            "longitude": str(city.longitude),
            "start_date": day.isoformat(),
            "end_date": day.isoformat(),
            "daily": "temperature_2m_max,temperature_2m_min,temperature_2m_mean",
            "timezone": city.timezone,
        }
        try:
            async with (
                aiohttp.ClientSession(timeout=self._timeout) as session,
                session.get(self._endpoint, params=params) as response,
            ):
                response.raise_for_status()
                observed = _observed(await response.read(), city, day)
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            level = logging.INFO if WeatherPlugin._warned else logging.WARNING
            WeatherPlugin._warned = True
            reason = describe_error(error)
            logger.log(level, "open-meteo unreachable (%s); using the sample data", reason)
            return None
        if observed is None:
            logger.warning("open-meteo has no values for %s on %s", city.name, day)
        return observed
