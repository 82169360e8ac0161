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
import marshal
import re
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, field_validator

from host.arguments import argument_problems
from host.catalogue import FunctionInfo
from host.errors import PlanError, field_problems, quoted
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
        raise ValueError(f"malformed reference {quoted(ref)}")
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
                f"argument {name!r}: malformed reference {quoted(value['$ref'])} (expected "
                "steps.<id>.output, steps.<id>.output.<field>, or state.<key>)"
            )
    return arguments


MAX_NESTING = 100
"""How many levels of objects and arrays an argument's value may nest. Deeper is a plan
problem, found without recursion before any step runs, so no recursive walk of the value
(``repr``, JSON, a comparison) can exhaust the interpreter's recursion limit."""

TOO_DEEP = f"nests deeper than {MAX_NESTING} levels"
"""What a problem says of a value past :data:`MAX_NESTING`, after naming it."""

_CONTAINERS = (dict, list, tuple)
"""The types that nest: JSON objects and arrays as Python gives them."""


def nests_deeper(value: object, limit: int) -> bool:
    """Whether objects and arrays in ``value`` nest more than ``limit`` levels (``value``
    itself is level 1). Level by level, without recursion: any depth is safe to check."""
    level = [value]
    for _ in range(limit):
        inner: list[object] = []
        for item in level:
            if type(item) is dict:
                inner.extend(item.values())
            elif type(item) is list or type(item) is tuple:
                inner.extend(item)
        if not inner:
            return False
        level = inner
    return any(type(item) in _CONTAINERS for item in level)


def too_deep(values: Mapping[str, Any]) -> list[str]:
    """The names in ``values`` (arguments, run-state values, inputs) whose value nests
    deeper than :data:`MAX_NESTING` levels."""
    return [
        name
        for name, value in values.items()
        if type(value) in _CONTAINERS and nests_deeper(value, MAX_NESTING)
    ]


def reject_deep_arguments(arguments: Any) -> Any:
    """``arguments`` unchanged; ValueError naming each one nested deeper than
    :data:`MAX_NESTING` levels, before pydantic's own recursive validation reads it."""
    deep = too_deep(arguments) if type(arguments) is dict else ()
    if deep:
        raise ValueError("; ".join(f"argument {name!r} {TOO_DEEP}" for name in deep))
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

    def dependencies(self) -> frozenset[str]:
        """The steps this step waits for: its ``depends_on`` and every step it references."""
        referenced = {t.step for _, t in self.references() if t.step is not None}
        return frozenset(self.depends_on).union(referenced)


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

    def dependencies(self, step_id: str) -> frozenset[str]:
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
        return waves({step.id: step.dependencies() for step in self.steps})

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        """The JSON schema a planner's output must follow (arguments may be ``{"$ref": …}``)."""
        return cls.model_json_schema(by_alias=True, mode="validation")


def waves(needs: Mapping[str, Collection[str]]) -> list[list[str]]:
    """Ids in waves: each wave's ids need only ids of earlier waves, in ``needs``' order.

    ``needs`` maps each id to the ids it waits for; it must be acyclic and name
    only its own ids (a valid plan's). Kahn's algorithm by levels: linear work
    and no recursion, however long the chain.
    """
    waiting = {step_id: len(wanted) for step_id, wanted in needs.items()}
    dependents: dict[str, list[str]] = {step_id: [] for step_id in needs}
    for step_id, wanted in needs.items():
        for dependency in wanted:
            dependents[dependency].append(step_id)
    wave = [step_id for step_id, count in waiting.items() if not count]
    found: list[list[str]] = []
    position: dict[str, int] = {}  # filled when a wave first has two ids to put in order
    while wave:
        found.append(wave)
        wave = []
        for step_id in found[-1]:
            for dependent in dependents[step_id]:
                waiting[dependent] -= 1
                if not waiting[dependent]:
                    wave.append(dependent)
        if len(wave) > 1:
            position = position or {step_id: index for index, step_id in enumerate(needs)}
            wave.sort(key=position.__getitem__)
    return found


_DATA_NESTING = MAX_NESTING + 5
"""The same bound for plan data as a whole: an argument's value sits five levels in
(plan, ``steps``, step, ``compensate``, ``arguments``)."""


def _data_problem(data: Mapping[str, Any]) -> PlanProblem | None:
    """Plan data nested deeper than a valid plan can be, named by step and argument when
    that is where it nests; None when it is not."""
    if not nests_deeper(data, _DATA_NESTING):
        return None
    path = _deep_path(dict(data), _DATA_NESTING)
    for prefix, at in (("", ("arguments",)), ("compensate: ", ("compensate", "arguments"))):
        if path[0] == "steps" and path[2 : 2 + len(at)] == at:
            step_id = data["steps"][path[1]].get("id")
            name = path[2 + len(at)]
            if isinstance(step_id, str):
                return PlanProblem(step_id, f"{prefix}argument {name!r} {TOO_DEEP}")
            return PlanProblem(None, f"steps.{path[1]}: {prefix}argument {name!r} {TOO_DEEP}")
    return PlanProblem(None, f"{'.'.join(map(str, path[:4]))}… {TOO_DEEP}")


_Container = dict[Any, Any] | list[Any] | tuple[Any, ...]
"""An object or array in plan data."""


def _deep_path(value: _Container, limit: int) -> tuple[object, ...]:
    """The keys and indexes leading into ``value`` to an object or array more than
    ``limit`` levels deep (where :func:`nests_deeper` found one), depth first with a
    stack of its own."""
    path: list[object] = []
    pending = [_children(value)]
    while pending and len(pending) <= limit:
        for key, child in pending[-1]:
            if type(child) is dict or type(child) is list or type(child) is tuple:
                path.append(key)
                pending.append(_children(child))
                break
        else:
            pending.pop()
            if pending:
                path.pop()
    return tuple(path)


