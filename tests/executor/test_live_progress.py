"""What a run tells a watcher as it goes, a pinned route, follow-ups, and cancelled runs."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from semantic_kernel.connectors.ai.prompt_execution_settings import PromptExecutionSettings
from semantic_kernel.contents import ChatHistory

from host import AgentHost
from host.errors import CannotPlanError, ConfigError
from host.progress import CallStarted, Planned, Progress, StepEvent, StepFinished, watching
from host.run_store import RecordedRun
from host.testing import Delay, Raise, Reply, ScriptedChatCompletion, run_until
from planners.follow_up import follow_up
from tests.executor.echo_kit import write_echo_config

MAIN_JOB = "check yesterday's Shanghai temperature and write a promotion copy"
SAY = {
    "steps": [
        {"id": "say", "function": "talk.Echo", "arguments": {"input": "hi"}, "capability": "write"}
    ]
}
"""One prompt step, ``say``."""


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_HOST_WEATHER_NETWORK", "false")


def _stating(history: ChatHistory, settings: PromptExecutionSettings) -> Reply:
    facts = str(history.messages[-1].content).rsplit("Must mention: ", 1)[1]
    return Reply(f"{facts}. Iced tea is on.")


def _kinds(events: list[Progress]) -> list[tuple[str, str]]:
    """``(event class, step id)`` per event; the plan's source for :class:`Planned`."""
    shown = []
    for event in events:
        if isinstance(event, Planned):
            shown.append(("Planned", event.source))
        elif isinstance(event, StepFinished):
            shown.append(("StepFinished", event.record.step_id))
        else:
            shown.append((type(event).__name__, event.step_id))
    return shown


async def test_a_watched_run_tells_its_plan_each_call_event_and_record_in_order() -> None:
    model = ScriptedChatCompletion("local", default=_stating)
    events: list[Progress] = []
    async with AgentHost(models={"local": model}) as host:
        with watching(events.append):
            result = await host.run(MAIN_JOB)
        unwatched = await host.run(MAIN_JOB)
    assert result.status == "ok", result.error
    date, weather, copy = (s.step_id for s in result.steps)
    assert _kinds(events) == [
        ("Planned", "clauses"),
        ("CallStarted", date),
        ("StepEvent", date),
        ("StepFinished", date),
        ("CallStarted", weather),
        ("StepEvent", weather),
        ("StepFinished", weather),
        ("CallStarted", copy),
        ("StepEvent", copy),
        ("StepEvent", copy),  # the validation verdict
        ("StepFinished", copy),
    ]
    started = [e for e in events if isinstance(e, CallStarted)]
    assert [(e.function, e.model) for e in started] == [
        ("weather.resolve_date", None),
        ("weather.daily_temperatures", None),
        ("marketing.promo_copy", "local"),
    ]
    assert started[2].route_reason is not None and "write" in started[2].route_reason
    journal = [e.event for e in events if isinstance(e, StepEvent) and e.step_id == copy]
    assert [(e.kind, e.outcome, e.model) for e in journal] == [
        ("attempt", "ok", "local"),
        ("validation", "ok", None),
    ]
    finished = [e.record for e in events if isinstance(e, StepFinished)]
    assert finished == list(result.steps)  # the final records, validation included
    assert unwatched.status == "ok" and len(events) == 11  # nothing told outside the block


async def test_a_failing_step_is_told_with_its_failed_record(tmp_path: Path) -> None:
    model = ScriptedChatCompletion("local", [Raise(RuntimeError("model down"))])
    events: list[Progress] = []
    async with AgentHost(write_echo_config(tmp_path), models={"local": model}) as host:
        with watching(events.append):
            result = await host.execute(SAY)
    assert result.status == "failed"
    assert _kinds(events) == [("CallStarted", "say"), ("StepEvent", "say"), ("StepFinished", "say")]
    told = events[-1]
    assert isinstance(told, StepFinished) and told.record.status == "failed"
    assert told.record == result.steps[0]


async def test_a_listener_that_raises_is_logged_and_the_run_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: Progress) -> None:
        raise ValueError("view bug")

    model = ScriptedChatCompletion.echo("local")
    async with AgentHost(write_echo_config(tmp_path), models={"local": model}) as host:
        with caplog.at_level(logging.WARNING, "agent_host"), watching(broken):
            result = await host.execute(SAY)
    assert result.status == "ok", result.error
    assert "progress listener failed on CallStarted: ValueError('view bug')" in caplog.text


async def test_a_pinned_model_serves_every_prompt_step_and_an_unknown_one_is_refused(
    tmp_path: Path,
) -> None:
    other = "  other:\n    provider: scripted\n    model: o\n    capabilities: [write]\n"
    config = write_echo_config(tmp_path, extra="")
    config.write_text(config.read_text().replace("plugins:", other + "plugins:", 1))
    local, pinned = ScriptedChatCompletion.echo("local"), ScriptedChatCompletion.echo("other")
    async with AgentHost(config, models={"local": local, "other": pinned}) as host:
        routed = await host.run("echo hello")
        chosen = await host.run("echo hello", model="other")
        with pytest.raises(ConfigError, match=r"unknown model 'nope' \(configured models: "):
            await host.run("echo hello", model="nope")
    assert routed.steps[-1].model == "local"
    assert chosen.steps[-1].model == "other", chosen.steps
    assert len(pinned.requests) == 1


