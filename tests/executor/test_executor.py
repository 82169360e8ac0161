"""Executing plans: references, format adaptation, routing, concurrency and failure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from host import AgentHost, RunResult
from host.testing import Delay, Reply, ScriptedChatCompletion
from host.testing.clock import VirtualClock
from tests.conftest import ROOT

PROMPT = """\
name: Echo
template: "Say {{$input}}"
description: Say something.
"""


def write_config(tmp_path: Path, models: str) -> Path:
    prompts = tmp_path / "prompts" / "talk"
    prompts.mkdir(parents=True)
    (prompts / "echo.yaml").write_text(PROMPT)
    config = tmp_path / "host.yaml"
    config.write_text(
        f"models:\n{models}"
        "tools:\n  weather:\n    settings: {use_network: false}\n"
        f"plugins:\n  directories: [{ROOT / 'plugins'}]\n"
        f"prompts:\n  directories: [prompts, {ROOT / 'prompts'}]\n"
    )
    return config


ONE_MODEL = "  local:\n    provider: scripted\n    model: s\n"
TWO_MODELS = (
    ONE_MODEL + "    capabilities: [fetch, write]\n"
    "  writer:\n    provider: scripted\n    model: big\n    capabilities: [write]\n"
    "    cost: {input: 1, output: 2}\n"
)


async def execute(tmp_path: Path, plan: dict[str, Any], model: ScriptedChatCompletion) -> RunResult:
    """Run ``plan`` on a host whose one model is ``model``."""
    async with AgentHost(write_config(tmp_path, ONE_MODEL), models={"local": model}) as host:
        return await host.execute(plan)


WEATHER_TO_COPY: dict[str, Any] = {
    "steps": [
        {
            "id": "weather",
            "function": "weather.daily_temperatures",
            "arguments": {"city": "Shanghai", "date": "2026-06-21"},
            "capability": "fetch",
        },
        {
            "id": "copy",
            "function": "marketing.promo_copy",
            "arguments": {
                "input": "iced tea",
                "facts": {"$ref": "steps.weather.output.max_c"},
            },
            "capability": "write",
        },
    ]
}


async def test_weather_then_copy_reads_the_observed_temperature(tmp_path: Path) -> None:
    local = ScriptedChatCompletion("local", [Reply("Iced tea for a hot day!")])
    async with AgentHost(write_config(tmp_path, ONE_MODEL), models={"local": local}) as host:
        result = await host.execute(WEATHER_TO_COPY, "weather then copy")
    assert result.status == "ok", result.error
    weather, copy = result.steps
    max_c = json.loads(weather.output)["max_c"]
    assert copy.arguments["facts"] == str(max_c)
    assert str(max_c) in local.requests[0].messages[-1]["content"]
    assert result.output == "Iced tea for a hot day!"
    assert (copy.model, weather.model) == ("local", None)


async def test_prompt_steps_are_routed_by_capability(tmp_path: Path) -> None:
    local = ScriptedChatCompletion("local", [])
    writer = ScriptedChatCompletion("writer", [Reply("Big copy")])
    config = write_config(tmp_path, TWO_MODELS)
    async with AgentHost(config, models={"local": local, "writer": writer}) as host:
        result = await host.execute(WEATHER_TO_COPY)
    copy = result.steps[1]
    assert (result.status, copy.model) == ("ok", "writer")
    assert copy.route_reason is not None and copy.route_reason.startswith("write →")
    assert local.requests == []


async def test_independent_steps_run_concurrently(tmp_path: Path) -> None:
    clock = VirtualClock()
    model = ScriptedChatCompletion("local", default=Delay(0.1, Reply("x")), clock=clock)
    plan = {
        "steps": [
            {
                "id": f"s{i}",
                "function": "talk.Echo",
                "arguments": {"input": str(i)},
                "capability": "write",
            }
            for i in range(10)
        ]
    }
    config = write_config(tmp_path, ONE_MODEL)
    async with AgentHost(config, models={"local": model}, clock=clock) as host:
        result = await host.execute(plan)
    assert result.status == "ok"
    assert len(result.steps) == 10
    assert clock.now() == pytest.approx(0.1), "ten 100 ms steps in parallel take 100 ms"


async def test_a_failed_step_stops_its_dependents(tmp_path: Path) -> None:
    model = ScriptedChatCompletion("local", [])
    plan = {
        "steps": [
            {
                "id": "bad",
                "function": "weather.daily_temperatures",
                "capability": "fetch",
                "arguments": {"city": "Atlantis", "date": "2026-06-21"},
            },
            {
                "id": "copy",
                "function": "talk.Echo",
                "capability": "write",
                "arguments": {"input": {"$ref": "steps.bad.output"}},
            },
        ]
    }
    result = await execute(tmp_path, plan, model)
    assert result.status == "failed"
    assert result.error is not None and "Atlantis" in result.error
    assert [step.step_id for step in result.steps] == ["bad"]
    assert result.steps[0].status == "failed"
    assert model.requests == []


@pytest.mark.parametrize(
    ("plan", "fragment"),
    [
        (
            {
                "steps": [
                    {"id": "a", "function": "nope.nothing", "arguments": {}, "capability": "fetch"}
                ]
            },
            "nope.nothing",
        ),
        ({"steps": []}, "- steps: List should have at least 1 item after validation, not 0"),
        (
            {
                "steps": [
                    {
                        "id": "a",
                        "function": "talk.Echo",
                        "capability": "write",
                        "arguments": {"input": {"$ref": "steps.a.output"}},
                    }
                ]
            },
            "'a'",
        ),
    ],
    ids=["unknown function", "empty plan", "self reference"],
)
async def test_a_bad_plan_fails_with_its_problems(
    tmp_path: Path, plan: dict[str, Any], fragment: str
) -> None:
    model = ScriptedChatCompletion("local", [])
    result = await execute(tmp_path, plan, model)
    assert result.status == "failed"
    assert result.error is not None and fragment in result.error
    assert result.steps == ()


async def test_json_output_is_adapted_to_a_text_parameter(tmp_path: Path) -> None:
    model = ScriptedChatCompletion.echo("local")
    plan = {
        "steps": [
            {
                "id": "cities",
                "function": "weather.known_cities",
                "arguments": {},
                "capability": "fetch",
            },
            {
                "id": "first",
                "function": "talk.Echo",
                "capability": "write",
                "arguments": {"input": {"$ref": "steps.cities.output.0"}},
            },
        ]
    }
    result = await execute(tmp_path, plan, model)
    assert result.status == "ok", result.error
    first_city = json.loads(result.steps[0].output)[0]
    assert result.output == f"Say {json.dumps(first_city, ensure_ascii=False)}"


SHAPES = """\
from pydantic import BaseModel
from semantic_kernel.functions import kernel_function


