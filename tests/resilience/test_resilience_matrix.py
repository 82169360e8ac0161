"""The fault matrix: every fault by every scenario that makes sense for it, as one table.

Two kinds of target are under test: a native tool (a scripted
:class:`~host.testing.FaultyTool`) and a model reached through the real
``openai`` client against the loopback :class:`~host.testing.OpenAICompatibleServer`.
Each row runs one scenario with one fault and checks both the outcome and what
the step recorded (events, attempts, degraded, cache hit, waits on the clock).

Pairs left out, and why: a non-retryable fault has no "retry then succeed";
models are never cached, so "stale cache served" is a tool-only scenario.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import pytest
from resilience_kit import openai_model, write_config

from host import AgentHost
from host.errors import (
    AgentHostError,
    AttemptTimeoutError,
    CircuitOpenError,
    FunctionFailedError,
    ProviderError,
    RetriesExhaustedError,
)
from host.state import StepRecord
from host.testing import (
    Behaviour,
    ChatReply,
    ConnectionReset,
    EmptyReply,
    Fail,
    FaultyTool,
    Hang,
    HtmlPage,
    HttpError,
    MalformedBody,
    OpenAICompatibleServer,
    Return,
    ServerResponse,
    Stall,
    TruncatedStream,
    VirtualClock,
)

pytestmark = pytest.mark.reliability

BACKOFF = {"backoff_initial": 1, "backoff_multiplier": 2, "backoff_max": 8}
BREAKER = {"breaker_failures": 2, "breaker_cooldown": 30}
RESILIENCE = {**BACKOFF, **BREAKER}
CEILINGS = [1, 2]
"""Full-jitter ceilings of the waits after attempts 1 and 2: min(max, initial * mult^(n-1))."""

GUARDED = {"timeout": 5, "retries": 2}
"""The policy under test: 5 s per attempt, two retries."""


F = TypeVar("F", Behaviour, ServerResponse)


@dataclass(frozen=True)
class Fault(Generic[F]):
    """One way a call fails, and how the host should report a failed attempt of it.

    ``failure`` is the tool's scripted behaviour or the server's response;
    ``outcome`` and ``error_type`` are the attempt event's fields; ``text``
    appears in the attempt's error; ``retry_after`` is the server's requested wait.
    """

    failure: F
    outcome: str
    error_type: str
    text: str
    retryable: bool = True
    retry_after: float | None = None

    @property
    def attempts(self) -> int:
        """How many attempts a call makes under :data:`GUARDED` when every one fails."""
        return GUARDED["retries"] + 1 if self.retryable else 1


TOOL_FAULTS: dict[str, Fault[Behaviour]] = {
    "connection-error": Fault(
        Fail(ConnectionError("link down")),
        "error",
        "FunctionFailedError",
        "ConnectionError: link down",
    ),
    "value-error": Fault(
        Fail(ValueError("bad query")),
        "error",
        "FunctionFailedError",
        "ValueError: bad query",
        retryable=False,
    ),
    "hang": Fault(Stall(), "timeout", "AttemptTimeoutError", "timed out after 5s"),
}

MODEL_FAULTS: dict[str, Fault[ServerResponse]] = {
    "429-retry-after": Fault(
        HttpError.rate_limited(7),
        "error",
        "ProviderError",
        "RateLimitError: Error code: 429",
        retry_after=7,
    ),
    "500": Fault(HttpError(500), "error", "ProviderError", "InternalServerError: Error code: 500"),
    "503-retry-after": Fault(
        HttpError.unavailable(4),
        "error",
        "ProviderError",
        "InternalServerError: Error code: 503",
        retry_after=4,
    ),
    "hang": Fault(Hang(), "timeout", "AttemptTimeoutError", "timed out after 5s"),
    "connection-reset": Fault(
        ConnectionReset(), "error", "ProviderError", "APIConnectionError: Connection error"
    ),
    "malformed-body": Fault(MalformedBody(), "error", "ProviderError", "JSONDecodeError"),
    "html-200": Fault(HtmlPage(), "error", "ProviderError", "malformed response"),
    "truncated-sse": Fault(TruncatedStream(), "error", "ProviderError", "malformed response"),
    "empty-completion": Fault(EmptyReply(), "error", "ProviderError", "empty completion"),
}


@dataclass
class Rig:
    """What a scenario needs: a place for files, virtual time, tools and servers."""

    directory: Path
    clock: VirtualClock
    tool_plugins: Callable[..., Path]
    serve: Callable[..., Awaitable[OpenAICompatibleServer]]

    def tool_host(self, policy: dict[str, Any], **tools: FaultyTool) -> AgentHost:
        """A host whose ``faulty`` plugin (and any other given tool) runs under ``policy``."""
        config = write_config(self.directory, tools={"faulty": policy}, resilience=RESILIENCE)
        plugins = self.tool_plugins(**tools)
        return AgentHost(config, plugin_dirs=[plugins], clock=self.clock, strict=True)

    def model_host(self, models: dict[str, dict[str, Any]]) -> AgentHost:
        """A host with ``models`` (the first is the default) and the ``talk`` prompts."""
        config = write_config(self.directory, models=models, resilience=RESILIENCE)
        return AgentHost(config, clock=self.clock, strict=True)


async def invoke(host: AgentHost, function: str, **arguments: Any) -> StepRecord:
    """Invoke with jitter made repeatable."""
    assert host.guard is not None
    host.guard.rng.seed(0)
    return await host.invoke(function, arguments)


async def invoke_failing(
    host: AgentHost, function: str, **arguments: Any
) -> tuple[AgentHostError, StepRecord]:
    """Invoke a call expected to fail; return its error and the failed step's record."""
    with pytest.raises(AgentHostError) as raised:
        await invoke(host, function, **arguments)
    assert raised.value.step is not None
    return raised.value, raised.value.step


