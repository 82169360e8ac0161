"""A host SIGKILLed around a side effect: run again under the same run id, nothing is doubled.

Each case kills a real process at one point of a side-effecting step, then a
second process (this one) executes the same run id over the same
``runs.database`` and counts the effects in the outbox and the ledger.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from crash_kit import effects, execute_command, killed_at, write_mail_host

from host import AgentHost
from host.idempotency import effect_key

pytestmark = pytest.mark.reliability


def plan(function: str) -> dict[str, Any]:
    """One side-effecting step through ``function``, then ``mail.hold``."""
    arguments = {
        "mail.send": {"to": "bo@example.com", "subject": "Hi", "body": "Hello"},
        "mail.post": {"text": "hello"},
    }[function]
    return {
        "steps": [
            {"id": "act", "function": function, "arguments": arguments, "capability": "fetch"},
            {"id": "hold", "function": "mail.hold", "depends_on": ["act"], "capability": "fetch"},
        ],
        "output": "act",
    }


@pytest.mark.parametrize(
    ("function", "stop_at", "at_kill", "replayed"),
    [
        ("mail.send", "before", (0, 0), False),
        ("mail.send", "between", (1, 0), False),
        ("mail.send", "after", (1, 0), True),
        ("mail.post", "after", (0, 1), True),
    ],
)
async def test_a_run_killed_around_an_effect_completes_with_the_effect_made_once(
    tmp_path: Path, function: str, stop_at: str, at_kill: tuple[int, int], replayed: bool
) -> None:
    config = write_mail_host(tmp_path)
    killed_at(tmp_path, stop_at, execute_command(config, plan(function), "r1"))
    assert effects(tmp_path) == at_kill

    async with AgentHost(config) as host:
        result = await host.execute(plan(function), run_id="r1")

    assert result.status == "ok", result.error
    assert effects(tmp_path) == ((1, 0) if function == "mail.send" else (0, 1))
    act = result.steps[0]
    assert ("replayed" in [event.kind for event in act.events]) == replayed
    if function == "mail.send" and not replayed:
        assert act.arguments["idempotency_key"] == effect_key("r1", "act")


@pytest.mark.parametrize("stop_at", ["before", "between"])
async def test_an_effect_not_idempotent_by_key_with_an_unknown_outcome_waits_for_a_person(
    tmp_path: Path, stop_at: str
) -> None:
    config = write_mail_host(tmp_path)
    killed_at(tmp_path, stop_at, execute_command(config, plan("mail.post"), "r1"))
    posted = effects(tmp_path)

    async with AgentHost(config) as host:
        paused = await host.execute(plan("mail.post"), run_id="r1")
        assert paused.status == "needs_human" and paused.waiting_step == "act"
        assert "'r1/act'" in (paused.question or "") and "may or may not" in (paused.question or "")
        assert effects(tmp_path) == posted, "the effect was not run again"
        resumed = await host.resume("r1", "posted hello")

    assert resumed.status == "ok" and resumed.output == "posted hello"
    assert effects(tmp_path) == posted


async def test_an_effect_that_raised_did_not_act_and_runs_again_under_its_key(
    tmp_path: Path,
) -> None:
    config = write_mail_host(tmp_path)
    ledger = tmp_path / "ledger.txt"
    ledger.mkdir()
    async with AgentHost(config) as host:
        failed = await host.execute(plan("mail.post"), run_id="r1")
        ledger.rmdir()
        again = await host.execute(plan("mail.post"), run_id="r1")

    assert failed.status == "failed"
    assert again.status == "ok", again.question
    assert effects(tmp_path) == (0, 1)


async def test_a_plan_cannot_choose_the_idempotency_key(tmp_path: Path) -> None:
    config = write_mail_host(tmp_path)
    chosen = plan("mail.send")
    chosen["steps"][0]["arguments"]["idempotency_key"] = "mine"
    async with AgentHost(config) as host:
        result = await host.execute(chosen, run_id="r1")
    assert result.status == "failed"
    assert "argument 'idempotency_key' is filled by the host" in (result.error or "")
    assert effects(tmp_path) == (0, 0)


async def test_a_side_effecting_alternative_is_made_once_when_the_run_is_run_again(
    tmp_path: Path,
) -> None:
    """Caught: a validation's alternative function was called without an idempotency key,
    so executing a run again after a crash (past the alternative) posted a second time."""
    config = write_mail_host(tmp_path)
    fallback = {"function": "mail.post", "arguments": {"text": "fallback"}}
    validation = {"regex": "^OK", "on_fail": ["alternative"], "alternative": fallback}
    draft = {"id": "act", "function": "mail.draft", "capability": "write", "validation": validation}
    hold = {"id": "hold", "function": "mail.hold", "depends_on": ["act"], "capability": "fetch"}
    degraded = {"steps": [draft, hold], "output": "act"}
    killed_at(tmp_path, "after", execute_command(config, degraded, "r1"))
    assert effects(tmp_path) == (0, 1)

    async with AgentHost(config) as host:
        result = await host.execute(degraded, run_id="r1")

    assert result.status == "ok" and result.output == "posted fallback", result.error
    assert result.degraded
    assert effects(tmp_path) == (0, 1)
    assert "replayed" in [event.kind for event in result.steps[0].events]
