"""Every metric instrument the host records, created in this one place.

The two ``gen_ai.client.*`` histograms follow the OpenTelemetry GenAI semantic
conventions (names, units and advisory bucket boundaries); the ``agent_host.*``
ones are the host's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opentelemetry.metrics import Counter, Histogram, Meter

TOKEN_BUCKETS = tuple(float(4**power) for power in range(14))
"""1, 4, 16, … 4**13 tokens: the GenAI conventions' boundaries for token usage."""
DURATION_BUCKETS = tuple(0.01 * 2**power for power in range(14))
"""0.01, 0.02, 0.04, … 81.92 s: the GenAI conventions' boundaries for operation duration."""


@dataclass(frozen=True)
class Instruments:
    """The host's instruments, all made from one meter."""

    token_usage: Histogram
    """``gen_ai.client.token.usage``: input and output tokens per model call
    (attribute ``gen_ai.token.type`` is ``input`` or ``output``)."""
    operation_duration: Histogram
    """``gen_ai.client.operation.duration``: seconds per model call."""
    step_duration: Histogram
    """``agent_host.step.duration``: seconds per plan or workflow step, all attempts included."""
    attempts: Counter
    """``agent_host.step.attempts``: calls made for a step, retries and fallback hops included."""
    fallbacks: Counter
    """``agent_host.fallbacks``: hops to a fallback target."""
    breaker_opens: Counter
    """``agent_host.breaker.opens``: times a circuit breaker opened."""


def create_instruments(meter: Meter) -> Instruments:
    """Create the host's instruments on ``meter``."""
    return Instruments(
        token_usage=meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
        ),
        operation_duration=meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        ),
        step_duration=meter.create_histogram(
            "agent_host.step.duration",
            unit="s",
            description="Duration of a step, all its attempts and fallbacks included.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        ),
        attempts=meter.create_counter(
            "agent_host.step.attempts",
            unit="{attempt}",
            description="Calls made for a step, retries and fallback hops included.",
        ),
        fallbacks=meter.create_counter(
            "agent_host.fallbacks", unit="{hop}", description="Hops to a fallback target."
        ),
        breaker_opens=meter.create_counter(
            "agent_host.breaker.opens", unit="{open}", description="Circuit breakers opened."
        ),
    )
