"""The LLM planner: a model writes the plan as JSON, problems are fed back, clauses are the net.

:func:`plan_with_model` asks a model (any ``prompt -> reply`` coroutine) for a
:class:`~planners.plan.Plan`, checks the reply (JSON, the Plan schema, then
:func:`~planners.plan.validate_plan` against the catalogue) and, while problems
remain, asks again with the previous reply and the numbered problems, up to
``repairs`` times. Then it falls back to the deterministic clause planner, so
the caller gets a plan or a :class:`~planners.keyword.CannotPlanError` naming
what both planners found missing. A request the clause planner answers with a
single step needs no orchestration and never reaches the model.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from host.catalogue import FunctionInfo
from host.errors import AgentHostError
from planners.clauses import plan_by_clauses
from planners.keyword import CannotPlanError
from planners.plan import Plan, validate_plan

if TYPE_CHECKING:
    from host.state import StepRecord

Complete = Callable[[str], Awaitable[str]]
"""Sends a prompt to the planning model and returns its reply text."""

PLANNER_CAPABILITIES = ("fetch", "extract", "classify", "write", "review")
"""The capabilities a planned step may ask for."""

_STEP_FIELDS = ("id", "function", "arguments", "capability", "depends_on")
_LITERAL: dict[str, Any] = {"anyOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]}
_JSON_TYPES: dict[str, dict[str, Any]] = {
    "str": {"type": "string"},
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "bool": {"type": "boolean"},
}

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


@dataclass(frozen=True)
class PlanOutcome:
    """A plan, which planner made it, and what went wrong on the way.

    ``source`` is ``model`` (valid at the first reply), ``repaired`` (valid
    after feeding problems back) or ``clauses`` (the deterministic planner);
    ``rounds`` counts the model's replies; ``problems`` holds every problem
    seen, prefixed by its round; ``records`` are the planning calls' records
    when the host made them.
    """

    plan: Plan
    source: Literal["model", "repaired", "clauses"]
    rounds: int = 0
    problems: tuple[str, ...] = ()
    records: tuple[StepRecord, ...] = ()


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


def planner_schema(catalogue: Sequence[FunctionInfo] = ()) -> dict[str, Any]:
    """The JSON schema of the planner's reply: the Plan schema cut down for constrained decoding.

    Derived from :meth:`Plan.json_schema`, keeping only the step fields a
    planner writes (no ``validation`` or ``output``), with ``arguments``
    required, literals limited to strings, numbers and booleans, and no
    titles, descriptions or regex syntax llama.cpp's converter mistranslates.
    Given the ``catalogue``, each step must be one of its functions with that
    function's own parameters: a tiny model then has few choices to get wrong.
    """
    definitions = Plan.json_schema()["$defs"]
    ref, step = _bare(definitions["Ref"]), _bare(definitions["Step"])
    step["properties"] = {name: step["properties"][name] for name in _STEP_FIELDS}
    step["properties"]["arguments"]["additionalProperties"] = {"anyOf": [ref, _LITERAL]}
    step["properties"]["capability"] = {"type": "string", "enum": list(PLANNER_CAPABILITIES)}
    step["required"] = [name for name in _STEP_FIELDS if name != "depends_on"]
    items = {"anyOf": [_step_of(step, ref, info) for info in catalogue]} if catalogue else step
    return {
        "type": "object",
        "properties": {"steps": {"type": "array", "items": items, "minItems": 1}},
        "required": ["steps"],
        "additionalProperties": False,
    }


def _step_of(step: dict[str, Any], ref: dict[str, Any], info: FunctionInfo) -> dict[str, Any]:
    """``step`` narrowed to calls of ``info``: its name, its parameters, its required ones."""
    arguments = {
        "type": "object",
        "properties": {
            p.name: {"anyOf": [ref, _JSON_TYPES.get(p.type, _LITERAL)]} for p in info.parameters
        },
        "required": [p.name for p in info.parameters if p.required and p.default is None],
        "additionalProperties": False,
    }
    properties = {**step["properties"], "function": {"const": info.name}, "arguments": arguments}
    return {**step, "properties": properties}


async def plan_with_model(
    request: str,
    catalogue: Sequence[FunctionInfo],
    complete: Complete,
    *,
    repairs: int = 2,
) -> PlanOutcome:
    """A valid plan for ``request``: the model's, repaired up to ``repairs`` times, else clauses'.

    A model call that fails (an :class:`~host.errors.AgentHostError`) ends the
    model's rounds. Raises :class:`CannotPlanError` when neither planner has a
    plan, naming the model's last problems and what the clause planner missed.
    """
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
    while rounds <= repairs:
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


def _bare(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``schema`` without titles, descriptions and defaults, its patterns in the
    regex subset llama.cpp converts to valid grammar (no ``(?:``, no ``\\.`` escapes)."""
    bare: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "pattern":
            bare[key] = value.replace("(?:", "(").replace("\\.", "[.]")
        elif isinstance(value, dict):
            bare[key] = _bare(value)
        elif key not in ("title", "description", "default"):
            bare[key] = value
    return bare


def _clipped(text: str, limit: int = 80) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")


__all__ = [
    "Complete",
    "PlanOutcome",
    "check_reply",
    "plan_with_model",
    "planner_schema",
    "planning_prompt",
]
