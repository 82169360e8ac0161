"""The span tree of each kind of run, read back from an in-memory exporter.

One trace per run: ``invoke_workflow {name}`` at the root, ``plan {planner}`` for
planning, ``step {id}`` per step, and under each step one ``chat {model}`` or
``execute_tool {plugin.function}`` span per attempt and fallback hop (see
:mod:`host.telemetry.genai`). Each test names the break it catches.

A resumed run is a NEW trace: the paused run's trace ends when it pauses, and the
resume opens a root of its own carrying the same ``agent_host.run.id`` (search a
viewer by that attribute to see both). The two traces are not linked today; see
:func:`test_a_resumed_run_links_to_the_trace_it_paused_in` (a known bug).

Tests marked ``xfail(strict=True)`` with a ``BUG:`` reason pin a bug in the code
under test; each passes once the fix named in its reason is applied, and then
fails as XPASS until its marker is removed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.trace import SpanKind, StatusCode

from host import AgentHost, RunResult
from host.testing import (
    ChatReply,
    OpenAICompatibleServer,
    Raise,
    Reply,
    ScriptedChatCompletion,
    ToolCall,
    VirtualClock,
)
from host.workflows import WorkflowBuilder, ref
from tests.executor.trips_kit import chain, write_trips
from tests.resilience.resilience_kit import API_KEY_ENV, openai_model
from tests.tracing.span_kit import (
    Finished,
    SpanTree,
    attribute_keys,
    event_names,
    events,
    failed,
    step,
    trace_id,
    write_host,
)

CONTENT_KEYS = {
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
    "agent_host.run.request",
    "input.value",
    "output.value",
}
"""Attributes that hold prompts, replies, tool arguments and results, or the request."""


def writer_models(**primary: Any) -> dict[str, dict[str, Any]]:
    """Scripted ``primary`` (the only one capable of ``write``) and ``backup``."""
    return {
        "primary": {
            "provider": "scripted",
            "model": "primary-1",
            "capabilities": ["write"],
            **primary,
        },
        "backup": {"provider": "scripted", "model": "backup-1", "capabilities": ["review"]},
    }


def ask(step_id: str = "ask", capability: str = "write", **arguments: Any) -> dict[str, Any]:
    """A ``talk.Ask`` plan step (its prompt asks for at most 20 tokens)."""
    return {
        **step(step_id, "talk.Ask", **(arguments or {"input": "tea"})),
        "capability": capability,
    }


def root_of(spans: SpanTree) -> ReadableSpan:
    """The one root span of ``spans``, checked to be the run's."""
    (root,) = spans.roots()
    assert root.attributes is not None
    assert root.attributes["gen_ai.operation.name"] == "invoke_workflow"
    return root


def only_child(spans: SpanTree, span: ReadableSpan) -> ReadableSpan:
    (child,) = spans.children(span)
    return child


# --- success -------------------------------------------------------------------------------


async def test_a_planned_run_is_one_trace_with_steps_and_attempts_beneath_its_root(
    tmp_path: Path, provider: TracerProvider, finished: Finished
) -> None:
    """Kills: steps opened as roots of their own (no parent), a run span not named
    ``invoke_workflow plan``, an attempt span outside its step, ``trace_id`` not set or
    not the spans' own."""
    plan = {
        "steps": [step("s1"), step("s2", "steady.count", "s1"), step("s3", "steady.count", "s2")]
    }
    async with AgentHost(write_host(tmp_path), tracer_provider=provider, strict=True) as host:
        result = await host.execute(plan, "count three times")

    spans = finished()
    assert result.status == "ok", result.error
    assert spans.trace_ids() == {result.trace_id}
    root = root_of(spans)
    assert (root.name, root.kind, root.parent) == ("invoke_workflow plan", SpanKind.INTERNAL, None)
    assert root.attributes is not None
    assert root.attributes["gen_ai.workflow.name"] == "plan"
    assert root.attributes["agent_host.run.id"] == result.run_id
    assert root.attributes["agent_host.run.status"] == "ok"
    assert root.attributes["agent_host.run.steps"] == 3
    assert root.status.status_code is StatusCode.UNSET
    assert [s.name for s in spans.children(root)] == ["step s1", "step s2", "step s3"]
    for step_span in spans.children(root):
        assert step_span.attributes is not None
        assert step_span.attributes["agent_host.function"] == "steady.count"
        assert step_span.attributes["agent_host.step.status"] == "ok"
        assert step_span.attributes["agent_host.attempts"] == 1
        tool = only_child(spans, step_span)
        assert (tool.name, tool.kind) == ("execute_tool steady.count", SpanKind.INTERNAL)
        assert tool.attributes is not None
        assert tool.attributes["gen_ai.operation.name"] == "execute_tool"
        assert tool.attributes["gen_ai.tool.name"] == "steady.count"
        assert tool.attributes["gen_ai.tool.type"] == "function"
        assert tool.attributes["agent_host.attempt"] == 1
        assert spans.children(tool) == []


