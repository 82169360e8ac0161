"""Remembering what is derived from long-lived objects (functions, plan steps) by identity."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class by_identity(Generic[K, V]):
    """Decorate a one-argument function so each object's result is worked out once.

    Results are keyed by ``id`` and kept with the object itself (so an id is never
    reused while its entry lives); all are forgotten after ``size`` entries.
    """

    def __init__(self, derive: Callable[[K], V], size: int = 1024) -> None:
        self._derive = derive
        self._size = size
        self._known: dict[int, tuple[K, V]] = {}
        self.__doc__ = derive.__doc__

    def __call__(self, key: K) -> V:
        known = self._known.get(id(key))
        if known is not None and known[0] is key:
            return known[1]
        value = self._derive(key)
        if len(self._known) >= self._size:
            self._known.clear()
        self._known[id(key)] = (key, value)
        return value
