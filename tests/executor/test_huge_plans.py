"""Huge or deep plans end as a run's result, never a RecursionError.

A chain of thousands of steps runs; a cycle through it, or an argument or run-state
value nested thousands of levels deep, gives a ``failed`` result naming the cycle or
the bound (``host.plans.MAX_NESTING``) and where it was passed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from host import AgentHost
from tests.deep_data import nested
from tests.executor.echo_kit import write_echo_config

pytestmark = pytest.mark.reliability

LENGTH = 3 * sys.getrecursionlimit()
"""Steps in the long chain: a recursive walk of it overflows the interpreter's stack."""

DATE = "2026-01-31"


def chain(length: int, *, cycle: bool = False) -> dict[str, Any]:
    """``s0 → s1 → … → s<length-1>``, each passing the date on, listed last first.

    Each step needs the next one listed, so a walk in list order goes the whole depth;
    with ``cycle``, ``s0`` also waits for the last step.
    """
    steps = [
        {
            "id": f"s{index}",
            "function": "clock.resolve_date",
            "arguments": {"expression": {"$ref": f"steps.s{index - 1}.output"}},
            "capability": "fetch",
        }
        for index in range(length)
    ]
    steps[0]["arguments"] = {"expression": DATE}
    if cycle:
        steps[0]["depends_on"] = [f"s{length - 1}"]
    return {"steps": steps[::-1], "output": f"s{length - 1}"}


def one_step(**fields: Any) -> dict[str, Any]:
    """A one-step plan calling clock.today as step ``deep``, with ``fields`` added."""
    step = {"id": "deep", "function": "clock.today", "capability": "fetch", **fields}
    return {"steps": [step]}


DEEP = nested(10_000)
TOO_DEEP = "nests deeper than 100 levels"


@pytest.mark.parametrize(
    ("plan", "values", "status", "error"),
    [
        pytest.param(chain(LENGTH), None, "ok", None, id="long-chain-listed-last-first"),
        pytest.param(
            chain(LENGTH, cycle=True),
            None,
            "failed",
            f"step 's{LENGTH - 1}': dependency cycle: s{LENGTH - 1} → s{LENGTH - 2} → "
            f"s{LENGTH - 3} → … → s1 → s0 → s{LENGTH - 1} ({LENGTH} steps)",
            id="long-chain-with-a-cycle",
        ),
        pytest.param(
            one_step(arguments={"timezone": DEEP}),
            None,
            "failed",
            f"step 'deep': argument 'timezone' {TOO_DEEP}",
            id="deep-argument",
        ),
        pytest.param(
            one_step(compensate={"function": "clock.today", "arguments": {"timezone": DEEP}}),
            None,
            "failed",
            f"step 'deep': compensate: argument 'timezone' {TOO_DEEP}",
            id="deep-compensation-argument",
        ),
        pytest.param(
            one_step(depends_on=DEEP),
            None,
            "failed",
            f"steps.0.depends_on.a… {TOO_DEEP}",
            id="deep-elsewhere-in-the-data",
        ),
        pytest.param(
            one_step(arguments={"timezone": {"$ref": "state.zone"}}),
            {"zone": DEEP},
            "failed",
            f"values: 'zone' {TOO_DEEP}",
            id="deep-run-state-value",
        ),
    ],
)
async def test_huge_or_deep_plan_ends_as_a_result(
    tmp_path: Path,
    plan: dict[str, Any],
    values: dict[str, Any] | None,
    status: str,
    error: str | None,
) -> None:
    async with AgentHost(write_echo_config(tmp_path)) as host:
        result = await host.execute(plan, values=values)

    assert result.status == status, result.error
    if error is None:
        assert result.output == DATE
        assert len(result.steps) == len(plan["steps"])
    else:
        assert result.error is not None and error in result.error
        assert result.steps == ()


async def test_an_output_of_json_text_too_deep_to_read_fails_the_step_that_reads_it(
    tmp_path: Path,
) -> None:
    deep_text = "[" * 5_000 + "]" * 5_000  # more levels than json.loads can recurse
    config = write_echo_config(tmp_path, model=f"    options: {{replies: ['{deep_text}']}}\n")
    plan = {
        "steps": [
            {
                "id": "talk",
                "function": "talk.Echo",
                "arguments": {"input": "x"},
                "capability": "write",
            },
            {
                "id": "read",
                "function": "clock.today",
                "arguments": {"timezone": {"$ref": "steps.talk.output.field"}},
                "capability": "fetch",
            },
        ]
    }

    async with AgentHost(config) as host:
        result = await host.execute(plan)

    assert result.status == "failed"
    read = "argument 'timezone': cannot read steps.talk.output.field (nested too deep)"
    assert read in (result.error or "")
