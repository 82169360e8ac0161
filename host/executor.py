"""Runs a validated plan: each step as soon as its dependencies are done, over one run state.

Independent steps run concurrently (a run takes about as long as its slowest
branch), up to a concurrency limit. Steps already done in the state (a resumed
run) are not run again. When a step fails, the steps still running are
cancelled, completed steps with a ``compensate`` call are undone in reverse
order (saga), and the run ends ``failed`` with every record. When a step hands
off to a person, steps already running finish, nothing new starts, and the run
ends ``needs_human`` until it is resumed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime

from host.errors import AgentHostError, HumanNeeded, describe_error
from host.state import RunResult, RunState, StepRecord
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
        state = state or RunState(run_id=run_id)
        outline = _outline(plan)
        try:
            ensure_valid(plan, list(self._steps.catalogue.values()))
        except AgentHostError as error:
            return RunResult(run_id, request, "failed", None, plan=outline, error=str(error))
        run = _Run(plan, state, asyncio.Semaphore(self._limit))
        failures: list[AgentHostError] = []
        try:
            with self._steps.deadline_scope(deadline):
                async with asyncio.TaskGroup() as group:
                    for step in plan.steps:
                        if step.id not in state.outputs:
                            group.create_task(self._step(run, step))
        except* AgentHostError as group_error:
            failures.extend(e for e in group_error.exceptions if isinstance(e, AgentHostError))
        records = tuple(state.records[s.id] for s in plan.steps if s.id in state.records)
        if failures:
            undone = await self._compensate(plan, state)
            reason = str(failures[0])
            broken = [r for r in undone if r.status == "failed"]
            if broken:
                reason += "; compensation failed for " + ", ".join(r.step_id for r in broken)
            return RunResult(
                run_id, request, "failed", None, records, outline, reason, compensations=undone
            )
        if run.asks:
            asked = run.asks[0]
            return RunResult(
                run_id,
                request,
                "needs_human",
                None,
                records,
                outline,
                question=asked.question,
                waiting_step=asked.step_id,
            )
        output = state.outputs[plan.output_step]
        return RunResult(run_id, request, "ok", output, records, outline)

    async def _step(self, run: _Run, step: Step) -> None:
        for dependency in run.plan.dependencies(step.id):
            await run.done[dependency].wait()
        async with run.slots:
            if run.asks:
                return
            try:
                await self._steps.run(step, run.state)
            except HumanNeeded as asked:
                run.pause(asked)
                return
        run.done[step.id].set()

    async def _compensate(self, plan: Plan, state: RunState) -> tuple[StepRecord, ...]:
        """Undo completed steps that declare ``compensate``, latest first; record each."""
        undone: list[StepRecord] = []
        for step_id in reversed(state.completed):
            step = plan.step(step_id)
            if step.compensate is None:
                continue
            undo = Step(
                id=f"{step_id}_undo",
                function=step.compensate.function,
                arguments=step.compensate.arguments,
                capability=step.capability,
            )
            try:
                undone.append(await self._steps.run(undo, state))
            except AgentHostError as error:
                undone.append(error.step or _unrecorded(undo, error))
        return tuple(undone)


class _Run:
    """One execution's coordination: finished steps, slots and pending hand-offs."""

    def __init__(self, plan: Plan, state: RunState, slots: asyncio.Semaphore) -> None:
        self.plan, self.state, self.slots = plan, state, slots
        self.done: Mapping[str, asyncio.Event] = {s.id: asyncio.Event() for s in plan.steps}
        for step_id in state.outputs:
            if step_id in self.done:
                self.done[step_id].set()
        self.asks: list[HumanNeeded] = []

    def pause(self, asked: HumanNeeded) -> None:
        """Stop starting steps: every waiter wakes, sees the hand-off and returns."""
        self.asks.append(asked)
        for event in self.done.values():
            event.set()


def _unrecorded(step: Step, error: AgentHostError) -> StepRecord:
    """A failed record for a step that failed before its call was recorded (bad arguments)."""
    return StepRecord(
        step_id=step.id,
        function=step.function,
        arguments=step.model_dump(by_alias=True)["arguments"],
        status="failed",
        started_at=datetime.now(UTC),
        latency_ms=0.0,
        error=describe_error(error),
        error_type=type(error).__name__,
    )


def _outline(plan: Plan) -> str:
    return f"{len(plan.steps)} step(s): " + ", ".join(f"{s.id}={s.function}" for s in plan.steps)
