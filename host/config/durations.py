"""Durations as written in config: ``5s``, ``300ms``, ``2m``, ``1h`` or plain seconds.

Spaces around the number and unit are allowed (``5 s`` is 5 seconds); infinite,
NaN and negative durations are not.
"""

from __future__ import annotations

import math
import re
from typing import Annotated

from pydantic import BeforeValidator, Field

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_SECONDS_PER_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: object) -> float:
    """Return ``value`` in seconds; raise ``ValueError`` naming the accepted forms."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 5s, 300ms, 2m or a number of seconds")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if match is None:
            raise ValueError("expected a duration such as 5s, 300ms, 2m or a number of seconds")
        seconds = float(match.group(1)) * _SECONDS_PER_UNIT[match.group(2) or "s"]
    if not math.isfinite(seconds):
        raise ValueError("expected a finite duration")
    if seconds < 0:
        raise ValueError("expected a duration that is not negative")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]
"""A duration in seconds, parsed from ``5s``/``300ms``/``2m``/``1h`` or a number."""

Limit = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]
"""A :data:`Duration` a call or run is bounded by: above 0 (a bound of 0 fails every call)."""
