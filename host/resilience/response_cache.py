"""Cached results per function and arguments, with their age, for fresh and stale serves."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any


class ResponseCache:
    """An in-memory map from a stable call key to ``(value, stored_at)``."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[Any, float]] = {}

    @staticmethod
    def key(function: str, arguments: Mapping[str, Any]) -> str:
        """A key stable across processes: the function and its arguments as canonical JSON."""
        text = json.dumps([function, dict(arguments)], sort_keys=True, default=repr)
        return hashlib.sha256(text.encode()).hexdigest()

    def get(self, key: str, now: float, max_age: float) -> tuple[Any] | None:
        """``(value,)`` stored under ``key`` if it is at most ``max_age`` seconds old, else None."""
        entry = self._entries.get(key)
        if entry is None or now - entry[1] > max_age:
            return None
        return (entry[0],)

    def put(self, key: str, value: Any, now: float) -> None:
        """Store ``value`` as of ``now``."""
        self._entries[key] = (value, now)