def _children(value: _Container) -> Iterator[tuple[object, object]]:
    """``value``'s keys (or indexes) and values."""
    return iter(value.items()) if type(value) is dict else enumerate(value)


_PARSED_SIZE = 256
_PARSED_BYTES = 16_384
_parsed: dict[bytes, Plan] = {}


def parse_plan(data: Mapping[str, Any]) -> Plan:
    """``Plan.model_validate(data)``, remembered for plain JSON data seen before.

    A plan is often run many times (a scheduled job, a repeated request). Data
    equal to earlier data — same keys, types and values — gives that earlier
    frozen plan back without validating it again. Only valid plans of modest
    size are remembered (the latest 256); anything else is validated as given.
    Raises pydantic's ``ValidationError`` like ``model_validate``, or
    :class:`PlanError` naming where data nests deeper than any valid plan (which
    pydantic's own recursion guard rejects with no useful message).
    """
    key = _memo_key(data)
    plan = _parsed.get(key) if key is not None else None
    if plan is not None:
        return plan
    try:
        plan = Plan.model_validate(data)
    except ValidationError:
        deep = _data_problem(data)
        if deep is not None:
            raise PlanError([deep]) from None
        raise
    if key is not None:
        if len(_parsed) >= _PARSED_SIZE:
            del _parsed[next(iter(_parsed))]
        _parsed[key] = plan
    return plan


def _memo_key(data: Mapping[str, Any]) -> bytes | None:
    """``data`` in marshal's format 2, which has no shared references, so equal data
    gives equal bytes; None for data not to remember (not a plain dict, larger than
    16 KiB, or holding values marshal cannot write).

    Unlike ``repr`` or JSON, marshal stops at 2,000 levels with a ValueError rather
    than use up the interpreter's recursion limit, so data seen before needs no
    depth check first; and it is faster than ``repr``.
    """
    if type(data) is not dict:
        return None
    try:
        key = marshal.dumps(data, 2)
    except ValueError:
        return None
    return key if len(key) <= _PARSED_BYTES else None


@dataclass(frozen=True)
class PlanProblem:
    """One thing wrong with a plan; ``step`` is None for plan-level problems."""

    step: str | None
    message: str

    def __str__(self) -> str:
        return f"step {self.step!r}: {self.message}" if self.step is not None else self.message


def schema_problems(error: ValidationError) -> list[str]:
    """One line per way ``error``'s data does not fit the Plan schema, at its path in the
    plan (``steps.1.arguments: …``), each line once."""
    return field_problems(error, "plan")


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
            PlanProblem(None, f"output names unknown step {quoted(plan.output)} ({_listed(ids)})")
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
    """Arguments nested too deep, then unknown, missing and mistyped literal arguments by
    the rules every call follows (a too deep one is not read again)."""
    deep = too_deep(arguments)
    references = [name for name, value in arguments.items() if isinstance(value, Ref)]
    problems = [f"argument {name!r} {TOO_DEEP}" for name in deep]
    return problems + argument_problems(info, arguments, unchecked=references + deep)


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
    edges: dict[str, list[str]] = {}
    for index, step in enumerate(plan.steps):
        wanted: set[str] = set()
        for dependency in step.depends_on:
            if dependency == step.id:
                problems.append(PlanProblem(step.id, "depends on itself"))
            elif dependency not in position:
                problems.append(
                    PlanProblem(
                        step.id,
                        f"depends on unknown step {quoted(dependency)} ({_listed(position)})",
                    )
                )
            else:
                wanted.add(dependency)
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
            else:
                wanted.add(target.step)
        if position[step.id] == index:  # a duplicate id's edges are its first step's
            edges[step.id] = sorted(wanted, key=position.__getitem__)
    problems.extend(
        PlanProblem(cycle[0], "dependency cycle: " + _cycle_text(cycle))
        for cycle in _cycles(edges, position)
    )
    return problems


def _cycles(edges: Mapping[str, list[str]], position: Mapping[str, int]) -> list[list[str]]:
    """One cycle per back edge found by depth-first search, each starting at its earliest step.

    The search keeps its own stack, so a chain of any length is searched without recursion.
    """
    done: set[str] = set()
    found: list[list[str]] = []
    for root in edges:
        if root in done:
            continue
        path = [root]
        depth = {root: 0}  # where each step on the path (the open steps) sits in it
        pending = [iter(edges[root])]
        while pending:
            for nxt in pending[-1]:
                if nxt in depth:
                    loop = path[depth[nxt] :]
                    start = min(range(len(loop)), key=lambda i: position[loop[i]])
                    loop = loop[start:] + loop[:start]
                    found.append([*loop, loop[0]])
                elif nxt not in done:
                    depth[nxt] = len(path)
                    path.append(nxt)
                    pending.append(iter(edges[nxt]))
                    break
            else:
                pending.pop()
                finished = path.pop()
                del depth[finished]
                done.add(finished)
    return found


_CYCLE_SHOWN = 8
"""Steps of a cycle named in full; a longer one shows its ends and its length."""


def _cycle_text(cycle: list[str]) -> str:
    """``a → b → a``, or for a long cycle ``a → b → c → … → y → z → a (n steps)``."""
    if len(cycle) <= _CYCLE_SHOWN + 1:
        return " → ".join(cycle)
    return " → ".join([*cycle[:3], "…", *cycle[-3:]]) + f" ({len(cycle) - 1} steps)"


def _listed(names: Iterable[str]) -> str:
    return ", ".join(sorted(names)) or "none"
