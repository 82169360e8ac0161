"""Compensation (saga) after a terminal failure, and idempotency keys on side effects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from trips_kit import chain, journal_lines, write_trips

from host import AgentHost
from host.idempotency import compensation, effect_key
from host.plans import Step

ITEMS = ["flight", "hotel", "car"]


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


def booking(step_id: str, item: str, *, after: str | None = None) -> dict[str, Any]:
    """Step ``step_id`` books ``item`` (after step ``after``) and is undone by cancelling it."""
    return {
        "id": step_id,
        "function": "trips.book",
        "arguments": {"item": item},
        "depends_on": [after] if after else [],
        "capability": "fetch",
        "compensate": {
            "function": "trips.cancel",
            "arguments": {"booking": {"$ref": f"steps.{step_id}.output"}},
        },
    }


async def test_a_compensation_is_not_replayed_from_a_step_named_like_it(tmp_path: Path) -> None:
    config, journal = write_trips(tmp_path, sold_out="car")
    plan = {
        "steps": [
            booking("hotel", "hotel"),
            booking("hotel_undo", "spa", after="hotel"),
            booking("car", "car", after="hotel_undo"),
        ]
    }
    async with AgentHost(config) as host:
        result = await host.execute(plan)
    assert result.status == "failed"
    assert journal_lines(journal) == [
        "book hotel",
        "book spa",
        "cancel booking-spa",
        "cancel booking-hotel",
    ]
    undo_hotel = result.compensations[-1]
    assert (undo_hotel.step_id, undo_hotel.status) == ("hotel_undo", "ok")
    assert undo_hotel.output == "cancelled booking-hotel"
    assert "replayed" not in [event.kind for event in undo_hotel.events]


async def test_a_compensation_reads_step_outputs_not_an_earlier_compensation(
    tmp_path: Path,
) -> None:
    config, journal = write_trips(tmp_path, sold_out="car")
    plan = {
        "steps": [
            booking("hotel_undo", "spa"),
            booking("hotel", "hotel", after="hotel_undo"),
            booking("car", "car", after="hotel"),
        ]
    }
    async with AgentHost(config) as host:
        result = await host.execute(plan)
    assert journal_lines(journal)[2:] == ["cancel booking-hotel", "cancel booking-spa"]
    assert [(r.step_id, r.output) for r in result.compensations] == [
        ("hotel_undo", "cancelled booking-hotel"),
        ("hotel_undo_undo", "cancelled booking-spa"),
    ]


@pytest.mark.parametrize("effect", [compensation("hotel"), "book#2"], ids=["compensation", "visit"])
def test_generated_effect_names_are_no_step_id_and_keep_apart_whatever_the_run_id(
    effect: str,
) -> None:
    with pytest.raises(ValidationError):
        Step(id=effect, function="trips.book", capability="fetch")
    run_id, _, step_id = effect_key("r", effect).rpartition("/")
    assert (run_id, step_id) == ("r", effect), "a run id never absorbs part of the name"
