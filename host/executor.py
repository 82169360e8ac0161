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
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from host.errors import (
    AgentHostError,
    HumanNeeded,
    InvalidArgumentsError,
    PlanError,
    describe_error,
)
from host.idempotency import compensation
from host.plans import TOO_DEEP, Plan, Step, ensure_valid, too_deep, waves
from host.state import RunResult, RunState, StepRecord
from host.steps import StepRunner

_MEMO_SIZE = 256
"""Validated plans an executor remembers (oldest forgotten first)."""


PauseKeeper = Callable[[Plan, RunResult, RunState, "float | None"], None]
"""Told of each run that ends ``needs_human``: its plan, result, state and deadline."""

EndKeeper = Callable[[RunResult], object]
"""Told of every run's result as the run ends: ``ok``, ``failed``, ``needs_human`` or
``cancelled``."""


class Executor:
    """Runs plans step by step through a :class:`StepRunner`.

    ``paused`` is told of every run that pauses for a person, and ``ended`` of every
    run's result (a plan turned down included), before the result is returned: a caller
    can keep or record runs without awaiting each in a frame of its own.
    """

    def __init__(
        self,
        steps: StepRunner,
        *,
        concurrency: int = 16,
        paused: PauseKeeper | None = None,
        ended: EndKeeper | None = None,
    ) -> None:
        self._steps = steps
        self._limit = concurrency
        self._paused = paused
        self._end = ended
        self._functions = list(steps.catalogue.values())
        self._plans: dict[int, tuple[Plan, _Schedule]] = {}

    def run(
        self,
        plan: Plan,
        *,
        request: str,
        run_id: str,
        state: RunState | None = None,
        deadline: float | None = None,
    ) -> Coroutine[Any, Any, RunResult]:
        """Run ``plan``; a bad plan, a run-state value nested deeper than
        :data:`~host.plans.MAX_NESTING` levels or a failed step gives a ``failed``
        result, never a raise.

        A chain (no step can run beside another) runs step by step in this task, and
        ends as the concurrent path would: the first failure stops the run, a hand-off
        stops it before the next step, and any other error leaves in an
        :class:`ExceptionGroup` as from the task group.

        Await it as an ``async def``'s call: the plan is checked when it is called, and
        the coroutine it returns holds only the run while its steps wait.
        """
        state = state or RunState(run_id=run_id)
        tracing = self._steps.tracing
        try:
            _check_values(state)
            schedule = self._schedule(plan)
        except AgentHostError as error:
            failed = RunResult(
                run_id, request, "failed", None, plan=_outline(plan), error=str(error)
            )
            turned_down = self._settled(failed)
            return (
                turned_down if tracing is None else tracing.traced_run("plan", request, turned_down)
            )
        run = self._run(_Run(plan, schedule, state, request, run_id, deadline))
        return run if tracing is None else tracing.traced_run("plan", request, run)

    async def _run(self, run: _Run) -> RunResult:
        """:meth:`run` of a checked plan; a cancelled run is told ``cancelled`` as it leaves."""
        try:
            with self._steps.deadline_scope(run.deadline):
                if run.schedule.chain is None:
                    failures = await self._run_graph(run)
                else:  # inline, not a method: one coroutine frame fewer held by every run
                    failures = []
                    for step in run.schedule.chain:
                        if step.id in run.state.outputs:
                            continue
                        try:
                            await self._steps.run(step, run.state)
                        except HumanNeeded as handoff:
                            run.asks += (handoff,)
                            break
                        except AgentHostError as failure:
                            failures = [failure]
                            break
                        except Exception as bug:  # not a step failure: leave as the group would
                            group = ExceptionGroup("unhandled errors in a TaskGroup", [bug])
                            raise group from None
            if failures:
                return self._told(await self._failed(run, failures))
            return self._told(self._ended(run))
        except asyncio.CancelledError:
            records, outline = run.records(), run.schedule.outline
            self._told(RunResult(run.run_id, run.request, "cancelled", None, records, outline))
            raise

    async def _settled(self, result: RunResult) -> RunResult:
        """``result`` of a run that never began, told as it is awaited."""
        return self._told(result)

    def _told(self, result: RunResult) -> RunResult:
        """``result``, marked with its trace (if traced), after ``ended`` is told of it."""
        tracing = self._steps.tracing
        if tracing is not None:
            tracing.mark(result)
        if self._end is not None:
            self._end(result)
        return result

    async def _failed(self, run: _Run, failures: list[AgentHostError]) -> RunResult:
        """The ``failed`` result of ``run``, after undoing what can be undone."""
        undone = await self._compensate(run.plan, run.state)
        reason = str(failures[0])
        broken = [r for r in undone if r.status == "failed"]
        if broken:
            reason += "; compensation failed for " + ", ".join(r.step_id for r in broken)
        return RunResult(
            run.run_id,
            run.request,
            "failed",
            None,
            run.records(),
            run.schedule.outline,
            reason,
            compensations=undone,
        )

    def _ended(self, run: _Run) -> RunResult:
        """The result of ``run``, which no step failed: ``ok`` or ``needs_human``."""
        plan, state, outline = run.plan, run.state, run.schedule.outline
        if run.asks:
            asked = run.asks[0]
            paused = RunResult(
                run.run_id,
                run.request,
                "needs_human",
                None,
                run.records(),
                outline,
                question=asked.question,
                waiting_step=asked.step_id,
            )
            if self._paused is not None:
                self._paused(plan, paused, state, run.deadline)
            return paused
        output = state.outputs[plan.output_step]
        return RunResult(run.run_id, run.request, "ok", output, run.records(), outline)

    def _schedule(self, plan: Plan) -> _Schedule:
        """``plan``'s schedule, validating it against the catalogue the first time it is seen.

        Plans are frozen and the catalogue does not change while this executor
        lives, so a plan run again (a resumed run, a memoised plan) is not
        validated again. The memo holds the plan itself, so an ``id`` is never reused
        while its entry is there.
        """
        known = self._plans.get(id(plan))
        if known is not None and known[0] is plan:
            return known[1]
        ensure_valid(plan, self._functions)
        unroutable = self._steps.unroutable(plan)
        if unroutable:
            raise PlanError(unroutable)
        schedule = _Schedule.of(plan)
        if len(self._plans) >= _MEMO_SIZE:
            del self._plans[next(iter(self._plans))]
        self._plans[id(plan)] = (plan, schedule)
        return schedule

    async def _run_graph(self, run: _Run) -> list[AgentHostError]:
        """Every step not done yet in its own task, each started once its dependencies are."""
        pending = [step for step in run.plan.steps if step.id not in run.state.outputs]
        # No wider than the limit, a run never waits for a slot: it needs no semaphore.
        slots = asyncio.Semaphore(self._limit) if len(pending) > self._limit else None
        run.open()
        failures: list[AgentHostError] = []
        try:
            async with asyncio.TaskGroup() as group:
                for step in pending:
                    task = (
                        self._step(run, step) if slots is None else self._slotted(run, step, slots)
                    )
                    group.create_task(task)
        except* AgentHostError as group_error:
            failures.extend(e for e in group_error.exceptions if isinstance(e, AgentHostError))
        return failures

    async def _step(self, run: _Run, step: Step) -> None:
        for dependency in run.schedule.needs[step.id]:
            await run.done[dependency].wait()
        if run.asks:
            return
        try:
            await self._steps.run(step, run.state)
        except HumanNeeded as asked:
            run.pause(asked)
            return
        done = run.done.get(step.id)
        if done is not None:
            done.set()

    async def _slotted(self, run: _Run, step: Step, slots: asyncio.Semaphore) -> None:
        """:meth:`_step` in one of ``slots``, taken once its dependencies are done (a step
        that waits holds none)."""
        for dependency in run.schedule.needs[step.id]:
            await run.done[dependency].wait()
        async with slots:
            await self._step(run, step)

    async def _compensate(self, plan: Plan, state: RunState) -> tuple[StepRecord, ...]:
        """Undo completed steps that declare ``compensate``, latest first; record each.

        A compensation is recorded as ``<id>_undo``, which a plan may also use as a step
        id, so each one runs over its own copy of the run's outputs and is keyed in the
        compensations' own namespace (:func:`host.idempotency.compensation`).
        """
        undone: list[StepRecord] = []
        steps = {step.id: step for step in plan.steps}
        for step_id in reversed(state.completed):
            step = steps[step_id]
            if step.compensate is None:
                continue
            undo = Step(
                id=f"{step_id}_undo",
                function=step.compensate.function,
                arguments=step.compensate.arguments,
                capability=step.capability,
            )
            scope = RunState(state.values, run_id=state.run_id)
            scope.outputs.update(state.outputs)
            try:
                undone.append(await self._steps.run(undo, scope, key=compensation(step_id)))
            except AgentHostError as error:
                undone.append(error.step or _unrecorded(undo, error))
        return tuple(undone)


