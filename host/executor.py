"""Runs a validated plan: each step as soon as its dependencies are done, over one run state.

Independent steps run concurrently (a run takes about as long as its slowest
branch), up to a concurrency limit. Arguments that reference earlier outputs
are resolved from the :class:`RunState` and adapted to the parameter's type.
When a step fails, the steps still running are cancelled and the run ends
``failed`` with every record so far.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from host.errors import AgentHostError
from host.state import RunResult, RunState
from host.steps import StepRunner
from planners.plan import Plan, Step, ensure_valid


class Executor:
    """Runs plans step by step through a :class:`StepRunner`."""

    def __init__(self, steps: StepRunner, *, concurrency: int = 16) -> None:
        self._steps = steps
        self._limit = concurrency

    async def run(
        self,
        plan: Plan,
        *,
        request: str,
        run_id: str,
        state: RunState | None = None,
        deadline: float | None = None,
    ) -> RunResult:
        """Run ``plan``; a bad plan or a failed step gives a ``failed`` result, never a raise."""
        state = state or RunState()
        try:
            ensure_valid(plan, list(self._steps.catalogue.values()))
        except AgentHostError as error:
            return RunResult(run_id, request, "failed", None, plan=_outline(plan), error=str(error))
        done = {step.id: asyncio.Event() for step in plan.steps}
        slots = asyncio.Semaphore(self._limit)
        failures: list[AgentHostError] = []
        try:
            async with asyncio.TaskGroup() as group:
                for step in plan.steps:
                    group.create_task(self._step(plan, step, state, done, slots, deadline))
        except* AgentHostError as group_error:
            failures.extend(e for e in group_error.exceptions if isinstance(e, AgentHostError))
        records = tuple(state.records[s.id] for s in plan.steps if s.id in state.records)
        if failures:
            reason = str(failures[0])
            return RunResult(run_id, request, "failed", None, records, _outline(plan), reason)
        output = state.outputs[plan.output_step]
        return RunResult(run_id, request, "ok", output, records, _outline(plan))

    async def _step(
        self,
        plan: Plan,
        step: Step,
        state: RunState,
        done: Mapping[str, asyncio.Event],
        slots: asyncio.Semaphore,
        deadline: float | None,
    ) -> None:
        for dependency in plan.dependencies(step.id):
            await done[dependency].wait()
        async with slots:
            await self._steps.run(step, state, deadline=deadline)
        done[step.id].set()


def _outline(plan: Plan) -> str:
    return f"{len(plan.steps)} step(s): " + ", ".join(f"{s.id}={s.function}" for s in plan.steps)
