"""Huge or deep workflows end as a run's result: thousands of nodes run, an input nested
thousands of levels deep fails the run, and a deep argument is a definition problem."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from host import AgentHost
from host.workflows import Workflow
from tests.deep_data import nested
from tests.workflows.workflow_kit import write_host

pytestmark = pytest.mark.reliability

LENGTH = 3 * sys.getrecursionlimit()
DATE = "2026-01-31"


def long_chain(length: int) -> Workflow:
    """``n0 → n1 → …``, each node passing the date on; nodes and edges listed last first."""
    nodes: dict[str, Any] = {
        f"n{i}": {
            "function": "clock.resolve_date",
            "arguments": {"expression": {"$ref": f"steps.n{i - 1}.output"}},
        }
        for i in reversed(range(1, length))
    }
    nodes["n0"] = {"function": "clock.resolve_date", "arguments": {"expression": DATE}}
    edges = [{"from": f"n{i}", "to": f"n{i + 1}"} for i in reversed(range(length - 1))]
    return Workflow.model_validate(
        {"name": "long", "start": "n0", "max_rounds": length, "nodes": nodes, "edges": edges}
    )


ZONE_FROM_INPUT = Workflow.model_validate(
    {
        "name": "zone",
        "inputs": ["zone"],
        "nodes": {
            "today": {"function": "clock.today", "arguments": {"timezone": {"$ref": "state.zone"}}}
        },
    }
)


@pytest.mark.parametrize(
    ("workflow", "inputs", "status", "error"),
    [
        pytest.param(long_chain(LENGTH), {}, "ok", None, id="long-chain-listed-last-first"),
        pytest.param(
            ZONE_FROM_INPUT,
            {"zone": nested(10_000)},
            "failed",
            "workflow zone: input 'zone' nests deeper than 100 levels",
            id="deep-input",
        ),
    ],
)
async def test_huge_or_deep_run_ends_as_a_result(
    tmp_path: Path, workflow: Workflow, inputs: dict[str, Any], status: str, error: str | None
) -> None:
    async with AgentHost(write_host(tmp_path)) as host:
        result = await host.run_workflow(workflow, inputs)

    assert result.status == status, result.error
    assert result.error == error
    if error is None:
        assert result.output == DATE
        assert [step.step_id for step in result.steps] == [f"n{i}" for i in range(LENGTH)]


def test_an_argument_nested_thousands_deep_is_named_with_the_bound() -> None:
    node = {"function": "clock.today", "arguments": {"timezone": nested(10_000)}}

    with pytest.raises(ValidationError, match="argument 'timezone' nests deeper than 100 levels"):
        Workflow.model_validate({"name": "deep", "nodes": {"today": node}})
