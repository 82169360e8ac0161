"""The LLM planner: a model writes the plan as JSON, problems are fed back, clauses are the net.

:func:`plan_with_model` (``planning.planner: model``) asks the planning model
for a :class:`~host.plans.Plan`, checks the reply (JSON, the Plan schema, then
:func:`~host.plans.validate_plan` against the catalogue) and, while problems
remain, asks again with the previous reply and the numbered problems, up to
``repairs`` times. Then it falls back to the deterministic clause planner, so
the caller gets a plan or a :class:`~host.errors.CannotPlanError` naming what
both planners found missing. A request the clause planner answers with a
single step needs no orchestration and never reaches the model.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from pydantic import ValidationError

from host.catalogue import FunctionInfo
from host.errors import AgentHostError, CannotPlanError
from host.planning import PLANNER_CAPABILITIES, PlanningContext, PlanOutcome
from host.plans import Plan, validate_plan
from planners.clauses import plan_by_clauses

_EXAMPLE_REQUEST = "get the Beijing temperature from 2 days ago and write an ad for iced tea"
_EXAMPLE_PLAN = {
    "steps": [
        {
            "id": "day",
            "function": "clock.resolve_date",
            "arguments": {"expression": "2 days ago"},
            "capability": "fetch",
        },
        {
            "id": "weather",
            "function": "weather.daily_temperatures",
            "arguments": {"city": "Beijing", "date": {"$ref": "steps.day.output"}},
            "capability": "fetch",
        },
        {
            "id": "copy",
            "function": "marketing.promo_copy",
            "arguments": {"input": "iced tea", "facts": {"$ref": "steps.weather.output.summary"}},
            "capability": "write",
        },
    ]
}

_CAPABILITIES = ", ".join(PLANNER_CAPABILITIES[:-1]) + f" or {PLANNER_CAPABILITIES[-1]}"
_FORMAT = f"""\
Write {{"steps": [...]}}. Each step has:
- "id": a short unique name (letters, digits, _)
- "function": one of the functions above
- "arguments": every required parameter; a value is a literal, or {{"$ref": "steps.<id>.output"}} \
(or "steps.<id>.output.<field>") to use an earlier step's output
- "capability": {_CAPABILITIES} (write is for prose)
- "depends_on" (optional): ids of earlier steps it waits for without using their output
The last step's output is the answer.

Request: {_EXAMPLE_REQUEST}
Plan: {json.dumps(_EXAMPLE_PLAN, separators=(",", ":"))}
"""


def planning_prompt(
    request: str,
    catalogue: Sequence[FunctionInfo],
    problems: Sequence[str] = (),
    previous: str | None = None,
) -> str:
    """The prompt asking for a plan; with ``problems``, a repair of the ``previous`` reply."""
    functions = "\n".join(_signature(info) for info in catalogue)
    prompt = (
        "Plan the request as JSON: steps that each call one of the functions below.\n\n"
        f"Functions:\n{functions}\n\n{_FORMAT}\nRequest: {request}\n"
    )
    if problems:
        numbered = "\n".join(f"{number}. {problem}" for number, problem in enumerate(problems, 1))
        prompt += (
            f"Your previous plan: {previous or '(no reply)'}\n"
            f"It has these problems:\n{numbered}\n"
            "Write the whole plan again with every problem fixed.\n"
        )
    return prompt + "Plan:"


async def plan_with_model(request: str, context: PlanningContext) -> PlanOutcome:
    """A valid plan for ``request``: the model's, repaired up to ``context.repairs`` times,
    else the clause planner's.

    A model call that fails (an :class:`~host.errors.AgentHostError`) ends the
    model's rounds. Raises :class:`~host.errors.ConfigError` when no model can
    plan, and :class:`~host.errors.CannotPlanError` when neither planner has a
    plan, naming the model's last problems and what the clause planner missed.
    """
    complete = context.planning_model()
    catalogue = context.catalogue
    try:
        fallback: Plan | None = plan_by_clauses(request, catalogue)
        missing = ""
    except CannotPlanError as error:
        fallback, missing = None, str(error)
    if fallback is not None and len(fallback.steps) == 1:
        return PlanOutcome(fallback, "clauses")
    seen: list[str] = []
    problems: list[str] = []
    previous: str | None = None
    rounds = 0
    while rounds <= context.repairs:
        rounds += 1
        try:
            previous = await complete(planning_prompt(request, catalogue, problems, previous))
        except AgentHostError as error:
            problems = [f"the planning model failed: {error}"]
            seen.append(f"round {rounds}: {problems[0]}")
            break
        plan, problems = check_reply(previous, catalogue)
        seen.extend(f"round {rounds}: {problem}" for problem in problems)
        if plan is not None:
            return PlanOutcome(plan, "model" if rounds == 1 else "repaired", rounds, tuple(seen))
    if fallback is not None:
        return PlanOutcome(fallback, "clauses", rounds, tuple(seen))
    raise CannotPlanError(
        f"{missing}; the planning model's plan still had problems after {rounds} "
        f"round(s): {'; '.join(problems)}"
    )


def check_reply(reply: str, catalogue: Sequence[FunctionInfo]) -> tuple[Plan | None, list[str]]:
    """The reply's plan if it is valid, else None and every problem found."""
    start, end = reply.find("{"), reply.rfind("}")
    if start < 0 or end < start:
        return None, [f"the reply is not a JSON object: {_clipped(reply)}"]
    try:
        data = json.loads(reply[start : end + 1])
    except json.JSONDecodeError as error:
        return None, [f"the reply is not valid JSON ({error.msg} at character {error.pos})"]
    try:
        plan = Plan.model_validate(data)
    except ValidationError as error:
        return None, _schema_problems(error)
    problems = [str(problem) for problem in validate_plan(plan, catalogue)]
    return (None if problems else plan), problems


def _schema_problems(error: ValidationError) -> list[str]:
    """One line per schema error, at its path in the plan."""
    lines: list[str] = []
    for detail in error.errors():
        path = ".".join(str(part) for part in detail["loc"])
        line = f"{path or 'plan'}: {detail['msg']}"
        if line not in lines:
            lines.append(line)
    return lines


def _signature(info: FunctionInfo) -> str:
    parameters = ", ".join(
        f"{p.name}: {p.type}" + ("" if p.required and p.default is None else f" = {p.default!r}")
        for p in info.parameters
    )
    return f"- {info.name}({parameters}): {info.description}"


def _clipped(text: str, limit: int = 80) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")


__all__ = ["check_reply", "plan_with_model", "planning_prompt"]