async def test_a_tool_runs_inside_its_attempt_span(
    tmp_path: Path, provider: TracerProvider, finished: Finished
) -> None:
    """The span current while a tool's code runs is its ``execute_tool`` span, so spans a
    plugin opens itself nest there. Kills: an attempt span made but not made current."""
    async with AgentHost(write_host(tmp_path), tracer_provider=provider, strict=True) as host:
        result = await host.execute({"steps": [step("s1", "probe.where", query="q")]})

    tool = finished().one("execute_tool probe.where")
    assert result.output == f"{tool.context.trace_id:032x}/{tool.context.span_id:016x}"


async def test_a_models_tool_call_is_a_tool_span_under_its_chat_naming_the_call_id(
    tmp_path: Path, provider: TracerProvider, finished: Finished
) -> None:
    """Kills: a tool span without the model's ``gen_ai.tool.call.id``, or outside the
    model call that asked for it; and an id leaking to a tool the call did not name."""
    script = [ToolCall("steady.count", {"query": "tea"}, id="call_7"), Reply("7 teas")]
    models = {"main": ScriptedChatCompletion("main", script)}
    config = write_host(tmp_path)
    async with AgentHost(config, tracer_provider=provider, models=models, strict=True) as host:
        result = await host.execute({"steps": [step("s1", "talk.Agent", input="count tea")]})

    assert result.status == "ok", result.error
    spans = finished()
    tool = spans.one("execute_tool steady.count")
    assert tool.attributes is not None and tool.attributes["gen_ai.tool.call.id"] == "call_7"
    parent = spans.parent(tool)
    assert parent is not None and parent.name.startswith("chat ")
    assert spans.parent(parent) == spans.one("step s1")


# --- retries and fallbacks -----------------------------------------------------------------


async def test_each_retry_is_an_attempt_span_and_a_retry_event_on_the_step(
    tmp_path: Path, provider: TracerProvider, finished: Finished, clock: VirtualClock
) -> None:
    """Kills: one span for the whole retried call, a failed attempt not marked ERROR or
    without ``error.type``, the repeated attempt not journalled as ``retry``."""
    config = write_host(tmp_path, tools={"flaky": {"retries": 1}})
    async with AgentHost(config, tracer_provider=provider, clock=clock, strict=True) as host:
        result = await host.execute({"steps": [step("s1", "flaky.count")]})

    spans = finished()
    assert result.status == "ok", result.error
    step_span = spans.one("step s1")
    first, second = spans.children(step_span)
    assert [first.name, second.name] == ["execute_tool flaky.count"] * 2
    assert first.attributes is not None and second.attributes is not None
    assert [first.attributes["agent_host.attempt"], second.attributes["agent_host.attempt"]] == [
        1,
        2,
    ]
    assert failed(first) and first.attributes["error.type"] == "FunctionFailedError"
    (raised,) = events(first, "exception")
    assert raised.attributes is not None
    assert "ConnectionError: link down" in str(raised.attributes["exception.message"])
    assert second.status.status_code is StatusCode.UNSET and "error.type" not in second.attributes
    (retry,) = events(step_span, "retry")
    assert retry.attributes is not None
    assert retry.attributes["agent_host.attempt"] == 2
    assert retry.attributes["agent_host.outcome"] == "ok"
    assert step_span.attributes is not None and step_span.attributes["agent_host.attempts"] == 2
    assert step_span.status.status_code is StatusCode.UNSET


async def test_a_model_fallback_hop_is_a_second_chat_span_marked_as_the_hop(
    tmp_path: Path, provider: TracerProvider, finished: Finished
) -> None:
    """Kills: the hop made under the primary's span or not at all, the hop flag on the
    wrong span, no ``fallback`` event on the step."""
    models = {
        "primary": ScriptedChatCompletion("primary", [Raise(ConnectionError("primary down"))]),
        "backup": ScriptedChatCompletion("backup", [Reply("tea!", usage=(5, 2))]),
    }
    config = write_host(tmp_path, models=writer_models(fallback=["backup"]))
    async with AgentHost(config, tracer_provider=provider, models=models, strict=True) as host:
        result = await host.execute({"steps": [ask()]})

    spans = finished()
    assert result.status == "ok", result.error
    step_span = spans.one("step ask")
    primary, hop = spans.children(step_span)
    assert (primary.name, hop.name) == ("chat primary-1", "chat backup-1")
    assert primary.kind is SpanKind.CLIENT and hop.kind is SpanKind.CLIENT
    assert primary.attributes is not None and hop.attributes is not None
    assert failed(primary) and primary.attributes["error.type"] == "ProviderError"
    assert primary.attributes["agent_host.fallback.hop"] is False
    assert hop.attributes["agent_host.fallback.hop"] is True
    assert hop.attributes["agent_host.model"] == "backup"
    assert hop.attributes["gen_ai.request.model"] == "backup-1"
    assert hop.status.status_code is StatusCode.UNSET
    assert (
        hop.attributes["gen_ai.usage.input_tokens"],
        hop.attributes["gen_ai.usage.output_tokens"],
    ) == (5, 2)
    (fallback,) = events(step_span, "fallback")
    assert fallback.attributes is not None
    assert (
        fallback.attributes["agent_host.target"],
        fallback.attributes["agent_host.outcome"],
    ) == (
        "backup",
        "ok",
    )
    assert step_span.attributes is not None
    assert step_span.attributes["agent_host.fallback.hops"] == 1
    assert step_span.attributes["agent_host.route.model"] == "backup"


