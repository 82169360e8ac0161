"""Concurrent teams: every agent answers at once, then a vote or a judge settles it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from host import AgentHost
from host.agents import Resolution, Team
from host.testing import Delay, Raise, Reply, ScriptedChatCompletion
from host.testing.clock import VirtualClock
from tests.agents.team_kit import AGENTS, REVIEWERS, by_agent, write_host

VOTERS = ("rev_a", "rev_b", "rev_c")


def verdict(value: str) -> Reply:
    return Reply(json.dumps({"verdict": value, "reason": f"it is {value}"}), (100, 100))


def voting(*agents: str) -> Team:
    return Team(name="vote", kind="concurrent", agents=agents, resolve=Resolution(vote="verdict"))


def prompts(model: ScriptedChatCompletion) -> dict[str, str]:
    """Each turn's prompt, by the agent it was for."""
    texts = [str(request.messages[-1]["content"]) for request in model.requests]
    return {text.rsplit("You are ", 1)[1].split(".")[0]: text for text in texts}


JUDGED = Team(
    name="judged", kind="concurrent", agents=("writer", "critic"), resolve=Resolution(judge="judge")
)
"""Writer and critic answer at once; the configured agent ``judge`` decides."""


async def test_without_resolve_the_output_is_every_reply_by_agent_each_seeing_only_the_task(
    tmp_path: Path,
) -> None:
    model = ScriptedChatCompletion(
        "local", default=by_agent({"writer": Reply("w"), "critic": Reply("c")})
    )
    team = Team(name="pair", kind="concurrent", agents=("writer", "critic"))
    async with AgentHost(write_host(tmp_path), models={"local": model}) as host:
        result = await host.run_team(team, "Sell lemons")

    assert (result.status, result.output) == ("ok", {"writer": "w", "critic": "c"})
    assert [step.step_id for step in result.steps] == ["turn_1_writer", "turn_1_critic"]
    assert result.plan == "team pair (concurrent): 2 turn(s)"
    for text in prompts(model).values():
        assert "Sell lemons" in text and "(nothing yet)" in text


async def test_the_turns_run_at_once_taking_one_turns_time_not_the_sum(tmp_path: Path) -> None:
    clock = VirtualClock()
    delays = {"writer": 10.0, "critic": 30.0, "editor": 20.0}
    model = ScriptedChatCompletion(
        "local",
        default=by_agent({name: Delay(s, Reply(name)) for name, s in delays.items()}),
        clock=clock,
    )
    team = Team(name="trio", kind="concurrent", agents=tuple(delays))
    async with AgentHost(write_host(tmp_path), models={"local": model}, clock=clock) as host:
        began = clock.now()
        result = await host.run_team(team, "task")
        took = clock.now() - began

    assert result.status == "ok"
    assert took == pytest.approx(30.0)
    # In agents order, whatever order they finished in (writer, editor, critic).
    assert [step.step_id for step in result.steps] == [
        "turn_1_writer",
        "turn_1_critic",
        "turn_1_editor",
    ]


@pytest.mark.parametrize(
    ("votes", "output", "reason"),
    [
        (
            ("approved", "changes_requested", "approved"),
            "approved",
            "vote on verdict: approved 2 of 3 (rev_a, rev_c)",
        ),
        (
            ("changes_requested", "approved", "approved"),
            "approved",
            "vote on verdict: approved 2 of 3 (rev_b, rev_c)",
        ),
        (
            ("changes_requested", "approved", "maybe"),
            "changes_requested",
            "vote on verdict: changes_requested 1 of 3 (rev_a), a tie broken by agent order",
        ),
        (
            ("maybe", "approved", "approved"),
            "approved",
            "vote on verdict: approved 2 of 3 (rev_b, rev_c)",
        ),
    ],
    ids=["majority", "majority after a dissent", "three-way tie", "majority beats first"],
)
async def test_a_vote_outputs_the_majority_value_with_its_reason(
    tmp_path: Path, votes: tuple[str, ...], output: str, reason: str
) -> None:
    model = ScriptedChatCompletion(
        "local", default=by_agent({n: verdict(v) for n, v in zip(VOTERS, votes, strict=True)})
    )
    async with AgentHost(
        write_host(tmp_path, agents=AGENTS + REVIEWERS), models={"local": model}
    ) as host:
        result = await host.run_team(voting(*VOTERS), "task")
        host.run_store.flush()
        stored = host.run_store.get(result.run_id)

    assert (result.status, result.output) == ("ok", output)
    assert result.plan == f"team vote (concurrent): 3 turn(s); {reason}"
    assert stored is not None and stored.plan == result.plan