@dataclass(frozen=True, slots=True)
class _Schedule:
    """What every run of one valid plan shares: its outline and each step's dependencies.

    ``awaited`` is the steps some other step depends on. ``chain`` is the steps in
    run order when every wave of the plan has one step (each step waits for the
    one before it), else ``None``.
    """

    outline: str
    needs: Mapping[str, frozenset[str]]
    awaited: frozenset[str]
    chain: tuple[Step, ...] | None

    @classmethod
    def of(cls, plan: Plan) -> _Schedule:
        """The schedule of ``plan``, which must be valid (a DAG of uniquely named steps)."""
        needs = {step.id: step.dependencies() for step in plan.steps}
        awaited = frozenset().union(*needs.values())
        order = waves(needs)
        if len(order) != len(needs):
            return cls(_outline(plan), needs, awaited, None)
        steps = {step.id: step for step in plan.steps}
        chain = tuple([steps[step_id] for (step_id,) in order])
        return cls(_outline(plan), needs, awaited, chain)


_NO_EVENTS: Mapping[str, asyncio.Event] = MappingProxyType({})


class _Run:
    """One execution: its plan and state, and its coordination (finished steps and
    pending hand-offs)."""

    __slots__ = (
        "asks",
        "deadline",
        "done",
        "plan",
        "request",
        "run_id",
        "schedule",
        "state",
    )

    def __init__(
        self,
        plan: Plan,
        schedule: _Schedule,
        state: RunState,
        request: str,
        run_id: str,
        deadline: float | None,
    ) -> None:
        self.plan, self.schedule, self.state = plan, schedule, state
        self.request, self.run_id, self.deadline = request, run_id, deadline
        # Empty, shared until used: most runs never pause nor run steps side by side.
        self.asks: tuple[HumanNeeded, ...] = ()
        self.done: Mapping[str, asyncio.Event] = _NO_EVENTS

    def records(self) -> tuple[StepRecord, ...]:
        """The records of the plan's steps so far, in the plan's order."""
        records = self.state.records
        return tuple([records[s.id] for s in self.plan.steps if s.id in records])

    def open(self) -> None:
        """Prepare to run steps concurrently: an event per step that another waits for
        (set for those done)."""
        self.done = {step_id: asyncio.Event() for step_id in self.schedule.awaited}
        for step_id in self.state.outputs:
            if step_id in self.done:
                self.done[step_id].set()

    def pause(self, asked: HumanNeeded) -> None:
        """Stop starting steps: every waiter wakes, sees the hand-off and returns."""
        self.asks += (asked,)
        for event in self.done.values():
            event.set()


def _check_values(state: RunState) -> None:
    """Raise :class:`InvalidArgumentsError` naming the run-state values nested too deep
    for a step to read (references to them would be walked recursively)."""
    deep = too_deep(state.values) if state.values else ()
    if deep:
        raise InvalidArgumentsError("values", [f"{name!r} {TOO_DEEP}" for name in deep])


def _unrecorded(step: Step, error: AgentHostError) -> StepRecord:
    """A failed record for a step that failed before its call was recorded (bad arguments)."""
    return StepRecord.without_call(
        step.id,
        step.function,
        step.model_dump(by_alias=True)["arguments"],
        status="failed",
        error=describe_error(error),
        error_type=type(error).__name__,
    )


def _outline(plan: Plan) -> str:
    return f"{len(plan.steps)} step(s): " + ", ".join(f"{s.id}={s.function}" for s in plan.steps)