def trail(events: Sequence[Any]) -> list[tuple[Any, ...]]:
    """The events as ``(kind, target, outcome, attempt, error_type)`` rows."""
    return [(e.kind, e.target, e.outcome, e.attempt, e.error_type) for e in events]


def failed_attempts(target: str, fault: Fault[Any], count: int) -> list[tuple[Any, ...]]:
    return [("attempt", target, fault.outcome, n, fault.error_type) for n in range(1, count + 1)]


def assert_timeouts_at_five_seconds(events: Sequence[Any]) -> None:
    """Every timed-out attempt was cancelled when its 5 s of virtual time ran out."""
    for event in events:
        if event.outcome == "timeout":
            assert event.latency_ms == pytest.approx(5000)


def assert_waits(clock: VirtualClock, fault: Fault[Any], retries: int) -> None:
    """The retry waits honour ``Retry-After`` when given, else stay within full-jitter bounds."""
    if fault.retry_after is not None:
        assert clock.slept == [fault.retry_after] * retries
        return
    assert len(clock.slept) == retries
    for wait, ceiling in zip(clock.slept, CEILINGS, strict=False):
        assert 0 <= wait <= ceiling


# --- native tool scenarios ---------------------------------------------------------------


async def tool_retry_then_success(rig: Rig, fault: Fault[Behaviour]) -> None:
    tool = FaultyTool(fault.failure, fault.failure, Return(7))
    async with rig.tool_host(GUARDED, faulty=tool) as host:
        step = await invoke(host, "faulty.count", query="apples")

    assert step.output == 7
    assert tool.calls == 3
    assert (step.attempts, step.degraded, step.cache_hit) == (3, False, False)
    assert trail(step.events) == [
        *failed_attempts("faulty.count", fault, 2),
        ("attempt", "faulty.count", "ok", 3, None),
    ]
    assert_timeouts_at_five_seconds(step.events)
    assert_waits(rig.clock, fault, retries=2)


async def tool_fallback_to_function(rig: Rig, fault: Fault[Behaviour]) -> None:
    tool, backup = FaultyTool(fault.failure), FaultyTool(Return(42))
    policy = {**GUARDED, "fallback": ["backup.count"]}
    async with rig.tool_host(policy, faulty=tool, backup=backup) as host:
        step = await invoke(host, "faulty.count", query="apples")

    assert step.output == 42
    assert (tool.calls, backup.calls) == (fault.attempts, 1)
    assert (step.attempts, step.degraded) == (fault.attempts, False)
    assert trail(step.events) == [
        *failed_attempts("faulty.count", fault, fault.attempts),
        ("attempt", "backup.count", "ok", 1, None),
        ("fallback", "backup.count", "ok", None, None),
    ]


async def tool_fallback_to_value(rig: Rig, fault: Fault[Behaviour]) -> None:
    tool = FaultyTool(fault.failure)
    policy = {**GUARDED, "fallback": [{"value": 0}]}
    async with rig.tool_host(policy, faulty=tool) as host:
        step = await invoke(host, "faulty.count", query="apples")

    assert step.output == 0
    assert tool.calls == fault.attempts
    assert (step.status, step.attempts, step.degraded) == ("ok", fault.attempts, True)
    assert trail(step.events) == [
        *failed_attempts("faulty.count", fault, fault.attempts),
        ("fallback", "value:0", "ok", None, None),
    ]


