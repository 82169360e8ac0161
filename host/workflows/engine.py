"""Runs a workflow node by node over one run state, following only the edges it allows.

Each function node runs through the host's :class:`~host.steps.StepRunner`, so
its output lands in ``steps.<node>.output`` for later references and
conditions; a node run again gets fresh output there. Every run of every node
is in the result, in order; the n-th run of a node (n ≥ 2) is recorded as
``node#n``. A round is one node run, hand-offs included: the run stops as
``round_limit`` before a node would exceed ``max_rounds``.

A hand-off node (or a step raising :class:`~host.errors.HumanNeeded`) pauses the
run as ``needs_human``. The engine keeps the paused run; :meth:`WorkflowEngine.resume`
records the answer as that node's output and follows the node's edges from there.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from host.errors import AgentHostError, HumanNeeded, TransitionError
from host.state import RunResult, RunState, RunStatus, StepRecord
from host.workflows.definition import END, Workflow

if TYPE_CHECKING:
    from host.steps import StepRunner

HUMAN = "human"
"""The ``function`` of a hand-off node's record."""


@dataclass(frozen=True)
class PausedRun:
    """A workflow run waiting at ``node`` for a person's answer to ``question``."""

    workflow: Workflow
    run_id: str
    request: str
    node: str
    question: str
    state: RunState
    steps: tuple[StepRecord, ...]


class WorkflowEngine:
    """Runs checked workflows through a :class:`StepRunner`; keeps runs paused for a person."""

    def __init__(self, steps: StepRunner) -> None:
        self._steps = steps
        self._paused: dict[str, PausedRun] = {}

    async def run(
        self,
        workflow: Workflow,
        *,
        run_id: str,
        request: str = "",
        state: RunState | None = None,
        deadline: float | None = None,
    ) -> RunResult:
        """Run ``workflow`` (already checked against the catalogue) from its start node.

        Never raises for a failing node, a rejected transition or the round
        cap: the result's status says which, with every record so far.
        """
        run = _Run(workflow, run_id, request, state or RunState(), [])
        return await self._follow(run, workflow.start_node, deadline)

    def is_paused(self, run_id: str) -> bool:
        """Whether run ``run_id`` is waiting for a person's answer."""
        return run_id in self._paused

    async def resume(self, run_id: str, answer: str, *, deadline: float | None = None) -> RunResult:
        """Continue paused run ``run_id``: ``answer`` becomes the waiting node's output.

        Raises ``KeyError`` when no run of that id is waiting.
        """
        paused = self._paused.pop(run_id)
        run = _Run(paused.workflow, run_id, paused.request, paused.state, list(paused.steps))
        node = paused.workflow.nodes[paused.node]
        record = StepRecord(
            step_id=run.numbered(paused.node),
            function=node.function or HUMAN,
            arguments={"question": paused.question},
            status="ok",
            started_at=datetime.now(UTC),
            latency_ms=0.0,
            output=answer,
        )
        run.record(paused.node, record)
        try:
            target = _next_node(paused.workflow, paused.node, run.state)
        except TransitionError as error:
            return run.result("failed", error=str(error))
        return await self._follow(run, target, deadline)

    async def _follow(self, run: _Run, node_id: str, deadline: float | None) -> RunResult:
        workflow = run.workflow
        while node_id != END:
            if len(run.steps) >= workflow.max_rounds:
                reason = (
                    f"workflow {workflow.name!r} reached max_rounds ({workflow.max_rounds}) "
                    f"before node {node_id!r}"
                )
                return run.result("round_limit", error=reason)
            node = workflow.nodes[node_id]
            try:
                if node.ask is not None:
                    raise HumanNeeded(node_id, node.ask.render(run.state))
                record = await self._steps.run(node.step(node_id), run.state, deadline=deadline)
                run.steps.append(dataclasses.replace(record, step_id=run.numbered(node_id)))
                node_id = _next_node(workflow, node_id, run.state)
            except HumanNeeded as error:
                return self._pause(run, error)
            except AgentHostError as error:
                if error.step is not None:
                    run.steps.append(dataclasses.replace(error.step, step_id=run.numbered(node_id)))
                return run.result("failed", error=str(error))
        return run.result("ok")

    def _pause(self, run: _Run, handoff: HumanNeeded) -> RunResult:
        if handoff.step is not None:
            run.steps.append(
                dataclasses.replace(handoff.step, step_id=run.numbered(handoff.step_id))
            )
        self._paused[run.run_id] = PausedRun(
            run.workflow,
            run.run_id,
            run.request,
            handoff.step_id,
            handoff.question,
            run.state,
            tuple(run.steps),
        )
        return run.result("needs_human", error=str(handoff), question=handoff.question)


@dataclass
class _Run:
    """One run in progress: its workflow, state and the records of every node run so far."""

    workflow: Workflow
    run_id: str
    request: str
    state: RunState
    steps: list[StepRecord]

    def numbered(self, node_id: str) -> str:
        """The record id of ``node_id``'s next run: the id itself first, then ``node#n``."""
        runs = 1 + sum(1 for r in self.steps if r.step_id.partition("#")[0] == node_id)
        return node_id if runs == 1 else f"{node_id}#{runs}"

    def record(self, node_id: str, record: StepRecord) -> None:
        """Store ``record`` as ``node_id``'s latest output and append it to the history."""
        self.state.outputs[node_id] = record.output
        self.state.records[node_id] = record
        self.steps.append(record)

    def result(
        self, status: RunStatus, *, error: str | None = None, question: str | None = None
    ) -> RunResult:
        output = None
        if status == "ok" and self.steps:
            chosen = self.workflow.output
            output = self.state.outputs.get(chosen) if chosen else self.steps[-1].output
        path = " → ".join(record.step_id for record in self.steps) or "nothing run"
        outline = f"workflow {self.workflow.name}: {path}"
        return RunResult(
            self.run_id, self.request, status, output, tuple(self.steps), outline, error, question
        )


def _next_node(workflow: Workflow, node_id: str, state: RunState) -> str:
    """The target of the first edge from ``node_id`` that applies; ``end`` when it has none.

    Raises :class:`TransitionError` when the node's ``next_from`` names a move
    no edge allows, or when no edge's condition holds.
    """
    edges = workflow.edges_from(node_id)
    if not edges:
        return END
    chooser = workflow.nodes[node_id].next_from
    wanted = chooser.evaluate(state) if chooser is not None else None
    for edge in edges:
        if chooser is not None and wanted != edge.signal:
            continue
        if edge.when is None or edge.when.holds(state):
            return edge.to
    allowed = [edge.describe() for edge in edges]
    raise TransitionError(node_id, allowed, wanted=repr(wanted) if chooser is not None else None)
