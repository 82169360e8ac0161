"""The LLM planner: a model writes the plan as JSON, problems are fed back, clauses are the net.

:func:`plan_with_model` (``planning.planner: model``) asks the planning model
for a :class:`~host.plans.Plan`, checks the reply (its first JSON object, the Plan
schema, then :func:`~host.plans.validate_plan` against the catalogue and each step's
capability against the planner's) and, while problems remain, asks again with
the previous reply and the numbered problems, up to ``repairs`` times. Then it
falls back to the deterministic clause planner, so the caller gets a plan or a
:class:`~host.errors.CannotPlanError` naming what both planners found missing.
A request the clause planner answers with a single step needs no orchestration
and never reaches the model.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from host.catalogue import FunctionInfo
from host.errors import AgentHostError, CannotPlanError, PlanError
from host.planning import PLANNER_CAPABILITIES, PlanningContext, PlanOutcome
from host.plans import MAX_NESTING, Plan, parse_plan, schema_problems, validate_plan
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
    data = _json_object(reply)
    if isinstance(data, str):
        return None, [data]
    try:
        plan = parse_plan(data)
    except PlanError as error:
        return None, [str(problem) for problem in error.problems]
    except ValidationError as error:
        return None, schema_problems(error)
    problems = [str(problem) for problem in validate_plan(plan, catalogue)]
    problems += [
        f"step {step.id!r}: capability {step.capability!r} is not one of {_CAPABILITIES}"
        for step in plan.steps
        if step.capability not in PLANNER_CAPABILITIES
    ]
    return (None if problems else plan), problems


_OBJECT_STARTS = 8
"""How many of the reply's ``{`` are tried as the start of its JSON object."""


def _json_object(reply: str) -> dict[str, Any] | str:
    """The first JSON object in ``reply``, which may stand in prose or a code fence with
    braces of its own before or after it; else what is wrong, at its character in the
    reply."""
    start, end = reply.find("{"), reply.rfind("}")
    if start < 0 or end < start:
        return f"the reply is not a JSON object: {_clipped(reply)}"
    decoder = json.JSONDecoder()
    first: json.JSONDecodeError | None = None
    for _ in range(_OBJECT_STARTS):
        try:
            data: dict[str, Any] = decoder.raw_decode(reply, start)[0]
            return data
        except json.JSONDecodeError as error:
            first = first or error
        except RecursionError:  # json's decoder stops cleanly at the recursion limit
            return (
                "the reply nests objects and arrays too deeply to read "
                f"(an argument may nest at most {MAX_NESTING} levels)"
            )
        start = reply.find("{", start + 1)
        if start < 0:
            break
    assert first is not None
    return f"the reply is not valid JSON ({first.msg} at character {first.pos})"


def _signature(info: FunctionInfo) -> str:
    parameters = ", ".join(
        f"{p.name}: {p.type}" + ("" if p.required and p.default is None else f" = {p.default!r}")
        for p in info.parameters
    )
    return f"- {info.name}({parameters}): {info.description}"


def _clipped(text: str, limit: int = 80) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")


__all__ = ["check_reply", "plan_with_model", "planning_prompt"]
