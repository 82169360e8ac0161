"""Retry: the same input again after a transient failure, with backoff on the injected clock."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING

from host.errors import AgentHostError, ProviderError, RetriesExhaustedError

if TYPE_CHECKING:
    import random

    from semantic_kernel.filters.functions.function_invocation_context import (
        FunctionInvocationContext,
    )

    from host.resilience.chain import Next
    from host.resilience.context import CallContext
    from host.resilience.guard import Guard, Target
    from host.resilience.policies import RetryPolicy


class RetryFilter:
    """Up to ``retries`` more attempts for errors the policy deems retryable.

    Waits full-jitter exponential backoff, or the server's ``Retry-After``; either
    at most ``backoff_max``. A wait that would reach the run's deadline is not
    begun: the call fails at once, leaving the time to a fallback. Errors that
    cannot succeed (bad arguments, most 4xx, cancellation) are not retried, nor
    is a call during which a side-effecting tool already ran. When more than one
    attempt failed, the error is a :class:`RetriesExhaustedError` naming the
    target and every attempt's error.
    """

    def __init__(self, guard: Guard) -> None:
        self._guard = guard

    def __call__(
        self, context: FunctionInvocationContext, call: CallContext, next: Next
    ) -> Awaitable[None]:
        target = call.target
        assert target is not None  # set at the top of the chain
        if self.passes(context, call):
            return next(context, call)
        return self._retried(context, call, next, target)

    @staticmethod
    def passes(context: FunctionInvocationContext, call: CallContext) -> bool:
        """Whether ``call`` goes straight on: one attempt, whose error is the call's."""
        assert call.target is not None  # set at the top of the chain
        return not call.target.policy.retry.retries

    async def _retried(
        self, context: FunctionInvocationContext, call: CallContext, next: Next, target: Target
    ) -> None:
        guard = self._guard
        policy = target.policy.retry
        errors: list[AgentHostError] = []
        for attempt in range(1, policy.retries + 2):
            try:
                await next(context, call if attempt == 1 else call.but(attempt=attempt))
                return
            except AgentHostError as error:
                errors.append(error)
                if attempt > policy.retries or not policy.should_retry(error):
                    break
                if call.effects_done():
                    break
            wait = _wait(errors[-1], policy, attempt, guard.rng)
            if call.deadline is not None and guard.clock.now() + wait >= call.deadline[0]:
                break
            await guard.clock.sleep(wait)
        if len(errors) == 1:
            raise errors[0]
        raise RetriesExhaustedError(target.name, errors)


def _wait(error: AgentHostError, policy: RetryPolicy, attempt: int, rng: random.Random) -> float:
    """Seconds before attempt ``attempt + 1``: the server's ``Retry-After``, else backoff."""
    asked = error.retry_after if isinstance(error, ProviderError) else None
    return policy.backoff(attempt, rng) if asked is None else min(asked, policy.maximum)
