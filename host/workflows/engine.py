"""Runs a workflow node by node over one run state, following only the edges it allows.

Each function node runs through the host's :class:`~host.steps.StepRunner`, so
its output lands in ``steps.<node>.output`` for later references and
conditions; a node run again gets fresh output there. Every run of every node
is in the result, in order; the n-th run of a node (n ≥ 2) is recorded as
``node#n``. A round is one node run, hand-offs included: the run stops as
``round_limit`` before a node would exceed ``max_rounds``.

A hand-off node (or a step whose validation hands off) pauses the run as
``needs_human`` with ``waiting_step`` set to the node. Running again with that
result as ``paused`` records the answer as the node's output and follows the
node's edges from there; ``AgentHost`` keeps paused runs for ``resume``.
Side-effecting nodes are keyed per visit (``<run id>/<node>``, then
``<run id>/<node>#n``): a resumed run replays a visit's effect instead of acting
twice, while a loop that comes back to the node acts again.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from host.errors import AgentHostError, HumanNeeded, InvalidArgumentsError, TransitionError
from host.plans import TOO_DEEP, too_deep
from host.state import RunResult, RunState, RunStatus, StepRecord
from host.workflows.definition import END, Workflow

if TYPE_CHECKING:
    from host.steps import StepRunner

HUMAN = "human"
"""Who answers a hand-off: the ``function`` of a hand-off node's record."""


class WorkflowEngine:
    """Runs checked workflows through a :class:`StepRunner`; holds no run of its own."""

    def __init__(self, steps: StepRunner) -> None:
        self._steps = steps

    async def run(
        self,
        workflow: Workflow,
        state: RunState,
        *,
        deadline: float | None = None,
        paused: RunResult | None = None,
        answer: Any = None,
    ) -> RunResult:
        """Run ``workflow`` (already checked against the catalogue) over ``state``.

        Without ``paused`` the run begins at the start node. With a ``needs_human``
        result of this run as ``paused``, ``answer`` becomes the output of its
        waiting node and the run continues along that node's edges. ``deadline``
        bounds all the nodes this call runs together (time waiting for a person does
        not count). Never raises for a failing node, a rejected transition, the
        round cap or an input nested deeper than :data:`~host.plans.MAX_NESTING`
        levels: the result's status says which, with every record so far.
        """
        run = _Run(workflow, state, list(paused.steps) if paused else [])
        deep = too_deep(state.values)
        if deep:
            problems = [f"input {name!r} {TOO_DEEP}" for name in deep]
            error = InvalidArgumentsError(f"workflow {workflow.name}", problems)
            return run.result("failed", error=str(error))
        if paused is None or paused.waiting_step is None:
            return await self._follow(run, workflow.start_node, deadline)
        node_id = paused.waiting_step
        answered = state.answer(node_id, HUMAN, answer)
        run.add(node_id, answered)
        try:
            target = _next_node(workflow, node_id, state)
        except TransitionError as error:
            return run.result("failed", error=str(error))
        return await self._follow(run, target, deadline)

    async def _follow(self, run: _Run, node_id: str, deadline: float | None) -> RunResult:
        with self._steps.deadline_scope(deadline):
            return await self._walk(run, node_id)

    async def _walk(self, run: _Run, node_id: str) -> RunResult:
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
                    raise _asked(run.state, node_id, node.ask.render(run.state))
                record = await self._steps.run(
                    node.step(node_id), run.state, key=run.numbered(node_id)
                )
                run.add(node_id, record)
                node_id = _next_node(workflow, node_id, run.state)
            except HumanNeeded as handoff:
                return run.result(
                    "needs_human", error=str(handoff), question=handoff.question, waiting=node_id
                )
            except AgentHostError as error:
                if error.step is not None:
                    run.add(node_id, error.step)
                return run.result("failed", error=str(error))
        return run.result("ok")


@dataclass
class _Run:
    """One run in progress: its workflow, state and the records of every node run so far."""

    workflow: Workflow
    state: RunState
    steps: list[StepRecord]
    visits: Counter[str] = field(init=False)
    """How many runs of each node ``steps`` holds."""

    def __post_init__(self) -> None:
        self.visits = Counter(record.step_id.partition("#")[0] for record in self.steps)

    def numbered(self, node_id: str) -> str:
        """The record id of ``node_id``'s next run: the id itself first, then ``node#n``."""
        runs = self.visits[node_id] + 1
        return node_id if runs == 1 else f"{node_id}#{runs}"

    def add(self, node_id: str, record: StepRecord) -> None:
        """Keep ``record`` as ``node_id``'s next run, numbered."""
        self.steps.append(dataclasses.replace(record, step_id=self.numbered(node_id)))
        self.visits[node_id] += 1

    def result(
        self,
        status: RunStatus,
        *,
        error: str | None = None,
        question: str | None = None,
        waiting: str | None = None,
    ) -> RunResult:
        output = None
        if status == "ok" and self.steps:
            chosen = self.workflow.output
            output = self.state.outputs.get(chosen) if chosen else self.steps[-1].output
        path = " → ".join(record.step_id for record in self.steps) or "nothing run"
        return RunResult(
            run_id=self.state.run_id,
            request=self.workflow.name,
            status=status,
            output=output,
            steps=tuple(self.steps),
            plan=f"workflow {self.workflow.name}: {path}",
            error=error,
            question=question,
            waiting_step=waiting,
        )


def _asked(state: RunState, node_id: str, question: str) -> HumanNeeded:
    """The hand-off of node ``node_id``, its question recorded for the answer to complete."""
    state.records[node_id] = StepRecord.without_call(node_id, HUMAN, {"question": question})
    return HumanNeeded(node_id, question)


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
        if chooser is not None and not edge.accepts(wanted):
            continue
        if edge.when is None or edge.when.holds(state):
            return edge.to
    allowed = [edge.describe() for edge in edges]
    raise TransitionError(node_id, allowed, wanted=repr(wanted) if chooser is not None else None)
