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

    ``admit`` lets a call through, or gives the seconds until the next probe. Once
    the breaker has opened, only its probe (one at a time) decides what comes next:
    the verdict of a call admitted before it opened changes nothing. ``succeeded``
    and ``failed`` return the new state when it changed, for the journal.
    """

    def __init__(self) -> None:
        self._breakers: dict[str, Breaker] = {}

    def state(self, target: str) -> BreakerState:
        """The target's current state (``closed`` if never seen)."""
        return self._breakers.get(target, Breaker()).state

    def admit(self, target: str, policy: BreakerPolicy, now: float) -> tuple[float | None, bool]:
        """``(None, is_probe)`` to call now, or ``(seconds_to_wait, False)``.

        A probe moves the breaker to (or keeps it in) ``half_open``; pass ``is_probe``
        back as ``probe`` with the call's verdict.
        """
        breaker = self._breakers.get(target)
        if breaker is None or breaker.state == "closed":
            return None, False
        if breaker.state == "open":
            remaining = breaker.opened_at + policy.cooldown - now
            if remaining > 0:
                return remaining, False
        elif breaker.probing:
            return policy.cooldown, False
        breaker.state, breaker.probing = "half_open", True
        return None, True

    def succeeded(self, target: str, *, probe: bool = False) -> BreakerState | None:
        """Record a success; ``closed`` if that closed the breaker."""
        breaker = self._breakers.get(target)
        if breaker is None or not (probe or breaker.state == "closed"):
            return None
        changed = breaker.state != "closed"
        breaker.state, breaker.failures, breaker.probing = "closed", 0, False
        return "closed" if changed else None

    def release(self, target: str, *, probe: bool = False) -> None:
        """A call ended without a verdict (cancelled, or the caller's fault): free its probe."""
        breaker = self._breakers.get(target)
        if breaker is not None and probe:
            breaker.probing = False

    def failed(
        self, target: str, policy: BreakerPolicy, now: float, *, probe: bool = False
    ) -> BreakerState | None:
        """Record a failure; ``open`` if that opened (or re-opened) the breaker."""
        breaker = self._breakers.setdefault(target, Breaker())
        if not (probe or breaker.state == "closed"):
            return None
        breaker.failures += 1
        if probe or breaker.failures >= policy.failures:
            breaker.state, breaker.opened_at, breaker.probing = "open", now, False
            return "open"
        return None