async def test_a_tool_fallback_hop_is_marked_as_the_hop(
    tmp_path: Path, provider: TracerProvider, finished: Finished
) -> None:
    """Kills: a tool's fallback hop indistinguishable from a first attempt."""
    config = write_host(tmp_path, tools={"broken": {"fallback": ["steady.count"]}})
    async with AgentHost(config, tracer_provider=provider, strict=True) as host:
        result = await host.execute({"steps": [step("s1", "broken.count")]})

    spans = finished()
    assert result.status == "ok", result.error
    primary, hop = spans.children(spans.one("step s1"))
    assert (primary.name, hop.name) == ("execute_tool broken.count", "execute_tool steady.count")
    assert primary.attributes is not None and hop.attributes is not None
    assert primary.attributes["agent_host.fallback.hop"] is False
    assert hop.attributes["agent_host.fallback.hop"] is True


# --- cache, validation, hand-off -----------------------------------------------------------


async def test_a_stale_cache_serve_is_an_event_and_marks_step_and_run_degraded(
    tmp_path: Path, provider: TracerProvider, finished: Finished, clock: VirtualClock
) -> None:
    """Kills: the stale serve not journalled on the step span, ``agent_host.degraded``
    not carried to the step or the run, the failed attempt behind it hidden."""
    config = write_host(tmp_path, tools={"archive": {"cache_ttl": 300, "stale_ttl": 60}})
    plan = {"steps": [step("s1", "archive.count")]}
    async with AgentHost(config, tracer_provider=provider, clock=clock, strict=True) as host:
        fresh = await host.execute(plan)
        clock.advance(301)
        stale = await host.execute(plan)

    assert (fresh.output, stale.output, stale.degraded) == (7, 7, True)
    spans = finished().in_trace(str(stale.trace_id))
    root = root_of(spans)
    assert root.attributes is not None and root.attributes["agent_host.degraded"] is True
    step_span = spans.one("step s1")
    assert step_span.attributes is not None
    assert step_span.attributes["agent_host.degraded"] is True
    assert step_span.attributes["agent_host.cache.hit"] is False
    assert step_span.status.status_code is StatusCode.UNSET
    (served,) = events(step_span, "stale_served")
    assert served.attributes is not None
    assert served.attributes["agent_host.target"] == "archive.count"
    assert served.attributes["error.type"] == "FunctionFailedError"
    attempt = only_child(spans, step_span)
    assert failed(attempt) and attempt.name == "execute_tool archive.count"


async def test_a_validation_downgrade_records_the_verdict_and_the_alternative(
    tmp_path: Path, provider: TracerProvider, finished: Finished
) -> None:
    """Kills: the verdict, its problems or the downgrade left off the step span, the
    ``validation`` and ``on_fail`` events not recorded, a degraded run not marked."""
    validation = {
        "talk.Ask": {
            "regex": "^TEA",
            "on_fail": ["alternative"],
            "alternative": {"template": "Tea for {input}."},
        }
    }
    models = {"main": ScriptedChatCompletion("main", [Reply("coffee")])}
    config = write_host(tmp_path, validation=validation)
    async with AgentHost(config, tracer_provider=provider, models=models, strict=True) as host:
        result = await host.execute({"steps": [ask(capability="fetch")]})

    spans = finished()
    assert (result.output, result.degraded) == ("Tea for tea.", True)
    step_span = spans.one("step ask")
    assert step_span.attributes is not None
    assert step_span.attributes["agent_host.downgrade"] == "alternative"
    assert step_span.attributes["agent_host.validation.verdict"] == "failed"
    assert step_span.attributes["agent_host.validation.problems"] == "output does not match '^TEA'"
    assert step_span.attributes["agent_host.degraded"] is True
    assert {"validation", "on_fail"} <= set(event_names(step_span))
    assert only_child(spans, step_span).name == "chat scripted-1"
    assert root_of(spans).attributes["agent_host.degraded"] is True  # type: ignore[index]


