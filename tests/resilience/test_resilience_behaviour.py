"""Resilience behaviours beyond the fault matrix: cancellation, concurrency, the seed's
config as written, side effects, deadlines, client errors, and untrusted model output."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from resilience_kit import openai_model, payments, tool_host, write_config, write_ledger_plugin

from host import AgentHost
from host.errors import (
    AgentHostError,
    AttemptTimeoutError,
    CircuitOpenError,
    ProviderError,
    RetriesExhaustedError,
)
from host.state import StepRecord
from host.testing import (
    ChatReply,
    ChatToolCall,
    Fail,
    FaultyTool,
    Hang,
    HttpError,
    OpenAICompatibleServer,
    Return,
    Stall,
    VirtualClock,
    run_until,
)

Serve = Callable[..., Awaitable[OpenAICompatibleServer]]

REPO_PLUGINS = Path(__file__).resolve().parents[2] / "plugins"

CALC_PLUGIN = '''\
from typing import Annotated

from semantic_kernel.functions import kernel_function


class Calc:
    """One function with an ``int`` parameter, for a model to call with bad arguments."""

    plugin_name = "calc"

    @kernel_function(description="Double a whole number.")
    def double(self, number: Annotated[int, "a whole number"]) -> int:
        return number * 2
'''


def attempt_numbers(step: StepRecord | None) -> list[int | None]:
    assert step is not None
    return [e.attempt for e in step.events if e.kind == "attempt"]


def other_tasks() -> set[asyncio.Task[Any]]:
    """Every task but the current one and the virtual clock's driver."""
    current = asyncio.current_task()
    return {t for t in asyncio.all_tasks() if t is not current and t.get_name() != "virtual-clock"}


# --- cancellation ------------------------------------------------------------------------


async def test_cancelling_a_run_cancels_the_hanging_attempt_and_leaves_no_task(
    tmp_path: Path, clock: VirtualClock, tool_plugins: Callable[..., Path]
) -> None:
    tool = FaultyTool(Stall())
    plugins = tool_plugins(faulty=tool)
    async with tool_host(tmp_path, clock, plugins, {"timeout": 60, "retries": 2}) as host:
        before = other_tasks()
        run = asyncio.create_task(host.invoke("faulty.count", query="apples"))
        await run_until(lambda: tool.calls == 1)

        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        await clock.sleep(120)

    assert other_tasks() == before
    assert tool.calls == 1, "no retry or late timeout after the run was cancelled"
    assert clock.now() == 120


async def test_a_cancelled_call_does_not_count_against_the_breaker(
    tmp_path: Path, clock: VirtualClock, tool_plugins: Callable[..., Path]
) -> None:
    tool = FaultyTool(Stall(), Return(7))
    plugins = tool_plugins(faulty=tool)
    policy = {"timeout": 60, "retries": 0}
    async with tool_host(tmp_path, clock, plugins, policy, breaker_failures=1) as host:
        assert host.guard is not None
        run = asyncio.create_task(host.invoke("faulty.count", query="apples"))
        await run_until(lambda: tool.calls == 1)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run

        state = host.guard.breakers.state("faulty.count")
        step = await host.invoke("faulty.count", query="apples")

    assert state == "closed"
    assert step.output == 7


# --- concurrency -------------------------------------------------------------------------


async def test_concurrent_runs_add_their_failures_up_on_one_shared_breaker(
    tmp_path: Path, clock: VirtualClock, tool_plugins: Callable[..., Path]
) -> None:
    tool = FaultyTool(Fail(ConnectionError("link down")))
    plugins = tool_plugins(faulty=tool)
    policy = {"retries": 2}
    async with tool_host(tmp_path, clock, plugins, policy, breaker_failures=3) as host:
        assert host.guard is not None
        runs = [host.invoke("faulty.count", query=f"q{n}") for n in range(3)]
        errors = await asyncio.gather(*runs, return_exceptions=True)
        state = host.guard.breakers.state("faulty.count")
        with pytest.raises(CircuitOpenError):
            await host.invoke("faulty.count", query="q3")

    assert all(isinstance(e, RetriesExhaustedError) for e in errors)
    assert state == "open"
    opened = [
        e
        for error in errors
        if isinstance(error, AgentHostError) and error.step is not None
        for e in error.step.events
        if e.kind == "breaker"
    ]
    assert [(e.target, e.outcome) for e in opened] == [("faulty.count", "open")]
    assert tool.calls == 9, "the refused fourth call never reached the tool"


