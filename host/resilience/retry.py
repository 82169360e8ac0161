"""Retry: the same input again after a transient failure, with backoff on the injected clock."""

from __future__ import annotations

from typing import TYPE_CHECKING

from host.errors import AgentHostError, ProviderError, RetriesExhaustedError
from host.resilience.attempt import attempt_number
from host.resilience.effects_ledger import effects_done

if TYPE_CHECKING:
    from semantic_kernel.filters.functions.function_invocation_context import (
        FunctionInvocationContext,
    )

    from host.resilience.chain import Next
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

    async def __call__(self, context: FunctionInvocationContext, next: Next) -> None:
        guard = self._guard
        target = guard.target(context)
        policy = target.policy.retry
        errors: list[AgentHostError] = []
        for attempt in range(1, policy.retries + 2):
            token = attempt_number.set(attempt)
            try:
                await next(context)
                return
            except AgentHostError as error:
                errors.append(error)
                if attempt > policy.retries or not policy.should_retry(error) or effects_done():
                    break
            finally:
                attempt_number.reset(token)
            await guard.clock.sleep(_delay(errors[-1]) or policy.backoff(attempt, guard.rng))
        if len(errors) == 1:
            raise errors[0]
        raise RetriesExhaustedError(target.name, errors)


def _delay(error: AgentHostError) -> float | None:
    return error.retry_after if isinstance(error, ProviderError) else None
