"""The overall deadline, cancellation and the concurrency limit, on the virtual clock."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from echo_kit import write_echo_config

from host import AgentHost
from host.executor import Executor
from host.testing import Delay, Reply, ScriptedChatCompletion, run_until
from host.testing.clock import VirtualClock


def write_config(tmp_path: Path) -> Path:
    return write_echo_config(tmp_path, model="    timeout: 60s\n")


def echoes(count: int, *, chained: bool = False) -> dict[str, Any]:
    steps = []
    for i in range(count):
        source = {"$ref": f"steps.s{i - 1}.output"} if chained and i else str(i)
        steps.append(
            {
                "id": f"s{i}",
                "function": "talk.Echo",
                "arguments": {"input": source},
                "capability": "write",
            }
        )
    return {"steps": steps}


async def test_the_deadline_stops_the_whole_run(tmp_path: Path) -> None:
    clock = VirtualClock()
    model = ScriptedChatCompletion("local", default=Delay(10, Reply("late")), clock=clock)
    async with AgentHost(write_config(tmp_path), models={"local": model}, clock=clock) as host:
        result = await host.execute(echoes(3, chained=True), deadline=15)
    assert result.status == "failed"
    assert result.error is not None and "deadline of 15s exceeded" in result.error
    assert [(s.step_id, s.status) for s in result.steps] == [("s0", "ok"), ("s1", "failed")]
    assert clock.now() == pytest.approx(15)
    assert len(model.requests) == 2


async def test_cancelling_a_run_leaves_no_task_behind(tmp_path: Path) -> None:
    clock = VirtualClock()
    model = ScriptedChatCompletion("local", default=Delay(10, Reply("x")), clock=clock)
    async with AgentHost(write_config(tmp_path), models={"local": model}, clock=clock) as host:
        before = asyncio.all_tasks()
        run = asyncio.create_task(host.execute(echoes(4)))
        await run_until(lambda: len(model.requests) == 4)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        await asyncio.sleep(0)
        left = {t for t in asyncio.all_tasks() - before if t.get_name() != "virtual-clock"}
        assert left == set()
    assert clock.now() < 10


@pytest.mark.parametrize(
    ("steps", "limit", "seconds"),
    [(5, 2, 0.3), (3, 2, 0.2), (2, 2, 0.1), (1, 2, 0.1)],
    ids=["queued", "one over the limit", "as wide as the limit", "narrower"],
)
async def test_the_concurrency_limit_queues_steps(
    tmp_path: Path, steps: int, limit: int, seconds: float
) -> None:
    clock = VirtualClock()
    model = ScriptedChatCompletion("local", default=Delay(0.1, Reply("x")), clock=clock)
    async with AgentHost(write_config(tmp_path), models={"local": model}, clock=clock) as host:
        from host.plans import Plan

        executor = Executor(host._step_runner(), concurrency=limit)
        result = await executor.run(Plan.model_validate(echoes(steps)), request="", run_id="r")
    assert result.status == "ok"
    assert clock.now() == pytest.approx(seconds), f"100 ms steps, {limit} at a time"


def model_planner(tmp_path: Path, capabilities: str = "[plan, write]") -> Path:
    config = write_config(tmp_path)
    text = config.read_text().replace(
        "    timeout: 60s\n", f"    timeout: 60s\n    capabilities: {capabilities}\n"
    )
    config.write_text(text + "planning:\n  planner: model\n")
    return config


async def test_the_run_deadline_covers_planning_and_execution(tmp_path: Path) -> None:
    clock = VirtualClock()
    plan = echoes(2, chained=True)
    replies = [
        Delay(10, Reply(json.dumps(plan))),  # the planning call
        Delay(10, Reply("hi")),
    ]
    model = ScriptedChatCompletion("local", replies, clock=clock)
    config = model_planner(tmp_path)
    async with AgentHost(config, models={"local": model}, clock=clock) as host:
        result = await host.run("echo hi and then echo bye", deadline=15)
    assert result.status == "failed"
    assert result.error is not None and "deadline of 15s exceeded" in result.error
    assert result.plan is not None and result.plan.startswith("planned by model")
    assert clock.now() == pytest.approx(15)


async def test_a_planner_without_a_capable_model_fails_the_run_not_the_caller(
    tmp_path: Path,
) -> None:
    model = ScriptedChatCompletion("local", [])
    config = model_planner(tmp_path, capabilities="[write]")
    async with AgentHost(config, models={"local": model}) as host:
        result = await host.run("echo hi and then echo bye")
    assert result.status == "failed"
    assert result.error is not None and "no model is capable of 'plan'" in result.error