async def test_concurrent_runs_keep_their_own_attempt_numbers(
    tmp_path: Path, clock: VirtualClock, tool_plugins: Callable[..., Path]
) -> None:
    tool = FaultyTool(Fail(ConnectionError("link down")))
    plugins = tool_plugins(faulty=tool)
    policy = {"retries": 2}
    async with tool_host(tmp_path, clock, plugins, policy, breaker_failures=10) as host:
        runs = [host.invoke("faulty.count", query=f"q{n}") for n in range(3)]
        errors = await asyncio.gather(*runs, return_exceptions=True)

    assert all(isinstance(e, RetriesExhaustedError) for e in errors)
    for error in errors:
        assert isinstance(error, RetriesExhaustedError)
        assert len(error.attempts) == 3
        assert attempt_numbers(error.step) == [1, 2, 3]
    assert tool.calls == 9
    assert len(clock.slept) == 6, "each run waited twice, between its own attempts"


# --- the seed's config, as written -------------------------------------------------------


def seed_model(server: OpenAICompatibleServer) -> dict[str, Any]:
    """The seed's model row: ``timeout: 5s``, ``retries: 2``, ``fallback: openai/gpt-4``."""
    return openai_model(server, "gpt-primary", timeout="5s", retries=2, fallback="openai/gpt-4")


