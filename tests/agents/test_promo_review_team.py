"""The shipped promotion-review team (teams/promo_review.yaml) on the shipped config: scripted,
then on the embedded model."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from semantic_kernel.connectors.ai.prompt_execution_settings import PromptExecutionSettings
from semantic_kernel.contents import ChatHistory

from host import AgentHost
from host.testing import Reply, ScriptedChatCompletion
from host.testing.scripted import Step
from tests.conftest import ROOT

TEAM = ROOT / "teams" / "promo_review.yaml"
FACTS = "Shanghai 18°C on 2026-11-29"
TEMPLATE = f"{FACTS}. Come and enjoy it at our shop!"


def verdict(said: str, reason: str) -> Reply:
    return Reply(json.dumps({"verdict": said, "reason": reason}, ensure_ascii=False))


def team_model(replies: dict[str, Iterator[Reply]]) -> ScriptedChatCompletion:
    """The shipped config's ``local`` model, answering the promo writer's prompt and each
    agent (the coordinator too) from their own replies, in order."""

    def respond(history: ChatHistory, _: PromptExecutionSettings) -> Step:
        prompt = str(history.messages[-1].content)
        if prompt.startswith("Write promo copy for"):
            return next(replies["promo_writer"])
        speaker = prompt.rsplit("You are ", 1)[1].split(".", 1)[0]
        return next(
            replies[speaker.split("_")[0] if speaker.startswith("coordinator_") else speaker]
        )

    return ScriptedChatCompletion("local", default=respond)


def drafts(*copies: str) -> Iterator[Reply]:
    return iter(Reply(copy) for copy in copies)


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_HOST_WEATHER_NETWORK", "false")
    monkeypatch.setenv("AGENT_HOST_RUNS_DB", ":memory:")


async def test_a_disagreement_is_decided_and_a_rejection_goes_back_with_its_reasons() -> None:
    model = team_model(
        {
            "promo_writer": drafts(
                "Shanghai is 18°C! Come in.", "Shanghai 18°C on 2026-11-29! Come in."
            ),
            "reviewer": iter([verdict("approved", "lively"), verdict("approved", "good")]),
            "fact_checker": iter(
                [verdict("changes_requested", "the copy omits 18°C"), verdict("approved", "ok")]
            ),
            "coordinator": iter([Reply('{"choice": "fact_checker", "reason": "facts first"}')]),
        }
    )
    async with AgentHost(models={"local": model}) as host:
        result = await host.run_team(TEAM, FACTS)

    assert result.status == "ok", result.error
    assert result.output == "Shanghai 18°C on 2026-11-29! Come in."
    first = result.steps[0]
    assert (first.step_id, first.function) == ("turn_1_promo_writer", "marketing.promo_copy")
    assert [s.step_id for s in result.steps] == [
        "turn_1_promo_writer",
        "turn_2_reviewer",
        "turn_2_fact_checker",
        "turn_3_coordinator",
        "turn_4_promo_writer",
        "turn_5_reviewer",
        "turn_5_fact_checker",
    ]
    asked = [r.messages[-1]["content"] for r in model.requests]
    first, redraft = [prompt for prompt in asked if prompt.startswith("Write promo copy for")]
    assert first.endswith("Must mention: Shanghai 18°C on 2026-11-29")
    assert redraft.endswith(
        "The reviewers asked for changes: Decision: coordinator chose fact_checker: facts first"
    )
    assert result.plan is not None and result.plan.endswith("review agree: approved")
    assert not result.degraded


async def test_copy_never_approved_ends_on_the_template_after_three_drafts() -> None:
    no = verdict("changes_requested", "dull")
    model = team_model(
        {
            "promo_writer": drafts(*(f"Shanghai day {n}: 18°C! Come in." for n in (1, 2, 3))),
            "reviewer": iter([no] * 3),
            "fact_checker": iter([no] * 3),
        }
    )
    async with AgentHost(models={"local": model}) as host:
        result = await host.run_team(TEAM, FACTS)

    assert (result.status, result.output, result.degraded) == ("ok", TEMPLATE, True)
    assert [s.step_id.split("_", 2)[-1] for s in result.steps].count("promo_writer") == 3
    assert result.plan is not None and "fallback (reached max_rounds (6))" in result.plan


@pytest.mark.slow
async def test_promo_review_ends_with_usable_copy_on_the_embedded_model() -> None:
    async with AgentHost() as host:
        result = await host.run_team(TEAM, FACTS)

    assert result.status == "ok", result.error
    assert isinstance(result.output, str) and result.output.strip()
    assert {s.model for s in result.steps if s.step_id != "fallback"} == {"local"}
    assert result.plan is not None
    reason = result.plan.split("; ", 1)[1]  # why the copy is what it is
    if result.degraded:
        assert result.output == TEMPLATE and reason.startswith("fallback (")
    else:
        assert reason in ("review agree: approved",) or reason.startswith("coordinator chose ")
