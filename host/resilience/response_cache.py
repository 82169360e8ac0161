"""Cached results per function and arguments, with their age, for fresh and stale serves."""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from host.config.schema import DEFAULT_CACHE_MAX_ENTRIES


class ResponseCache:
    """An in-memory map from a stable call key to ``(value, stored_at)``, bounded for a
    long-lived process: past ``max_entries``, the least recently used entry is dropped."""

    def __init__(self, max_entries: int = DEFAULT_CACHE_MAX_ENTRIES) -> None:
        self._max_entries = max_entries
        self._entries: OrderedDict[str, tuple[Any, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    @staticmethod
    def key(function: str, arguments: Mapping[str, Any]) -> str | None:
        """A key stable across processes: the function and its arguments as canonical JSON;
        ``None`` for arguments that have none (a mapping whose keys cannot be sorted or
        are not text, a value that contains itself)."""
        try:
            text = json.dumps([function, dict(arguments)], sort_keys=True, default=repr)
        except (TypeError, ValueError):
            return None
        return hashlib.sha256(text.encode()).hexdigest()

    def get(self, key: str, now: float, max_age: float) -> tuple[Any] | None:
        """``(value,)`` stored under ``key`` if it is at most ``max_age`` seconds old, else None.

        A served entry becomes the most recently used.
        """
        entry = self._entries.get(key)
        if entry is None or now - entry[1] > max_age:
            return None
        self._entries.move_to_end(key)
        return (entry[0],)

    def put(self, key: str, value: Any, now: float) -> None:
        """Store ``value`` as of ``now``, dropping the least recently used entry if full."""
        self._entries[key] = (value, now)
        self._entries.move_to_end(key)
        if len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