@pytest.fixture
async def seed_host(
    tmp_path: Path,
    clock: VirtualClock,
    serve: Serve,
    monkeypatch: pytest.MonkeyPatch,
    openai_key: None,
) -> Callable[..., Awaitable[tuple[AgentHost, OpenAICompatibleServer, OpenAICompatibleServer]]]:
    """A host on the seed's model row; ``openai/gpt-4`` is served by a second loopback server.

    The fallback row names no base URL, so the ``openai`` client takes
    ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` from the environment, as it would in production.
    """

    async def build(
        *responses: Any, default: Any = None
    ) -> tuple[AgentHost, OpenAICompatibleServer, OpenAICompatibleServer]:
        primary = await serve(*responses, default=default)
        gpt4 = await serve(default=ChatReply("gpt-4 here"))
        monkeypatch.setenv("OPENAI_BASE_URL", gpt4.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-loopback")
        config = write_config(tmp_path, models={"primary": seed_model(primary)})
        host = AgentHost(config, clock=clock, strict=True)
        host.start()
        assert host.guard is not None
        host.guard.rng.seed(0)
        return host, primary, gpt4

    return build


async def test_seed_config_third_consecutive_failure_moves_to_the_fallback_model(
    seed_host: Callable[..., Awaitable[tuple[AgentHost, OpenAICompatibleServer, Any]]],
) -> None:
    host, primary, gpt4 = await seed_host(default=HttpError(500))
    async with host:
        step = await host.invoke("talk.Ask", input="why")

    assert step.output == "gpt-4 here"
    assert (len(primary.requests), len(gpt4.requests)) == (3, 1)
    assert gpt4.requests[0]["model"] == "gpt-4"
    assert step.model == "openai/gpt-4"
    assert [(e.kind, e.target, e.outcome) for e in step.events] == [
        ("attempt", "primary", "error"),
        ("attempt", "primary", "error"),
        ("attempt", "primary", "error"),
        ("attempt", "openai/gpt-4", "ok"),
        ("fallback", "openai/gpt-4", "ok"),
    ]


async def test_seed_config_timeout_fires_at_five_virtual_seconds(
    seed_host: Callable[..., Awaitable[tuple[AgentHost, OpenAICompatibleServer, Any]]],
    clock: VirtualClock,
) -> None:
    host, _, _ = await seed_host(Hang(), default=ChatReply("fine"))
    async with host:
        step = await host.invoke("talk.Ask", input="why")

    timed_out, answered = step.events
    assert (timed_out.outcome, timed_out.error_type) == ("timeout", "AttemptTimeoutError")
    assert timed_out.latency_ms == pytest.approx(5000)
    assert timed_out.error is not None and "timed out after 5s" in timed_out.error
    assert (answered.outcome, step.output) == ("ok", "fine")
    assert clock.now() == pytest.approx(5 + clock.slept[0]), "5 s of attempt, then one backoff"


async def test_seed_config_cache_hit_within_300s_does_not_call_the_tool(
    tmp_path: Path, clock: VirtualClock, tool_plugins: Callable[..., Path]
) -> None:
    tool = FaultyTool(Return(7), Fail(ConnectionError("must not be called")))
    plugins = tool_plugins(faulty=tool)
    async with tool_host(tmp_path, clock, plugins, {"cache_ttl": 300}) as host:
        first = await host.invoke("faulty.count", query="apples")
        clock.advance(299)
        second = await host.invoke("faulty.count", query="apples")

    assert (first.output, first.cache_hit) == (7, False)
    assert (second.output, second.cache_hit, second.attempts) == (7, True, 0)
    assert [(e.kind, e.target) for e in second.events] == [("cache_hit", "faulty.count")]
    assert tool.calls == 1


async def test_seed_config_cache_entry_older_than_300s_is_not_a_hit(
    tmp_path: Path, clock: VirtualClock, tool_plugins: Callable[..., Path]
) -> None:
    tool = FaultyTool(Return(7), Return(8))
    plugins = tool_plugins(faulty=tool)
    async with tool_host(tmp_path, clock, plugins, {"cache_ttl": 300}) as host:
        await host.invoke("faulty.count", query="apples")
        clock.advance(301)
        later = await host.invoke("faulty.count", query="apples")

    assert (later.output, later.cache_hit) == (8, False)
    assert tool.calls == 2


# --- side effects, deadline, client errors -----------------------------------------------


async def test_a_side_effecting_function_is_never_cached_even_with_cache_ttl(
    tmp_path: Path,
) -> None:
    outbox = tmp_path / "outbox"
    tools = {"email": {"cache_ttl": 300, "settings": {"outbox": str(outbox)}}}
    config = write_config(tmp_path, tools=tools, plugins={"modules": ["plugins.email"]})
    message = {"to": "ada@example.com", "subject": "Hello", "body": "Twice, on purpose."}
    # The real clock: send writes in a worker thread, which virtual time does not wait for.
    async with AgentHost(config, strict=True) as host:
        first = await host.invoke("email.send", message)
        second = await host.invoke("email.send", message)

    assert len(list(outbox.iterdir())) == 2, "both sends reached the plugin"
    assert (first.cache_hit, second.cache_hit) == (False, False)
    assert [e.kind for e in second.events] == ["attempt"]


async def test_the_run_deadline_stops_a_retry_loop_before_a_wait_it_would_cut(
    tmp_path: Path, clock: VirtualClock, tool_plugins: Callable[..., Path]
) -> None:
    tool = FaultyTool(Fail(ConnectionError("link down")))
    plugins = tool_plugins(faulty=tool)
    backoff = {"backoff_initial": 4, "backoff_multiplier": 2, "backoff_max": 30}
    async with tool_host(tmp_path, clock, plugins, {"retries": 10}, **backoff) as host:
        assert host.guard is not None
        host.guard.rng.seed(0)
        with pytest.raises(RetriesExhaustedError) as raised:
            await host.invoke("faulty.count", query="apples", deadline=10)

    assert clock.now() == sum(clock.slept) < 10, "no wait begun that the deadline would cut"
    assert 1 < tool.calls < 11
    assert len(raised.value.attempts) == tool.calls
    step = raised.value.step
    assert step is not None
    assert (step.status, step.error_type) == ("failed", "RetriesExhaustedError")
    assert attempt_numbers(step) == list(range(1, tool.calls + 1))


@pytest.mark.usefixtures("openai_key")
@pytest.mark.parametrize("status", [400, 401])
@pytest.mark.parametrize(
    "retry_on", [None, ["ProviderError"]], ids=["default-predicate", "retry-on-provider-error"]
)
async def test_a_client_error_is_never_retried(
    tmp_path: Path, clock: VirtualClock, serve: Serve, status: int, retry_on: list[str] | None
) -> None:
    server = await serve(HttpError(status), default=ChatReply("must not be asked"))
    policy: dict[str, Any] = {"timeout": 5, "retries": 2}
    if retry_on is not None:
        policy["retry_on"] = retry_on
    config = write_config(tmp_path, models={"primary": openai_model(server, "gpt-a", **policy)})
    async with AgentHost(config, clock=clock, strict=True) as host:
        with pytest.raises(ProviderError) as raised:
            await host.invoke("talk.Ask", input="why")

    assert (raised.value.status, raised.value.retryable) == (status, False)
    assert len(server.requests) == 1
    assert clock.slept == []
    assert raised.value.step is not None
    assert raised.value.step.attempts == 1


@pytest.mark.usefixtures("openai_key")
async def test_retrying_a_model_call_does_not_repeat_a_side_effect_it_already_ran(
    tmp_path: Path, clock: VirtualClock, serve: Serve
) -> None:
    plugins, tools = write_ledger_plugin(tmp_path)
    pay = ChatToolCall("ledger-pay", {"amount": 5})
    server = await serve(pay, HttpError(500), pay, ChatReply("done"))
    config = write_config(
        tmp_path,
        models={"primary": openai_model(server, "gpt-a", timeout=5, retries=2)},
        tools=tools,
    )
    async with AgentHost(config, plugin_dirs=[plugins], clock=clock, strict=True) as host:
        with contextlib.suppress(AgentHostError):
            await host.invoke("talk.Agent", input="pay 5 once")

    assert payments(tmp_path) == ["5"], "paid once, whatever else"


# --- model output is not trusted ---------------------------------------------------------


@pytest.fixture
def calc_plugins(tmp_path: Path) -> Path:
    directory = tmp_path / "calc"
    directory.mkdir()
    (directory / "calc.py").write_text(CALC_PLUGIN, encoding="utf-8")
    return directory


async def agent_run(
    tmp_path: Path, clock: VirtualClock, serve: Serve, plugins: Path, call: ChatToolCall
) -> tuple[StepRecord, OpenAICompatibleServer]:
    """Run ``talk.Agent`` with a model that makes ``call``, then answers ``done``."""
    server = await serve(call, ChatReply("done"))
    config = write_config(tmp_path, models={"primary": openai_model(server, "gpt-a", timeout=5)})
    async with AgentHost(config, plugin_dirs=[plugins], clock=clock, strict=True) as host:
        step = await host.invoke("talk.Agent", input="double two")
    return step, server


@pytest.mark.usefixtures("openai_key")
@pytest.mark.parametrize(
    ("call", "told"),
    [
        (ChatToolCall("calc-triple", {"number": 2}), "calc-triple"),
        (ChatToolCall("calc-double", {"number": "many"}), "number"),
        (ChatToolCall("calc-double", '{"number": '), "malformed"),
    ],
    ids=["unknown-function", "wrong-argument-type", "malformed-json-arguments"],
)
async def test_a_bad_tool_call_is_answered_with_a_tool_error_and_the_run_completes(
    tmp_path: Path,
    clock: VirtualClock,
    serve: Serve,
    calc_plugins: Path,
    call: ChatToolCall,
    told: str,
) -> None:
    step, server = await agent_run(tmp_path, clock, serve, calc_plugins, call)

    assert (step.status, step.output) == ("ok", "done")
    assert len(server.requests) == 2
    answer = server.requests[1]["messages"][-1]
    assert (answer["role"], answer["tool_call_id"]) == ("tool", "call_1")
    assert told in answer["content"]
    ran = [e for e in step.events if e.target == "calc.double" and e.outcome == "ok"]
    assert ran == [], "the tool never ran with what the model sent"


@pytest.mark.usefixtures("openai_key")
async def test_a_fractional_number_for_an_int_parameter_is_answered_with_a_tool_error(
    tmp_path: Path, clock: VirtualClock, serve: Serve, calc_plugins: Path
) -> None:
    call = ChatToolCall("calc-double", {"number": 2.5})
    step, server = await agent_run(tmp_path, clock, serve, calc_plugins, call)

    assert (step.status, step.output) == ("ok", "done")
    answer = server.requests[1]["messages"][-1]
    assert answer["role"] == "tool"
    assert "number" in answer["content"], f"the tool ran and answered {answer['content']!r}"
    [rejected] = [e for e in step.events if e.kind == "rejected"]
    assert (rejected.target, rejected.outcome) == ("calc.double", "invalid_arguments")


@pytest.mark.usefixtures("openai_key")
async def test_a_model_that_keeps_calling_a_missing_tool_is_bounded(
    tmp_path: Path, clock: VirtualClock, serve: Serve, calc_plugins: Path
) -> None:
    server = await serve(default=ChatToolCall("calc-triple", {"number": 2}))
    config = write_config(tmp_path, models={"primary": openai_model(server, "gpt-a", timeout=5)})
    async with AgentHost(config, plugin_dirs=[calc_plugins], clock=clock, strict=True) as host:
        step = await host.invoke("talk.Agent", input="triple two")

    assert step.status == "ok"
    assert len(server.requests) == 6, "five tool rounds, then one request offering no tools"
    assert "tools" not in server.requests[-1]
    answers = [m for m in server.requests[-1]["messages"] if m["role"] == "tool"]
    assert len(answers) == 5
    assert all("calc-triple" in m["content"] for m in answers)


# --- the test kit itself -----------------------------------------------------------------
# A fresh openai client probes the platform in a worker thread before its first request;
# the virtual clock must not skip time while that thread works.


@pytest.mark.usefixtures("openai_key")
async def test_virtual_time_waits_for_a_fresh_openai_clients_platform_probe(
    tmp_path: Path, clock: VirtualClock, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    import openai._base_client as base_client

    real_probe = base_client.get_platform

    def slow_probe() -> Any:
        hashlib.sha256(bytes(16 * 2**20)).digest()  # milliseconds of real work in the thread
        return real_probe()

    monkeypatch.setattr(base_client, "get_platform", slow_probe)
    server = await serve(default=ChatReply("fine"))
    policy = {"timeout": 5, "retries": 0}
    config = write_config(tmp_path, models={"primary": openai_model(server, "gpt-a", **policy)})
    async with AgentHost(config, clock=clock, strict=True) as host:
        try:
            step = await host.invoke("talk.Ask", input="why")
        except AttemptTimeoutError:
            sent = len(server.requests)
            pytest.fail(f"timed out at virtual {clock.now()}s; requests sent: {sent}")

    assert step.output == "fine"
