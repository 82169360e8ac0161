"""One plan or workflow step: arguments resolved from run state, routed, invoked, recorded.

:class:`StepRunner` is what the plan executor and the workflow engine share: it
resolves a step's references against the :class:`~host.state.RunState`, adapts
each value to its parameter's type, routes a prompt step to a model by the
capability it needs, and stores the step's output and record in the state.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from host.catalogue import FunctionInfo, ParameterInfo
from host.errors import AgentHostError, InvalidArgumentsError
from host.state import RunState, StepRecord

if TYPE_CHECKING:
    from host.invocation import Invoker
    from host.routing import Router
    from planners.plan import Step

_JSON_TYPES = ("dict", "list", "object", "array")


class StepRunner:
    """Runs single steps through the host's invoker over a run state."""

    def __init__(
        self,
        invoker: Invoker,
        catalogue: Mapping[str, FunctionInfo],
        router: Router | None = None,
    ) -> None:
        self._invoker = invoker
        self.catalogue = catalogue
        self._router = router

    async def run(
        self, step: Step, state: RunState, *, deadline: float | None = None
    ) -> StepRecord:
        """Run ``step`` and record it in ``state``; a failure raises with ``error.step`` set."""
        info = self.catalogue[step.function]
        arguments = resolve_arguments(step, info, state)
        route = None
        if info.kind == "prompt" and self._router is not None:
            route = self._router.choose(step.capability)
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
        return record


def resolve_arguments(step: Step, info: FunctionInfo, state: RunState) -> dict[str, Any]:
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
