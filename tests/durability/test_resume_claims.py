"""Resuming claims a paused run for a lease: a crash loses nothing, two resumers never share it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from crash_kit import effects, killed_at, resume_command, write_mail_host

from host import AgentHost
from host.errors import (
    InvalidArgumentsError,
    LostClaimError,
    RunBusyError,
    RunWaitingError,
    UnknownRunError,
    WorkflowError,
)
from host.idempotency import IdempotencyStore
from host.paused_runs import DEFAULT_LEASE, PausedRuns, Snapshot, Waiting
from host.state import RunState
from host.testing import VirtualClock
from host.workflows import WorkflowBuilder

pytestmark = pytest.mark.reliability

PLAN: dict[str, Any] = {
    "steps": [
        {"id": "draft", "function": "mail.draft", "capability": "write"},
        {
            "id": "send",
            "function": "mail.send",
            "arguments": {
                "to": "bo@example.com",
                "subject": "Hi",
                "body": {"$ref": "steps.draft.output"},
            },
            "depends_on": ["draft"],
            "capability": "fetch",
        },
    ],
    "output": "send",
}


HOLD = {"id": "hold", "function": "mail.hold", "capability": "fetch"}


BOOK = {
    "id": "book",
    "function": "mail.post",
    "arguments": {"text": "book"},
    "depends_on": ["draft"],
    "capability": "fetch",
    "compensate": {"function": "mail.post", "arguments": {"text": "cancel"}},
}


def host_waiting(tmp_path: Path) -> list[Waiting]:
    """The runs waiting in ``tmp_path``'s run database."""
    store = PausedRuns(tmp_path / "runs.sqlite3")
    try:
        return store.waiting()
    finally:
        store.close()


