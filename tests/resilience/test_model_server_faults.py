"""Model-server faults and time bounds: how long a server's ``Retry-After`` may hold a call,
that building a model's client is not its first attempt's time, and that an empty reply
fails while a tool-call reply or a native function's ``""`` does not. Models are reached
through the real ``openai`` client and the loopback server, on virtual time.

Malformed and empty replies in every resilience scenario are rows of the fault matrix."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from resilience_kit import openai_model, tool_host, write_config

from host import AgentHost
from host.config import ModelConfig
from host.errors import AgentHostError, ProviderError
from host.models.providers import FACTORIES
from host.testing import (
    ChatReply,
    ChatToolCall,
    FaultyTool,
    HttpError,
    OpenAICompatibleServer,
    Return,
    ServerResponse,
    VirtualClock,
)

Serve = Callable[..., Awaitable[OpenAICompatibleServer]]

RESILIENCE = {"backoff_initial": 1, "backoff_multiplier": 2, "backoff_max": 8}

BACKOFF = random.Random(0).uniform(0.0, 1.0)
"""The first full-jitter wait under :data:`RESILIENCE`, the host's rng seeded with 0."""

pytestmark = [pytest.mark.usefixtures("openai_key"), pytest.mark.reliability]


def model_host(tmp_path: Path, clock: VirtualClock, models: dict[str, dict[str, Any]]) -> AgentHost:
    """A started host with ``models`` (the first is the default) and repeatable jitter."""
    config = write_config(tmp_path, models=models, resilience=RESILIENCE)
    host = AgentHost(config, clock=clock, strict=True)
    host.start()
    assert host.guard is not None
    host.guard.rng.seed(0)
    return host


# --- Retry-After ---------------------------------------------------------------------------

RETRY_AFTER = {
    "seconds": ("3", 3.0),
    "fraction": ("0.5", 0.5),
    "zero": ("0", 0.0),
    "beyond-backoff-max": ("600", 8.0),
    "http-date-past": ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
    "http-date-far-ahead": ("Wed, 21 Oct 2099 07:28:00 GMT", 8.0),
    "malformed": ("soon", BACKOFF),
    "negative": ("-5", BACKOFF),
    "not-a-number": ("nan", BACKOFF),
    "infinite": ("inf", BACKOFF),
}
"""A 429's ``Retry-After`` value, and the wait before the retry: the server's, capped by
``backoff_max``; an HTTP date counts from now; a value that is neither is ignored."""


@pytest.mark.parametrize(("value", "wait"), RETRY_AFTER.values(), ids=list(RETRY_AFTER))
async def test_the_wait_after_a_429_is_its_retry_after_capped_by_backoff_max(
    tmp_path: Path, clock: VirtualClock, serve: Serve, value: str, wait: float
) -> None:
    server = await serve(HttpError.rate_limited(value), ChatReply("fine"))
    models = {"primary": openai_model(server, "gpt-a", retries=1)}
    async with model_host(tmp_path, clock, models) as host:
        step = await host.invoke("talk.Ask", {"input": "why"})

    assert step.output == "fine"
    assert len(server.requests) == 2
    assert clock.slept == [pytest.approx(wait)]


DEADLINE = {
    "retry-after-beyond-deadline": (HttpError.rate_limited(5), 3.0, []),
    "retry-after-to-the-deadline": (HttpError.rate_limited(3), 3.0, []),
    "backoff-beyond-deadline": (HttpError(500), BACKOFF / 2, []),
    "retry-after-within-deadline": (HttpError.rate_limited(2), 3.0, [2.0]),
    "backoff-within-deadline": (HttpError(500), 3.0, [BACKOFF]),
}
"""The primary's failure, the run's deadline, and the waits before the backup answers:
a wait the deadline would end first is not begun, so the fallback gets the time left."""


@pytest.mark.parametrize(("failure", "deadline", "waits"), DEADLINE.values(), ids=list(DEADLINE))
async def test_a_retry_wait_that_would_pass_the_deadline_is_not_begun(
    tmp_path: Path,
    clock: VirtualClock,
    serve: Serve,
    failure: ServerResponse,
    deadline: float,
    waits: list[float],
) -> None:
    primary = await serve(default=failure)
    backup = await serve(default=ChatReply("from backup"))
    models = {
        "primary": openai_model(primary, "gpt-a", retries=1, fallback=["backup"]),
        "backup": openai_model(backup, "gpt-b"),
    }
    async with model_host(tmp_path, clock, models) as host:
        step = await host.invoke("talk.Ask", {"input": "why"}, deadline=deadline)

    assert (step.output, step.model) == ("from backup", "backup")
    assert clock.slept == [pytest.approx(w) for w in waits]
    assert len(primary.requests) == 1 + len(waits)
    assert [(e.kind, e.target, e.outcome) for e in step.events][-1] == (
        "fallback",
        "backup",
        "ok",
    )


