"""The host's planner: the LLM planner's model calls made as routed, recorded host steps.

The planning model is reached through an internal prompt function,
``agent_host.plan`` (template ``{{$prompt}}``, the reply held to
:func:`~planners.llm.planner_schema` by ``response_format``). It is added to
the kernel only with ``planning.planner: model``, after the catalogue is
taken, so plans cannot call it. Each call
goes through the :class:`~host.invocation.Invoker` on the route for capability
``plan``, so resilience policies apply and every round leaves a StepRecord.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from host.catalogue import INTERNAL_PLUGIN, FunctionInfo, ParameterInfo
from host.config.schema import PlanningConfig
from host.errors import AgentHostError
from planners.clauses import plan_by_clauses
from planners.llm import PlanOutcome, plan_with_model, planner_schema

if TYPE_CHECKING:
    from semantic_kernel import Kernel

    from host.invocation import Invoker
    from host.routing import Router
    from host.state import StepRecord

PLANNER = FunctionInfo(
    name=f"{INTERNAL_PLUGIN}.plan",
    plugin=INTERNAL_PLUGIN,
    function="plan",
    kind="prompt",
    description="Answer a planning prompt with a plan as JSON (internal to the host).",
    parameters=(ParameterInfo("prompt", "str", True, None, "the planning prompt"),),
    source=None,
)
"""The internal planning function; it is in the kernel but never in ``host.catalogue``."""

MAX_PLAN_TOKENS = 768
"""Room for a plan of about a dozen steps; a reply cut short is a problem to repair."""


def add_planner_function(kernel: Kernel, catalogue: Sequence[FunctionInfo]) -> None:
    """Add :data:`PLANNER` to ``kernel``, its reply constrained to plans over ``catalogue``."""
    from semantic_kernel.connectors.ai.prompt_execution_settings import PromptExecutionSettings
    from semantic_kernel.functions import KernelFunctionFromPrompt

    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "plan", "schema": planner_schema(catalogue)},
    }
    settings = PromptExecutionSettings(
        extension_data={
            "max_tokens": MAX_PLAN_TOKENS,
            "temperature": 0.0,
            "response_format": response_format,
        }
    )
    function = KernelFunctionFromPrompt(
        function_name=PLANNER.function,
        plugin_name=PLANNER.plugin,
        description=PLANNER.description,
        prompt="{{$prompt}}",
        prompt_execution_settings=settings,
    )
    kernel.add_function(PLANNER.plugin, function)


async def plan_request(
    invoker: Invoker,
    router: Router,
    request: str,
    catalogue: Sequence[FunctionInfo],
    config: PlanningConfig,
    *,
    deadline: float | None = None,
) -> PlanOutcome:
    """The plan for ``request`` by the configured planner, with the planning calls' records.

    Raises :class:`~planners.keyword.CannotPlanError` naming what is missing,
    or :class:`~host.errors.ConfigError` when no model is capable of ``plan``.
    """
    if config.planner == "clauses":
        return PlanOutcome(plan_by_clauses(request, catalogue), "clauses")
    route = router.choose("plan")
    records: list[StepRecord] = []

    async def complete(prompt: str) -> str:
        step_id = f"plan_{len(records) + 1}"
        try:
            record = await invoker.invoke(
                PLANNER, {"prompt": prompt}, step_id=step_id, model=route.model, deadline=deadline
            )
        except AgentHostError as error:
            if error.step is not None:
                records.append(dataclasses.replace(error.step, route_reason=route.reason))
            raise
        records.append(dataclasses.replace(record, route_reason=route.reason))
        return "" if record.output is None else str(record.output)

    outcome = await plan_with_model(request, catalogue, complete, repairs=config.repairs)
    return dataclasses.replace(outcome, records=tuple(records))
