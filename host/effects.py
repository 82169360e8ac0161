"""Marking kernel functions that act on the world, so the host never caches or repeats them."""

from __future__ import annotations

from typing import Any, TypeVar

F = TypeVar("F")

SIDE_EFFECTS_ATTRIBUTE = "__agent_host_side_effects__"


def side_effects(method: F) -> F:
    """Mark a kernel function as acting on the world (sending, writing): never cached.

    Put it above ``@kernel_function``::

        @side_effects
        @kernel_function(description="Send an email.")
        async def send(self, to: str, subject: str, body: str) -> str: ...
    """
    setattr(method, SIDE_EFFECTS_ATTRIBUTE, True)
    return method


def has_side_effects(function: Any) -> bool:
    """Whether an SK function (or a plain method) was marked with :func:`side_effects`."""
    method = getattr(function, "method", function)
    return bool(getattr(method, SIDE_EFFECTS_ATTRIBUTE, False))