class Box(BaseModel):
    width: int
    height: int


class Shapes:
    @kernel_function(description="A box as JSON text.")
    async def box(self) -> str:
        return '{"width": 3, "height": 4, "label": "crate", "sizes": [1, 2]}'

    @kernel_function(description="The area of a box.")
    async def area(self, box: Box) -> int:
        return box.width * box.height

    @kernel_function(description="Double a number.")
    async def double(self, number: int) -> int:
        return number * 2
"""


def shapes_host(tmp_path: Path) -> Path:
    """A config with one scripted model and the :data:`SHAPES` plugin."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "shapes.py").write_text(SHAPES)
    config = tmp_path / "host.yaml"
    config.write_text(ONE_MODEL.join(["models:\n", f"plugins:\n  directories: [{plugins}]\n"]))
    return config


@pytest.mark.parametrize(
    ("arguments", "outcome"),
    [
        ({"box": {"$ref": "steps.box.output"}}, ("ok", 12)),
        ({"box": "not json"}, ("failed", "argument 'box': expected Box, got 'not json'")),
        ({"box": {"$ref": "state.raw"}}, ("failed", "'box': expected Box, got text '{broken'")),
    ],
    ids=["JSON text to a model", "text is no model", "broken JSON"],
)
async def test_outputs_are_coerced_to_model_parameters(
    tmp_path: Path, arguments: dict[str, Any], outcome: tuple[str, Any]
) -> None:
    config = shapes_host(tmp_path)
    plan = {
        "steps": [
            {"id": "box", "function": "shapes.box", "arguments": {}, "capability": "fetch"},
            {
                "id": "area",
                "function": "shapes.area",
                "arguments": arguments,
                "capability": "fetch",
                "depends_on": ["box"],
            },
            {
                "id": "twice",
                "function": "shapes.double",
                "capability": "fetch",
                "arguments": {"number": {"$ref": "steps.box.output.width"}},
            },
        ]
    }
    async with AgentHost(config) as host:
        result = await host.execute(plan, values={"raw": "{broken"})
    status, detail = outcome
    assert result.status == status
    if status == "ok":
        assert [step.output for step in result.steps[1:]] == [detail, 6]
    else:
        assert result.error is not None and detail in result.error


@pytest.mark.parametrize(
    ("reference", "reason"),
    [
        ("steps.box.output.depth", "there is no 'depth' field"),
        ("steps.box.output.label.size", "it is text, not JSON with fields"),
        ("steps.box.output.sizes.5", "the list has no item at that index"),
        ("state.missing", "there is no 'missing' field"),
    ],
    ids=["missing field", "field of text", "index past the end", "missing state value"],
)
async def test_a_reference_that_cannot_be_read_is_named_as_written_with_why(
    tmp_path: Path, reference: str, reason: str
) -> None:
    """Kills: the reference shown without its step (``cannot read depth``), and Python's
    exception as the reason (``KeyError('depth')``)."""
    config = shapes_host(tmp_path)
    plan = {
        "steps": [
            {"id": "box", "function": "shapes.box", "arguments": {}, "capability": "fetch"},
            {
                "id": "twice",
                "function": "shapes.double",
                "capability": "fetch",
                "arguments": {"number": {"$ref": reference}},
                "depends_on": ["box"],
            },
        ]
    }
    async with AgentHost(config) as host:
        result = await host.execute(plan)

    assert result.status == "failed"
    assert f"argument 'number': cannot read {reference} ({reason})" in (result.error or "")


async def test_a_prompt_step_no_model_can_take_fails_the_plan_before_any_step_runs(
    tmp_path: Path,
) -> None:
    """Kills: the routing error found only when the step came up, after the steps before
    it had run (their side effects made), with no step named."""
    models = ONE_MODEL + "    capabilities: [fetch, write]\n"
    plan = {
        "steps": [
            {"id": "cities", "function": "weather.known_cities", "capability": "fetch"},
            {
                "id": "say",
                "function": "talk.Echo",
                "arguments": {"input": {"$ref": "steps.cities.output"}},
                "capability": "review",
            },
        ]
    }
    model = ScriptedChatCompletion.echo("local")
    async with AgentHost(write_config(tmp_path, models), models={"local": model}) as host:
        result = await host.execute(plan)

    assert (result.status, result.steps) == ("failed", ())
    assert "- step 'say': routing: no model is capable of 'review'" in (result.error or "")
    assert model.requests == []
