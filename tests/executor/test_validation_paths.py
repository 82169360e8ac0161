"""Validation nodes: each check, each on_fail path, hand-off and resume, config defaults."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from host import AgentHost
from host.errors import UnknownRunError
from host.state import RunState
from host.testing import Raise, Reply, ScriptedChatCompletion
from host.validation.checks import Verdict, check, judgement, render
from host.validation.checks import _missing as missing_facts
from host.validation.spec import Validation
from tests.conftest import ROOT

WRITE = """\
name: write
template: "Write about {{$input}}. Facts: {{$facts}}. {{$feedback}}"
description: Write a line about something, stating the facts.
input_variables:
  - {name: input, is_required: true}
  - {name: facts, default: ""}
  - {name: feedback, default: ""}
"""

PLAIN = """\
name: plain
template: "Write plainly about {{$input}}"
description: Write a plain line.
input_variables:
  - {name: input, is_required: true}
"""

JUDGE = """\
name: judge
template: "Is this good? {{$input}} Must state: {{$facts}}"
description: Judge a line.
input_variables:
  - {name: input, is_required: true}
  - {name: facts, default: ""}
"""


def write_config(tmp_path: Path, extra: str = "") -> Path:
    folder = tmp_path / "prompts" / "talk"
    folder.mkdir(parents=True)
    for name, text in (("write", WRITE), ("plain", PLAIN), ("judge", JUDGE)):
        (folder / f"{name}.yaml").write_text(text)
    config = tmp_path / "host.yaml"
    config.write_text(
        "models:\n  local:\n    provider: scripted\n    model: s\n"
        f"plugins:\n  directories: [{ROOT / 'plugins'}]\n"
        "prompts:\n  directories: [prompts]\n" + extra
    )
    return config


def step(validation: dict[str, Any] | None, **fields: Any) -> dict[str, Any]:
    return {
        "id": "copy",
        "function": "talk.write",
        "arguments": {"input": "iced tea", "facts": "Shanghai 18°C on 2026-11-24"},
        "capability": "write",
        "validation": validation,
        **fields,
    }


async def run_one(
    tmp_path: Path, validation: dict[str, Any], replies: list[str], extra: str = ""
) -> tuple[Any, ScriptedChatCompletion]:
    model = ScriptedChatCompletion("local", [Reply(r) for r in replies])
    async with AgentHost(write_config(tmp_path, extra), models={"local": model}) as host:
        result = await host.execute({"steps": [step(validation)]})
    return result, model


MENTIONS = {"mentions": ["{facts}"]}


async def test_a_passing_output_is_kept_with_full_confidence(tmp_path: Path) -> None:
    result, _ = await run_one(tmp_path, MENTIONS, ["18°C in Shanghai: iced tea time!"])
    assert result.status == "ok" and not result.degraded
    (record,) = result.steps
    assert record.confidence == 1.0
    assert [e.kind for e in record.events][-1] == "validation"


async def test_retry_feeds_the_problems_back(tmp_path: Path) -> None:
    validation = {**MENTIONS, "on_fail": ["retry"], "retries": 2}
    replies = ["Iced tea time!", "Still 18°C.", "Shanghai 18°C: iced tea!"]
    result, model = await run_one(tmp_path, validation, replies)
    assert result.status == "ok" and result.output == "Shanghai 18°C: iced tea!"
    assert (
        "rejected: output does not state 18, 'Shanghai'"
        in model.requests[1].messages[-1]["content"]
    )
    assert "rejected: output does not state 'Shanghai'" in model.requests[2].messages[-1]["content"]
    (record,) = result.steps
    assert record.attempts == 3
    outcomes = [e.outcome for e in record.events if e.kind == "validation"]
    assert outcomes == ["failed", "failed", "ok"]


async def test_retries_spent_then_the_template_downgrades(tmp_path: Path) -> None:
    validation = {
        **MENTIONS,
        "on_fail": ["retry", "alternative"],
        "alternative": {"template": "{facts}. Try our {input}!"},
    }
    result, model = await run_one(tmp_path, validation, ["Iced tea!", "Iced tea!!"])
    assert result.status == "ok"
    assert result.output == "Shanghai 18°C on 2026-11-24. Try our iced tea!"
    assert result.degraded and result.steps[0].degraded
    assert len(model.requests) == 2
    assert [e.target for e in result.steps[0].events if e.kind == "on_fail"] == [
        "retry",
        "alternative",
    ]


async def test_an_alternative_function_answers_instead(tmp_path: Path) -> None:
    validation = {"regex": "^TEA", "on_fail": ["alternative"]}
    validation["alternative"] = {"function": "talk.plain"}
    result, model = await run_one(tmp_path, validation, ["tea", "plain tea"])
    assert result.status == "ok" and result.output == "plain tea" and result.degraded
    assert "Write plainly about iced tea" in model.requests[1].messages[-1]["content"]


async def test_abort_fails_the_step_naming_every_problem(tmp_path: Path) -> None:
    validation = {"regex": r"\d+", "json_schema": {"type": "object"}}
    result, _ = await run_one(tmp_path, validation, ["no digits here"])
    assert result.status == "failed"
    assert result.error == (
        "step 'copy' failed validation: output is not JSON (Expecting value at position 0); "
        "output does not match '\\\\d+'"
    )
    (record,) = result.steps
    assert record.status == "failed" and record.error_type == "ValidationFailedError"
    assert record.confidence == 0.0


async def test_json_schema_problems_name_the_field(tmp_path: Path) -> None:
    schema = {"type": "object", "properties": {"urgency": {"enum": ["low", "high"]}}}
    result, _ = await run_one(tmp_path, {"json_schema": schema}, ['{"urgency": "soon"}'])
    assert "output['urgency']: 'soon' is not one of ['low', 'high']" in (result.error or "")


async def test_a_judge_rejects_and_the_template_answers(tmp_path: Path) -> None:
    validation = {
        "judge": "talk.judge",
        "mentions": ["{facts}"],
        "on_fail": ["alternative"],
        "alternative": {"template": "{facts}."},
    }
    replies = ["Shanghai 18°C, buy tea", '{"ok": false, "reason": "too pushy"}']
    result, model = await run_one(tmp_path, validation, replies)
    assert result.output == "Shanghai 18°C on 2026-11-24." and result.degraded
    judged = model.requests[1].messages[-1]["content"]
    assert "Shanghai 18°C, buy tea" in judged and "Shanghai 18°C on 2026-11-24" in judged
    problems = [e.error for e in result.steps[0].events if e.kind == "validation"]
    assert problems == ["talk.judge rejected the output: too pushy"]


async def test_hand_off_pauses_and_resume_continues_downstream(tmp_path: Path) -> None:
    plan = {
        "steps": [
            step({"regex": "tea", "on_fail": ["human"], "question": "Fix the copy for {input}?"}),
            {
                "id": "quote",
                "function": "talk.plain",
                "arguments": {"input": {"$ref": "steps.copy.output"}},
                "capability": "write",
            },
        ]
    }
    model = ScriptedChatCompletion("local", [Reply("coffee!"), Reply("final")])
    async with AgentHost(write_config(tmp_path), models={"local": model}) as host:
        paused = await host.execute(plan)
        assert paused.status == "needs_human"
        assert paused.question == "Fix the copy for iced tea?"
        assert paused.waiting_step == "copy"
        assert len(model.requests) == 1  # the dependent step did not start
        resumed = await host.resume(paused.run_id, "Iced tea, 18°C")
        with pytest.raises(UnknownRunError, match=paused.run_id):
            await host.resume(paused.run_id, "again")
    assert resumed.status == "ok" and resumed.output == "final"
    assert "Write plainly about Iced tea, 18°C" in model.requests[1].messages[-1]["content"]
    copy = resumed.steps[0]
    assert copy.output == "Iced tea, 18°C"
    assert [e.kind for e in copy.events][-2:] == ["on_fail", "answered"]


async def test_a_hand_off_lets_running_siblings_finish(tmp_path: Path) -> None:
    sibling = {
        "id": "aside",
        "function": "talk.plain",
        "arguments": {"input": "lemonade"},
        "capability": "write",
    }
    plan = {"steps": [step({"regex": "tea", "on_fail": ["human"]}), sibling]}
    model = ScriptedChatCompletion("local", [Reply("coffee"), Reply("lemonade!")])
    async with AgentHost(write_config(tmp_path), models={"local": model}) as host:
        paused = await host.execute(plan)
        resumed = await host.resume(paused.run_id, "tea it is")
    assert paused.status == "needs_human" and "failed validation" in (paused.question or "")
    assert resumed.status == "ok" and len(model.requests) == 2  # the sibling ran once
    assert [r.output for r in resumed.steps] == ["tea it is", "lemonade!"]


async def test_config_validation_applies_to_steps_without_their_own(tmp_path: Path) -> None:
    extra = (
        "validation:\n  talk.write:\n    mentions: ['{facts}']\n"
        "    on_fail: [alternative]\n    alternative: {template: 'Fallback: {facts}'}\n"
    )
    result, _ = await run_one(tmp_path, None, ["no numbers"], extra)  # type: ignore[arg-type]
    assert result.output == "Fallback: Shanghai 18°C on 2026-11-24" and result.degraded


async def test_an_unknown_template_name_fails_clearly(tmp_path: Path) -> None:
    validation = {"mentions": ["{city}"]}
    result, _ = await run_one(tmp_path, validation, ["x"])
    assert result.status == "failed"
    assert result.error == "copy: template names unknown value {city}"


async def test_the_route_fallback_serves_when_the_routed_model_fails(tmp_path: Path) -> None:
    extra_models = (
        "  writer:\n    provider: scripted\n    model: big\n    cost: {input: 1, output: 2}\n"
    )
    config = write_config(tmp_path)
    text = config.read_text().replace("plugins:", extra_models + "plugins:", 1)
    config.write_text(text)
    writer = ScriptedChatCompletion("writer", [Raise(RuntimeError("writer down"))])
    local = ScriptedChatCompletion("local", [Reply("18°C, tea")])
    async with AgentHost(config, models={"local": local, "writer": writer}) as host:
        result = await host.execute({"steps": [step(None)]})
    assert result.status == "ok" and result.output == "18°C, tea"
    (record,) = result.steps
    assert record.model == "local"
    assert "write → strongest capable: writer" in (record.route_reason or "")
    assert ("fallback", "local", "ok") in [(e.kind, e.target, e.outcome) for e in record.events]


@pytest.mark.parametrize(
    ("fact", "text", "absent"),
    [
        ("Shanghai 18°C on 2026-11-24", "18°C in Shanghai", []),
        ("Shanghai 18°C on 2026-11-24", "19°C in Shanghai", ["18"]),
        ("Oslo -4°C on 2026-12-02", "Oslav -4°C on 2026-12-02!", ["'Oslo'"]),
        ("Hong Kong 24°C", "hong kong is 24°C", []),
        ("Shanghai 18°C on 2026-11-24", "Shanghai's 18°C calls for tea", []),
        ("Oslo -4°C", "Oslovia -4°C", ["'Oslo'"]),
        ("Hong Kong 24°C", "Kong 25°C", ["24", "'Hong'"]),
        ("Zurich -3°C at 06:00", "Zurich \u22123°C!", []),
        ("18.5 and 20", "it is 18.5", ["20"]),
        ("free delivery", "Free Delivery today", []),
        ("free delivery", "delivery", ["'free delivery'"]),
    ],
)
def test_mentions_compare_numbers_and_names_not_dates(
    fact: str, text: str, absent: list[str]
) -> None:
    assert missing_facts(fact, text) == absent


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ('{"ok": true, "reason": "fine"}', (True, "fine")),
        ("No. It is too long.", (False, "It is too long.")),
        ("yes", (True, "yes")),
        ("", (False, "no answer")),
    ],
)
def test_judge_replies_are_read_as_json_or_yes_no(reply: str, verdict: tuple[bool, str]) -> None:
    assert judgement(reply) == verdict


async def test_a_native_output_json_cannot_hold_is_checked_as_its_text() -> None:
    rules = Validation(regex=r"^\"2026-01-02\"$", mentions=["{steps.day.output}"])
    state = RunState(run_id="r")
    state.outputs["day"] = date(2026, 1, 2)
    facts = [render(mention, {}, state, "copy") for mention in rules.mentions]

    verdict = await check(rules, date(2026, 1, 2), facts, None)

    assert facts == ['"2026-01-02"']
    assert verdict.problems == ()


def test_confidence_is_the_share_of_checks_passed() -> None:
    assert Verdict(("one",), 4).confidence == 0.75
    assert Verdict((), 0).confidence == 1.0


@pytest.mark.parametrize(
    ("schema", "where"),
    [
        ({"$ref": "#/$defs/missing"}, "'#/$defs/missing'"),
        (
            {"properties": {"to": {"$ref": "address.json"}}},
            "['properties']['to']: $ref 'address.json'",
        ),
        ({"$ref": "http://127.0.0.1:9/schema.json"}, "'http://127.0.0.1:9/schema.json'"),
    ],
)
async def test_a_schema_ref_that_does_not_resolve_refuses_the_plan(
    tmp_path: Path, schema: dict[str, Any], where: str
) -> None:
    """Caught: the $ref raised referencing's Unresolvable out of the run as an
    ExceptionGroup (and a remote one was fetched over the network first)."""
    result, model = await run_one(tmp_path, {"json_schema": schema}, ['{"to": "Bo"}'])
    assert result.status == "failed" and not model.requests
    assert "steps.0.validation.json_schema" in (result.error or "")
    assert where in (result.error or "")
    assert "does not resolve" in (result.error or "")


async def test_a_schema_ref_within_the_schema_checks_the_output(tmp_path: Path) -> None:
    schema = {
        "$defs": {"level": {"enum": ["low", "high"]}},
        "properties": {"urgency": {"$ref": "#/$defs/level"}},
    }
    result, _ = await run_one(tmp_path, {"json_schema": schema}, ['{"urgency": "soon"}'])
    assert "output['urgency']: 'soon' is not one of ['low', 'high']" in (result.error or "")


@pytest.mark.parametrize(
    ("on_fail", "status"), [(["alternative", "human"], "needs_human"), (["alternative"], "failed")]
)
async def test_an_alternative_that_fails_gives_way_to_the_next_path(
    tmp_path: Path, on_fail: list[str], status: str
) -> None:
    """Caught: the alternative function's own failure failed the step at once, so the
    paths after it (a person, here) were never tried."""
    validation = {"regex": "^TEA", "on_fail": on_fail, "alternative": {"function": "talk.plain"}}
    model = ScriptedChatCompletion("local", [Reply("tea"), Raise(RuntimeError("plain down"))])
    async with AgentHost(write_config(tmp_path), models={"local": model}) as host:
        result = await host.execute({"steps": [step(validation)]})
    assert result.status == status, result.error
    (record,) = result.steps
    paths = [(e.target, e.outcome) for e in record.events if e.kind == "on_fail"]
    assert paths[0] == ("alternative", "failed")
    if status == "failed":
        assert record.error_type == "ValidationFailedError"
        assert "output does not match '^TEA'" in (result.error or "")
        assert "alternative talk.plain failed" in (result.error or "")
        assert "plain down" in (result.error or "")