async def test_a_runs_token_usage_is_the_sum_of_its_model_calls(
    tmp_path: Path, provider: TracerProvider, finished: Finished
) -> None:
    """Kills: model calls that were made (and paid for) missing from the step's and the
    run's usage: the trace's ``chat`` spans must add up to what the run reports."""
    validation = {"talk.Ask": {"regex": "^TEA", "on_fail": ["retry"], "retries": 1}}
    replies = [Reply("coffee", usage=(5, 2)), Reply("TEA!", usage=(7, 3))]
    models = {"main": ScriptedChatCompletion("main", replies)}
    config = write_host(tmp_path, validation=validation)
    async with AgentHost(config, tracer_provider=provider, models=models, strict=True) as host:
        result = await host.execute({"steps": [ask(capability="fetch")]})

    assert (result.status, result.output) == ("ok", "TEA!")
    spans = finished()
    chats = spans.named("chat scripted-1")
    assert [c.attributes["gen_ai.usage.input_tokens"] for c in chats] == [5, 7]  # type: ignore[index]
    assert all("gen_ai.usage.cache_read.input_tokens" not in (c.attributes or {}) for c in chats)
    step_span, root = spans.one("step ask"), root_of(spans)
    assert step_span.attributes is not None and root.attributes is not None
    assert step_span.attributes["gen_ai.usage.input_tokens"] == 12
    assert root.attributes["gen_ai.usage.input_tokens"] == 12
    assert result.steps[0].tokens_out == 5


def hand_off_plan() -> dict[str, Any]:
    return {"steps": [ask(capability="fetch"), step("after", "steady.count", "ask")]}


HAND_OFF = {"talk.Ask": {"regex": "^TEA", "on_fail": ["human"], "question": "What about {input}?"}}


async def test_a_hand_off_ends_its_trace_asking_and_the_resume_is_a_new_trace_of_the_run(
    tmp_path: Path, provider: TracerProvider, finished: Finished
) -> None:
    """Kills: the question missing from the paused run's root or its step's span, a resume
    that reuses the paused span (never exported) or loses the run's id."""
    models = {"main": ScriptedChatCompletion("main", [Reply("coffee")])}
    config = write_host(tmp_path, validation=HAND_OFF)
    async with AgentHost(config, tracer_provider=provider, models=models, strict=True) as host:
        paused = await host.execute(hand_off_plan())
        resumed = await host.resume(paused.run_id, "TEA time")

    assert (paused.status, resumed.status) == ("needs_human", "ok")
    spans = finished()
    assert spans.trace_ids() == {paused.trace_id, resumed.trace_id}
    assert paused.trace_id != resumed.trace_id
    first, second = spans.in_trace(str(paused.trace_id)), spans.in_trace(str(resumed.trace_id))
    paused_root, resumed_root = root_of(first), root_of(second)
    assert paused_root.attributes is not None and resumed_root.attributes is not None
    assert paused_root.attributes["agent_host.run.status"] == "needs_human"
    assert paused_root.attributes["agent_host.handoff.question"] == "What about tea?"
    asking = first.one("step ask")
    assert asking.attributes is not None
    assert asking.attributes["agent_host.handoff.question"] == "What about tea?"
    assert asking.attributes["agent_host.downgrade"] == "human"
    assert first.named("step after") == []
    assert resumed_root.attributes["agent_host.run.id"] == paused.run_id
    assert resumed_root.attributes["agent_host.run.status"] == "ok"
    assert "agent_host.handoff.question" not in resumed_root.attributes
    assert resumed_root.attributes["agent_host.resumed"] is True
    assert [s.name for s in second.children(resumed_root)] == ["step ask", "step after"]
    answered = second.one("step ask").attributes or {}
    assert answered["agent_host.handoff.answered"] is True
    assert answered["agent_host.function"] == "talk.Ask"
    assert "agent_host.handoff.answer" not in answered  # a person's words are content


