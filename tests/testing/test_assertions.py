"""The assertion helpers: what they find, what they check, and what a failure shows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from host.state import CallEvent, RunResult, StepRecord
from host.testing.assertions import (
    CapturedSpans,
    assert_event,
    assert_span,
    assert_span_tree,
    assert_step,
    assert_steps,
    describe_run,
)

RETRIED = (
    CallEvent("attempt", "weather.daily_temperatures", "error", attempt=1, error_type="OSError"),
    CallEvent("attempt", "weather.daily_temperatures", "ok", attempt=2),
)


def step(step_id: str, function: str, **fields: Any) -> StepRecord:
    fields.setdefault("status", "ok")
    return StepRecord(
        step_id, function, {}, started_at=datetime(2024, 1, 1, tzinfo=UTC), latency_ms=1.0, **fields
    )


@pytest.fixture
def run() -> RunResult:
    """Three steps: a native count that answered 0, a retried fetch, a prompt step."""
    return RunResult(
        "r1",
        "promote tea",
        "ok",
        "Tea!",
        (
            step("count", "inventory.stock", output=0, attempts=1),
            step("fetch", "weather.daily_temperatures", output="9°C", attempts=2, events=RETRIED),
            step(
                "pitch",
                "shop.pitch",
                output="Tea!",
                attempts=1,
                model="writer",
                events=(CallEvent("attempt", "shop.pitch", "ok", attempt=1, model="writer"),),
            ),
        ),
    )


def test_assert_step_returns_the_step_that_called_the_function(run: RunResult) -> None:
    assert assert_step(run, "weather.daily_temperatures", attempts=2) is run.steps[1]


@pytest.mark.parametrize(
    ("expected", "found"),
    [
        ({"output": None}, "output is 0, expected None"),
        ({"status": "failed"}, "status is 'ok', expected 'failed'"),
        ({"attempts": 3}, "attempts is 1, expected 3"),
        ({"model": "local"}, "model is None, expected 'local'"),
        ({"degraded": True}, "degraded is False, expected True"),
        ({"cache_hit": True}, "cache_hit is False, expected True"),
    ],
)
def test_assert_step_names_each_field_that_differs(
    run: RunResult, expected: dict[str, Any], found: str
) -> None:
    """Kills: a field not compared, or compared only when truthy (an output of 0)."""
    with pytest.raises(AssertionError, match=f"^step count \\(inventory.stock\\): {found}\\. "):
        assert_step(run, "inventory.stock", **expected)


def test_an_output_of_zero_is_checked_as_zero(run: RunResult) -> None:
    assert assert_step(run, "inventory.stock", output=0).output == 0


def test_a_failure_shows_the_run_one_line_a_step(run: RunResult) -> None:
    with pytest.raises(AssertionError) as raised:
        assert_step(run, "shop.pitch", attempts=2)

    assert str(raised.value) == (
        "step pitch (shop.pitch): attempts is 1, expected 2. The run:\n"
        "  run ok, output='Tea!'\n"
        "  count inventory.stock ok attempts=1 output=0\n"
        "  fetch weather.daily_temperatures ok attempts=2 output='9°C'\n"
        "      events: attempt error, attempt ok\n"
        "  pitch shop.pitch ok attempts=1 model=writer output='Tea!'\n"
        "      events: attempt(writer) ok"
    )


def test_a_failed_step_shows_its_error_and_a_failed_run_its_reason() -> None:
    failed = RunResult(
        "r2",
        "book",
        "failed",
        None,
        (
            step(
                "book",
                "trips.book",
                status="failed",
                error="sold out " + "x" * 80,
                error_type="ValueError",
                degraded=True,
            ),
        ),
        error="step book failed",
    )

    assert describe_run(failed) == (
        "run failed: step book failed\n"
        "  book trips.book failed attempts=0 degraded error=ValueError: sold out " + "x" * 38 + "…"
    )


def test_a_run_without_steps_says_so() -> None:
    assert describe_run(RunResult("r3", "", "failed", None, error="bad plan")) == (
        "run failed: bad plan\n  (no step ran)"
    )


def test_a_step_not_run_is_reported_with_the_run(run: RunResult) -> None:
    with pytest.raises(AssertionError, match=r"^no step ran email.send; the run:\n  run ok"):
        assert_step(run, "email.send")


def test_two_steps_of_one_function_need_a_step_id() -> None:
    twice = RunResult("r4", "", "ok", 2, (step("a", "x.y", output=1), step("b", "x.y", output=2)))

    with pytest.raises(AssertionError, match=r"^2 steps ran x.y \(a, b\); name one with step_id="):
        assert_step(twice, "x.y")
    assert assert_step(twice, "x.y", step_id="b", output=2).step_id == "b"


def test_assert_step_takes_a_single_record(run: RunResult) -> None:
    record = run.steps[2]

    assert assert_step(record, model="writer") is record


def test_assert_steps_checks_the_functions_in_plan_order(run: RunResult) -> None:
    functions = ("inventory.stock", "weather.daily_temperatures", "shop.pitch")

    assert assert_steps(run, *functions) == run.steps
    with pytest.raises(AssertionError, match=r"^expected steps \['shop.pitch'"):
        assert_steps(run, *reversed(functions))


@pytest.mark.parametrize(
    ("filters", "number"),
    [
        ({}, 3),
        ({"outcome": "error"}, 1),
        ({"target": "shop.pitch"}, 1),
        ({"model": "writer"}, 1),
        ({"outcome": "error", "model": "writer"}, 0),
    ],
)
def test_assert_event_filters_the_journal_across_the_steps(
    run: RunResult, filters: dict[str, str], number: int
) -> None:
    assert len(assert_event(run, "attempt", count=number, **filters)) == number


def test_assert_event_without_a_count_wants_at_least_one(run: RunResult) -> None:
    with pytest.raises(
        AssertionError, match=r"^expected at least 1 'fallback' events, found 0\. The run:"
    ):
        assert_event(run, "fallback")


def test_assert_event_with_a_count_wants_exactly_that_many(run: RunResult) -> None:
    with pytest.raises(
        AssertionError, match=r"^expected 2 'attempt' events with outcome='error', found 1\."
    ):
        assert_event(run, "attempt", outcome="error", count=2)


@pytest.fixture
def spans() -> Iterator[CapturedSpans]:
    """``run``, under it ``plan`` then ``step a`` (with ``tool x`` twice, attempts 1 and 2),
    then ``step b``; and a second root ``other``."""
    captured = CapturedSpans()
    tracer = captured.provider.get_tracer("test")
    with tracer.start_as_current_span("run"):
        with tracer.start_as_current_span("plan"):
            pass
        with tracer.start_as_current_span("step a"):
            for attempt in (1, 2):
                with tracer.start_as_current_span("tool x", attributes={"attempt": attempt}):
                    pass
        with tracer.start_as_current_span("step b"):
            pass
    with tracer.start_as_current_span("other"):
        pass
    yield captured
    captured.shutdown()


def test_tree_indents_each_span_under_its_parent(spans: CapturedSpans) -> None:
    assert spans.tree() == "run\n  plan\n  step a\n    tool x\n    tool x\n  step b\nother"


@pytest.mark.parametrize(
    "expected",
    [
        "run\n  step a\n    tool x\n  step b",
        "step a\n  tool x\n  tool x",
        "    run\n      step b\n    other",
    ],
    ids=["spans left out", "not from a root", "indented text"],
)
def test_a_span_tree_may_leave_spans_out(spans: CapturedSpans, expected: str) -> None:
    assert_span_tree(spans, expected)


@pytest.mark.parametrize(
    "expected",
    ["run\n  step b\n  step a", "run\n  tool x", "step a\n  tool x\n  tool x\n  tool x"],
    ids=["siblings out of order", "a grandchild as a child", "one span too many"],
)
def test_a_span_tree_not_held_fails_showing_the_spans(spans: CapturedSpans, expected: str) -> None:
    with pytest.raises(AssertionError) as raised:
        assert_span_tree(spans, expected)

    assert str(raised.value).endswith(f"Spans:\n{spans.tree()}")


def test_assert_span_finds_the_one_span_with_the_attributes(spans: CapturedSpans) -> None:
    found = assert_span(spans, "tool x", {"attempt": 2})

    assert found.attributes == {"attempt": 2}


def test_assert_span_fails_when_several_or_none_match(spans: CapturedSpans) -> None:
    with pytest.raises(AssertionError, match=r"^expected one span 'tool x', found 2\."):
        assert_span(spans, "tool x")
    with pytest.raises(
        AssertionError, match=r"found 0\. Spans named so: 2\n  \{'attempt': 1\}\n  \{'attempt': 2\}"
    ):
        assert_span(spans, "tool x", {"attempt": 3})
