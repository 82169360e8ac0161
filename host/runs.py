"""Runs of plans, workflows and teams: started, paused for a person, and resumed (here or
elsewhere).

:class:`Runs` sits between the :class:`~host.api.AgentHost` façade and the two
engines that walk steps: the plan :class:`~host.executor.Executor` and the
:class:`~host.workflows.engine.WorkflowEngine`. A run that pauses for a person
is snapshotted into :class:`~host.paused_runs.PausedRuns`; :meth:`Runs.resume`
claims it and continues it with whichever engine it belongs to. Every run's
result — ended, failed, paused or resumed — is recorded in the
:class:`~host.run_store.RunStore` when one is given.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from host.errors import InvalidArgumentsError, describe_error
from host.executor import Executor
from host.plans import TOO_DEEP, Plan, parse_plan, too_deep
from host.state import RunResult, RunState
from host.telemetry.genai import Resumption, current_span_id, resuming

if TYPE_CHECKING:
    from host.agents.coordination import TeamRun
    from host.agents.team import Team
    from host.paused_runs import Claim, Kind, PausedRuns, Snapshot
    from host.run_store import RunStore
    from host.steps import StepRunner
    from host.workflows import Workflow


_claimed: ContextVar[Claim | None] = ContextVar("agent_host_claimed", default=None)
"""The claim of the resume running in this context: a pause it makes is kept only while
the claim holds, and cancelled, the run is still waiting (its claim given back), so its
``needs_human`` row stays as it was, not ``cancelled``."""

_recorded_after: ContextVar[bool] = ContextVar("agent_host_recorded_after", default=False)
"""Whether the plan's run in this context is recorded by its caller once it returns."""


@contextmanager
def recorded_after() -> Iterator[None]:
    """Inside the block, a plan's run that returns is left to the caller to record, with
    what it adds (a planned run's planning): one write, not two. A cancelled run is
    recorded here all the same (its caller gets no result)."""
    token = _recorded_after.set(True)
    try:
        yield
    finally:
        _recorded_after.reset(token)