async def tool_clear_error(rig: Rig, fault: Fault[Behaviour]) -> None:
    tool = FaultyTool(fault.failure)
    async with rig.tool_host(GUARDED, faulty=tool) as host:
        error, step = await invoke_failing(host, "faulty.count", query="apples")

    assert tool.calls == fault.attempts
    if fault.retryable:
        assert isinstance(error, RetriesExhaustedError)
        assert error.target == "faulty.count"
        assert [type(e).__name__ for e in error.attempts] == [fault.error_type] * 3
        assert "faulty.count failed after 3 attempt(s): #1-#3 " in str(error)
        assert str(error).count(fault.text) == 1  # three alike attempts, listed as one run
    else:
        assert isinstance(error, FunctionFailedError)
        assert (error.function, error.retryable) == ("faulty.count", False)
        assert fault.text in str(error)
    assert (step.status, step.error_type) == ("failed", type(error).__name__)
    assert step.attempts == fault.attempts
    assert trail(step.events) == failed_attempts("faulty.count", fault, fault.attempts)
    assert_timeouts_at_five_seconds(step.events)


async def tool_breaker_opens_then_probe_closes(rig: Rig, fault: Fault[Behaviour]) -> None:
    tool = FaultyTool(fault.failure, fault.failure, Return(7))
    async with rig.tool_host({"timeout": 5, "retries": 0}, faulty=tool) as host:
        assert host.guard is not None
        breakers = host.guard.breakers
        _, first = await invoke_failing(host, "faulty.count", query="apples")
        _, second = await invoke_failing(host, "faulty.count", query="apples")
        assert breakers.state("faulty.count") == "open"

        refused, refused_step = await invoke_failing(host, "faulty.count", query="apples")
        assert tool.calls == 2

        rig.clock.advance(31)
        probe = await invoke(host, "faulty.count", query="apples")

    assert [e.kind for e in first.events] == ["attempt"]
    assert trail(second.events)[-1] == ("breaker", "faulty.count", "open", None, None)
    assert isinstance(refused, CircuitOpenError)
    assert refused.target == "faulty.count"
    assert 0 < refused.retry_in <= 30
    assert trail(refused_step.events) == []
    assert probe.output == 7
    assert tool.calls == 3
    assert trail(probe.events) == [
        ("breaker", "faulty.count", "half_open", None, None),
        ("attempt", "faulty.count", "ok", 1, None),
        ("breaker", "faulty.count", "closed", None, None),
    ]
    assert breakers.state("faulty.count") == "closed"


async def tool_stale_cache_served(rig: Rig, fault: Fault[Behaviour]) -> None:
    tool = FaultyTool(Return(7), fault.failure)
    policy = {**GUARDED, "cache_ttl": 300, "stale_ttl": 3600}
    async with rig.tool_host(policy, faulty=tool) as host:
        fresh = await invoke(host, "faulty.count", query="apples")
        rig.clock.advance(301)
        stale = await invoke(host, "faulty.count", query="apples")

    assert (fresh.output, fresh.degraded) == (7, False)
    assert stale.output == 7
    assert tool.calls == 1 + fault.attempts
    assert (stale.status, stale.degraded, stale.cache_hit) == ("ok", True, False)
    served = "RetriesExhaustedError" if fault.retryable else fault.error_type
    assert trail(stale.events) == [
        *failed_attempts("faulty.count", fault, fault.attempts),
        ("stale_served", "faulty.count", "degraded", None, served),
    ]


# --- model scenarios ---------------------------------------------------------------------


async def model_retry_then_success(rig: Rig, fault: Fault[ServerResponse]) -> None:
    server = await rig.serve(fault.failure, fault.failure, ChatReply("fine"))
    async with rig.model_host({"primary": openai_model(server, "gpt-a", **GUARDED)}) as host:
        step = await invoke(host, "talk.Ask", input="why")

    assert (step.output, step.model) == ("fine", "primary")
    assert len(server.requests) == 3
    assert step.attempts == 3
    assert trail(step.events) == [
        *failed_attempts("primary", fault, 2),
        ("attempt", "primary", "ok", 3, None),
    ]
    assert_timeouts_at_five_seconds(step.events)
    assert_waits(rig.clock, fault, retries=2)


async def model_fallback_to_second_model(rig: Rig, fault: Fault[ServerResponse]) -> None:
    primary = await rig.serve(default=fault.failure)
    backup = await rig.serve(default=ChatReply("from backup"))
    models = {
        "primary": openai_model(primary, "gpt-a", **GUARDED, fallback=["backup"]),
        "backup": openai_model(backup, "gpt-b"),
    }
    async with rig.model_host(models) as host:
        step = await invoke(host, "talk.Ask", input="why")

    assert (step.output, step.model, step.model_id) == ("from backup", "backup", "gpt-b")
    assert (len(primary.requests), len(backup.requests)) == (fault.attempts, 1)
    assert backup.requests[0]["model"] == "gpt-b"
    assert (step.attempts, step.degraded) == (fault.attempts + 1, False)
    assert trail(step.events) == [
        *failed_attempts("primary", fault, fault.attempts),
        ("attempt", "backup", "ok", 1, None),
        ("fallback", "backup", "ok", None, None),
    ]


