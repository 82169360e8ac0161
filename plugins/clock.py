"""Calendar dates in a time zone, so plans can turn "yesterday" into a date."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from semantic_kernel.functions import kernel_function

from host.errors import quoted

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DAYS_AGO = re.compile(r"(\d+) days? ago")


def parse_iso_date(value: str, argument: str) -> date:
    """Parse ``YYYY-MM-DD``; a ValueError names ``argument`` and the expected form."""
    text = value.strip()
    if _ISO_DATE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise ValueError(f"{argument} {quoted(value)} is not a date: expected an ISO date YYYY-MM-DD")


def zone(timezone: str) -> ZoneInfo:
    """The IANA time zone named ``timezone``; a ValueError names an unknown one.

    It is raised after the lookup's handler, not inside it, so that it carries no
    context: the host reports an error's root cause, which would be the lookup's
    own (``No module named 'tzdata.zoneinfo.Mars'``).
    """
    try:
        return ZoneInfo(timezone.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a path
        pass
    raise ValueError(
        f"timezone {quoted(timezone)} is not a known IANA time zone "
        "(expected a name such as 'UTC' or 'Asia/Shanghai')"
    )


class ClockPlugin:
    """Today's date and simple relative dates, computed in a given time zone.

    ``now`` exists for tests and Python callers: it must return the current
    instant (a naive value is taken as UTC). Configuration cannot set it.
    """

    plugin_name: ClassVar[str] = "clock"

    def __init__(self, *, now: Callable[[], datetime] | None = None) -> None:
        self._now = now or (lambda: datetime.now(UTC))

    def _days_before_today(self, days: int, timezone: str) -> str:
        tz = zone(timezone)
        instant = self._now()
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=UTC)
        try:
            return (instant.astimezone(tz).date() - timedelta(days=days)).isoformat()
        except OverflowError:
            pass  # raised below without the OverflowError as its context, as in zone()
        raise ValueError(f"{days} days before today is outside the calendar")

    @kernel_function(
        name="today",
        description="Get today's date (YYYY-MM-DD) in a time zone.",
    )
    def today(
        self,
        timezone: Annotated[str, "IANA time zone name, e.g. 'UTC' or 'Asia/Shanghai'"] = "UTC",
    ) -> Annotated[str, "today's date as YYYY-MM-DD"]:
        """Today's date in ``timezone``."""
        return self._days_before_today(0, timezone)

    @kernel_function(
        name="yesterday",
        description="Get yesterday's date (YYYY-MM-DD) in a time zone.",
    )
    def yesterday(
        self,
        timezone: Annotated[str, "IANA time zone name, e.g. 'UTC' or 'Asia/Shanghai'"] = "UTC",
    ) -> Annotated[str, "yesterday's date as YYYY-MM-DD"]:
        """The day before today in ``timezone``."""
        return self._days_before_today(1, timezone)

    @kernel_function(
        name="resolve_date",
        description=(
            "Turn a date expression into a date (YYYY-MM-DD): accepts 'today', "
            "'yesterday', 'N days ago' or an ISO date, counted in a time zone."
        ),
    )
    def resolve_date(
        self,
        expression: Annotated[str, "'today', 'yesterday', 'N days ago' or a date YYYY-MM-DD"],
        timezone: Annotated[str, "IANA time zone name, e.g. 'UTC' or 'Asia/Shanghai'"] = "UTC",
    ) -> Annotated[str, "the date as YYYY-MM-DD"]:
        """The date ``expression`` denotes, relative to today in ``timezone``."""
        text = " ".join(expression.lower().split())
        if text == "today":
            return self._days_before_today(0, timezone)
        if text == "yesterday":
            return self._days_before_today(1, timezone)
        if days_ago := _DAYS_AGO.fullmatch(text):
            return self._days_before_today(int(days_ago[1]), timezone)
        if _ISO_DATE.fullmatch(text):
            zone(timezone)  # an unknown zone is an error whatever the expression
            return parse_iso_date(text, "expression").isoformat()
        raise ValueError(
            f"expression {quoted(expression)} is not a date: expected 'today', 'yesterday', "
            "'N days ago' or an ISO date YYYY-MM-DD"
        )