class Runs:
    """Starts, keeps and resumes the runs of one host over its step runner and paused-run store,
    recording each in ``store`` (if given)."""

    def __init__(
        self,
        steps: StepRunner,
        paused: PausedRuns,
        store: RunStore | None = None,
        *,
        teams: Callable[[Team, str, str], TeamRun] | None = None,
    ) -> None:
        self._steps = steps
        self._paused = paused
        self._store = store
        self._teams = teams
        """Builds a team's run (team, task, run id) to resume one; none: no teams here."""
        self._executor: Executor | None = None
        """Built on the first plan (it remembers validated plans)."""

    @staticmethod
    def parse(plan: Plan | Mapping[str, Any]) -> Plan:
        """``plan`` itself, or the plan its JSON form describes (see
        :func:`~host.plans.parse_plan` for what it raises)."""
        return plan if isinstance(plan, Plan) else parse_plan(plan)

    def plan(
        self, plan: Plan, request: str, state: RunState, deadline: float | None
    ) -> Coroutine[Any, Any, RunResult]:
        """Run what is left of ``plan`` over ``state``; keep it if it pauses for a person.

        Returns the executor's coroutine itself (the executor keeps a paused run through
        :meth:`_keep_plan`, and records each run it ends through :meth:`record`), so a run
        in flight holds no frame of this method.
        """
        if self._executor is None:
            ended = None if self._store is None else self._ended
            self._executor = Executor(self._steps, paused=self._keep_plan, ended=ended)
        return self._executor.run(
            plan, request=request, run_id=state.run_id, state=state, deadline=deadline
        )

    def record(self, result: RunResult, *, started: float | None = None) -> RunResult:
        """``result``, recorded as a plan's run that began at ``started`` (epoch seconds, if
        known): an executed plan's, one that ended before any executor (a plan that could
        not be read), or a planned run with its planning records."""
        if self._store is not None:
            self._store.record(result, "plan", "plan", started=started)
        return result

    def _ended(self, result: RunResult) -> RunResult:
        """The executor's end of a run: recorded, unless its caller records it (see
        :func:`recorded_after`); a cancelled resume is not (the run is still waiting)."""
        if result.status == "cancelled":
            return result if _claimed.get() is not None else self.record(result)
        return result if _recorded_after.get() else self.record(result)

    def _keep_plan(
        self, plan: Plan, result: RunResult, state: RunState, deadline: float | None
    ) -> None:
        """Store a plan's run that paused for a person (see :meth:`_keep`)."""
        definition = plan.model_dump(mode="json", by_alias=True, exclude_none=True)
        self._keep("plan", definition, result, state, deadline)

    async def workflow(
        self,
        workflow: Workflow,
        state: RunState,
        deadline: float | None,
        paused: RunResult | None = None,
        answer: Any = None,
    ) -> RunResult:
        """Run or continue ``workflow`` over ``state`` (in its run's span when tracing is
        on); keep it if it pauses for a person."""
        started = time.time()
        running = self._workflow(workflow, state, deadline, paused, answer)
        tracing = self._steps.tracing
        if tracing is not None:
            running = tracing.traced_run(workflow.name, None, running)
        result = await running
        if self._store is not None:
            self._store.record(result, "workflow", workflow.name, started=started)
        return result

    async def team(self, run: TeamRun, deadline: float | None) -> RunResult:
        """Run a team within ``deadline`` seconds (in its run's span when tracing is on) and
        record it; cancelled, it is recorded ``cancelled`` with its turns so far. A run
        that waits for a person is kept for :meth:`resume`."""
        started = time.time()
        running = self._team(run, deadline)
        tracing = self._steps.tracing
        if tracing is not None:
            running = tracing.traced_run(run.team.name, run.task, running)
        try:
            result = await running
        except asyncio.CancelledError:
            if self._store is not None and _claimed.get() is None:
                cancelled = run.result("cancelled", "cancelled")
                self._store.record(cancelled, "team", run.team.name, started=started)
            raise
        if self._store is not None:
            self._store.record(result, "team", run.team.name, started=started)
        return result

    async def _team(self, run: TeamRun, deadline: float | None) -> RunResult:
        """:meth:`team`'s run, its turns sharing one deadline, kept if it pauses (within its
        span, which the kept run remembers for its resume)."""
        with self._steps.deadline_scope(deadline):
            result = await run.run()
        if result.status == "needs_human":
            definition = run.team.model_dump(mode="json", by_alias=True, exclude_defaults=True)
            state = RunState({"progress": run.progress()}, run_id=run.run_id)
            self._keep("team", definition, result, state, deadline)
        return result

    async def _workflow(
        self,
        workflow: Workflow,
        state: RunState,
        deadline: float | None,
        paused: RunResult | None,
        answer: Any,
    ) -> RunResult:
        """:meth:`workflow`'s run, kept if it pauses (within its span, which the kept run
        remembers for its resume)."""
        from host.workflows.engine import WorkflowEngine

        engine = WorkflowEngine(self._steps)
        result = await engine.run(workflow, state, deadline=deadline, paused=paused, answer=answer)
        if result.status == "needs_human":
            definition = workflow.model_dump(mode="json", by_alias=True, exclude_defaults=True)
            self._keep("workflow", definition, result, state, deadline)
        return result

    async def resume(self, run_id: str, answer: Any) -> RunResult:
        """Continue the paused run ``run_id`` with ``answer`` as its waiting step's output.

        The run is claimed while it runs and removed only when it ends (any way
        but failing) or pauses again. A resume that fails (an error, or a
        ``failed`` result without compensations) leaves the run waiting with the
        error recorded, to be resumed again. Raises :class:`~host.errors.UnknownRunError` when no
        run of that id is waiting, :class:`~host.errors.RunBusyError` when
        another resume holds it, :class:`~host.errors.InvalidArgumentsError` (the run
        untouched) for an answer nested deeper than :data:`~host.plans.MAX_NESTING` levels.
        """
        if too_deep({"answer": answer}):
            raise InvalidArgumentsError(f"resume {run_id}", [f"the answer {TOO_DEEP}"])
        claim = self._paused.claim(run_id)
        claimed = _claimed.set(claim)
        try:
            async with self._paused.holding(claim):
                with resuming(_resumption(claim.snapshot, answer)):
                    result = await self._continue(claim.snapshot, answer)
        except BaseException as error:
            self._paused.release(claim, describe_error(error))
            raise
        finally:
            _claimed.reset(claimed)
        if result.status == "failed" and not result.compensations:
            self._paused.release(claim, result.error or result.status)
        elif result.status != "needs_human":  # a new pause replaced the snapshot already
            self._paused.finish(claim)
        return result

    async def _continue(self, snapshot: Snapshot, answer: Any) -> RunResult:
        """Run what is left of ``snapshot`` with ``answer`` as its waiting step's output."""
        from host.workflows import check_workflow
        from host.workflows.definition import Workflow

        state = snapshot.state
        if snapshot.kind == "team":
            from host.agents.team import Team

            assert self._teams is not None
            team = Team.model_validate(snapshot.definition)
            run = self._teams(team, snapshot.request, state.run_id)
            run.restore(state.values["progress"], snapshot.steps, answer)
            return await self.team(run, snapshot.deadline)
        if snapshot.kind == "plan":
            plan = Plan.model_validate(snapshot.definition)
            waiting = plan.step(snapshot.waiting_step)
            state.answer(waiting.id, waiting.function, answer)
            return await self.plan(plan, snapshot.request, state, snapshot.deadline)
        definition = Workflow.model_validate(snapshot.definition)
        workflow = check_workflow(definition, self._steps.catalogue)
        paused = RunResult(
            state.run_id,
            snapshot.request,
            "needs_human",
            None,
            snapshot.steps,
            question=snapshot.question,
            waiting_step=snapshot.waiting_step,
        )
        return await self.workflow(workflow, state, snapshot.deadline, paused, answer)

    def _keep(
        self,
        kind: Kind,
        definition: dict[str, Any],
        result: RunResult,
        state: RunState,
        deadline: float | None,
    ) -> None:
        """Store a ``needs_human`` run so :meth:`resume` can continue it, here or elsewhere."""
        from host.paused_runs import Snapshot

        assert result.waiting_step is not None
        snapshot = Snapshot(
            kind,
            definition,
            result.request,
            deadline,
            result.waiting_step,
            result.question or "",
            result.steps,
            state,
            current_span_id(),
        )
        self._paused.keep(snapshot, _claimed.get())


def _resumption(snapshot: Snapshot, answer: Any) -> Resumption:
    """What the resumed run's trace tells of ``snapshot``, answered with ``answer``."""
    waiting = snapshot.waiting_step
    asked = next((r for r in snapshot.steps if r.step_id == waiting), None)
    carried = frozenset(r.step_id for r in snapshot.steps)
    function = asked.function if asked is not None else None
    return Resumption(snapshot.span, carried, waiting, function, answer)
