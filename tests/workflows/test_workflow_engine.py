"""Running workflows: branches, allowed transitions, the round cap, failures and inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from host import AgentHost, RunResult
from host.errors import InvalidArgumentsError, UnknownRunError
from host.workflows import Workflow, WorkflowBuilder, ref
from tests.workflows.workflow_kit import write_host

CHANGE = {"change": ref("state.change")}


def review_loop(max_rounds: int = 25) -> Workflow:
    """review → testing; back to review only on the signal fail; pass finishes."""
    return (
        WorkflowBuilder("review_loop", inputs=["change"], max_rounds=max_rounds)
        .step("review", "dev.review", CHANGE, next_from="steps.review.output.next")
        .step("testing", "dev.test", CHANGE, next_from="steps.testing.output")
        .edge("review", "testing")
        .edge("testing", "review", signal="fail")
        .edge("testing", "end", signal="pass")
        .build()
    )


async def run(
    tmp_path: Path,
    workflow: Workflow,
    *,
    reviews: tuple[str, ...] = (),
    tests: tuple[str, ...] = (),
) -> RunResult:
    async with AgentHost(write_host(tmp_path, reviews=reviews, tests=tests)) as host:
        return await host.run_workflow(workflow, {"change": "fix typo"})


@pytest.mark.parametrize(("verdict", "path"), [("fail", ["check", "review"]), ("pass", ["check"])])
async def test_a_conditional_edge_is_taken_only_when_its_condition_holds(
    tmp_path: Path, verdict: str, path: list[str]
) -> None:
    workflow = (
        WorkflowBuilder("branch", inputs=["change"])
        .step("check", "dev.test", CHANGE)
        .step("review", "dev.review", CHANGE)
        .edge("check", "review", when="steps.check.output == 'fail'")
        .edge("check", "end")
        .build()
    )

    result = await run(tmp_path, workflow, reviews=("done",), tests=(verdict,))

    assert result.status == "ok", result.error
    assert [step.step_id for step in result.steps] == path


async def test_a_failure_signal_sends_the_change_back_to_review(tmp_path: Path) -> None:
    result = await run(
        tmp_path, review_loop(), reviews=("testing", "testing"), tests=("fail", "pass")
    )

    assert result.status == "ok", result.error
    assert [s.step_id for s in result.steps] == ["review", "testing", "review#2", "testing#2"]
    assert [s.output for s in result.steps[1::2]] == ["fail", "pass"]
    assert result.output == "pass"
    assert result.plan == "workflow review_loop: review → testing → review#2 → testing#2"


async def test_a_transition_not_in_the_graph_is_rejected(tmp_path: Path) -> None:
    result = await run(tmp_path, review_loop(), reviews=("review",))

    assert result.status == "failed"
    assert result.error == (
        "node 'review' asked for 'review', which is not an edge of the graph "
        "(allowed from review: testing)"
    )
    assert [(s.step_id, json.loads(s.output)["next"]) for s in result.steps] == [
        ("review", "review")
    ]


async def test_an_unknown_signal_is_rejected_naming_the_signals_allowed(tmp_path: Path) -> None:
    result = await run(tmp_path, review_loop(), reviews=("testing",), tests=("flaky",))

    assert result.status == "failed"
    assert result.error == (
        "node 'testing' asked for 'flaky', which is not an edge of the graph "
        "(allowed from testing: review on signal 'fail', end on signal 'pass')"
    )


async def test_the_round_cap_ends_the_run_with_every_record(tmp_path: Path) -> None:
    result = await run(
        tmp_path, review_loop(max_rounds=5), reviews=("testing",) * 3, tests=("fail",) * 2
    )

    assert result.status == "round_limit"
    assert [s.step_id for s in result.steps] == [
        "review",
        "testing",
        "review#2",
        "testing#2",
        "review#3",
    ]
    assert result.error == "workflow 'review_loop' reached max_rounds (5) before node 'testing'"
    assert result.output is None


async def test_a_node_without_an_edge_that_applies_fails_the_run(tmp_path: Path) -> None:
    workflow = (
        WorkflowBuilder("strict", inputs=["change"])
        .step("check", "dev.test", CHANGE)
        .edge("check", "end", when="steps.check.output in ['pass', 'skip']")
        .build()
    )

    result = await run(tmp_path, workflow, tests=("fail",))

    assert (result.status, result.error) == (
        "failed",
        "no edge from node 'check' applies "
        "(allowed from check: end when steps.check.output in ['pass', 'skip'])",
    )


async def test_a_failing_node_ends_the_run_with_its_record(tmp_path: Path) -> None:
    result = await run(tmp_path, review_loop(), reviews=("testing",), tests=())

    assert result.status == "failed"
    assert [(s.step_id, s.status) for s in result.steps] == [
        ("review", "ok"),
        ("testing", "failed"),
    ]
    assert result.error is not None and "dev.test failed" in result.error


async def test_a_hand_off_pauses_and_the_answer_routes_the_run(tmp_path: Path) -> None:
    workflow = (
        WorkflowBuilder("gate", inputs=["change"])
        .step("check", "dev.test", CHANGE)
        .ask("approval", "Merge {{ state.change }} after {{ steps.check.output }}?")
        .step("merge", "dev.review", CHANGE)
        .chain("check", "approval")
        .edge("approval", "merge", when="steps.approval.output == 'yes'")
        .edge("approval", "end")
        .build()
    )
    async with AgentHost(write_host(tmp_path, reviews=("done",), tests=("pass",))) as host:
        paused = await host.run_workflow(workflow, {"change": "fix typo"})
        resumed = await host.resume(paused.run_id, "yes")
        with pytest.raises(UnknownRunError):
            await host.resume(paused.run_id, "yes")

    assert (paused.status, paused.waiting_step) == ("needs_human", "approval")
    assert paused.question == "Merge fix typo after pass?"
    assert resumed.status == "ok", resumed.error
    assert [(s.step_id, s.function) for s in resumed.steps] == [
        ("check", "dev.test"),
        ("approval", "human"),
        ("merge", "dev.review"),
    ]
    assert resumed.steps[1].output == "yes"
    assert resumed.steps[1].arguments == {"question": "Merge fix typo after pass?"}


@pytest.mark.parametrize(
    ("inputs", "problem"),
    [
        ({}, "missing input 'change'"),
        ({"change": "x", "diff": "y"}, "unknown input 'diff' (inputs: change)"),
    ],
)
async def test_inputs_must_match_the_declared_ones(
    tmp_path: Path, inputs: dict[str, str], problem: str
) -> None:
    async with AgentHost(write_host(tmp_path)) as host:
        with pytest.raises(
            InvalidArgumentsError, match=problem.replace("(", r"\(").replace(")", r"\)")
        ):
            await host.run_workflow(review_loop(), inputs)
