"""The plan language: a DAG of steps, each calling one loaded function, and its validation.

A planner (a model or the deterministic fallback) produces a :class:`Plan` as
JSON matching :meth:`Plan.json_schema`; the executor, workflows and run state
read its steps and references. Pydantic checks the shape;
:func:`validate_plan` checks it against the catalogue of loaded functions and
returns every problem at once, so a model can be asked to repair all of them in
one round. An argument is a literal JSON value or a reference, written
``{"$ref": "steps.<id>.output"}``, ``{"$ref": "steps.<id>.output.<field.sub>"}``
or ``{"$ref": "state.<key>"}``. A reference to a step makes it a dependency,
whether or not ``depends_on`` lists it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

from host.arguments import argument_problems
from host.catalogue import FunctionInfo
from host.errors import PlanError
from host.validation import Validation

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_REF = re.compile(
    rf"^(?:steps\.(?P<step>{_NAME})\.output(?P<path>(?:\.[A-Za-z0-9_]+)*)"
    rf"|state\.(?P<key>{_NAME}))$"
)
_REF_PATTERN = re.sub(r"\(\?P<\w+>", "(", _REF.pattern)
"""The same pattern without Python-only named groups, for JSON schema (ECMA-262) readers."""


class RefTarget(NamedTuple):
    """What a reference points at: ``("steps", id, path)`` or ``("state", None, (key,))``."""

    source: Literal["steps", "state"]
    step: str | None
    path: tuple[str, ...]


class Ref(BaseModel):
    """A reference to an earlier step's output (or a field in it) or to run state."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    ref: str = Field(
        alias="$ref",
        pattern=_REF_PATTERN,
        description="steps.<id>.output, steps.<id>.output.<field.sub>, or state.<key>",
    )

    def target(self) -> RefTarget:
        """The parsed reference."""
        return parse_ref(self.ref)


@lru_cache(maxsize=1024)
def parse_ref(ref: str) -> RefTarget:
    """``ref`` (``steps.<id>.output[.<field>…]`` or ``state.<key>``) parsed; ValueError
    when malformed. Remembered, as a plan's references are read on every run of it."""
    match = _REF.match(ref)
    if match is None:
        raise ValueError(f"malformed reference {ref!r}")
    if match["key"] is not None:
        return RefTarget("state", None, (match["key"],))
    path = tuple(match["path"].split(".")[1:]) if match["path"] else ()
    return RefTarget("steps", match["step"], path)


Argument = Annotated[Ref | JsonValue, Field(union_mode="left_to_right")]
"""A literal JSON value, or a :class:`Ref` (tried first)."""


def reject_malformed_refs(arguments: dict[str, Any]) -> dict[str, Any]:
    """``arguments`` unchanged; a literal object with a ``$ref`` key is a reference that
    failed its pattern, and raises ValueError naming the argument."""
    for name, value in arguments.items():
        if isinstance(value, dict) and "$ref" in value:
            raise ValueError(
                f"argument {name!r}: malformed reference {value['$ref']!r} (expected "
                "steps.<id>.output, steps.<id>.output.<field>, or state.<key>)"
            )
    return arguments


class Compensation(BaseModel):
    """The call that undoes a completed step when a later step fails terminally (saga).

    Its arguments may reference the step's own output (``steps.<own id>.output``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    function: str = Field(pattern=rf"^{_NAME}\.{_NAME}$", description="plugin.function")
    arguments: dict[str, Argument] = Field(default_factory=dict)

    _refs = field_validator("arguments", mode="after")(reject_malformed_refs)

    def references(self) -> Iterator[tuple[str, RefTarget]]:
        """Each argument that is a reference, with its parsed target."""
        return _references(self.arguments)


class Step(BaseModel):
    """One call of a loaded function, with its arguments and what it waits for."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=rf"^{_NAME}$", description="unique within the plan")
    function: str = Field(pattern=rf"^{_NAME}\.{_NAME}$", description="plugin.function")
    arguments: dict[str, Argument] = Field(default_factory=dict)
    depends_on: list[str] = Field(default_factory=list)
    capability: str = Field(
        pattern=r"^[a-z][a-z0-9_ -]*$",
        description="what the step needs from a model: fetch, extract, classify, write, review…",
    )
    validation: Validation | None = None
    compensate: Compensation | None = None

    _refs = field_validator("arguments", mode="after")(reject_malformed_refs)

    def references(self) -> Iterator[tuple[str, RefTarget]]:
        """Each argument that is a reference, with its parsed target."""
        return _references(self.arguments)

    def dependencies(self) -> set[str]:
        """The steps this step waits for: its ``depends_on`` and every step it references."""
        referenced = {t.step for _, t in self.references() if t.step is not None}
        return set(self.depends_on) | referenced


