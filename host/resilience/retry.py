"""Retry: the same input again after a transient failure, with backoff on the injected clock."""

from __future__ import annotations

from typing import TYPE_CHECKING

from host.errors import AgentHostError, ProviderError, RetriesExhaustedError

if TYPE_CHECKING:
    from semantic_kernel.filters.functions.function_invocation_context import (
        FunctionInvocationContext,
    )

    from host.resilience.chain import Next
    from host.resilience.context import CallContext
    from host.resilience.guard import Guard


class RetryFilter:
    """Up to ``retries`` more attempts for errors the policy deems retryable.

    Waits full-jitter exponential backoff, or the server's ``Retry-After``.
    Errors that cannot succeed (bad arguments, most 4xx, cancellation) are not
    retried, nor is a call during which a side-effecting tool already ran. When
    more than one attempt failed, the error is a :class:`RetriesExhaustedError`
    naming the target and every attempt's error.
    """

    def __init__(self, guard: Guard) -> None:
        self._guard = guard

    async def __call__(
        self, context: FunctionInvocationContext, call: CallContext, next: Next
    ) -> None:
        guard = self._guard
        target = call.target
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
            await guard.clock.sleep(_delay(errors[-1]) or policy.backoff(attempt, guard.rng))
        if len(errors) == 1:
            raise errors[0]
        raise RetriesExhaustedError(target.name, errors)


def _delay(error: AgentHostError) -> float | None:
    return error.retry_after if isinstance(error, ProviderError) else None
