"""Compensation (saga) after a terminal failure, and idempotency keys on side effects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from trips_kit import journal_lines, write_trips

from host import AgentHost

ITEMS = ["flight", "hotel", "car"]


def chain(items: list[str]) -> dict[str, Any]:
    """Book each item after the previous one; each booking is undone by cancelling it."""
    steps = []
    for index, item in enumerate(items):
        steps.append(
            {
                "id": item,
                "function": "trips.book",
                "arguments": {"item": item},
                "depends_on": [items[index - 1]] if index else [],
                "capability": "fetch",
                "compensate": {
                    "function": "trips.cancel",
                    "arguments": {"booking": {"$ref": f"steps.{item}.output"}},
                },
            }
        )
    return {"steps": steps}


@pytest.mark.parametrize("failing", range(len(ITEMS)))
async def test_a_failure_undoes_completed_steps_latest_first(tmp_path: Path, failing: int) -> None:
    config, journal = write_trips(tmp_path, sold_out=ITEMS[failing])
    async with AgentHost(config) as host:
        result = await host.execute(chain(ITEMS))
    assert result.status == "failed"
    assert f"{ITEMS[failing]} is sold out" in (result.error or "")
    booked = ITEMS[:failing]
    cancelled = [f"cancel booking-{item}" for item in reversed(booked)]
    assert journal_lines(journal) == [f"book {item}" for item in booked] + cancelled
    assert [r.step_id for r in result.compensations] == [f"{i}_undo" for i in reversed(booked)]
    assert all(r.status == "ok" for r in result.compensations)


async def test_a_failed_compensation_is_recorded_and_the_rest_still_run(tmp_path: Path) -> None:
    config, journal = write_trips(tmp_path, sold_out="car")
    plan = chain(ITEMS)
    plan["steps"][1]["compensate"]["arguments"] = {"booking": {"$ref": "steps.hotel.output.id"}}
    async with AgentHost(config) as host:
        result = await host.execute(plan)
    assert result.status == "failed"
    assert "compensation failed for hotel_undo" in (result.error or "")
    assert [(r.step_id, r.status) for r in result.compensations] == [
        ("hotel_undo", "failed"),
        ("flight_undo", "ok"),
    ]
    assert journal_lines(journal)[-1] == "cancel booking-flight"


async def test_no_compensation_when_the_run_succeeds(tmp_path: Path) -> None:
    config, journal = write_trips(tmp_path)
    async with AgentHost(config) as host:
        result = await host.execute(chain(ITEMS))
    assert result.status == "ok" and result.output == "booking-car"
    assert result.compensations == ()
    assert journal_lines(journal) == ["book flight", "book hotel", "book car"]


async def test_executing_the_same_run_again_replays_side_effects(tmp_path: Path) -> None:
    database = tmp_path / "runs.sqlite"
    config, journal = write_trips(tmp_path, extra=f"runs:\n  database: {database}\n")
    plan = chain(["flight", "hotel"])
    async with AgentHost(config) as host:
        first = await host.execute(plan, run_id="trip-1")
    async with AgentHost(config) as host:  # a new process would read the same SQLite file
        again = await host.execute(plan, run_id="trip-1")
        other = await host.execute(plan, run_id="trip-2")
    assert first.status == again.status == other.status == "ok"
    assert again.output == first.output
    assert [e.kind for e in again.steps[0].events] == ["replayed"]
    assert journal_lines(journal) == ["book flight", "book hotel"] * 2  # trip-1 once, trip-2 once


async def test_a_compensation_naming_an_unknown_function_is_a_plan_problem(tmp_path: Path) -> None:
    config, journal = write_trips(tmp_path)
    plan = chain(["flight"])
    plan["steps"][0]["compensate"]["function"] = "trips.cancle"
    async with AgentHost(config) as host:
        result = await host.execute(plan)
    assert result.status == "failed"
    assert "compensate: unknown function 'trips.cancle' (did you mean trips.cancel" in (
        result.error or ""
    )
    assert journal_lines(journal) == []


async def test_a_workflow_loop_acts_again_on_each_visit(tmp_path: Path) -> None:
    from host.workflows import WorkflowBuilder

    config, journal = write_trips(tmp_path)
    workflow = (
        WorkflowBuilder("rebook", max_rounds=3)
        .step("book", "trips.book", {"item": "hotel"})
        .edge("book", "book")
        .build()
    )
    async with AgentHost(config) as host:
        result = await host.run_workflow(workflow)
    assert result.status == "round_limit"
    assert [s.step_id for s in result.steps] == ["book", "book#2", "book#3"]
    assert journal_lines(journal) == ["book hotel"] * 3
