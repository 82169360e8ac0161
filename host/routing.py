"""Which configured model serves a step, given the capability the step needs.

:class:`Router` picks from the config's model table: capability match first,
then the capability's preference rule, then circuit-breaker health. Every
decision comes back as a :class:`Route` whose ``reason`` says why, so the run
state can record it. Inside :func:`pinned`, every route is the one model a person
chose (the chat REPL's ``/model``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from host.config.schema import ModelConfig
from host.errors import ConfigError
from host.resilience.breaker_board import BreakerBoard

CHEAP_CAPABILITIES: frozenset[str] = frozenset({"fetch", "extract", "classify", "plan"})
"""Capabilities served by the cheapest, then fastest, capable model."""

STRONG_CAPABILITIES: frozenset[str] = frozenset({"write", "review"})
"""Capabilities served by the strongest capable model (highest cost as a proxy), then fastest."""


@dataclass(frozen=True)
class Route:
    """The model chosen for one step and the models to fall back to, in order.

    ``model`` and ``fallbacks`` are names from the config's model table;
    ``reason`` is one line naming the capability, the rule, the choice and
    every model skipped with why.
    """

    model: str
    fallbacks: tuple[str, ...]
    reason: str


class Router:
    """Chooses a model per capability from the model table.

    A model is capable when its ``capabilities`` list the capability, or when
    the list is empty (a model that declares nothing is taken to do anything).
    Capabilities in ``cheap`` prefer the lowest total cost (input + output per
    1k tokens), then the lowest expected latency; those in ``strong`` prefer the
    highest total cost, then the lowest latency; any other capability uses the
    cheap rule. Ties go to the name, so a decision is deterministic. Unknown
    latency sorts after every known one.

    Models in ``unavailable`` (name → why, e.g. their key is not set) are left
    out entirely, each named in the reason: adding the key is what brings a
    model into play. Models whose breaker is ``open`` are not chosen while a capable model with
    a closed or half-open breaker exists, but they stay at the end of the
    fallback chain: by the time a fallback is tried the cooldown may have
    passed, and the breaker filter still decides whether the call is let
    through as a probe. When every capable model is open, the preferred one is
    chosen anyway and the breaker filter answers for it.
    """

    def __init__(
        self,
        models: Mapping[str, ModelConfig],
        breakers: BreakerBoard | None = None,
        *,
        unavailable: Mapping[str, str] | None = None,
        cheap: Iterable[str] = CHEAP_CAPABILITIES,
        strong: Iterable[str] = STRONG_CAPABILITIES,
    ) -> None:
        self._models = dict(models)
        self._unavailable = dict(unavailable or {})
        self._breakers = breakers
        self._cheap = frozenset(cheap)
        self._strong = frozenset(strong)
        both = self._cheap & self._strong
        if both:
            raise ConfigError(
                [f"routing: capabilities {sorted(both)} are both cheap and strong (expected one)"]
            )

    def choose(self, capability: str) -> Route:
        """The route for a step needing ``capability``; ``ConfigError`` if no model has it."""
        pin = _pinned.get()
        if pin is not None:
            return Route(model=pin, fallbacks=(), reason=f"{capability} → pinned: {pin}")
        capable = [name for name, model in self._models.items() if _can(model, capability)]
        left_out = [f"{name}: {why}" for name in capable if (why := self._unavailable.get(name))]
        capable = [name for name in capable if name not in self._unavailable]
        if not capable:
            raise ConfigError([self._nobody_can(capability, left_out)])
        strong = capability in self._strong
        ranked = sorted(capable, key=self._strong_key if strong else self._cheap_key)
        rule = "strongest capable" if strong else "cheapest capable"

        open_ = [name for name in ranked if self._is_open(name)]
        healthy = [name for name in ranked if name not in open_]
        order = healthy + open_ if healthy else ranked
        chosen, fallbacks = order[0], tuple(order[1:])

        skipped = left_out + [f"{name}: breaker open" for name in open_ if name != chosen]
        skipped += [
            f"{name}: not capable of {capability}"
            for name, model in self._models.items()
            if not _can(model, capability)
        ]
        parts = [f"{capability} → {rule}: {chosen} ({self._describe(chosen)})"]
        if not healthy:
            parts.append("every capable model has its breaker open")
        if fallbacks:
            parts.append("fallbacks " + ", ".join(fallbacks))
        if skipped:
            parts.append("skipped " + ", ".join(skipped))
        return Route(model=chosen, fallbacks=fallbacks, reason="; ".join(parts))

    def _cheap_key(self, name: str) -> tuple[float, float, str]:
        return (_total_cost(self._models[name]), _latency(self._models[name]), name)

    def _strong_key(self, name: str) -> tuple[float, float, str]:
        return (-_total_cost(self._models[name]), _latency(self._models[name]), name)

    def _is_open(self, name: str) -> bool:
        return self._breakers is not None and self._breakers.state(name) == "open"

    def _describe(self, name: str) -> str:
        model = self._models[name]
        latency = "unknown" if model.latency is None else f"{model.latency:g}s"
        return f"cost {_total_cost(model):g}/1k, latency {latency}"

    def _nobody_can(self, capability: str, left_out: list[str]) -> str:
        if left_out:
            return (
                f"routing: no available model is capable of {capability!r} ({'; '.join(left_out)})"
            )
        if not self._models:
            return f"routing: no model is capable of {capability!r} (no models are configured)"
        listed = "; ".join(
            f"{name}: {', '.join(model.capabilities)}" for name, model in self._models.items()
        )
        return (
            f"routing: no model is capable of {capability!r} "
            f"(add it to some model's capabilities in models; configured: {listed})"
        )


def _can(model: ModelConfig, capability: str) -> bool:
    return not model.capabilities or capability in model.capabilities


def _total_cost(model: ModelConfig) -> float:
    return model.cost.input + model.cost.output


def _latency(model: ModelConfig) -> float:
    return math.inf if model.latency is None else model.latency


_pinned: ContextVar[str | None] = ContextVar("agent_host_pinned_model", default=None)


@contextmanager
def pinned(model: str | None) -> Iterator[None]:
    """Inside the block, every step is routed to ``model`` (a configured model's name),
    without fallbacks; ``None`` leaves routing to the table."""
    token = _pinned.set(model)
    try:
        yield
    finally:
        _pinned.reset(token)