class Clock:
    """Wall-clock seconds a test sets by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def paused_store(clock: Clock, lease: float = 10.0) -> PausedRuns:
    """A store (in memory, time from ``clock``) with run ``r1`` waiting."""
    store = PausedRuns(lease=lease, now=clock)
    state = RunState({}, run_id="r1")
    store.keep(Snapshot("plan", {}, "", None, "s1", "?", (), state))
    return store


async def test_a_resumer_killed_mid_run_blocks_others_until_its_lease_lapses(
    tmp_path: Path,
) -> None:
    config = write_mail_host(tmp_path)
    async with AgentHost(config) as host:
        paused = await host.execute(PLAN, run_id="r1")
    assert paused.status == "needs_human"

    killed_at(tmp_path, "between", resume_command(config, "r1", "OK, hello"))
    assert effects(tmp_path) == (1, 0)
    async with AgentHost(config) as host:
        with pytest.raises(RunBusyError) as busy:
            await host.resume("r1", "OK, hello")
        assert busy.value.run_id == "r1" and busy.value.retryable

        lapsed = PausedRuns(tmp_path / "runs.sqlite3", now=lambda: time.time() + DEFAULT_LEASE)
        lapsed.release(lapsed.claim("r1"), "the resumer was killed")
        lapsed.close()
        resumed = await host.resume("r1", "OK, hello")
        assert resumed.status == "ok", resumed.error
        with pytest.raises(UnknownRunError):
            await host.resume("r1", "OK, hello")
    assert effects(tmp_path) == (1, 0)


async def test_a_failed_resume_leaves_the_run_waiting_with_its_error(tmp_path: Path) -> None:
    config = write_mail_host(tmp_path)
    outbox = tmp_path / "outbox"
    outbox.write_text("a file where the outbox folder should be")
    async with AgentHost(config) as host:
        paused = await host.execute(PLAN, run_id="r1")
        failed = await host.resume("r1", "OK, hello")
        assert failed.status == "failed"
        [waiting] = host_waiting(tmp_path)
        assert waiting.run_id == "r1" and "FileExistsError" in (waiting.last_error or "")
        with pytest.raises(UnknownRunError, match=r"r1 \(last resume failed: "):
            await host.resume("r2", "OK")

        outbox.unlink()
        resumed = await host.resume("r1", "OK, hello")
    assert paused.status == "needs_human"
    assert resumed.status == "ok", resumed.error
    assert effects(tmp_path) == (1, 0)


async def test_a_resume_that_raises_leaves_the_run_waiting_with_its_error(
    tmp_path: Path,
) -> None:
    config = write_mail_host(tmp_path)
    bare = tmp_path / "bare.yaml"
    bare.write_text(
        "models:\n  local:\n    provider: scripted\n    model: s\n"
        f"runs:\n  database: {tmp_path / 'runs.sqlite3'}\n"
    )
    workflow = (
        WorkflowBuilder("notify")
        .ask("approval", "Send it?")
        .step("send", "mail.post", {"text": "hello"})
        .edge("approval", "send")
        .build()
    )
    async with AgentHost(config) as host:
        paused = await host.run_workflow(workflow)
    async with AgentHost(bare) as without_mail:
        with pytest.raises(WorkflowError, match=r"mail\.post"):
            await without_mail.resume(paused.run_id, "yes")
    async with AgentHost(config) as host:
        [waiting] = host_waiting(tmp_path)
        assert "mail.post" in (waiting.last_error or "")
        resumed = await host.resume(paused.run_id, "yes")
    assert resumed.status == "ok", resumed.error
    assert effects(tmp_path) == (0, 1)


async def test_a_resumed_run_that_fails_and_compensates_is_finished(tmp_path: Path) -> None:
    config = write_mail_host(tmp_path)
    (tmp_path / "outbox").write_text("a file where the outbox folder should be")
    plan = {**PLAN, "steps": [PLAN["steps"][0], BOOK, {**PLAN["steps"][1], "depends_on": ["book"]}]}
    async with AgentHost(config) as host:
        await host.execute(plan, run_id="r1")
        failed = await host.resume("r1", "OK, hello")
        with pytest.raises(UnknownRunError):
            await host.resume("r1", "OK, hello")
    assert failed.status == "failed"
    assert [r.step_id for r in failed.compensations] == ["book_undo"]
    assert (tmp_path / "ledger.txt").read_text().splitlines() == ["book", "cancel"]


async def test_a_held_claim_is_renewed_until_the_block_ends() -> None:
    clock = VirtualClock(start=1000.0)
    store = PausedRuns(lease=10.0, now=clock.now, sleep=clock.sleep)
    store.keep(Snapshot("plan", {}, "", None, "s1", "?", (), RunState({}, run_id="r1")))
    claim = store.claim("r1")
    async with store.holding(claim):
        await clock.sleep(25.0)
        with pytest.raises(RunBusyError):
            store.claim("r1")
    await clock.sleep(10.0)
    assert store.claim("r1").owner != claim.owner


@pytest.mark.parametrize(
    ("seconds_later", "renewed", "taken"),
    [(5.0, False, False), (10.0, False, True), (15.0, False, True), (15.0, True, False)],
)
def test_a_claim_holds_for_its_lease_from_the_last_renewal(
    seconds_later: float, renewed: bool, taken: bool
) -> None:
    clock = Clock()
    store = paused_store(clock)
    first = store.claim("r1")
    if renewed:
        clock.now += 9.0
        store.renew(first)
        clock.now -= 9.0
    clock.now += seconds_later
    if taken:
        assert store.claim("r1").owner != first.owner
    else:
        with pytest.raises(RunBusyError, match="'r1' is being resumed elsewhere"):
            store.claim("r1")


def test_a_lost_claim_neither_finishes_nor_releases_the_run() -> None:
    clock = Clock()
    store = paused_store(clock)
    lost = store.claim("r1")
    clock.now += 10.0
    holder = store.claim("r1")
    store.finish(lost)
    store.release(lost, "late")
    with pytest.raises(RunBusyError):
        store.claim("r1")
    store.finish(holder)
    assert store.waiting() == []


def test_pausing_again_replaces_the_snapshot_and_frees_the_claim() -> None:
    clock = Clock()
    store = paused_store(clock)
    claim = store.claim("r1")
    store.release(claim, "boom")
    store.claim("r1")
    store.keep(claim.snapshot)
    assert [(w.run_id, w.last_error) for w in store.waiting()] == [("r1", None)]
    assert store.claim("r1").snapshot.waiting_step == "s1"


def test_text_that_is_not_utf8_is_kept_and_read_back_as_it_was(tmp_path: Path) -> None:
    undecodable = "caf\udcff"  # what argv gives for the byte 0xff
    paused = PausedRuns(tmp_path / "runs.sqlite3")
    keys = IdempotencyStore(tmp_path / "runs.sqlite3")
    state = RunState({"text": undecodable, "plain": "café"}, run_id="r1")
    paused.keep(Snapshot("workflow", {}, "", None, "ask", f"Post {undecodable}?", (), state))
    keys.put("r1/post", "mail.post", f"posted {undecodable}")

    snapshot = paused.claim("r1").snapshot

    assert snapshot.state.values == {"text": undecodable, "plain": "café"}
    assert snapshot.question == f"Post {undecodable}?"
    assert keys.get("r1/post") == ("done", f"posted {undecodable}")
    paused.close()
    keys.close()


async def test_a_cancelled_resume_leaves_the_run_waiting_in_the_run_store_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kills: the cancelled resume recorded as a ``cancelled`` run, while the run was still
    waiting for its person (and resumable)."""
    config = write_mail_host(tmp_path)
    plan = {"steps": [PLAN["steps"][0], {**HOLD, "depends_on": ["draft"]}], "output": "hold"}
    async with AgentHost(config) as host:
        paused = await host.execute(plan, run_id="r1")
    assert paused.status == "needs_human"

    monkeypatch.setenv("CRASH_STOP_AT", "after")  # mail.hold waits there until cancelled
    async with AgentHost(config) as host:
        resuming = asyncio.create_task(host.resume("r1", "OK, hello"))
        while not (tmp_path / "signal").exists():  # noqa: ASYNC110 - the plugin's file
            await asyncio.sleep(0.01)
        resuming.cancel()
        with pytest.raises(asyncio.CancelledError):
            await resuming
        host.run_store.flush()
        recorded = host.run_store.get("r1")

    assert recorded is not None and recorded.status == "needs_human"
    assert [waiting.run_id for waiting in host_waiting(tmp_path)] == ["r1"]