async def test_a_resumed_runs_usage_is_its_own_and_its_answer_is_content(
    tmp_path: Path, provider: TracerProvider, finished: Finished
) -> None:
    """Kills: a resumed run's root counting again the tokens and cost its paused trace
    already reported (a viewer summing roots would double them), and an answer recorded
    without content capture or missing with it."""
    replies = [Reply("coffee", usage=(5, 2)), Reply("TEA two", usage=(7, 3))]
    models = {"main": ScriptedChatCompletion("main", replies)}
    plan = {"steps": [ask(capability="fetch"), ask("again", "fetch", input="more tea")]}
    plan["steps"][1]["depends_on"] = ["ask"]
    config = write_host(tmp_path, validation=HAND_OFF, telemetry={"capture_content": True})
    async with AgentHost(config, tracer_provider=provider, models=models, strict=True) as host:
        paused = await host.execute(plan)
        resumed = await host.resume(paused.run_id, "TEA time")

    assert (paused.status, resumed.status) == ("needs_human", "ok"), resumed.error
    spans = finished()
    first, second = spans.in_trace(str(paused.trace_id)), spans.in_trace(str(resumed.trace_id))
    paused_root, resumed_root = root_of(first), root_of(second)
    usage = ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens")
    assert [(paused_root.attributes or {})[key] for key in usage] == [5, 2]
    assert [(resumed_root.attributes or {})[key] for key in usage] == [7, 3]
    assert (resumed_root.attributes or {})["agent_host.run.steps"] == 2  # the whole run's
    answered = second.one("step ask").attributes or {}
    assert answered["agent_host.handoff.answer"] == "TEA time"


async def test_a_resumed_run_links_to_the_trace_it_paused_in(
    tmp_path: Path, provider: TracerProvider, finished: Finished
) -> None:
    """Kills: a resume whose trace cannot be followed back to the paused one."""
    models = {"main": ScriptedChatCompletion("main", [Reply("coffee")])}
    config = write_host(tmp_path, validation=HAND_OFF)
    async with AgentHost(config, tracer_provider=provider, models=models, strict=True) as host:
        paused = await host.execute(hand_off_plan())
        resumed = await host.resume(paused.run_id, "TEA time")

    spans = finished()
    paused_root = root_of(spans.in_trace(str(paused.trace_id)))
    resumed_root = root_of(spans.in_trace(str(resumed.trace_id)))
    linked = [(link.context.trace_id, link.context.span_id) for link in resumed_root.links]
    assert (paused_root.context.trace_id, paused_root.context.span_id) in linked
    roots = (paused_root.attributes or {}, resumed_root.attributes or {})
    assert [root["gen_ai.conversation.id"] for root in roots] == [paused.run_id] * 2


# --- compensation and failure --------------------------------------------------------------


async def test_a_compensation_is_a_step_span_of_the_failed_run(
    tmp_path: Path, provider: TracerProvider, finished: Finished
) -> None:
    """Kills: undo calls traced outside the run (or not at all), a compensation not marked."""
    config, _ = write_trips(tmp_path, sold_out="hotel")
    async with AgentHost(config, tracer_provider=provider) as host:
        result = await host.execute(chain(["flight", "hotel"]))

    spans = finished()
    assert result.status == "failed"
    assert spans.trace_ids() == {result.trace_id}
    root = root_of(spans)
    assert [s.name for s in spans.children(root)] == [
        "step flight",
        "step hotel",
        "step flight_undo",
    ]
    undo = spans.one("step flight_undo")
    assert undo.attributes is not None
    assert undo.attributes["agent_host.compensation"] is True
    assert undo.attributes["agent_host.function"] == "trips.cancel"
    assert undo.attributes["agent_host.step.status"] == "ok"
    assert only_child(spans, undo).name == "execute_tool trips.cancel"
    for done in ("step flight", "step hotel"):
        assert "agent_host.compensation" not in (spans.one(done).attributes or {})


async def test_a_plan_step_named_like_an_undo_is_not_a_compensation(
    tmp_path: Path, provider: TracerProvider, finished: Finished
) -> None:
    """Kills: compensations told apart by a naming convention a plan may also use."""
    plan = {"steps": [step("return_undo")]}
    async with AgentHost(write_host(tmp_path), tracer_provider=provider, strict=True) as host:
        result = await host.execute(plan)

    assert result.status == "ok", result.error
    assert "agent_host.compensation" not in (finished().one("step return_undo").attributes or {})


async def test_a_failed_run_marks_its_root_and_the_failed_step_with_the_error(
    tmp_path: Path, provider: TracerProvider, finished: Finished
) -> None:
    """Kills: a failed run whose root is not ERROR or lacks ``error.type``, the failed
    step's span without status, ``error.type`` or the exception, an ERROR leaking onto the
    step that succeeded."""
    plan = {"steps": [step("s1"), step("s2", "broken.count", "s1")]}
    async with AgentHost(write_host(tmp_path), tracer_provider=provider, strict=True) as host:
        result = await host.execute(plan)

    spans = finished()
    assert result.status == "failed"
    root = root_of(spans)
    assert failed(root) and root.status.description == result.error
    assert root.attributes is not None
    assert root.attributes["error.type"] == "FunctionFailedError"
    assert root.attributes["agent_host.run.status"] == "failed"
    broken = spans.one("step s2")
    assert (
        failed(broken) and broken.status.description == "broken.count failed: ValueError: bad query"
    )
    assert broken.attributes is not None
    assert broken.attributes["error.type"] == "FunctionFailedError"
    assert broken.attributes["agent_host.step.status"] == "failed"
    (raised,) = events(broken, "exception")
    assert raised.attributes is not None
    assert str(raised.attributes["exception.type"]).endswith("FunctionFailedError")
    assert raised.attributes["exception.message"] == "broken.count failed: ValueError: bad query"
    assert failed(only_child(spans, broken))
    assert spans.one("step s1").status.status_code is StatusCode.UNSET