def _references(arguments: Mapping[str, Any]) -> Iterator[tuple[str, RefTarget]]:
    for name, value in arguments.items():
        if isinstance(value, Ref):
            yield name, value.target()


class Plan(BaseModel):
    """Steps forming a DAG; ``output`` names the step whose output is the answer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    steps: list[Step] = Field(min_length=1)
    output: str | None = Field(default=None, description="the answer's step; default the last")

    @property
    def output_step(self) -> str:
        """The id of the step whose output is the answer."""
        return self.output if self.output is not None else self.steps[-1].id

    def step(self, step_id: str) -> Step:
        """The (first) step called ``step_id``; KeyError if there is none."""
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def dependencies(self, step_id: str) -> set[str]:
        """The steps ``step_id`` waits for: its ``depends_on`` and every step it references."""
        return self.step(step_id).dependencies()

    def order(self) -> list[list[str]]:
        """Waves of step ids; each wave's steps can run concurrently once the earlier ones are done.

        Within a wave, steps keep plan order. Raises :class:`PlanError` when the
        graph is not a DAG of known, uniquely named steps.
        """
        problems = _graph_problems(self)
        if problems:
            raise PlanError(problems)
        pending = [step.id for step in self.steps]
        needs = {step.id: step.dependencies() for step in self.steps}
        done: set[str] = set()
        waves: list[list[str]] = []
        while pending:
            wave = [step_id for step_id in pending if needs[step_id] <= done]
            waves.append(wave)
            done.update(wave)
            pending = [step_id for step_id in pending if step_id not in done]
        return waves

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        """The JSON schema a planner's output must follow (arguments may be ``{"$ref": …}``)."""
        return cls.model_json_schema(by_alias=True, mode="validation")


_PARSED_SIZE = 256
_PARSED_TEXT = 16_384
_parsed: dict[str, Plan] = {}


def parse_plan(data: Mapping[str, Any]) -> Plan:
    """``Plan.model_validate(data)``, remembered for plain JSON data seen before.

    A plan is often run many times (a scheduled job, a repeated request). Data whose
    ``repr`` is the same as earlier data's — same keys, types and values — gives
    that earlier frozen plan back without validating it again. Only valid plans
    of modest size are remembered (the latest 256); anything else is validated
    as given. Raises pydantic's ``ValidationError`` like ``model_validate``.
    """
    key = repr(data) if type(data) is dict else None
    if key is None or len(key) > _PARSED_TEXT:
        return Plan.model_validate(data)
    plan = _parsed.get(key)
    if plan is None:
        plan = Plan.model_validate(data)
        if len(_parsed) >= _PARSED_SIZE:
            del _parsed[next(iter(_parsed))]
        _parsed[key] = plan
    return plan


@dataclass(frozen=True)
class PlanProblem:
    """One thing wrong with a plan; ``step`` is None for plan-level problems."""

    step: str | None
    message: str

    def __str__(self) -> str:
        return f"step {self.step!r}: {self.message}" if self.step is not None else self.message


def validate_plan(plan: Plan, catalogue: Sequence[FunctionInfo]) -> list[PlanProblem]:
    """Every problem with ``plan`` against the loaded functions; empty when it is valid."""
    functions = {info.name: info for info in catalogue}
    problems: list[PlanProblem] = []
    for step in plan.steps:
        problems.extend(PlanProblem(step.id, m) for m in call_problems(step, functions))
        problems.extend(PlanProblem(step.id, m) for m in _attached_problems(step, functions, plan))
    problems.extend(_graph_problems(plan))
    ids = {step.id for step in plan.steps}
    if plan.output is not None and plan.output not in ids:
        problems.append(
            PlanProblem(None, f"output names unknown step {plan.output!r} ({_listed(ids)})")
        )
    return problems


def ensure_valid(plan: Plan, catalogue: Sequence[FunctionInfo]) -> Plan:
    """``plan`` itself when it is valid; otherwise raise :class:`PlanError` with every problem."""
    problems = validate_plan(plan, catalogue)
    if problems:
        raise PlanError(problems)
    return plan


