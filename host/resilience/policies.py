"""Policies as frozen data: what each filter applies to one model or tool.

A :class:`Policy` merges a model's or tool's config row over the ``resilience``
defaults; :class:`PolicyBook` resolves and memoises it per target.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from host.config import HostConfig
from host.config.schema import CallPolicy, FallbackTarget, ToolConfig
from host.errors import AgentHostError, InvalidArgumentsError, ProviderError


@dataclass(frozen=True)
class RetryPolicy:
    """``retries`` attempts after the first, with capped exponential backoff and full jitter.

    ``retry_on`` names error classes (anywhere in the error's class hierarchy)
    worth retrying; when empty, an error's own ``retryable`` flag decides.
    """

    retries: int = 0
    initial: float = 0.5
    multiplier: float = 2.0
    maximum: float = 30.0
    retry_on: tuple[str, ...] = ()

    def should_retry(self, error: AgentHostError) -> bool:
        """Whether ``error`` is worth another attempt under this policy."""
        if self.retry_on:
            names = {cls.__name__ for cls in type(error).__mro__}
            return bool(names & set(self.retry_on)) and not _never_retried(error)
        return error.retryable

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Seconds before attempt ``attempt + 1``: uniform in ``[0, capped exponential]``."""
        try:
            grown = self.initial * self.multiplier ** (attempt - 1)
        except OverflowError:  # a long run of retries: far past any cap
            grown = self.maximum if self.initial else 0.0
        return rng.uniform(0.0, min(self.maximum, grown))


@dataclass(frozen=True)
class BreakerPolicy:
    """Open after ``failures`` consecutive failures; probe again after ``cooldown`` seconds."""

    failures: int = 5
    cooldown: float = 30.0


@dataclass(frozen=True)
class CachePolicy:
    """Serve results younger than ``ttl``; after failures, ones younger than ``ttl + stale_ttl``."""

    ttl: float
    stale_ttl: float


@dataclass(frozen=True)
class Policy:
    """Everything the filter chain applies to calls to one target."""

    target: str
    timeout: float | None = None
    retry: RetryPolicy = RetryPolicy()
    breaker: BreakerPolicy = BreakerPolicy()
    fallback: tuple[FallbackTarget, ...] = ()
    cache: CachePolicy | None = None


@dataclass
class PolicyBook:
    """Policies per target, built from config once and memoised."""

    config: HostConfig
    _memo: dict[str, Policy] = field(default_factory=dict)

    def for_model(self, name: str) -> Policy:
        """The policy of configured model ``name`` (or a ``provider/model`` fallback target)."""
        key = f"model:{name}"
        if key not in self._memo:
            row = self.config.models.get(name)
            self._memo[key] = self._build(name, row or CallPolicy(), None)
        return self._memo[key]

    def for_tool(self, plugin: str, function: str) -> Policy:
        """The policy of ``plugin.function``: its own tools entry, else its plugin's."""
        name = f"{plugin}.{function}"
        key = f"tool:{name}"
        if key not in self._memo:
            tools = self.config.tools
            row = tools.get(name) or tools.get(plugin) or ToolConfig()
            self._memo[key] = self._build(name, row, row)
        return self._memo[key]

    def _build(self, target: str, row: CallPolicy, tool: ToolConfig | None) -> Policy:
        defaults = self.config.resilience
        cache = None
        if tool is not None and tool.cache_ttl is not None:
            stale = tool.stale_ttl if tool.stale_ttl is not None else defaults.stale_ttl
            cache = CachePolicy(ttl=tool.cache_ttl, stale_ttl=stale)
        return Policy(
            target=target,
            timeout=row.timeout if row.timeout is not None else defaults.timeout,
            retry=RetryPolicy(
                retries=row.retries if row.retries is not None else defaults.retries,
                initial=defaults.backoff_initial,
                multiplier=defaults.backoff_multiplier,
                maximum=defaults.backoff_max,
                retry_on=tuple(row.retry_on or ()),
            ),
            breaker=BreakerPolicy(defaults.breaker_failures, defaults.breaker_cooldown),
            fallback=tuple(row.fallback),
            cache=cache,
        )


def _never_retried(error: AgentHostError) -> bool:
    """Errors no retry can fix, whatever ``retry_on`` says: bad arguments, 4xx but 408/409/429."""
    if isinstance(error, InvalidArgumentsError):
        return True
    status = error.status if isinstance(error, ProviderError) else None
    return status is not None and 400 <= status < 500 and status not in (408, 409, 429)
