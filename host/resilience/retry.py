"""Retry: the same input again after a transient failure, with backoff on the injected clock."""

from __future__ import annotations

from typing import TYPE_CHECKING

from host.errors import AgentHostError, ProviderError, RetriesExhaustedError
from host.resilience.optional import OptionalLayer

if TYPE_CHECKING:
    import random

    from semantic_kernel.filters.functions.function_invocation_context import (
        FunctionInvocationContext,
    )

    from host.resilience.chain import Next
    from host.resilience.context import CallContext
    from host.resilience.policies import RetryPolicy


class RetryFilter(OptionalLayer):
    """Up to ``retries`` more attempts for errors the policy deems retryable.

    Waits full-jitter exponential backoff, or the server's ``Retry-After``; either
    at most ``backoff_max``. A wait that would reach the run's deadline is not
    begun: the call fails at once, leaving the time to a fallback. Errors that
    cannot succeed (bad arguments, most 4xx, cancellation) are not retried, nor
    is a call during which a side-effecting tool already ran. When more than one
    attempt failed, the error is a :class:`RetriesExhaustedError` naming the
    target and every attempt's error.
    """

    @staticmethod
    def passes(context: FunctionInvocationContext, call: CallContext) -> bool:
        """Whether ``call`` goes straight on: one attempt, whose error is the call's."""
        assert call.target is not None  # set at the top of the chain
        return not call.target.policy.retry.retries

    async def _act(self, context: FunctionInvocationContext, call: CallContext, next: Next) -> None:
        guard, target = self._guard, call.target
        assert target is not None  # set at the top of the chain
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
