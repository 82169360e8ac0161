"""The shipped email workflow end to end: real inbox, outbox and SQLite files, scripted models."""

from __future__ import annotations

import email
import json
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from host import AgentHost
from host.testing import (
    ChatReply,
    Delay,
    OpenAICompatibleServer,
    Reply,
    ScriptedChatCompletion,
    VirtualClock,
)
from tests.conftest import ROOT
from tests.workflows.workflow_kit import write_host

WORKFLOW = ROOT / "workflows" / "email_triage.yaml"
FIELDS = {
    "sender": "Anna Weber <anna@example.com>",
    "subject": "Invoice copy",
    "request": "send a copy of invoice 2024-113",
    "deadline": "Friday",
    "customer_id": "C-4821",
}
URGENCY = {"reason": "invoice by Friday", "urgency": "medium"}
DRAFT = (
    "Dear Anna Weber,\n\nWe will send a copy of invoice 2024-113 by Friday.\n\n"
    "Best regards,\nCustomer Service"
)


def write_inbox(tmp_path: Path) -> None:
    message = EmailMessage()
    message["From"] = "Anna Weber <anna@example.com>"
    message["To"] = "service@example.com"
    message["Subject"] = "Invoice copy"
    message.set_content("Please send me a copy of invoice 2024-113 for customer C-4821 by Friday.")
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "0001.eml").write_bytes(message.as_bytes())


def replies(fields: dict[str, str] = FIELDS) -> list[str]:
    return [json.dumps(fields), json.dumps(URGENCY), DRAFT]


def parse(data: bytes) -> EmailMessage:
    message: EmailMessage = email.message_from_bytes(data, policy=policy.default)
    return message


def outbox(tmp_path: Path) -> list[EmailMessage]:
    return [parse(path.read_bytes()) for path in sorted(tmp_path.glob("outbox/*.eml"))]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    write_inbox(tmp_path)
    return write_host(tmp_path)


async def test_the_email_waits_for_approval_and_is_sent_once_approved(
    tmp_path: Path, config: Path
) -> None:
    model = ScriptedChatCompletion("local", [Reply(text) for text in replies()])
    async with AgentHost(config, models={"local": model}) as host:
        paused = await host.run_workflow(WORKFLOW, {"message_id": "0001"})
        assert outbox(tmp_path) == []
        done = await host.resume(paused.run_id, "yes")

    assert (paused.status, paused.waiting_step) == ("needs_human", "approval")
    assert paused.question is not None
    assert paused.question.startswith(
        "Send this reply to anna@example.com?\n"
        "Urgency: medium (invoice by Friday)\n"
        "Customer: Anna Weber, tier gold\n"
        "Subject: Invoice copy\n\n"
        f"{DRAFT}\n"
    )
    assert [s.step_id for s in paused.steps] == ["read", "fields", "urgency", "customer", "draft"]
    assert done.status == "ok", done.error
    assert [s.step_id for s in done.steps][-2:] == ["approval", "send"]
    assert json.loads(done.output)["status"] == "written"
    [sent] = outbox(tmp_path)
    assert (sent["To"], sent["Subject"]) == ("anna@example.com", "Invoice copy")
    assert sent.get_content().strip() == DRAFT.strip()
    assert (tmp_path / "customers.sqlite3").is_file()


async def test_an_email_naming_no_account_skips_the_customer_lookup(
    tmp_path: Path, config: Path
) -> None:
    model = ScriptedChatCompletion(
        "local", [Reply(t) for t in replies({**FIELDS, "customer_id": ""})]
    )
    async with AgentHost(config, models={"local": model}) as host:
        paused = await host.run_workflow(WORKFLOW, {"message_id": "0001"})

    assert [s.step_id for s in paused.steps] == ["read", "fields", "urgency", "draft"]
    assert paused.question is not None and "Customer: not looked up, tier -" in paused.question
    assert not (tmp_path / "customers.sqlite3").exists()


async def test_a_declined_reply_is_not_sent(tmp_path: Path, config: Path) -> None:
    model = ScriptedChatCompletion("local", [Reply(text) for text in replies()])
    async with AgentHost(config, models={"local": model}) as host:
        paused = await host.run_workflow(WORKFLOW, {"message_id": "0001"})
        done = await host.resume(paused.run_id, "no, too formal")

    assert done.status == "ok"
    assert [s.step_id for s in done.steps][-1] == "approval"
    assert done.output is None
    assert outbox(tmp_path) == []


async def test_the_email_workflow_runs_on_the_openai_client(tmp_path: Path) -> None:
    write_inbox(tmp_path)
    async with OpenAICompatibleServer([ChatReply(text) for text in replies()]) as server:
        model = (
            f"  gpt:\n    provider: openai\n    model: gpt-test\n    base_url: {server.base_url}\n"
        )
        async with AgentHost(write_host(tmp_path, model=model)) as host:
            paused = await host.run_workflow(WORKFLOW, {"message_id": "0001"})
            done = await host.resume(paused.run_id, "yes")

    assert done.status == "ok", done.error
    assert [body["model"] for body in server.requests] == ["gpt-test"] * 3
    assert "invoice 2024-113" in server.requests[0]["messages"][-1]["content"]
    assert {s.model for s in done.steps if s.step_id in ("fields", "urgency", "draft")} == {"gpt"}
    [sent] = outbox(tmp_path)
    assert sent["To"] == "anna@example.com"


async def test_the_deadline_bounds_the_whole_run_not_each_node(
    tmp_path: Path, config: Path
) -> None:
    clock = VirtualClock()
    model = ScriptedChatCompletion(
        "local", [Delay(0.6, Reply(text)) for text in replies()], clock=clock
    )
    async with AgentHost(config, models={"local": model}, clock=clock) as host:
        result = await host.run_workflow(WORKFLOW, {"message_id": "0001"}, deadline=1.0)

    assert result.status == "failed"
    assert [(s.step_id, s.status) for s in result.steps] == [
        ("read", "ok"),
        ("fields", "ok"),
        ("urgency", "failed"),
    ]
    assert result.error == "deadline of 1s exceeded"
    assert clock.now() == pytest.approx(1.0)


@pytest.mark.slow
async def test_the_email_workflow_on_the_embedded_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENT_HOST_INBOX", str(ROOT / "examples" / "inbox"))
    monkeypatch.setenv("AGENT_HOST_OUTBOX", str(tmp_path / "outbox"))
    monkeypatch.setenv("AGENT_HOST_CUSTOMERS_DB", str(tmp_path / "customers.sqlite3"))
    workflow = ROOT / "workflows" / "email_triage.yaml"
    async with AgentHost() as host:
        paused = await host.run_workflow(workflow, {"message_id": "0001"})
        assert paused.status == "needs_human", paused.error
        assert paused.waiting_step == "approval"
        sent = await host.resume(paused.run_id, "yes")
    assert sent.status == "ok", sent.error
    fields = json.loads(sent.steps[1].output)
    assert set(fields) == {"sender", "subject", "request", "deadline", "customer_id"}
    assert json.loads(sent.steps[2].output)["urgency"] in {"low", "medium", "high"}
    (written,) = outbox(tmp_path)
    assert written["To"] == "raj@example.com"
    assert written.get_content().strip() == sent.steps[-3].output.strip()
