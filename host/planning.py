"""The seam between the host and its planners, and the planning model's calls.

``planning.planner`` names the :data:`Planner` that ``plan_for`` and ``run``
use: a built-in (``model``, ``clauses``: :data:`~host.config.schema.PLANNERS`)
or a ``module:callable``. The host imports it by that name, as it does the
clause planner behind ``AgentHost.plan`` and the single-function fallback of
``run``, so ``host`` never imports ``planners``; planners import ``host``.

A planner reaches the planning model through
:attr:`PlanningContext.planning_model`: the internal prompt function
``agent_host.plan`` (template ``{{$prompt}}``, the reply held to
:func:`planner_schema` by ``response_format``), added to the kernel after the
catalogue is taken, so plans cannot call it. Each call goes through the
:class:`~host.invocation.Invoker` on the route for capability ``plan``, so
resilience policies apply and every call leaves a StepRecord.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from importlib import import_module
from typing import TYPE_CHECKING, Any

from host.catalogue import INTERNAL_PLUGIN, FunctionInfo, ParameterInfo
from host.errors import AgentHostError, ConfigError, describe_error

if TYPE_CHECKING:
    from semantic_kernel import Kernel

    from host.config import LoadedConfig
    from host.invocation import Invoker
    from host.plans import Plan
    from host.routing import Router
    from host.state import StepRecord

Complete = Callable[[str], Awaitable[str]]
"""Sends a prompt to the planning model and returns its reply text."""


@dataclasses.dataclass(frozen=True)
class PlanOutcome:
    """A plan, which planner made it, and what went wrong on the way.

    ``source`` names how the plan was made: the built-in planners say ``model``
    (valid at the first reply), ``repaired`` (valid after feeding problems back)
    or ``clauses`` (the deterministic planner). ``rounds`` counts the model's
    replies; ``problems`` holds every problem seen, prefixed by its round;
    ``records`` are the planning model's calls, which the host fills in.
    """

    plan: Plan
    source: str
    rounds: int = 0
    problems: tuple[str, ...] = ()
    records: tuple[StepRecord, ...] = ()


@dataclasses.dataclass(frozen=True)
class PlanningContext:
    """What a planner is given besides the request."""

    catalogue: Sequence[FunctionInfo]
    """The loaded functions a plan may call."""
    repairs: int
    """``planning.repairs``: how many times a planner may ask the model to repair its plan."""
    planning_model: Callable[[], Complete]
    """The model routed for capability ``plan``, as a ``prompt -> reply`` coroutine whose
    replies are held to :func:`planner_schema`; :class:`~host.errors.ConfigError` when no
    model can plan. Its calls become :attr:`PlanOutcome.records`."""


Planner = Callable[[str, PlanningContext], Awaitable[PlanOutcome]]
"""What ``planning.planner`` names: ``await planner(request, context)`` gives the outcome,
or raises :class:`~host.errors.CannotPlanError` saying what is missing."""


@dataclasses.dataclass(frozen=True)
class FunctionChoice:
    """The one function ``run`` calls for a request no planner can plan, and why."""

    function: str
    arguments: dict[str, Any]
    reason: str


CLAUSE_PLAN = "planners.clauses:plan_by_clauses"
"""The deterministic clause planner, behind ``AgentHost.plan``."""

KEYWORD_CHOICE = "planners.keyword:choose_function"
"""The single-function fallback ``run`` uses for a request no planner can plan."""

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


def load_planner(loaded: LoadedConfig) -> Planner:
    """The planner ``planning.planner`` names, imported.

    Raises :class:`~host.errors.ConfigError` at that key when it cannot be
    imported or is not callable.
    """
    target = loaded.config.planning.planner_target
    try:
        planner: Planner = _import_target(target)
    except Exception as error:  # importing a user's module may raise anything
        problem = f"cannot import {target!r} ({describe_error(error)})"
    else:
        if callable(planner):
            return planner
        problem = f"{target!r} is not callable"
    raise ConfigError([f"{loaded.locate('planning.planner')}: {problem}"])


def _import_target(target: str) -> Any:
    """The object ``module:name`` names; ImportError or AttributeError when there is none."""
    module, _, name = target.partition(":")
    return getattr(import_module(module), name)


def clause_plan(request: str, catalogue: Sequence[FunctionInfo]) -> Plan:
    """The clause planner's plan for ``request`` (no model involved).

    Raises :class:`~host.errors.CannotPlanError` naming what is missing.
    """
    plan: Plan = _import_target(CLAUSE_PLAN)(request, catalogue)
    return plan


def keyword_choice(request: str, catalogue: Sequence[FunctionInfo]) -> FunctionChoice:
    """The single function best matching ``request``, given it as its text input.

    Raises :class:`~host.errors.CannotPlanError` when none matches.
    """
    choice: FunctionChoice = _import_target(KEYWORD_CHOICE)(request, catalogue)
    return choice


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


def planner_schema(catalogue: Sequence[FunctionInfo] = ()) -> dict[str, Any]:
    """The JSON schema of the planning model's reply: the Plan schema cut down for
    constrained decoding.

    Derived from :meth:`~host.plans.Plan.json_schema`, keeping only the step
    fields a planner writes (no ``validation`` or ``output``), with
    ``arguments`` required, literals limited to strings, numbers and booleans,
    and no titles, descriptions or regex syntax llama.cpp's converter
    mistranslates. Given the ``catalogue``, each step must be one of its
    functions with that function's own parameters: a tiny model then has few
    choices to get wrong.
    """
    from host.plans import Plan

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


async def plan_request(
    planner: Planner,
    invoker: Invoker,
    router: Router,
    request: str,
    catalogue: Sequence[FunctionInfo],
    *,
    repairs: int,
    deadline: float | None = None,
    name: str = "planner",
) -> PlanOutcome:
    """``planner``'s outcome for ``request``, with the records of its planning model's calls
    (traced as ``plan {name}``: the config's ``planning.planner``).

    Raises what the planner raises: :class:`~host.errors.CannotPlanError` naming
    what is missing, :class:`~host.errors.ConfigError` when it asks for the
    planning model and no model is capable of ``plan``.
    """
    records: list[StepRecord] = []

    def planning_model() -> Complete:
        route = router.choose("plan")

        async def complete(prompt: str) -> str:
            step_id = f"plan_{len(records) + 1}"
            try:
                record = await invoker.invoke(
                    PLANNER,
                    {"prompt": prompt},
                    step_id=step_id,
                    model=route.model,
                    fallbacks=route.fallbacks,
                    deadline=deadline,
                )
            except AgentHostError as error:
                if error.step is not None:
                    records.append(dataclasses.replace(error.step, route_reason=route.reason))
                raise
            records.append(dataclasses.replace(record, route_reason=route.reason))
            return "" if record.output is None else str(record.output)

        return complete

    context = PlanningContext(catalogue, repairs, planning_model)
    if invoker.tracing is None:
        outcome = await planner(request, context)
    else:
        with invoker.tracing.planning(name) as span:
            outcome = await planner(request, context)
            span.set_attribute("agent_host.plan.steps", len(outcome.plan.steps))
            span.set_attribute("agent_host.planner.source", outcome.source)
    return dataclasses.replace(outcome, records=tuple(records))
