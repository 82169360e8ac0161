"""A custom planner, as the README shows one: ``planning.planner:
tests.planners.asking_planner:plan_by_asking``. It sends the request itself as
the prompt and takes the reply as the plan."""

from __future__ import annotations

from host import Plan, PlanningContext, PlanOutcome


async def plan_by_asking(request: str, context: PlanningContext) -> PlanOutcome:
    complete = context.planning_model()
    return PlanOutcome(Plan.model_validate_json(await complete(request)), "asked", 1)
