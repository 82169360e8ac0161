"""Plans of any length are ordered and checked without recursion; arguments nest at most
``MAX_NESTING`` levels, checked before anything walks them recursively."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from host.catalogue import FunctionInfo, ParameterInfo
from host.errors import PlanError
from host.plans import MAX_NESTING, Plan, parse_plan, validate_plan
from tests.deep_data import nested

pytestmark = pytest.mark.reliability

LENGTH = 3 * sys.getrecursionlimit()
"""Steps in the long chain: a recursive walk of it overflows the interpreter's stack."""


def _step(step_id: str, *needs: str) -> dict[str, Any]:
    return {"id": step_id, "function": "clock.today", "depends_on": list(needs), "capability": "x"}


def _chain_last_first(length: int) -> list[dict[str, Any]]:
    """``s0 → … → s<length-1>`` listed last first: each step needs the next one listed."""
    return [_step(f"s{i}", *([f"s{i - 1}"] if i else [])) for i in reversed(range(length))]


@pytest.mark.parametrize(
    ("steps", "waves"),
    [
        pytest.param(
            _chain_last_first(LENGTH),
            [[f"s{i}"] for i in range(LENGTH)],
            id="long-chain-listed-last-first",
        ),
        pytest.param(
            [_step("x"), _step("y"), _step("b", "y"), _step("a", "x")],
            [["x", "y"], ["b", "a"]],
            id="a-wave-keeps-plan-order",
        ),
    ],
)
def test_order_is_waves_in_plan_order(steps: list[dict[str, Any]], waves: list[list[str]]) -> None:
    assert Plan.model_validate({"steps": steps}).order() == waves


def test_a_cycle_through_a_long_chain_is_named_by_its_ends_and_length() -> None:
    steps = _chain_last_first(LENGTH)
    steps[-1]["depends_on"] = [f"s{LENGTH - 1}"]  # s0, listed last, waits for the last step
    last = f"s{LENGTH - 1}"

    with pytest.raises(PlanError) as raised:
        Plan.model_validate({"steps": steps}).order()

    assert [str(problem) for problem in raised.value.problems] == [
        f"step {last!r}: dependency cycle: {last} → s{LENGTH - 2} → s{LENGTH - 3} → … "
        f"→ s1 → s0 → {last} ({LENGTH} steps)"
    ]


ANYTHING = FunctionInfo(
    name="any.take",
    plugin="any",
    function="take",
    kind="native",
    description="",
    parameters=tuple(ParameterInfo(name, "any", False, "", "") for name in ("x", "y")),
    source=None,
)
"""A function whose parameters accept any value, so only the nesting can be wrong."""


@pytest.mark.parametrize(
    ("arguments", "compensate", "problems"),
    [
        pytest.param({"x": nested(MAX_NESTING)}, {}, [], id="objects-at-the-bound"),
        pytest.param({"x": nested(MAX_NESTING, key=None)}, {}, [], id="arrays-at-the-bound"),
        pytest.param(
            {"x": "flat", "y": nested(MAX_NESTING + 1)},
            {},
            ["step 's': argument 'y' nests deeper than 100 levels"],
            id="objects-past-the-bound",
        ),
        pytest.param(
            {"x": nested(MAX_NESTING, inner=[[]])},
            {},
            ["step 's': argument 'x' nests deeper than 100 levels"],
            id="mixed-past-the-bound",
        ),
        pytest.param(
            {},
            {"x": nested(MAX_NESTING + 1, key=None)},
            ["step 's': compensate: argument 'x' nests deeper than 100 levels"],
            id="compensation-past-the-bound",
        ),
    ],
)
def test_an_argument_nests_at_most_max_nesting_levels(
    arguments: dict[str, Any], compensate: dict[str, Any], problems: list[str]
) -> None:
    step: dict[str, Any] = {**_step("s"), "function": "any.take", "arguments": arguments}
    step["compensate"] = {"function": "any.take", "arguments": compensate}
    plan = Plan.model_validate({"steps": [step]})

    assert [str(problem) for problem in validate_plan(plan, [ANYTHING])] == problems


DEEP = nested(10_000)


@pytest.mark.parametrize(
    ("step", "problem"),
    [
        pytest.param(
            {**_step("deep"), "arguments": {"timezone": DEEP}},
            "step 'deep': argument 'timezone' nests deeper than 100 levels",
            id="argument",
        ),
        pytest.param(
            {**_step("deep"), "compensate": {"function": "c.undo", "arguments": {"z": DEEP}}},
            "step 'deep': compensate: argument 'z' nests deeper than 100 levels",
            id="compensation-argument",
        ),
        pytest.param(
            {"function": "clock.today", "arguments": {"timezone": DEEP}},
            "steps.0: argument 'timezone' nests deeper than 100 levels",
            id="argument-of-a-step-without-id",
        ),
        pytest.param(
            {**_step("deep"), "validation": DEEP},
            "steps.0.validation.a… nests deeper than 100 levels",
            id="elsewhere",
        ),
    ],
)
def test_plan_data_nested_thousands_deep_is_one_plan_problem(
    step: dict[str, Any], problem: str
) -> None:
    with pytest.raises(PlanError) as raised:
        parse_plan({"steps": [step]})

    assert [str(found) for found in raised.value.problems] == [problem]


def _plan_data(capability: Any = "fetch") -> dict[str, Any]:
    return {"steps": [{**_step("s"), "capability": capability}]}


@pytest.mark.parametrize(
    ("again", "same"),
    [
        pytest.param(_plan_data(), True, id="equal-data-is-remembered"),
        pytest.param({"steps": [{**_step("s"), "capability": "fetch"}]}, True, id="equal-copy"),
        pytest.param(_plan_data("write"), False, id="a-different-value"),
        pytest.param({"output": None, **_plan_data()}, False, id="one-key-more"),
    ],
)
def test_plan_data_seen_before_gives_the_same_plan(again: dict[str, Any], same: bool) -> None:
    first = parse_plan(_plan_data())

    assert (parse_plan(again) is first) is same
    assert parse_plan(again) == Plan.model_validate(again)