async def test_a_two_way_tie_goes_to_the_first_listed_agents_value(tmp_path: Path) -> None:
    model = ScriptedChatCompletion(
        "local", default=by_agent({"rev_a": verdict("no"), "rev_b": verdict("yes")})
    )
    async with AgentHost(
        write_host(tmp_path, agents=AGENTS + REVIEWERS), models={"local": model}
    ) as host:
        first_a = await host.run_team(voting("rev_a", "rev_b"), "task")
        first_b = await host.run_team(voting("rev_b", "rev_a"), "task")

    assert (first_a.output, first_b.output) == ("no", "yes")
    assert first_b.plan is not None and first_b.plan.endswith(
        "vote on verdict: yes 1 of 2 (rev_b), a tie broken by agent order"
    )


async def test_a_judge_reads_every_reply_and_its_reply_is_the_output_and_the_reason(
    tmp_path: Path,
) -> None:
    ruling = '{"verdict": "approved"}'
    model = ScriptedChatCompletion(
        "local",
        default=by_agent(
            {"writer": Reply("short"), "critic": Reply("long"), "judge": Reply(ruling)}
        ),
    )
    async with AgentHost(write_host(tmp_path), models={"local": model}) as host:
        result = await host.run_team(JUDGED, "task")

    assert (result.status, result.output) == ("ok", ruling)
    assert [step.step_id for step in result.steps] == [
        "turn_1_writer",
        "turn_1_critic",
        "turn_2_judge",
    ]
    assert "writer: short\n\ncritic: long" in prompts(model)["judge"]
    assert result.plan == f"team judged (concurrent): 3 turn(s); judge judge: {ruling}"


async def test_a_spent_budget_ends_the_round_before_the_judge(tmp_path: Path) -> None:
    model = ScriptedChatCompletion(
        "local",
        default=by_agent({"writer": Reply("w", (100, 100)), "critic": Reply("c", (100, 100))}),
    )
    team = JUDGED.model_copy(update={"max_tokens": 400})
    async with AgentHost(write_host(tmp_path), models={"local": model}) as host:
        result = await host.run_team(team, "task")

    assert (result.status, result.error) == ("budget_exceeded", "spent 400 tokens (max_tokens 400)")
    assert result.output == {"writer": "w", "critic": "c"}
    assert len(model.requests) == 2


@pytest.mark.parametrize("judged", [False, True], ids=["vote", "judge"])
async def test_a_failed_turn_fails_the_run_after_the_others_end_keeping_every_record(
    tmp_path: Path, judged: bool
) -> None:
    clock = VirtualClock()
    model = ScriptedChatCompletion(
        "local",
        default=by_agent(
            {
                "rev_a": Delay(5, verdict("approved")),
                "rev_b": Raise(ConnectionError("down")),
                "rev_c": Delay(5, verdict("approved")),
            }
        ),
        clock=clock,
    )
    resolve = Resolution(judge="judge") if judged else Resolution(vote="verdict")
    team = Team(name="vote", kind="concurrent", agents=VOTERS, resolve=resolve)
    async with AgentHost(
        write_host(tmp_path, agents=AGENTS + REVIEWERS), models={"local": model}, clock=clock
    ) as host:
        result = await host.run_team(team, "task")

    assert (result.status, result.output) == ("failed", None)
    assert result.error is not None and result.error.startswith("agent 'rev_b': ")
    assert [(s.step_id, s.status) for s in result.steps] == [
        ("turn_1_rev_a", "ok"),
        ("turn_1_rev_b", "failed"),
        ("turn_1_rev_c", "ok"),
    ]
    assert len(model.requests) == 3


async def test_a_failed_judge_fails_the_run_keeping_every_reply(tmp_path: Path) -> None:
    model = ScriptedChatCompletion(
        "local",
        default=by_agent({"writer": Reply("w"), "critic": Reply("c"), "judge": Reply("fine")}),
    )
    async with AgentHost(write_host(tmp_path), models={"local": model}) as host:
        result = await host.run_team(JUDGED, "task")

    assert (result.status, result.output) == ("failed", None)
    assert result.error is not None and result.error.startswith(
        "judge 'judge': step 'turn_2_judge' failed validation: output is not JSON"
    )
    assert [(s.step_id, s.status) for s in result.steps] == [
        ("turn_1_writer", "ok"),
        ("turn_1_critic", "ok"),
        ("turn_2_judge", "failed"),
    ]