async def model_clear_error(rig: Rig, fault: Fault[ServerResponse]) -> None:
    server = await rig.serve(default=fault.failure)
    async with rig.model_host({"primary": openai_model(server, "gpt-a", **GUARDED)}) as host:
        error, step = await invoke_failing(host, "talk.Ask", input="why")

    assert len(server.requests) == fault.attempts
    if fault.retryable:
        assert isinstance(error, RetriesExhaustedError)
        assert error.target == "primary"
        assert [type(e).__name__ for e in error.attempts] == [fault.error_type] * 3
        assert "primary failed after 3 attempt(s): #1-#3 " in str(error)
        assert str(error).count(fault.text) == 1  # three alike attempts, listed as one run
    else:
        assert isinstance(error, ProviderError)
        assert (error.model, error.retryable) == ("primary", False)
        assert fault.text in str(error)
    assert (step.status, step.model, step.attempts) == ("failed", "primary", fault.attempts)
    assert trail(step.events) == failed_attempts("primary", fault, fault.attempts)
    assert_timeouts_at_five_seconds(step.events)


async def model_breaker_opens_then_probe_closes(rig: Rig, fault: Fault[ServerResponse]) -> None:
    server = await rig.serve(fault.failure, fault.failure, ChatReply("fine"))
    policy = {"timeout": 5, "retries": 0}
    async with rig.model_host({"primary": openai_model(server, "gpt-a", **policy)}) as host:
        assert host.guard is not None
        breakers = host.guard.breakers
        first, _ = await invoke_failing(host, "talk.Ask", input="why")
        _, second = await invoke_failing(host, "talk.Ask", input="why")
        assert breakers.state("primary") == "open"

        refused, refused_step = await invoke_failing(host, "talk.Ask", input="why")
        assert len(server.requests) == 2

        rig.clock.advance(31)
        probe = await invoke(host, "talk.Ask", input="why")

    assert isinstance(first, ProviderError | AttemptTimeoutError)
    assert trail(second.events)[-1] == ("breaker", "primary", "open", None, None)
    assert isinstance(refused, CircuitOpenError)
    assert refused.target == "primary"
    assert trail(refused_step.events) == []
    assert probe.output == "fine"
    assert len(server.requests) == 3
    assert trail(probe.events) == [
        ("breaker", "primary", "half_open", None, None),
        ("attempt", "primary", "ok", 1, None),
        ("breaker", "primary", "closed", None, None),
    ]
    assert breakers.state("primary") == "closed"


Scenario = Callable[[Rig, Any], Awaitable[None]]

TOOL_SCENARIOS: dict[str, Scenario] = {
    "retry-then-success": tool_retry_then_success,
    "exhausted-fallback-function": tool_fallback_to_function,
    "exhausted-fallback-value": tool_fallback_to_value,
    "no-fallback-clear-error": tool_clear_error,
    "breaker-open-then-probe": tool_breaker_opens_then_probe_closes,
    "stale-cache-served": tool_stale_cache_served,
}

MODEL_SCENARIOS: dict[str, Scenario] = {
    "retry-then-success": model_retry_then_success,
    "exhausted-fallback-model": model_fallback_to_second_model,
    "no-fallback-clear-error": model_clear_error,
    "breaker-open-then-probe": model_breaker_opens_then_probe_closes,
}


def _rows() -> list[Any]:
    """Every meaningful fault-scenario pair."""
    kinds = (("tool", TOOL_FAULTS, TOOL_SCENARIOS), ("model", MODEL_FAULTS, MODEL_SCENARIOS))
    return [
        pytest.param(scenario, fault, id=f"{kind}-{fault_name}-{scenario_name}")
        for kind, faults, scenarios in kinds
        for fault_name, fault in faults.items()
        for scenario_name, scenario in scenarios.items()
        if fault.retryable or scenario_name != "retry-then-success"
    ]


@pytest.mark.usefixtures("openai_key")
@pytest.mark.parametrize(("scenario", "fault"), _rows())
async def test_fault_scenario(
    scenario: Scenario,
    fault: Fault[Any],
    tmp_path: Path,
    clock: VirtualClock,
    tool_plugins: Callable[..., Path],
    serve: Callable[..., Awaitable[OpenAICompatibleServer]],
) -> None:
    await scenario(Rig(tmp_path, clock, tool_plugins, serve), fault)