def test_a_follow_up_is_the_last_request_with_its_subject_replaced() -> None:
    from host.state import RunResult, StepRecord

    def step(step_id: str, **arguments: object) -> StepRecord:
        return StepRecord.without_call(step_id, "f", dict(arguments), status="ok")

    last = RunResult(
        "r1",
        MAIN_JOB,
        "ok",
        "copy",
        (step("d", city="Shanghai", expression="yesterday"), step("c", input=MAIN_JOB)),
    )
    beijing = MAIN_JOB.replace("Shanghai", "Beijing")
    assert follow_up("now the same for Beijing", [last]) == beijing
    assert follow_up("And the same thing in Beijing!", [last]) == beijing
    assert follow_up("now the same for Beijing", []) is None
    assert follow_up("what about Beijing", [last]) is None
    whole = RunResult("r2", "say hi", "ok", "hi", (step("c", input="say hi"),))
    assert follow_up("the same for bye", [whole]) is None  # never the whole request


async def test_a_follow_up_plans_the_last_request_for_the_new_subject() -> None:
    model = ScriptedChatCompletion("local", default=_stating)
    async with AgentHost(models={"local": model}) as host:
        first = await host.run(MAIN_JOB)
        second = await host.run("now the same for Beijing", history=[first])
        alone = await host.run("now the same for Beijing")
    assert second.status == "ok", second.error
    assert second.request == "now the same for Beijing"
    assert second.steps[0].arguments["city"] == "Beijing"
    assert "Beijing" in second.output and "Shanghai" not in second.output
    assert second.plan is not None and "as \"check yesterday's Beijing" in second.plan
    assert all(s.arguments.get("city") != "Beijing" for s in alone.steps)


async def test_a_cancelled_run_is_recorded_cancelled_with_the_steps_done(tmp_path: Path) -> None:
    model = ScriptedChatCompletion("local", [Reply("one"), Delay(3600, Reply("never"))])
    plan = {
        "steps": [
            {
                "id": "first",
                "function": "talk.Echo",
                "arguments": {"input": "a"},
                "capability": "write",
            },
            {
                "id": "slow",
                "function": "talk.Echo",
                "arguments": {"input": "b"},
                "capability": "write",
            },
        ]
    }
    events: list[Progress] = []
    async with AgentHost(write_echo_config(tmp_path), models={"local": model}) as host:
        with watching(events.append):
            running = asyncio.create_task(host.execute(plan, "two steps"))
            await run_until(
                lambda: any(isinstance(e, CallStarted) and e.step_id == "slow" for e in events)
            )
            running.cancel()
            with pytest.raises(asyncio.CancelledError):
                await running
        host.run_store.flush()
        recorded = host.run_store.last()
    assert recorded is not None and recorded.status == "cancelled"
    assert recorded.request == "two steps"
    assert [s.step_id for s in recorded.steps] == ["first"]


async def cancelled_once_asked(
    host: AgentHost, request: str, model: ScriptedChatCompletion
) -> RecordedRun | None:
    """``host.run(request)`` cancelled once ``model`` is asked; the newest run recorded."""
    running = asyncio.create_task(host.run(request))
    await run_until(lambda: bool(model.requests))
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    host.run_store.flush()
    return host.run_store.last()


async def test_a_planned_run_cancelled_while_executing_is_recorded_cancelled(
    tmp_path: Path,
) -> None:
    """``host.run`` records a run once it returns; one cancelled while its plan runs never
    returns, so the executor records it."""
    model = ScriptedChatCompletion("local", [Delay(3600, Reply("never"))])
    async with AgentHost(write_echo_config(tmp_path), models={"local": model}) as host:
        recorded = await cancelled_once_asked(host, "echo the word", model)
    assert recorded is not None and recorded.status == "cancelled"
    assert recorded.request == "echo the word"
    assert recorded.plan is not None and "talk.Echo" in recorded.plan  # the executor's record


async def test_a_run_cancelled_while_planning_is_recorded_cancelled(tmp_path: Path) -> None:
    model = ScriptedChatCompletion("local", [Delay(3600, Reply("never"))])
    config = write_echo_config(
        tmp_path, model="    capabilities: [plan, write]\n", extra="planning:\n  planner: model\n"
    )
    async with AgentHost(config, models={"local": model}) as host:
        recorded = await cancelled_once_asked(host, "xyzzy plugh", model)  # no clause plan
    assert recorded is not None and recorded.status == "cancelled"
    assert recorded.request == "xyzzy plugh" and recorded.steps == ()


async def test_a_request_no_planner_plans_tells_its_one_call_as_a_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unplannable(request: str, *, deadline: float | None = None) -> object:
        raise CannotPlanError(f"cannot plan {request!r}")

    model = ScriptedChatCompletion.echo("local")
    events: list[Progress] = []
    async with AgentHost(write_echo_config(tmp_path), models={"local": model}) as host:
        monkeypatch.setattr(host, "plan_for", unplannable)
        with watching(events.append):
            result = await host.run("say hello")
    assert result.status == "ok", result.error
    assert result.plan is not None and "talk.Echo" in result.plan  # the keyword planner's pick
    finished = [e.record for e in events if isinstance(e, StepFinished)]
    assert finished == list(result.steps) and finished[0].function == "talk.Echo"
