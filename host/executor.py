"""Runs a validated plan: each step as soon as its dependencies are done, over one run state.

Independent steps run concurrently (a run takes about as long as its slowest
branch), up to a concurrency limit. Arguments that reference earlier outputs
are resolved from the :class:`RunState` and adapted to the parameter's type.
When a step fails, the steps still running are cancelled and the run ends
``failed`` with every record so far.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from host.catalogue import FunctionInfo, ParameterInfo
from host.errors import AgentHostError, InvalidArgumentsError
from host.state import RunResult, StepRecord
from planners.plan import Plan, RefTarget, Step, ensure_valid

if TYPE_CHECKING:
    from host.invocation import Invoker
    from host.routing import Router

_JSON_TYPES = ("dict", "list", "object", "array")


class RunState:
    """One run's shared state: named input values, each step's output and record."""

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        self.values: dict[str, Any] = dict(values or {})
        self.outputs: dict[str, Any] = {}
        self.records: dict[str, StepRecord] = {}

    def resolve(self, target: RefTarget) -> Any:
        """The value a reference points at: a step's output (or a field of it) or a state value."""
        if target.source == "state":
            value, path = self.values[target.path[0]], target.path[1:]
        else:
            value, path = self.outputs[str(target.step)], target.path
        for key in path:
            value = _field(value, key)
        return value


class Executor:
    """Runs plans through the host's invoker; routes prompt steps by their capability."""

    def __init__(
        self,
        invoker: Invoker,
        catalogue: Mapping[str, FunctionInfo],
        router: Router | None = None,
        *,
        concurrency: int = 16,
    ) -> None:
        self._invoker = invoker
        self._catalogue = catalogue
        self._router = router
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
            ensure_valid(plan, list(self._catalogue.values()))
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
        info = self._catalogue[step.function]
        arguments = _arguments(step, info, state)
        route = None
        if info.kind == "prompt" and self._router is not None:
            route = self._router.choose(step.capability)
        async with slots:
            try:
                record = await self._invoker.invoke(
                    info,
                    arguments,
                    step_id=step.id,
                    model=route.model if route else None,
                    deadline=deadline,
                )
            except AgentHostError as error:
                if error.step is not None:
                    state.records[step.id] = error.step
                raise
        if route is not None:
            record = dataclasses.replace(record, route_reason=route.reason)
        state.records[step.id] = record
        state.outputs[step.id] = record.output
        done[step.id].set()


def _arguments(step: Step, info: FunctionInfo, state: RunState) -> dict[str, Any]:
    """Literal and referenced arguments, each adapted to its parameter's declared type."""
    values = dict(step.arguments)
    for name, target in step.references():
        try:
            values[name] = state.resolve(target)
        except (KeyError, IndexError, ValueError, TypeError) as error:
            message = (
                f"argument {name!r}: cannot read {'.'.join(target.path) or 'output'} ({error!r})"
            )
            raise InvalidArgumentsError(step.function, [message]) from None
    adapted: dict[str, Any] = {}
    for name, value in values.items():
        parameter = info.parameter(name)
        adapted[name] = _adapt(value, parameter, step) if parameter is not None else value
    return adapted


def _adapt(value: Any, parameter: ParameterInfo, step: Step) -> Any:
    """Text ↔ JSON between steps: JSON text parsed for a dict/list parameter, any other
    value written as JSON text for a text parameter; numbers are left to the call's check."""
    kind = parameter.type.split("[", 1)[0].lower()
    if kind in _JSON_TYPES and isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            message = f"argument {parameter.name!r}: expected {parameter.type}, got text {value!r}"
            raise InvalidArgumentsError(step.function, [message]) from None
    if kind in ("str", "string") and not isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return value


def _field(value: Any, key: str) -> Any:
    if isinstance(value, str):
        value = json.loads(value)
    if isinstance(value, list):
        return value[int(key)]
    return value[key]


def _outline(plan: Plan) -> str:
    return f"{len(plan.steps)} step(s): " + ", ".join(f"{s.id}={s.function}" for s in plan.steps)
