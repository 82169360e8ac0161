"""The Plan model: its shape, its validation against the catalogue, its order and schema."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from host.catalogue import FunctionInfo, ParameterInfo
from host.errors import AgentHostError, PlanError
from host.plans import Plan, Ref, RefTarget, ensure_valid, validate_plan


def _function(name: str, *parameters: ParameterInfo) -> FunctionInfo:
    plugin, function = name.split(".")
    return FunctionInfo(
        name=name,
        plugin=plugin,
        function=function,
        kind="native",
        description="",
        parameters=parameters,
        source=None,
    )


def _parameter(name: str, type_: str = "str", *, default: Any = None) -> ParameterInfo:
    return ParameterInfo(
        name=name, type=type_, required=default is None, default=default, description=""
    )


CATALOGUE = [
    _function("weather.daily_temperatures", _parameter("city"), _parameter("date")),
    _function(
        "marketing.promo_copy",
        _parameter("facts"),
        _parameter("tone", default="warm"),
        _parameter("max_words", "int", default=80),
        _parameter("temperature", "float", default=0.7),
        _parameter("tags", "list[str]", default=[]),
    ),
    _function("text.summarize", _parameter("input"), _parameter("strict", "bool", default=False)),
]

WEATHER: dict[str, Any] = {
    "id": "weather",
    "function": "weather.daily_temperatures",
    "arguments": {"city": "Shanghai", "date": {"$ref": "state.yesterday"}},
    "capability": "fetch",
}
COPY: dict[str, Any] = {
    "id": "copy",
    "function": "marketing.promo_copy",
    "arguments": {"facts": {"$ref": "steps.weather.output"}},
    "depends_on": ["weather"],
    "capability": "write",
}


def _step(id_: str, *, refs: tuple[str, ...] = (), **fields: Any) -> dict[str, Any]:
    """A text.summarize step; ``refs`` are step ids referenced through ``input``."""
    step: dict[str, Any] = {
        "id": id_,
        "function": "text.summarize",
        "arguments": {"input": "text"},
        "capability": "extract",
    }
    if refs:
        step["arguments"] = {"input": {"$ref": f"steps.{refs[0]}.output"}}
        step["arguments"].update(
            {f"x{i}": {"$ref": f"steps.{r}.output"} for i, r in enumerate(refs[1:])}
        )
    step.update(fields)
    return step


def test_weather_then_copy_plan_is_valid() -> None:
    plan = Plan.model_validate({"steps": [WEATHER, COPY]})

    assert validate_plan(plan, CATALOGUE) == []
    assert ensure_valid(plan, CATALOGUE) is plan
    assert plan.output_step == "copy"
    assert plan.order() == [["weather"], ["copy"]]


@pytest.mark.parametrize(
    ("steps", "output", "expected"),
    [
        pytest.param(
            [{**WEATHER, "function": "weather.daily_temperature"}],
            None,
            [
                (
                    "weather",
                    "'weather.daily_temperature' (did you mean weather.daily_temperatures?)",
                )
            ],
            id="unknown-function-suggests",
        ),
        pytest.param(
            [{**WEATHER, "function": "zzz.qqq"}],
            None,
            [("weather", "unknown function 'zzz.qqq' (loaded: marketing.promo_copy")],
            id="unknown-function-lists",
        ),
        pytest.param(
            [{**WEATHER, "arguments": {**WEATHER["arguments"], "country": "CN"}}],
            None,
            [("weather", "unknown argument 'country' (accepted: city, date)")],
            id="unknown-argument",
        ),
        pytest.param(
            [{**WEATHER, "arguments": {"city": "Shanghai"}}],
            None,
            [("weather", "missing required argument 'date' (str)")],
            id="missing-argument",
        ),
        pytest.param(
            [{**COPY, "depends_on": [], "arguments": {"facts": "hot", "max_words": "many"}}],
            None,
            [("copy", "argument 'max_words': expected int, got 'many'")],
            id="str-for-int",
        ),
        pytest.param(
            [{**COPY, "depends_on": [], "arguments": {"facts": "hot", "max_words": True}}],
            None,
            [("copy", "argument 'max_words': expected int, got True")],
            id="bool-for-int",
        ),
        pytest.param(
            [{**COPY, "depends_on": [], "arguments": {"facts": 3, "tags": "summer"}}],
            None,
            [
                ("copy", "argument 'facts': expected str, got 3"),
                ("copy", "argument 'tags': expected list[str], got 'summer'"),
            ],
            id="wrong-types-all-reported",
        ),
        pytest.param(
            [{**COPY, "depends_on": [], "arguments": {"facts": None}}],
            None,
            [("copy", "argument 'facts': expected str, got None")],
            id="null-for-required",
        ),
        pytest.param(
            [_step("a"), _step("b"), _step("a")],
            None,
            [("a", "duplicate step id (steps #1 and #3)")],
            id="duplicate-id",
        ),
        pytest.param(
            [_step("a", depends_on=["ghost"])],
            None,
            [("a", "depends on unknown step 'ghost' (a)")],
            id="unknown-dependency",
        ),
        pytest.param(
            [_step("a", refs=("ghost",))],
            None,
            [("a", "argument 'input' refers to unknown step 'ghost' (a)")],
            id="reference-to-unknown-step",
        ),
        pytest.param(
            [_step("a", refs=("a",))],
            None,
            [("a", "argument 'input' refers to the step's own output")],
            id="reference-to-itself",
        ),
        pytest.param(
            [_step("a", depends_on=["a"])],
            None,
            [("a", "depends on itself")],
            id="depends-on-itself",
        ),
        pytest.param(
            [_step("a", depends_on=["b"]), _step("b", refs=("a",))],
            None,
            [("a", "dependency cycle: a → b → a")],
            id="cycle-through-reference",
        ),
        pytest.param(
            [
                _step("c"),
                _step("a", depends_on=["b"]),
                _step("b", depends_on=["c", "d"]),
                _step("d", depends_on=["a"]),
            ],
            None,
            [("a", "dependency cycle: a → b → d → a")],
            id="cycle-of-three",
        ),
        pytest.param(
            [_step("a")],
            "answer",
            [(None, "output names unknown step 'answer' (a)")],
            id="unknown-output",
        ),
    ],
)
def test_invalid_plan_reports_each_problem(
    steps: list[dict[str, Any]], output: str | None, expected: list[tuple[str | None, str]]
) -> None:
    plan = Plan.model_validate({"steps": steps, "output": output})

    problems = validate_plan(plan, CATALOGUE)

    assert len(problems) == len(expected), problems
    for problem, (step, fragment) in zip(problems, expected, strict=True):
        assert problem.step == step
        assert fragment in problem.message


def test_every_problem_is_reported_at_once() -> None:
    plan = Plan.model_validate(
        {
            "steps": [
                {**WEATHER, "function": "weather.nope"},
                {**COPY, "arguments": {"tone": 1}, "depends_on": ["ghost"]},
            ],
            "output": "gone",
        }
    )

    problems = validate_plan(plan, CATALOGUE)

    assert [p.step for p in problems] == ["weather", "copy", "copy", "copy", None]


def test_plan_error_lists_problems_one_per_line() -> None:
    plan = Plan.model_validate({"steps": [_step("a", depends_on=["ghost"])], "output": "b"})

    with pytest.raises(PlanError) as caught:
        ensure_valid(plan, CATALOGUE)

    assert isinstance(caught.value, AgentHostError)
    assert len(caught.value.problems) == 2
    assert str(caught.value).splitlines()[1:] == [f"- {p}" for p in caught.value.problems]


def test_int_is_accepted_for_float() -> None:
    copy = {**COPY, "arguments": {"facts": "hot", "temperature": 1, "max_words": 50}}
    plan = Plan.model_validate({"steps": [WEATHER, copy]})

    assert validate_plan(plan, CATALOGUE) == []


def test_reference_implies_dependency() -> None:
    plan = Plan.model_validate({"steps": [WEATHER, {**COPY, "depends_on": []}]})

    assert plan.dependencies("copy") == {"weather"}
    assert plan.dependencies("weather") == set()
    assert plan.order() == [["weather"], ["copy"]]


@pytest.mark.parametrize(
    ("ref", "target"),
    [
        ("steps.weather.output", RefTarget("steps", "weather", ())),
        ("steps.weather.output.max_c", RefTarget("steps", "weather", ("max_c",))),
        ("steps.w_1.output.rows.0.name", RefTarget("steps", "w_1", ("rows", "0", "name"))),
        ("state.yesterday", RefTarget("state", None, ("yesterday",))),
    ],
)
def test_reference_parses_to_its_target(ref: str, target: RefTarget) -> None:
    assert Ref.model_validate({"$ref": ref}).target() == target


@pytest.mark.parametrize(
    "ref", ["steps.weather", "steps.weather.result", "state.", "output.weather", "steps.1a.output"]
)
def test_malformed_reference_is_rejected_by_the_model(ref: str) -> None:
    with pytest.raises(ValidationError, match="malformed reference"):
        Plan.model_validate({"steps": [{**WEATHER, "arguments": {"city": {"$ref": ref}}}]})


@pytest.mark.parametrize(
    "change",
    [
        {"id": "1st"},
        {"function": "daily_temperatures"},
        {"capability": "Fetch"},
        {"surprise": True},
    ],
)
def test_step_shape_is_enforced(change: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Plan.model_validate({"steps": [{**WEATHER, **change}]})


def test_fan_out_runs_in_waves_in_plan_order() -> None:
    plan = Plan.model_validate(
        {
            "steps": [
                _step("source"),
                _step("c", refs=("source",)),
                _step("a", depends_on=["source"]),
                _step("b", refs=("source",)),
                _step("merge", refs=("a", "b", "c")),
                _step("lone"),
            ]
        }
    )

    assert plan.order() == [["source", "lone"], ["c", "a", "b"], ["merge"]]


def test_order_of_a_cyclic_plan_raises() -> None:
    plan = Plan.model_validate({"steps": [_step("a", depends_on=["b"]), _step("b", refs=("a",))]})

    with pytest.raises(PlanError, match="a → b → a"):
        plan.order()


def test_schema_allows_reference_arguments() -> None:
    schema = Plan.json_schema()

    ref = schema["$defs"]["Ref"]
    assert ref["required"] == ["$ref"]
    assert "(?P<" not in ref["properties"]["$ref"]["pattern"]
    arguments = schema["$defs"]["Step"]["properties"]["arguments"]["additionalProperties"]
    assert {"$ref": "#/$defs/Ref"} in arguments["anyOf"]


def test_plan_round_trips_through_its_json_form() -> None:
    plan = Plan.model_validate(
        {
            "steps": [WEATHER, {**COPY, "validation": {"mentions": ["max_c"]}}],
            "output": "copy",
        }
    )

    dumped = plan.model_dump(by_alias=True)

    assert dumped["steps"][1]["arguments"]["facts"] == {"$ref": "steps.weather.output"}
    assert Plan.model_validate(dumped) == plan
    assert Plan.model_validate_json(plan.model_dump_json(by_alias=True)) == plan


def test_attached_functions_are_checked_like_steps() -> None:
    copy = {
        **COPY,
        "validation": {
            "mentions": ["{facts}"],
            "judge": "review.judge",
            "on_fail": ["alternative"],
            "alternative": {"function": "text.sumarize"},
        },
        "compensate": {"function": "text.summarize", "arguments": {"strict": "maybe"}},
    }
    plan = Plan.model_validate({"steps": [WEATHER, copy]})
    problems = [str(p) for p in validate_plan(plan, CATALOGUE)]
    assert problems == [
        "step 'copy': compensate: missing required argument 'input' (str)",
        "step 'copy': compensate: argument 'strict': expected bool, got 'maybe'",
        "step 'copy': validation judge: unknown function 'review.judge' (loaded: "
        "marketing.promo_copy, text.summarize, weather.daily_temperatures)",
        "step 'copy': validation alternative: unknown function 'text.sumarize' "
        "(did you mean text.summarize?)",
    ]


@pytest.mark.parametrize(
    ("validation", "message"),
    [
        ({"on_fail": ["abort"]}, "expected at least one check"),
        ({"regex": "(", "on_fail": ["abort"]}, "does not compile"),
        (
            {"json_schema": {"properties": {"a": {"type": "objekt"}}}},
            r"not a valid JSON Schema at \['properties'\]\['a'\]\['type'\]: 'objekt'",
        ),
        ({"regex": "x", "on_fail": ["alternative"]}, "no alternative is given"),
        ({"regex": "x", "on_fail": ["pray"]}, "'retry', 'alternative', 'human' or 'abort'"),
        (
            {"regex": "x", "alternative": {"function": "a.b", "template": "t"}},
            "exactly one of function or template",
        ),
    ],
)
def test_a_malformed_validation_is_a_schema_error(validation: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Plan.model_validate({"steps": [{**COPY, "validation": validation}]})


def test_a_malformed_reference_in_a_compensation_is_a_schema_error() -> None:
    compensate = {"function": "text.summarize", "arguments": {"input": {"$ref": "steps.x"}}}
    with pytest.raises(ValidationError, match=r"argument 'input': malformed reference 'steps\.x'"):
        Plan.model_validate({"steps": [{**COPY, "compensate": compensate}]})