STALLING = """\
import subprocess, sys
from pathlib import Path

from semantic_kernel.functions import kernel_function


class Stall:
    plugin_name = "stall"

    def __init__(self, *, config: str) -> None:
        self._config = config

    @kernel_function(name="draft", description="Draft a text.")
    def draft(self, text: str = "draft") -> str:
        return text

    @kernel_function(name="chew", description="On a late answer, stall while another resumes.")
    def chew(self, text: str) -> str:
        if text.startswith("late"):
            other = [sys.executable, "-m", "host", "resume", "r1", "OK, on time"]
            done = subprocess.run(
                [*other, "--config", self._config], capture_output=True, text=True, timeout=120
            )
            Path(self._config).with_name("other.out").write_text(f"{done.returncode} {done.stdout}")
        return text
"""


async def test_a_resume_that_lost_its_claim_does_not_bring_a_finished_run_back(
    tmp_path: Path,
) -> None:
    """Caught: a resume whose lease lapsed while it stalled paused the run again after the
    resume that took it over had finished it, so the finished run waited once more."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "stall.py").write_text(STALLING)
    config = tmp_path / "host.yaml"
    config.write_text(
        "models:\n  local:\n    provider: scripted\n    model: s\n"
        f"tools:\n  stall:\n    settings:\n      config: {config}\n"
        f"plugins:\n  directories: [{plugins}]\n"
        f"runs:\n  database: {tmp_path / 'runs.sqlite3'}\n  lease: 0.05\n"
        "validation:\n  stall.draft:\n    regex: '^OK'\n    on_fail: [human]\n"
        "    question: What should it say?\n"
    )
    plan = {
        "steps": [
            {"id": "ask", "function": "stall.draft", "capability": "fetch"},
            {
                "id": "chew",
                "function": "stall.chew",
                "arguments": {"text": {"$ref": "steps.ask.output"}},
                "depends_on": ["ask"],
                "capability": "fetch",
            },
            {
                "id": "say",
                "function": "stall.draft",
                "arguments": {"text": {"$ref": "steps.chew.output"}},
                "depends_on": ["chew"],
                "capability": "fetch",
            },
        ],
        "output": "say",
    }
    async with AgentHost(config) as host:
        paused = await host.execute(plan, run_id="r1")
        assert paused.status == "needs_human"
        with pytest.raises(LostClaimError) as lost:
            await host.resume("r1", "late answer")  # stalls: the other process takes over
        assert lost.value.run_id == "r1"
        with pytest.raises(UnknownRunError):
            await host.resume("r1", "OK, again")
    assert (tmp_path / "other.out").read_text() == "0 OK, on time\n"
    assert host_waiting(tmp_path) == []


async def test_an_answer_nested_too_deep_is_refused_and_the_run_keeps_waiting(
    tmp_path: Path,
) -> None:
    """Caught: a resume whose run paused again raised a raw RecursionError while storing
    an answer nested thousands of levels deep."""
    config = write_mail_host(tmp_path)
    second = {"id": "again", "function": "mail.draft", "depends_on": ["draft"]}
    plan = {"steps": [PLAN["steps"][0], {**second, "capability": "write"}], "output": "again"}
    answer: Any = "OK"
    for _ in range(5000):
        answer = [answer]
    async with AgentHost(config) as host:
        await host.execute(plan, run_id="r1")
        with pytest.raises(InvalidArgumentsError, match="answer nests deeper than 100 levels"):
            await host.resume("r1", answer)
        assert host_waiting(tmp_path) == [Waiting("r1", None)]
        again = await host.resume("r1", "OK, hello")
    assert again.status == "needs_human" and again.waiting_step == "again"


async def test_executing_a_waiting_run_id_again_is_refused_and_the_pause_kept(
    tmp_path: Path,
) -> None:
    """Kills: the second execution run from scratch under the waiting run's id, its pause
    replacing the first (and the claim of a resume holding it dropped)."""
    config = write_mail_host(tmp_path)
    async with AgentHost(config) as host:
        paused = await host.execute(PLAN, run_id="r1")
        with pytest.raises(RunWaitingError, match="resume it"):
            await host.execute(PLAN, run_id="r1")
        assert host_waiting(tmp_path) == [Waiting("r1", None)]
        resumed = await host.resume("r1", "OK, hello")

    assert paused.status == "needs_human" and resumed.status == "ok", resumed.error
    assert effects(tmp_path) == (1, 0)