async def test_a_plan_that_does_not_fit_the_schema_is_a_failed_run_span(
    tmp_path: Path, provider: TracerProvider, finished: Finished
) -> None:
    """Kills: a run turned down before it began that leaves no trace to explain it."""
    async with AgentHost(write_host(tmp_path), tracer_provider=provider, strict=True) as host:
        result = await host.execute({"steps": [{"id": "s1", "function": "steady.count"}]})

    assert result.status == "failed" and result.trace_id is not None
    root = root_of(finished())
    assert failed(root) and trace_id(root) == result.trace_id


async def test_a_plan_that_fails_its_checks_is_a_failed_run_span(
    tmp_path: Path, provider: TracerProvider, finished: Finished
) -> None:
    """Kills: the executor's turned-down path returning without its run span."""
    async with AgentHost(write_host(tmp_path), tracer_provider=provider, strict=True) as host:
        result = await host.execute({"steps": [step("s1", "nowhere.count")]})

    assert result.status == "failed"
    spans = finished()
    root = root_of(spans)
    assert failed(root) and trace_id(root) == result.trace_id
    assert root.attributes is not None and root.attributes["error.type"] == "run_failed"
    assert spans.children(root) == []


# --- concurrency, workflows, planning ------------------------------------------------------


async def test_a_ten_way_fan_out_keeps_every_step_under_the_one_root(
    tmp_path: Path, provider: TracerProvider, finished: Finished
) -> None:
    """Kills: concurrent steps started in a context without the run span (each its own
    root trace), attempt spans parented on a sibling step."""
    plan = {"steps": [step(f"s{n}") for n in range(10)]}
    async with AgentHost(write_host(tmp_path), tracer_provider=provider, strict=True) as host:
        result = await host.execute(plan)

    spans = finished()
    assert result.status == "ok", result.error
    assert spans.trace_ids() == {result.trace_id}
    root = root_of(spans)
    step_spans = spans.starting("step ")
    assert len(step_spans) == 10
    assert {s.name for s in spans.children(root)} == {f"step s{n}" for n in range(10)}
    for step_span in step_spans:
        (tool,) = spans.children(step_span)
        assert tool.name == "execute_tool steady.count"
    assert len(spans.spans) == 21


async def test_a_workflow_run_is_rooted_in_a_span_named_after_the_workflow(
    tmp_path: Path, provider: TracerProvider, finished: Finished
) -> None:
    """Kills: a workflow traced as ``plan``, or its nodes outside its root."""
    workflow = (
        WorkflowBuilder("tally", inputs=["query"])
        .step("first", "steady.count", {"query": ref("state.query")})
        .step("second", "steady.count", {"query": ref("state.query")})
        .edge("first", "second")
        .edge("second", "end")
        .build()
    )
    async with AgentHost(write_host(tmp_path), tracer_provider=provider, strict=True) as host:
        result = await host.run_workflow(workflow, {"query": "q"})

    spans = finished()
    assert result.status == "ok", result.error
    assert spans.trace_ids() == {result.trace_id}
    root = root_of(spans)
    assert root.name == "invoke_workflow tally"
    assert root.attributes is not None
    assert root.attributes["gen_ai.workflow.name"] == "tally"
    assert root.attributes["agent_host.run.id"] == result.run_id
    assert [s.name for s in spans.children(root)] == ["step first", "step second"]


PLANNED = json.dumps(
    {
        "steps": [
            {
                "id": "s1",
                "function": "steady.count",
                "arguments": {"query": "a"},
                "capability": "fetch",
            },
            {
                "id": "s2",
                "function": "steady.count",
                "arguments": {"query": "b"},
                "capability": "fetch",
            },
        ]
    }
)


def planner_host(tmp_path: Path, provider: TracerProvider) -> AgentHost:
    """A host planning with the model planner on scripted ``main``, which answers
    :data:`PLANNED`."""
    models = {"main": ScriptedChatCompletion("main", [Reply(PLANNED, usage=(40, 30))])}
    config = write_host(tmp_path, planning={"planner": "model", "repairs": 0})
    return AgentHost(config, tracer_provider=provider, models=models, strict=True)


