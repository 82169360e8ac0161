"""Marking kernel functions that act on the world, so the host never caches or repeats them."""

from __future__ import annotations

from typing import Any, TypeVar

F = TypeVar("F")

SIDE_EFFECTS_ATTRIBUTE = "__agent_host_side_effects__"

IDEMPOTENCY_KEY = "idempotency_key"
"""The parameter through which a side-effecting function takes its step's idempotency key.

A :func:`side_effects` function that declares it (``idempotency_key: str = ""``)
promises to act at most once per key: the host fills it with the step's key
(:mod:`host.idempotency`) and, when a process stopped while the function ran,
runs it again under the same key. One that does not declare it is never run
again when its outcome is unknown: the run waits for a person instead.
"""


def side_effects(method: F) -> F:
    """Mark a kernel function as acting on the world (sending, writing): never cached.

    Put it above ``@kernel_function``::

        @side_effects
        @kernel_function(description="Send an email.")
        async def send(self, to: str, subject: str, body: str) -> str: ...

    Declare :data:`IDEMPOTENCY_KEY` as well if the effect can be made at most once per key.
    """
    setattr(method, SIDE_EFFECTS_ATTRIBUTE, True)
    return method


def has_side_effects(function: Any) -> bool:
    """Whether an SK function (or a plain method) was marked with :func:`side_effects`."""
    method = getattr(function, "method", function)
    return bool(getattr(method, SIDE_EFFECTS_ATTRIBUTE, False))
