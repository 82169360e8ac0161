"""``agent-host workflow``: the email workflow from the command line, as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from host.cli import main
from tests.conftest import ROOT
from tests.workflows.test_email_workflow import replies, write_inbox
from tests.workflows.workflow_kit import write_host

EMAIL = ROOT / "workflows" / "email_triage.yaml"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    write_inbox(tmp_path)
    scripted = json.dumps(replies())
    model = (
        f"  local:\n    provider: scripted\n    model: s\n    options: {{replies: {scripted}}}\n"
    )
    return write_host(tmp_path, model=model)


def workflow(config: Path, *args: str, file: Path = EMAIL) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "host", "workflow", str(file), "--config", str(config), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def test_an_answer_on_the_command_line_approves_and_sends(tmp_path: Path, config: Path) -> None:
    done = workflow(config, "--input", "message_id=0001", "--answer", "yes")

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "written"
    assert "Send this reply to anna@example.com?" in done.stderr
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1


def test_without_an_answer_the_question_is_printed_and_nothing_is_sent(
    tmp_path: Path, config: Path
) -> None:
    paused = workflow(config, "--input", "message_id=0001")

    assert paused.returncode == 3
    assert paused.stdout == ""
    assert paused.stderr.startswith("needs a person: ")
    assert "(answer with --answer, on a terminal, or later: agent-host resume " in paused.stderr
    assert "Send this reply to anna@example.com?" in paused.stderr
    assert not (tmp_path / "outbox").exists()


def test_a_bad_workflow_file_is_one_error_line(tmp_path: Path, config: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nnodes:\n  a: {function: email.sendd}\n")

    failed = workflow(config, file=bad)

    assert failed.returncode == 2
    assert failed.stderr.startswith(
        f"error: {bad}:3: nodes.a.function: unknown function 'email.sendd' (did you mean"
    )


def test_an_input_nested_too_deeply_to_read_is_named(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deep = "[" * 60_000 + "]" * 60_000

    status = main(["workflow", str(EMAIL), "--config", str(config), "--input", f"body:={deep}"])

    assert status == 2
    assert capsys.readouterr().err == (
        "error: workflow: body: invalid JSON (nested too deeply to read)\n"
    )


@pytest.mark.parametrize(
    "inputs",
    [["message_id=0001", "message_id=0002"], ["message_id=0001", 'message_id:="0002"']],
    ids=["text twice", "text then JSON"],
)
def test_an_input_given_twice_is_refused_before_anything_runs(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str], inputs: list[str]
) -> None:
    options = [part for text in inputs for part in ("--input", text)]

    status = main(["workflow", str(EMAIL), "--config", str(config), *options, "--answer", "yes"])

    assert status == 2
    assert capsys.readouterr().err == "error: workflow: 'message_id' given more than once\n"
    assert not (tmp_path / "outbox").exists()
