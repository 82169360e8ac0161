"""Specification of the ``clock`` plugin: dates in a time zone, from an injected instant."""

import re
from datetime import UTC, date, datetime

import pytest
from semantic_kernel import Kernel
from semantic_kernel.functions import KernelArguments

from host import AgentHost
from host.errors import FunctionFailedError
from plugins.clock import ClockPlugin

INSTANT = datetime(2024, 3, 1, 18, 30, tzinfo=UTC)
"""Evening in London, already the next morning in Shanghai; 2024 is a leap year."""


@pytest.fixture
def clock() -> ClockPlugin:
    return ClockPlugin(now=lambda: INSTANT)


@pytest.mark.parametrize(
    ("timezone", "today", "yesterday"),
    [
        ("UTC", "2024-03-01", "2024-02-29"),
        ("Asia/Shanghai", "2024-03-02", "2024-03-01"),
        ("America/Los_Angeles", "2024-03-01", "2024-02-29"),
    ],
)
def test_today_and_yesterday_are_counted_in_the_time_zone(
    clock: ClockPlugin, timezone: str, today: str, yesterday: str
) -> None:
    assert clock.today(timezone) == today
    assert clock.yesterday(timezone) == yesterday


def test_the_default_time_zone_is_utc(clock: ClockPlugin) -> None:
    assert (clock.today(), clock.yesterday()) == ("2024-03-01", "2024-02-29")


def test_a_naive_instant_is_taken_as_utc() -> None:
    clock = ClockPlugin(now=lambda: datetime(2024, 3, 1, 18, 30))
    assert clock.today("Asia/Shanghai") == "2024-03-02"


def test_without_an_injected_instant_the_real_clock_gives_an_iso_date() -> None:
    assert isinstance(date.fromisoformat(ClockPlugin().today()), date)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("today", "2024-03-01"),
        ("  TODAY ", "2024-03-01"),
        ("Yesterday", "2024-02-29"),
        ("0 days ago", "2024-03-01"),
        ("1 day ago", "2024-02-29"),
        ("3 days ago", "2024-02-27"),
        ("366 days  ago", "2023-03-01"),
        ("2023-12-25", "2023-12-25"),
    ],
)
def test_resolve_date_understands_relative_days_and_iso_dates(
    clock: ClockPlugin, expression: str, expected: str
) -> None:
    assert clock.resolve_date(expression) == expected


def test_resolve_date_counts_from_today_in_the_time_zone(clock: ClockPlugin) -> None:
    assert clock.resolve_date("2 days ago", "Asia/Shanghai") == "2024-02-29"


@pytest.mark.parametrize(
    "expression",
    ["tomorrow", "next week", "3 weeks ago", "-1 days ago", "2024-13-01", "2024-02-30", "03/01"],
)
def test_resolve_date_rejects_what_it_does_not_understand(
    clock: ClockPlugin, expression: str
) -> None:
    message = f"expression {expression!r} is not a date"
    with pytest.raises(ValueError, match=re.escape(message)):
        clock.resolve_date(expression)


def test_a_date_before_the_calendar_is_rejected(clock: ClockPlugin) -> None:
    with pytest.raises(ValueError, match="outside the calendar"):
        clock.resolve_date("999999 days ago")


@pytest.mark.parametrize("timezone", ["Mars/Olympus_Mons", "../etc/passwd", "", "UTC+8"])
@pytest.mark.parametrize("function", ["today", "yesterday", "resolve_date"])
def test_an_unknown_time_zone_is_rejected_by_name(
    clock: ClockPlugin, function: str, timezone: str
) -> None:
    arguments = ("today", timezone) if function == "resolve_date" else (timezone,)
    message = f"timezone {timezone!r} is not a known IANA time zone"
    with pytest.raises(ValueError, match=re.escape(message)):
        getattr(clock, function)(*arguments)


async def test_the_kernel_sees_the_parameters_and_invokes_with_them(clock: ClockPlugin) -> None:
    kernel = Kernel()
    kernel.add_plugin(clock, ClockPlugin.plugin_name)
    function = kernel.get_function("clock", "resolve_date")
    parameters = {p.name: p for p in function.metadata.parameters}

    result = await kernel.invoke(
        plugin_name="clock",
        function_name="resolve_date",
        arguments=KernelArguments(expression="yesterday", timezone="Asia/Shanghai"),
    )

    assert result is not None and result.value == "2024-03-01"
    assert list(parameters) == ["expression", "timezone"]
    assert parameters["expression"].is_required and parameters["expression"].type_ == "str"
    assert not parameters["timezone"].is_required and parameters["timezone"].default_value == "UTC"
    assert all(p.description for p in parameters.values())


UNKNOWN = "is not a known IANA time zone (expected a name such as 'UTC' or 'Asia/Shanghai')"


@pytest.mark.parametrize(
    ("function", "arguments", "message"),
    [
        ("today", {"timezone": "Mars/Phobos"}, f"timezone 'Mars/Phobos' {UNKNOWN}"),
        ("today", {"timezone": "Asia/Nowhere"}, f"timezone 'Asia/Nowhere' {UNKNOWN}"),
        ("today", {"timezone": "../etc/passwd"}, f"timezone '../etc/passwd' {UNKNOWN}"),
        (
            "resolve_date",
            {"expression": "999999999 days ago"},
            "999999999 days before today is outside the calendar",
        ),
    ],
    ids=["unknown area", "unknown city", "a path", "before the calendar"],
)
async def test_through_the_host_the_error_is_the_plugins_not_a_library_internal(
    agent_host: AgentHost, function: str, arguments: dict[str, str], message: str
) -> None:
    with pytest.raises(FunctionFailedError) as raised:
        await agent_host.invoke(f"clock.{function}", arguments)

    assert str(raised.value) == f"clock.{function} failed: ValueError: {message}"