def call_problems(step: Step, functions: Mapping[str, FunctionInfo]) -> list[str]:
    """What is wrong with ``step``'s call alone: an unknown function, unknown, missing or
    mistyped literal arguments. References are not followed (that needs the whole graph)."""
    info = functions.get(step.function)
    if info is None:
        return [_unknown_function(step.function, functions)]
    return _argument_problems(step.arguments, info)


def _unknown_function(name: str, functions: Mapping[str, FunctionInfo]) -> str:
    close = difflib.get_close_matches(name, list(functions), n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}?" if close else f"loaded: {_listed(functions)}"
    return f"unknown function {name!r} ({hint})"


def _attached_problems(
    step: Step, functions: Mapping[str, FunctionInfo], plan: Plan
) -> Iterator[str]:
    """Problems with the functions a step's compensation and validation name."""
    if step.compensate is not None:
        info = functions.get(step.compensate.function)
        if info is None:
            yield "compensate: " + _unknown_function(step.compensate.function, functions)
        else:
            for message in _argument_problems(step.compensate.arguments, info):
                yield f"compensate: {message}"
        ids = {s.id for s in plan.steps}
        for name, target in step.compensate.references():
            if target.step is not None and target.step not in ids:
                yield f"compensate: argument {name!r} refers to unknown step {target.step!r}"
    if step.validation is None:
        return
    named: list[tuple[str, str | None]] = [("judge", step.validation.judge)]
    if step.validation.alternative is not None:
        named.append(("alternative", step.validation.alternative.function))
    for role, function in named:
        if function is not None and function not in functions:
            yield f"validation {role}: " + _unknown_function(function, functions)


def _argument_problems(arguments: Mapping[str, Any], info: FunctionInfo) -> list[str]:
    """Unknown, missing and mistyped literal arguments, by the rules every call follows."""
    references = [name for name, value in arguments.items() if isinstance(value, Ref)]
    return argument_problems(info, arguments, unchecked=references)


def _graph_problems(plan: Plan) -> list[PlanProblem]:
    """Duplicate ids, dangling or self dependencies and references, and cycles."""
    problems: list[PlanProblem] = []
    position: dict[str, int] = {}
    for index, step in enumerate(plan.steps):
        if step.id in position:
            problems.append(
                PlanProblem(
                    step.id,
                    f"duplicate step id (steps #{position[step.id] + 1} and #{index + 1})",
                )
            )
        else:
            position[step.id] = index
    edges: dict[str, list[str]] = {step_id: [] for step_id in position}
    for step in plan.steps:
        for dependency in step.depends_on:
            if dependency == step.id:
                problems.append(PlanProblem(step.id, "depends on itself"))
            elif dependency not in position:
                problems.append(
                    PlanProblem(
                        step.id,
                        f"depends on unknown step {dependency!r} ({_listed(position)})",
                    )
                )
        for name, target in step.references():
            if target.step is None:
                continue
            if target.step == step.id:
                problems.append(
                    PlanProblem(step.id, f"argument {name!r} refers to the step's own output")
                )
            elif target.step not in position:
                problems.append(
                    PlanProblem(
                        step.id,
                        f"argument {name!r} refers to unknown step {target.step!r} "
                        f"({_listed(position)})",
                    )
                )
    for step_id, index in position.items():
        wanted = plan.steps[index].dependencies() - {step_id}
        edges[step_id] = sorted((d for d in wanted if d in position), key=position.__getitem__)
    problems.extend(
        PlanProblem(cycle[0], "dependency cycle: " + " → ".join(cycle))
        for cycle in _cycles(edges, position)
    )
    return problems


def _cycles(edges: Mapping[str, list[str]], position: Mapping[str, int]) -> list[list[str]]:
    """One cycle per back edge found by depth-first search, each starting at its earliest step."""
    state: dict[str, Literal["open", "done"]] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for nxt in edges[node]:
            if state.get(nxt) == "open":
                loop = stack[stack.index(nxt) :]
                start = min(range(len(loop)), key=lambda i: position[loop[i]])
                loop = loop[start:] + loop[:start]
                found.append([*loop, loop[0]])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in edges:
        if node not in state:
            visit(node)
    return found


def _listed(names: Iterable[str]) -> str:
    return ", ".join(sorted(names)) or "none"
