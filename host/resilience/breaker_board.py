"""Circuit breakers per target, shared by every run of a host."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from host.resilience.policies import BreakerPolicy

BreakerState = Literal["closed", "open", "half_open"]


@dataclass
class Breaker:
    """One target's breaker: consecutive failures, when it opened, whether a probe is out."""

    state: BreakerState = "closed"
    failures: int = 0
    opened_at: float = 0.0
    probing: bool = False


class BreakerBoard:
    """Decides whether a call may go to a target, and learns from how it went.

    ``admit`` returns ``None`` to let a call through (in half-open state only one
    probe at a time), or the seconds left until the next probe. ``succeeded`` and
    ``failed`` return the new state when it changed, for the journal.
    """

    def __init__(self) -> None:
        self._breakers: dict[str, Breaker] = {}

    def state(self, target: str) -> BreakerState:
        """The target's current state (``closed`` if never seen)."""
        return self._breakers.get(target, Breaker()).state

    def admit(self, target: str, policy: BreakerPolicy, now: float) -> tuple[float | None, bool]:
        """``(None, moved_to_half_open)`` to call now, or ``(seconds_to_wait, False)``."""
        breaker = self._breakers.get(target)
        if breaker is None or breaker.state == "closed":
            return None, False
        if breaker.state == "open":
            remaining = breaker.opened_at + policy.cooldown - now
            if remaining > 0:
                return remaining, False
            breaker.state, breaker.probing = "half_open", True
            return None, True
        if breaker.probing:
            return policy.cooldown, False
        breaker.probing = True
        return None, False

    def succeeded(self, target: str) -> BreakerState | None:
        """Record a success; ``closed`` if that closed the breaker."""
        breaker = self._breakers.get(target)
        if breaker is None:
            return None
        changed = breaker.state != "closed"
        breaker.state, breaker.failures, breaker.probing = "closed", 0, False
        return "closed" if changed else None

    def release(self, target: str) -> None:
        """A call ended without a verdict (cancelled, or the caller's fault): free the probe."""
        breaker = self._breakers.get(target)
        if breaker is not None:
            breaker.probing = False

    def failed(self, target: str, policy: BreakerPolicy, now: float) -> BreakerState | None:
        """Record a failure; ``open`` if that opened (or re-opened) the breaker."""
        breaker = self._breakers.setdefault(target, Breaker())
        breaker.failures += 1
        breaker.probing = False
        if breaker.state == "half_open" or breaker.failures >= policy.failures:
            breaker.state, breaker.opened_at = "open", now
            return "open"
        return None