async def test_without_a_fallback_the_skipped_wait_fails_with_the_servers_error(
    tmp_path: Path, clock: VirtualClock, serve: Serve
) -> None:
    server = await serve(default=HttpError.rate_limited(600))
    models = {"primary": openai_model(server, "gpt-a", retries=2)}
    async with model_host(tmp_path, clock, models) as host:
        with pytest.raises(AgentHostError) as raised:
            await host.invoke("talk.Ask", {"input": "why"}, deadline=5)

    assert isinstance(raised.value, ProviderError)
    assert (raised.value.status, raised.value.retry_after) == (429, 600)
    assert (clock.slept, clock.now(), len(server.requests)) == ([], 0, 1)


# --- building a model's client -------------------------------------------------------------

BUILD = {
    "first-model": ([ChatReply("at once")], [], "primary"),
    "fallback-model": ([HttpError(500)], [ChatReply("at once")], "backup"),
}
"""What each model's server answers, and which model's answer the step returns."""


@pytest.mark.parametrize(("primary_says", "backup_says", "served"), BUILD.values(), ids=list(BUILD))
async def test_building_a_models_client_takes_none_of_its_attempts_timeout(
    tmp_path: Path,
    clock: VirtualClock,
    serve: Serve,
    monkeypatch: pytest.MonkeyPatch,
    primary_says: list[ServerResponse],
    backup_says: list[ServerResponse],
    served: str,
) -> None:
    """The openai connector's import and client set-up take about a second, once per
    process; here each build takes 2 s of the test's clock, against a 1 s timeout."""
    build = FACTORIES["openai"]

    def slow_build(name: str, model: ModelConfig, secret: str | None) -> Any:
        clock.advance(2)
        return build(name, model, secret)

    monkeypatch.setitem(FACTORIES, "openai", slow_build)
    primary = await serve(*primary_says)
    backup = await serve(*backup_says)
    models = {
        "primary": openai_model(primary, "gpt-a", timeout=1, retries=0, fallback=["backup"]),
        "backup": openai_model(backup, "gpt-b", timeout=1, retries=0),
    }
    async with model_host(tmp_path, clock, models) as host:
        step = await host.invoke("talk.Ask", {"input": "why"})

    assert (step.output, step.model) == ("at once", served)
    assert [e.outcome for e in step.events if e.kind == "attempt"][-1] == "ok"
    assert all(e.outcome != "timeout" for e in step.events)


# --- empty answers -------------------------------------------------------------------------

CHOOSE_PROMPT = """\
name: Choose
template: "Choose a tool for {{$input}}"
description: Let the model pick a tool without running it.
execution_settings:
  default:
    function_choice_behavior:
      type: auto
      auto_invoke: false
"""


async def test_a_reply_that_is_only_a_tool_call_is_not_empty(
    tmp_path: Path, clock: VirtualClock, serve: Serve, tool_plugins: Callable[..., Path]
) -> None:
    tool = FaultyTool(Return(3))
    server = await serve(ChatToolCall("faulty-count", {"query": "apples"}))
    models = {"primary": openai_model(server, "gpt-a", retries=2)}
    config = write_config(tmp_path, models=models)
    (tmp_path / "prompts" / "talk" / "choose.yaml").write_text(CHOOSE_PROMPT, encoding="utf-8")
    host = AgentHost(config, plugin_dirs=[tool_plugins(faulty=tool)], clock=clock, strict=True)
    async with host:
        step = await host.invoke("talk.Choose", {"input": "apples"})

    assert (step.status, step.attempts, len(server.requests), tool.calls) == ("ok", 1, 1, 0)


async def test_a_native_function_may_answer_with_an_empty_string(
    tmp_path: Path, clock: VirtualClock, tool_plugins: Callable[..., Path]
) -> None:
    tool = FaultyTool(Return(""))
    policy = {"timeout": 5, "retries": 2}
    async with tool_host(tmp_path, clock, tool_plugins(faulty=tool), policy) as host:
        step = await host.invoke("faulty.count", {"query": "apples"})

    assert (step.status, step.output, step.attempts, tool.calls) == ("ok", "", 1, 1)