async def test_the_planners_model_calls_are_children_of_its_plan_span(
    tmp_path: Path, provider: TracerProvider, finished: Finished
) -> None:
    """Kills: a planning model call traced outside ``plan {planner}``."""
    async with planner_host(tmp_path, provider) as host:
        result = await host.run("count a and b")

    spans = finished()
    assert result.status == "ok", result.error
    planning = spans.one("plan model")
    assert planning.attributes is not None
    assert planning.attributes["agent_host.plan.steps"] == 2
    assert planning.attributes["agent_host.planner.source"] == "model"
    chat = only_child(spans, planning)
    assert (chat.name, chat.kind) == ("chat scripted-1", SpanKind.CLIENT)
    assert chat.attributes is not None
    assert chat.attributes["gen_ai.usage.input_tokens"] == 40
    assert [s.name for s in spans.starting("step ")] == ["step s1", "step s2"]


async def test_a_planned_run_is_one_trace_from_planning_to_its_last_step(
    tmp_path: Path, provider: TracerProvider, finished: Finished
) -> None:
    """Kills: ``AgentHost.run`` without a run span around planning (the plan span a root
    of its own trace, the steps another)."""
    async with planner_host(tmp_path, provider) as host:
        result = await host.run("count a and b")
        host.run_store.flush()
        recorded = host.run_store.get(result.run_id)

    spans = finished()
    assert result.status == "ok", result.error
    assert spans.trace_ids() == {result.trace_id}
    assert recorded is not None and recorded.trace_id == result.trace_id
    root = root_of(spans)
    assert root.name == "invoke_workflow plan"
    assert [s.name for s in spans.children(root)] == [
        "plan model",
        "step s1",
        "step s2",
    ]
    assert root.attributes is not None
    assert root.attributes["gen_ai.usage.input_tokens"] == 40  # the planning call's


async def test_the_run_store_row_holds_the_trace_id_it_is_given(
    tmp_path: Path, provider: TracerProvider, finished: Finished
) -> None:
    """Kills: a run store row without the run's trace (``agent-host trace`` links them)."""
    async with AgentHost(write_host(tmp_path), tracer_provider=provider, strict=True) as host:
        result = await host.execute({"steps": [step("s1")]})
        host.run_store.flush()
        recorded = host.run_store.get(result.run_id)

    assert recorded is not None and recorded.trace_id == result.trace_id
    assert finished().trace_ids() == {result.trace_id}


async def test_a_run_reaches_the_run_store_with_its_trace_id(
    tmp_path: Path, provider: TracerProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kills: the race between the run store's writer thread and the run span's end: the
    id must be on the result when it is queued, not set after."""
    from host.run_store import RunStore

    queued: list[str | None] = []
    record = RunStore.record

    def spy(self: RunStore, result: RunResult, *args: Any, **kwargs: Any) -> None:
        queued.append(result.trace_id)
        record(self, result, *args, **kwargs)

    monkeypatch.setattr(RunStore, "record", spy)
    async with AgentHost(write_host(tmp_path), tracer_provider=provider, strict=True) as host:
        result = await host.execute({"steps": [step("s1")]})

    assert result.trace_id is not None
    assert queued == [result.trace_id]


# --- a model behind the real openai client -------------------------------------------------


async def test_a_model_call_over_http_records_provider_address_usage_and_reasons(
    tmp_path: Path,
    provider: TracerProvider,
    finished: Finished,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Kills: the chat span's request attributes (provider, address, port, max_tokens) or
    its response ones (model, finish reasons, usage, cached input) missing or wrong."""
    monkeypatch.setenv(API_KEY_ENV, "sk-loopback")
    reply = ChatReply("Tea time!", usage=(120, 14), cached_tokens=96)
    async with OpenAICompatibleServer(default=reply) as server:
        config = write_host(tmp_path, models={"hosted": openai_model(server, "gpt-test")})
        async with AgentHost(config, tracer_provider=provider, strict=True) as host:
            result = await host.execute({"steps": [ask(capability="fetch")]})
        port = urlsplit(server.base_url).port

    assert result.status == "ok", result.error
    spans = finished()
    chat = only_child(spans, spans.one("step ask"))
    assert (chat.name, chat.kind) == ("chat gpt-test", SpanKind.CLIENT)
    assert chat.attributes is not None
    assert {key: chat.attributes.get(key) for key in CHAT_ATTRIBUTES} == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-test",
        "gen_ai.response.model": "gpt-test",
        "gen_ai.request.max_tokens": 20,
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 120,
        "gen_ai.usage.output_tokens": 14,
        "gen_ai.usage.cache_read.input_tokens": 96,
        "server.address": "127.0.0.1",
        "server.port": port,
        "agent_host.model": "hosted",
        "agent_host.attempt": 1,
    }
    assert chat.status.status_code is StatusCode.UNSET


