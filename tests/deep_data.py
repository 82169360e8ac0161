"""Data nested deeper than any recursive walk of it can go, for the depth-bound tests."""

from __future__ import annotations

from typing import Any


def nested(levels: int, *, inner: Any = "UTC", key: str | None = "a") -> Any:
    """``inner`` wrapped in ``levels`` objects (``{key: …}``), or arrays when ``key`` is None."""
    value = inner
    for _ in range(levels):
        value = [value] if key is None else {key: value}
    return value