CHAT_ATTRIBUTES = (
    "gen_ai.operation.name",
    "gen_ai.provider.name",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "gen_ai.request.max_tokens",
    "gen_ai.response.finish_reasons",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.cache_read.input_tokens",
    "server.address",
    "server.port",
    "agent_host.model",
    "agent_host.attempt",
)


# --- content capture and tracing off -------------------------------------------------------


@pytest.mark.parametrize("switch", ["default", "environment", "config"])
async def test_content_is_recorded_only_when_capture_is_switched_on(
    tmp_path: Path,
    provider: TracerProvider,
    finished: Finished,
    monkeypatch: pytest.MonkeyPatch,
    switch: str,
) -> None:
    """Kills: prompts, replies, tool arguments or results recorded by default, or the
    standard variable or ``telemetry.capture_content`` not honoured."""
    if switch == "environment":
        monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    telemetry = {"capture_content": True} if switch == "config" else {}
    models = {"main": ScriptedChatCompletion("main", [Reply("Green tea.")])}
    config = write_host(tmp_path, telemetry=telemetry)
    plan = {"steps": [ask(capability="fetch", input="oolong"), step("s1", query="leaves")]}
    async with AgentHost(config, tracer_provider=provider, models=models, strict=True) as host:
        result = await host.execute(plan, "tea and leaves")

    assert result.status == "ok", result.error
    spans = finished()
    if switch == "default":
        assert attribute_keys(spans.spans) & CONTENT_KEYS == set()
        return
    chat, tool = spans.one("chat scripted-1"), spans.one("execute_tool steady.count")
    assert chat.attributes is not None and tool.attributes is not None
    [asked] = json.loads(str(chat.attributes["gen_ai.input.messages"]))
    assert asked["role"] == "user" and "Answer oolong" in asked["parts"][0]["content"]
    [answered] = json.loads(str(chat.attributes["gen_ai.output.messages"]))
    assert answered["role"] == "assistant" and answered["parts"][0]["content"] == "Green tea."
    assert answered["finish_reason"] == "stop"
    assert json.loads(str(tool.attributes["gen_ai.tool.call.arguments"])) == {"query": "leaves"}
    assert json.loads(str(tool.attributes["gen_ai.tool.call.result"])) == 3
    root = root_of(spans).attributes or {}
    assert root["agent_host.run.request"] == root["input.value"] == "tea and leaves"
    assert root["output.value"] == str(result.output)
    asking = spans.one("step ask").attributes or {}
    assert json.loads(str(asking["input.value"])) == {"input": "oolong"}
    assert asking["output.value"] == "Green tea." == chat.attributes["output.value"]


BRIEF = """\
name: Brief
template: >-
  <message role="system">Be brief.</message><message role="user">Answer {{$input}}</message>
description: Answer briefly.
"""


async def test_captured_input_is_the_prompts_messages_each_with_its_role(
    tmp_path: Path, provider: TracerProvider, finished: Finished
) -> None:
    """Kills: a chat prompt's messages recorded as one user message of SK's markup."""
    models = {"main": ScriptedChatCompletion("main", [Reply("Green."), Reply("Black.")])}
    config = write_host(tmp_path, telemetry={"capture_content": True})
    (tmp_path / "prompts" / "talk" / "brief.yaml").write_text(BRIEF, encoding="utf-8")
    plan = {"steps": [ask("brief", "fetch", input="oolong"), ask("plain", "fetch")]}
    plan["steps"][0]["function"] = "talk.Brief"
    async with AgentHost(config, tracer_provider=provider, models=models, strict=True) as host:
        result = await host.execute(plan)

    assert result.status == "ok", result.error
    spans = finished()
    brief, plain = (
        json.loads(str((chat.attributes or {})["gen_ai.input.messages"]))
        for step_id in ("brief", "plain")
        for chat in spans.children(spans.one(f"step {step_id}"))
    )
    assert [(m["role"], m["parts"][0]["content"]) for m in brief] == [
        ("system", "Be brief."),
        ("user", "Answer oolong"),
    ]
    assert [(m["role"], m["parts"][0]["content"]) for m in plain] == [("user", "Answer tea")]


@pytest.mark.usefixtures("no_global_provider")
async def test_tracing_is_off_without_a_provider_or_otel_settings(tmp_path: Path) -> None:
    """Kills: spans recorded (or a provider built) when nothing asked for tracing, a run
    span opened on the no-op tracer (``trace_id`` of zeros)."""
    async with AgentHost(write_host(tmp_path), strict=True) as host:
        result = await host.execute({"steps": [step("s1", "probe.where")]})

    assert result.status == "ok", result.error
    assert result.output == "none"  # the tool ran in no span at all
    assert result.trace_id is None
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
